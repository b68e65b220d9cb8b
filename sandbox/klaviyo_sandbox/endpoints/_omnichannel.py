"""Revision 2026-10-15's campaign operations (from the beta spec ``2026-07-15.pre``)."""

from __future__ import annotations

from ._filters import CAMPAIGN_MESSAGE_FILTERS, OMNICHANNEL_CAMPAIGN_FILTERS
from ._model import OMNICHANNEL, M, Operation, PageSize, ops

OMNICHANNEL_FIELDSETS = ops("campaign-audience", "campaign-message", "campaign")
MESSAGE_FIELDSETS = ops("campaign-message", "campaign-variation", "campaign")
OMNICHANNEL_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get_campaigns_beta",
        "GET",
        "/api/campaigns",
        "campaigns@2026-10-15",
        "collection",
        ("campaigns:read",),
        M,
        page_size=PageSize(100, 100),
        filters=OMNICHANNEL_CAMPAIGN_FILTERS,
        sorts=ops("created_at", "id", "name", "updated_at"),
        includes=ops("campaign-audiences", "campaign-messages"),
        fieldsets=OMNICHANNEL_FIELDSETS,
        model=OMNICHANNEL,
    ),
    Operation(
        "get_campaign_beta",
        "GET",
        "/api/campaigns/{id}",
        "campaigns@2026-10-15",
        "single",
        ("campaigns:read",),
        M,
        includes=ops("campaign-audiences", "campaign-messages"),
        fieldsets=OMNICHANNEL_FIELDSETS,
        model=OMNICHANNEL,
    ),
    Operation(
        "get_campaign_messages_beta",
        "GET",
        "/api/campaign-messages",
        "campaign-messages@2026-10-15",
        "collection",
        ("campaigns:read",),
        M,
        page_size=PageSize(20, 100),
        filters=CAMPAIGN_MESSAGE_FILTERS,
        sorts=ops("created", "id", "name", "status", "updated"),
        includes=ops("campaign", "campaign-variations"),
        fieldsets=MESSAGE_FIELDSETS,
        model=OMNICHANNEL,
    ),
    Operation(
        "get_campaign_message_beta",
        "GET",
        "/api/campaign-messages/{id}",
        "campaign-messages@2026-10-15",
        "single",
        ("campaigns:read",),
        M,
        includes=ops("campaign", "campaign-variations"),
        fieldsets=MESSAGE_FIELDSETS,
        model=OMNICHANNEL,
    ),
    Operation(
        "get_campaign_audiences_for_campaign_beta",
        "GET",
        "/api/campaigns/{id}/campaign-audiences",
        "campaign-audiences",
        "collection",
        ("campaigns:read",),
        M,
        fieldsets=ops("campaign-audience"),
        model=OMNICHANNEL,
    ),
    Operation(
        "get_variations_for_campaign_message_beta",
        "GET",
        "/api/campaign-messages/{id}/campaign-variations",
        "campaign-variations",
        "collection",
        ("campaigns:read",),
        M,
        fieldsets=ops("campaign-variation"),
        model=OMNICHANNEL,
    ),
)
