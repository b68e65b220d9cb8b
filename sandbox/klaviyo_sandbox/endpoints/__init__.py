"""The per-operation table of the sandbox, hand-written from Klaviyo's OpenAPI spec.

Revision 2026-07-15 (``klaviyo/openapi`` ``stable.json``), and the campaign operations of
revision 2026-10-15 (``OMNICHANNEL_OPERATIONS``, from the beta spec ``2026-07-15.pre`` whose
campaign endpoints Klaviyo released in 2026-10-15). Each operation lists its data-layer
collection, scopes (``x-klaviyo-scopes``), rate-limit tier (``x-klaviyo-ratelimit``), page
sizes, the filter field/operator pairs (``x-klaviyo-filters``), sorts, ``include`` and
``additional-fields`` values, the sparse-fieldset types and the tier drops that the
operation descriptions document. ``sandbox/tests/test_endpoints_spec.py`` checks this
table against the facts of both specs; the sandbox itself never reads them.

The vocabulary is in ``_model``, the filter fields in ``_filters``, the operations by
family in ``_classic``, ``_storefront`` and ``_omnichannel``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._classic import CLASSIC_OPERATIONS
from ._model import (
    CLASSIC,
    OMNICHANNEL,
    REPORTING,
    XL,
    XS,
    FilterField,
    L,
    M,
    Model,
    Operation,
    PageSize,
    S,
    Tier,
    TierDrop,
    campaign_model,
)
from ._omnichannel import OMNICHANNEL_OPERATIONS
from ._storefront import STOREFRONT_OPERATIONS

OPERATIONS = CLASSIC_OPERATIONS + STOREFRONT_OPERATIONS
"""The operations of revision 2026-07-15 (the stable spec's)."""
ALL_OPERATIONS = OPERATIONS + OMNICHANNEL_OPERATIONS
BY_ID: Mapping[str, Operation] = {op.operation_id: op for op in ALL_OPERATIONS}

__all__ = [
    "ALL_OPERATIONS",
    "BY_ID",
    "CLASSIC",
    "OMNICHANNEL",
    "OMNICHANNEL_OPERATIONS",
    "OPERATIONS",
    "REPORTING",
    "XL",
    "XS",
    "FilterField",
    "L",
    "M",
    "Model",
    "Operation",
    "PageSize",
    "S",
    "Tier",
    "TierDrop",
    "campaign_model",
    "tier_for",
]


def tier_for(op: Operation, query: Mapping[str, str]) -> Tier:
    """The tier a request falls in: the lowest of the operation's and any tier drops'.

    ``query`` maps a parameter to its raw comma-separated value.
    """
    tier = op.tier
    for drop in op.tier_drops:
        values = query.get(drop.parameter, "").split(",")
        if drop.value in values and drop.tier.steady < tier.steady:
            tier = drop.tier
    return tier
