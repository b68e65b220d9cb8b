"""The per-operation table of the sandbox, hand-written from Klaviyo's OpenAPI spec.

Revision 2026-07-15 (``klaviyo/openapi`` ``stable.json``), and the campaign operations of
revision 2026-10-15 (``OMNICHANNEL_OPERATIONS``, from the beta spec ``2026-07-15.pre`` whose
campaign endpoints Klaviyo released in 2026-10-15). Each operation the tap
uses lists its data-layer collection, scopes (``x-klaviyo-scopes``), rate-limit tier
(``x-klaviyo-ratelimit``), page sizes, the filter field/operator pairs
(``x-klaviyo-filters``), sorts, ``include`` and ``additional-fields`` values, the
sparse-fieldset types and the tier drops that the operation descriptions document.
``sandbox/tests/test_endpoints_spec.py`` checks this table against the spec's facts, and
``sandbox/tests/test_revisions.py`` the 2026-10-15 operations against the beta's;
the sandbox itself never reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# --- rate-limit tiers (API digest section 3) -------------------------------------------


@dataclass(frozen=True)
class Tier:
    """A rate-limit tier: requests per second (burst), per minute (steady), per day."""

    name: str
    burst: int
    steady: int
    daily: int | None = None


XS = Tier("XS", 1, 15)
S = Tier("S", 3, 60)
M = Tier("M", 10, 150)
L = Tier("L", 75, 750)
XL = Tier("XL", 350, 3500)
REPORTING = Tier("reporting", 1, 2, 225)


@dataclass(frozen=True)
class TierDrop:
    """A query value that moves the request to a lower tier, e.g. ``profile_count``."""

    parameter: str
    value: str
    tier: Tier


# --- filters ------------------------------------------------------------------------------

ValueKind = Literal["string", "datetime", "number", "boolean", "none"]


@dataclass(frozen=True)
class FilterField:
    """What one filter field accepts.

    ``single`` are the operators taking one value, ``list`` those taking a list
    (``any(id,["a","b"])``, ``equals(name,["x"])``), mirroring ``x-klaviyo-filters``.
    ``none`` fields take no value at all: ``has(profile)``.
    """

    kind: ValueKind
    single: frozenset[str] = frozenset()
    list: frozenset[str] = frozenset()
    enum: frozenset[str] = frozenset()

    @property
    def operators(self) -> frozenset[str]:
        return self.single | self.list


def _ops(*names: str) -> frozenset[str]:
    return frozenset(names)


COMPARISONS = _ops("greater-or-equal", "greater-than", "less-or-equal", "less-than")
COMPARISONS_OR_EQUALS = COMPARISONS | {"equals"}
TEXT_MATCH = _ops("contains", "ends-with", "equals", "starts-with")
ANY_EQUALS = _ops("any", "equals")
EQUALS = _ops("equals")


def _string(
    single: frozenset[str] = frozenset(),
    lists: frozenset[str] = frozenset(),
    enum: frozenset[str] = frozenset(),
) -> FilterField:
    return FilterField("string", single, lists, enum)


def _datetime(ops: frozenset[str]) -> FilterField:
    return FilterField("datetime", ops)


def _boolean(single: frozenset[str], lists: frozenset[str] = frozenset()) -> FilterField:
    return FilterField("boolean", single, lists)


HAS = FilterField("none", _ops("has"))

CAMPAIGN_STATUSES = frozenset(
    {
        "Scheduled",
        "Sent",
        "Draft",
        "Cancelled",
        "Adding Recipients",
        "Sending",
        "Variations Sent",
        "Sending Segments",
        "Cancelled: Smart Sending",
        "Preparing to send",
        "Cancelled: Account Disabled",
        "Cancelled: No Recipients",
        "Preparing to schedule",
        "Cancelled: Internal Error",
        "Queued without Recipients",
        "Cancelled: Billing Limit",
        "Cancelled: Misconfigured",
        "Unknown",
    }
)
CAMPAIGN_CHANNELS = frozenset({"email", "sms", "mobile_push"})
FLOW_TRIGGER_TYPES = frozenset(
    {"Metric", "Added to List", "Unconfigured", "Date Based", "Price Drop", "Low Inventory"}
)

_SUPPRESSION = "subscriptions.email.marketing.suppression"
_LIST_SUPPRESSIONS = "subscriptions.email.marketing.list_suppressions"

PROFILE_FILTERS: Mapping[str, FilterField] = {
    "id": _string(EQUALS, ANY_EQUALS),
    "email": _string(EQUALS, ANY_EQUALS),
    "phone_number": _string(EQUALS, ANY_EQUALS),
    "external_id": _string(EQUALS, ANY_EQUALS),
    "_kx": _string(EQUALS),
    "created": _datetime(_ops("greater-than", "less-than")),
    "updated": _datetime(_ops("greater-than", "less-than")),
    f"{_LIST_SUPPRESSIONS}.reason": _string(EQUALS),
    f"{_LIST_SUPPRESSIONS}.timestamp": _datetime(COMPARISONS),
    f"{_LIST_SUPPRESSIONS}.list_id": _string(EQUALS),
    f"{_SUPPRESSION}.reason": _string(EQUALS),
    f"{_SUPPRESSION}.timestamp": _datetime(COMPARISONS),
}

MEMBER_FILTERS: Mapping[str, FilterField] = {
    "email": _string(lists=ANY_EQUALS),
    "phone_number": _string(lists=ANY_EQUALS),
    "push_token": _string(lists=ANY_EQUALS),
    "_kx": _string(EQUALS),
    "joined_group_at": _datetime(COMPARISONS),
}

GROUP_FILTERS: Mapping[str, FilterField] = {
    "name": _string(lists=ANY_EQUALS),
    "id": _string(EQUALS, ANY_EQUALS),
    "created": _datetime(_ops("greater-than")),
    "updated": _datetime(_ops("greater-than")),
}

SEGMENT_FILTERS: Mapping[str, FilterField] = {
    **GROUP_FILTERS,
    "is_active": _boolean(EQUALS, ANY_EQUALS),
    "is_starred": _boolean(EQUALS),
}

CAMPAIGN_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=_ops("any")),
    "messages.channel": _string(EQUALS, enum=CAMPAIGN_CHANNELS),
    "name": _string(_ops("contains")),
    "status": _string(EQUALS, ANY_EQUALS, CAMPAIGN_STATUSES),
    "archived": _boolean(EQUALS),
    "created_at": _datetime(COMPARISONS),
    "scheduled_at": _datetime(COMPARISONS),
    "updated_at": _datetime(COMPARISONS),
}

FLOW_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=_ops("any")),
    "name": _string(TEXT_MATCH),
    "status": _string(EQUALS),
    "archived": _boolean(EQUALS),
    "created": _datetime(COMPARISONS_OR_EQUALS),
    "updated": _datetime(COMPARISONS_OR_EQUALS),
    "trigger_type": _string(EQUALS, enum=FLOW_TRIGGER_TYPES),
}

FLOW_ACTION_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=_ops("any")),
    "action_type": _string(EQUALS, ANY_EQUALS),
    "status": _string(EQUALS),
    "created": _datetime(COMPARISONS_OR_EQUALS),
    "updated": _datetime(COMPARISONS_OR_EQUALS),
}

FLOW_MESSAGE_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=_ops("any")),
    "name": _string(TEXT_MATCH),
    "created": _datetime(COMPARISONS_OR_EQUALS),
    "updated": _datetime(COMPARISONS_OR_EQUALS),
}

METRIC_FILTERS: Mapping[str, FilterField] = {
    "integration.name": _string(EQUALS),
    "integration.category": _string(EQUALS),
}

EVENT_FILTERS: Mapping[str, FilterField] = {
    "metric_id": _string(EQUALS, EQUALS),
    "profile_id": _string(EQUALS),
    "profile": HAS,
    "metric": HAS,
    "datetime": _datetime(COMPARISONS),
    "timestamp": FilterField("number", COMPARISONS),
}

TEMPLATE_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=ANY_EQUALS),
    "name": _string(_ops("contains", "equals"), ANY_EQUALS),
    "created": _datetime(COMPARISONS_OR_EQUALS),
    "updated": _datetime(COMPARISONS_OR_EQUALS),
}

TAG_FILTERS: Mapping[str, FilterField] = {
    "name": _string(TEXT_MATCH, EQUALS),
}

OMNICHANNEL_CAMPAIGN_FILTERS: Mapping[str, FilterField] = {
    "id": _string(lists=_ops("any")),
    "name": _string(_ops("contains")),
    "archived": _boolean(EQUALS),
    "builder": _string(EQUALS),
    "created_at": _datetime(COMPARISONS),
    "updated_at": _datetime(COMPARISONS),
}

CAMPAIGN_MESSAGE_FILTERS: Mapping[str, FilterField] = {
    "id": _string(EQUALS, ANY_EQUALS),
    "campaign_id": _string(EQUALS),
    "name": _string(_ops("contains")),
    "status": _string(EQUALS),
    "created": _datetime(COMPARISONS),
    "updated": _datetime(COMPARISONS),
}

# The storefront's collections (``data/_storefront``): forms, coupons, catalogs, reviews,
# push tokens, tag groups and custom objects.
FORM_STATUSES = frozenset({"draft", "live"})
FORM_FILTERS: Mapping[str, FilterField] = {
    "id": _string(EQUALS, ANY_EQUALS),
    "name": _string(_ops("contains", "equals"), ANY_EQUALS),
    "ab_test": _boolean(EQUALS),
    "updated_at": _datetime(COMPARISONS),
    "created_at": _datetime(COMPARISONS),
    "status": _string(EQUALS, enum=FORM_STATUSES),
}

FORM_VERSION_FILTERS: Mapping[str, FilterField] = {
    "form_type": _string(
        EQUALS, ANY_EQUALS, frozenset({"popup", "embed", "full_page", "flyout", "banner"})
    ),
    "status": _string(EQUALS, enum=FORM_STATUSES),
    "updated_at": _datetime(COMPARISONS),
    "created_at": _datetime(COMPARISONS),
}

COUPON_CODE_STATUSES = frozenset(
    {"UNASSIGNED", "PROCESSING", "ASSIGNED_TO_PROFILE", "VERSION_NOT_ACTIVE", "DELETING", "USED"}
)
COUPON_CODE_STATUSES = frozenset(
    {"UNASSIGNED", "PROCESSING", "ASSIGNED_TO_PROFILE", "VERSION_NOT_ACTIVE", "DELETING", "USED"}
)
COUPON_CODE_FILTERS: Mapping[str, FilterField] = {
    "expires_at": _datetime(COMPARISONS),
    "status": _string(EQUALS, enum=COUPON_CODE_STATUSES),
    "coupon.id": _string(lists=ANY_EQUALS),
    "profile.id": _string(lists=ANY_EQUALS),
}

CATALOG_ITEM_FILTERS: Mapping[str, FilterField] = {
    "ids": _string(lists=_ops("any")),
    "category.id": _string(EQUALS),
    "title": _string(_ops("contains")),
    "published": _boolean(EQUALS),
}

CATALOG_VARIANT_FILTERS: Mapping[str, FilterField] = {
    "ids": _string(lists=_ops("any")),
    "item.id": _string(EQUALS),
    "sku": _string(EQUALS),
    "title": _string(_ops("contains")),
    "published": _boolean(EQUALS),
}

CATALOG_CATEGORY_FILTERS: Mapping[str, FilterField] = {
    "ids": _string(lists=_ops("any")),
    "item.id": _string(EQUALS),
    "name": _string(_ops("contains")),
}

REVIEW_FILTERS: Mapping[str, FilterField] = {
    "created": _datetime(_ops("greater-or-equal", "less-or-equal")),
    "rating": FilterField(
        "number", _ops("equals", "greater-or-equal", "less-or-equal"), ANY_EQUALS
    ),
    "id": _string(EQUALS, ANY_EQUALS),
    "item.id": _string(EQUALS, ANY_EQUALS),
    "content": _string(_ops("contains")),
    "status": _string(
        EQUALS,
        enum=frozenset({"published", "unpublished", "rejected", "featured", "pending", "all"}),
    ),
    "review_type": _string(EQUALS, enum=frozenset({"question", "review", "rating", "store"})),
    "verified": _boolean(EQUALS),
}

PUSH_TOKEN_FILTERS: Mapping[str, FilterField] = {
    "id": _string(EQUALS),
    "profile.id": _string(EQUALS),
    "enablement_status": _string(
        EQUALS,
        enum=frozenset({"AUTHORIZED", "UNAUTHORIZED", "DENIED", "PROVISIONAL", "NOT_DETERMINED"}),
    ),
    "platform": _string(EQUALS, enum=frozenset({"ios", "android"})),
}

TAG_GROUP_FILTERS: Mapping[str, FilterField] = {
    "name": _string(TEXT_MATCH, EQUALS),
    "exclusive": _boolean(EQUALS),
    "default": _boolean(EQUALS),
}

# --- revisions: which campaign model a request gets ----------------------------------------

Model = Literal["2026-07-15", "2026-10-15"]
CLASSIC: Model = "2026-07-15"
OMNICHANNEL: Model = "2026-10-15"


def campaign_model(revision: str) -> Model:
    """The campaign model of a revision: the omnichannel one from 2026-10-15 on, and in the
    beta 2026-07-15.pre, whose campaign endpoints 2026-10-15 released."""
    return OMNICHANNEL if revision >= OMNICHANNEL or revision == "2026-07-15.pre" else CLASSIC


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSize:
    """Page sizes of a paginated operation; ``adjustable`` = it takes ``page[size]``."""

    default: int
    maximum: int
    adjustable: bool = True


Kind = Literal["collection", "single", "report"]


@dataclass(frozen=True)
class Operation:
    """One GET or POST operation of the API as the sandbox serves it.

    ``collection`` is the data layer's collection name; for reports it is the report
    type handed to ``Account.report``. ``page_size`` is None when the operation is not
    paginated (single GETs, reports, campaign messages, accounts).
    """

    operation_id: str
    method: Literal["GET", "POST"]
    path: str
    collection: str
    kind: Kind
    scopes: tuple[str, ...]
    tier: Tier
    page_size: PageSize | None = None
    filters: Mapping[str, FilterField] = field(default_factory=dict)
    sorts: frozenset[str] = frozenset()
    includes: frozenset[str] = frozenset()
    additional_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fieldsets: frozenset[str] = frozenset()
    tier_drops: tuple[TierDrop, ...] = ()
    extra_parameters: frozenset[str] = frozenset()
    # The campaign model the operation belongs to; None: every revision has it.
    model: Model | None = None


PROFILE_FIELDSETS = _ops("conversation", "profile", "push-token")
PREDICTIVE = TierDrop("additional-fields[profile]", "predictive_analytics", M)
PROFILE_ADDITIONAL = {"profile": _ops("subscriptions", "predictive_analytics")}
NAMED_SORTS = _ops("created", "id", "name", "updated")
PROFILES_PAGE = PageSize(20, 100)
TEN_PER_PAGE = PageSize(10, 10)
FIFTY_PER_PAGE = PageSize(50, 50)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get_profiles",
        "GET",
        "/api/profiles",
        "profiles",
        "collection",
        ("profiles:read",),
        L,
        page_size=PROFILES_PAGE,
        filters=PROFILE_FILTERS,
        sorts=_ops(
            "created",
            "email",
            "id",
            "updated",
            f"{_LIST_SUPPRESSIONS}.timestamp",
            f"{_SUPPRESSION}.timestamp",
        ),
        includes=_ops("conversations", "push-tokens"),
        additional_fields=PROFILE_ADDITIONAL,
        fieldsets=PROFILE_FIELDSETS,
        tier_drops=(PREDICTIVE,),
    ),
    Operation(
        "get_profile",
        "GET",
        "/api/profiles/{id}",
        "profiles",
        "single",
        ("profiles:read",),
        L,
        includes=_ops("conversations", "lists", "push-tokens", "segments"),
        additional_fields=PROFILE_ADDITIONAL,
        fieldsets=PROFILE_FIELDSETS | {"list", "segment"},
        tier_drops=(TierDrop("include", "lists", XS), TierDrop("include", "segments", XS)),
    ),
    Operation(
        "get_lists",
        "GET",
        "/api/lists",
        "lists",
        "collection",
        ("lists:read",),
        L,
        page_size=TEN_PER_PAGE,
        filters=GROUP_FILTERS,
        sorts=NAMED_SORTS,
        includes=_ops("flow-triggers", "tags"),
        fieldsets=_ops("flow", "list", "tag"),
    ),
    Operation(
        "get_list",
        "GET",
        "/api/lists/{id}",
        "lists",
        "single",
        ("lists:read",),
        L,
        includes=_ops("flow-triggers", "tags"),
        additional_fields={"list": _ops("profile_count")},
        fieldsets=_ops("flow", "list", "tag"),
        tier_drops=(TierDrop("additional-fields[list]", "profile_count", XS),),
    ),
    Operation(
        "get_profiles_for_list",
        "GET",
        "/api/lists/{id}/profiles",
        "list-profiles",
        "collection",
        ("lists:read", "profiles:read"),
        L,
        page_size=PROFILES_PAGE,
        filters=MEMBER_FILTERS,
        sorts=_ops("joined_group_at"),
        additional_fields=PROFILE_ADDITIONAL,
        fieldsets=_ops("profile"),
        tier_drops=(PREDICTIVE,),
    ),
    Operation(
        "get_segments",
        "GET",
        "/api/segments",
        "segments",
        "collection",
        ("segments:read",),
        L,
        page_size=TEN_PER_PAGE,
        filters=SEGMENT_FILTERS,
        sorts=NAMED_SORTS,
        includes=_ops("flow-triggers", "tags"),
        fieldsets=_ops("flow", "segment", "tag"),
    ),
    Operation(
        "get_segment",
        "GET",
        "/api/segments/{id}",
        "segments",
        "single",
        ("segments:read",),
        L,
        includes=_ops("flow-triggers", "tags"),
        additional_fields={"segment": _ops("profile_count")},
        fieldsets=_ops("flow", "segment", "tag"),
        tier_drops=(TierDrop("additional-fields[segment]", "profile_count", XS),),
    ),
    Operation(
        "get_profiles_for_segment",
        "GET",
        "/api/segments/{id}/profiles",
        "segment-profiles",
        "collection",
        ("profiles:read", "segments:read"),
        L,
        page_size=PROFILES_PAGE,
        filters={"profile_id": _string(lists=ANY_EQUALS), **MEMBER_FILTERS},
        sorts=_ops("joined_group_at"),
        additional_fields=PROFILE_ADDITIONAL,
        fieldsets=_ops("profile"),
    ),
    Operation(
        "get_campaigns",
        "GET",
        "/api/campaigns",
        "campaigns",
        "collection",
        ("campaigns:read",),
        M,
        page_size=PageSize(100, 100),
        filters=CAMPAIGN_FILTERS,
        sorts=_ops("created_at", "id", "name", "scheduled_at", "updated_at"),
        includes=_ops("campaign-messages", "tags"),
        fieldsets=_ops("campaign-message", "campaign", "tag"),
        model=CLASSIC,
    ),
    Operation(
        "get_campaign",
        "GET",
        "/api/campaigns/{id}",
        "campaigns",
        "single",
        ("campaigns:read",),
        M,
        includes=_ops("campaign-messages", "tags"),
        fieldsets=_ops("campaign-message", "campaign", "tag"),
        model=CLASSIC,
    ),
    Operation(
        "get_messages_for_campaign",
        "GET",
        "/api/campaigns/{id}/campaign-messages",
        "campaign-messages",
        "collection",
        ("campaigns:read",),
        M,
        includes=_ops("campaign", "image", "template"),
        fieldsets=_ops("campaign-message", "campaign", "image", "template"),
        model=CLASSIC,
    ),
    Operation(
        "get_flows",
        "GET",
        "/api/flows",
        "flows",
        "collection",
        ("flows:read",),
        S,
        page_size=FIFTY_PER_PAGE,
        filters=FLOW_FILTERS,
        sorts=_ops("created", "id", "name", "status", "trigger_type", "updated"),
        includes=_ops("flow-actions", "tags"),
        fieldsets=_ops("flow-action", "flow", "tag"),
    ),
    Operation(
        "get_flow",
        "GET",
        "/api/flows/{id}",
        "flows",
        "single",
        ("flows:read",),
        S,
        includes=_ops("flow-actions", "tags"),
        additional_fields={"flow": _ops("definition")},
        fieldsets=_ops("flow-action", "flow", "tag"),
    ),
    Operation(
        "get_actions_for_flow",
        "GET",
        "/api/flows/{id}/flow-actions",
        "flow-actions",
        "collection",
        ("flows:read",),
        S,
        page_size=FIFTY_PER_PAGE,
        filters=FLOW_ACTION_FILTERS,
        sorts=_ops("action_type", "created", "id", "status", "updated"),
        fieldsets=_ops("flow-action"),
    ),
    Operation(
        "get_flow_action_messages",
        "GET",
        "/api/flow-actions/{id}/flow-messages",
        "flow-messages",
        "collection",
        ("flows:read",),
        S,
        page_size=FIFTY_PER_PAGE,
        filters=FLOW_MESSAGE_FILTERS,
        sorts=NAMED_SORTS,
        fieldsets=_ops("flow-message"),
    ),
    Operation(
        "get_metrics",
        "GET",
        "/api/metrics",
        "metrics",
        "collection",
        ("metrics:read",),
        M,
        page_size=PageSize(200, 200, adjustable=False),
        filters=METRIC_FILTERS,
        includes=_ops("flow-triggers"),
        fieldsets=_ops("flow", "metric"),
    ),
    Operation(
        "get_events",
        "GET",
        "/api/events",
        "events",
        "collection",
        ("events:read",),
        XL,
        page_size=PageSize(200, 1000),
        filters=EVENT_FILTERS,
        sorts=_ops("datetime", "timestamp"),
        includes=_ops("attributions", "metric", "profile"),
        fieldsets=_ops("attribution", "event", "metric", "profile"),
    ),
    Operation(
        "get_templates",
        "GET",
        "/api/templates",
        "templates",
        "collection",
        ("templates:read",),
        L,
        page_size=TEN_PER_PAGE,
        filters=TEMPLATE_FILTERS,
        sorts=NAMED_SORTS,
        additional_fields={"template": _ops("definition")},
        fieldsets=_ops("template"),
    ),
    Operation(
        "get_tags",
        "GET",
        "/api/tags",
        "tags",
        "collection",
        ("tags:read",),
        S,
        page_size=FIFTY_PER_PAGE,
        filters=TAG_FILTERS,
        sorts=_ops("id", "name"),
        includes=_ops("tag-group"),
        fieldsets=_ops("tag-group", "tag"),
    ),
    Operation(
        "get_accounts",
        "GET",
        "/api/accounts",
        "accounts",
        "collection",
        ("accounts:read",),
        XS,
        fieldsets=_ops("account"),
    ),
    Operation(
        "query_campaign_values",
        "POST",
        "/api/campaign-values-reports",
        "campaign-values-report",
        "report",
        ("campaigns:read",),
        REPORTING,
        fieldsets=_ops("campaign-values-report"),
        extra_parameters=_ops("page_cursor"),
    ),
    Operation(
        "query_flow_values",
        "POST",
        "/api/flow-values-reports",
        "flow-values-report",
        "report",
        ("flows:read",),
        REPORTING,
        fieldsets=_ops("flow-values-report"),
        extra_parameters=_ops("page_cursor"),
    ),
    Operation(
        "query_flow_series",
        "POST",
        "/api/flow-series-reports",
        "flow-series-report",
        "report",
        ("flows:read",),
        REPORTING,
        fieldsets=_ops("flow-series-report"),
        extra_parameters=_ops("page_cursor"),
    ),
    Operation(
        "query_segment_series",
        "POST",
        "/api/segment-series-reports",
        "segment-series-report",
        "report",
        ("segments:read",),
        REPORTING,
        fieldsets=_ops("segment-series-report"),
    ),
    Operation(
        "query_metric_aggregates",
        "POST",
        "/api/metric-aggregates",
        "metric-aggregate",
        "report",
        ("metrics:read",),
        S,
        fieldsets=_ops("metric-aggregate"),
    ),
    # --- the storefront ---
    Operation(
        "get_forms",
        "GET",
        "/api/forms",
        "forms",
        "collection",
        ("forms:read",),
        S,
        page_size=PageSize(20, 100),
        filters=FORM_FILTERS,
        sorts=_ops("created_at", "updated_at"),
        fieldsets=_ops("form"),
    ),
    Operation(
        "get_versions_for_form",
        "GET",
        "/api/forms/{id}/form-versions",
        "form-versions",
        "collection",
        ("forms:read",),
        S,
        page_size=PageSize(20, 100),
        filters=FORM_VERSION_FILTERS,
        sorts=_ops("created_at", "updated_at"),
        fieldsets=_ops("form-version"),
    ),
    Operation(
        "query_form_values",
        "POST",
        "/api/form-values-reports",
        "form-values-report",
        "report",
        ("forms:read",),
        REPORTING,
        fieldsets=_ops("form-values-report"),
    ),
    Operation(
        "query_form_series",
        "POST",
        "/api/form-series-reports",
        "form-series-report",
        "report",
        ("forms:read",),
        REPORTING,
        fieldsets=_ops("form-series-report"),
    ),
    Operation(
        "query_segment_values",
        "POST",
        "/api/segment-values-reports",
        "segment-values-report",
        "report",
        ("segments:read",),
        REPORTING,
        fieldsets=_ops("segment-values-report"),
    ),
    Operation(
        "get_coupons",
        "GET",
        "/api/coupons",
        "coupons",
        "collection",
        ("coupons:read",),
        L,
        page_size=PageSize(100, 100),
        fieldsets=_ops("coupon"),
    ),
    Operation(
        "get_coupon_codes",
        "GET",
        "/api/coupon-codes",
        "coupon-codes",
        "collection",
        ("coupon-codes:read",),
        XL,
        page_size=PageSize(100, 100),
        filters=COUPON_CODE_FILTERS,
        includes=_ops("coupon"),
        fieldsets=_ops("coupon-code", "coupon"),
    ),
    Operation(
        "get_catalog_items",
        "GET",
        "/api/catalog-items",
        "catalog-items",
        "collection",
        ("catalogs:read",),
        XL,
        page_size=PageSize(100, 100),
        filters=CATALOG_ITEM_FILTERS,
        sorts=_ops("created"),
        includes=_ops("variants"),
        fieldsets=_ops("catalog-item", "catalog-variant"),
    ),
    Operation(
        "get_catalog_variants",
        "GET",
        "/api/catalog-variants",
        "catalog-variants",
        "collection",
        ("catalogs:read",),
        XL,
        page_size=PageSize(100, 100),
        filters=CATALOG_VARIANT_FILTERS,
        sorts=_ops("created"),
        fieldsets=_ops("catalog-variant"),
    ),
    Operation(
        "get_catalog_categories",
        "GET",
        "/api/catalog-categories",
        "catalog-categories",
        "collection",
        ("catalogs:read",),
        XL,
        page_size=PageSize(100, 100),
        filters=CATALOG_CATEGORY_FILTERS,
        sorts=_ops("created"),
        fieldsets=_ops("catalog-category"),
    ),
    Operation(
        "get_reviews",
        "GET",
        "/api/reviews",
        "reviews",
        "collection",
        ("reviews:read",),
        M,
        page_size=PageSize(20, 100),
        filters=REVIEW_FILTERS,
        sorts=_ops("created", "rating", "updated"),
        includes=_ops("events"),
        fieldsets=_ops("event", "review"),
    ),
    Operation(
        "get_push_tokens",
        "GET",
        "/api/push-tokens",
        "push-tokens",
        "collection",
        ("profiles:read", "push-tokens:read"),
        M,
        page_size=PageSize(20, 100),
        filters=PUSH_TOKEN_FILTERS,
        includes=_ops("profile"),
        fieldsets=_ops("profile", "push-token"),
    ),
    Operation(
        "get_tag_groups",
        "GET",
        "/api/tag-groups",
        "tag-groups",
        "collection",
        ("tags:read",),
        S,
        page_size=PageSize(25, 25),
        filters=TAG_GROUP_FILTERS,
        sorts=_ops("id", "name"),
        fieldsets=_ops("tag-group"),
    ),
    Operation(
        "get_object_types",
        "GET",
        "/api/object-types",
        "object-types",
        "collection",
        ("custom-objects:read",),
        S,
        filters={"namespace": _string(EQUALS)},
        includes=_ops("current-schema", "draft-schema"),
        fieldsets=_ops("object-schema", "object-type"),
    ),
    Operation(
        "get_records_for_object_type",
        "GET",
        "/api/object-types/{id}/object-records",
        "object-records",
        "collection",
        ("custom-objects:read",),
        S,
        page_size=PageSize(20, 100),
        fieldsets=_ops("object-record"),
    ),
)

OMNICHANNEL_FIELDSETS = _ops("campaign-audience", "campaign-message", "campaign")
MESSAGE_FIELDSETS = _ops("campaign-message", "campaign-variation", "campaign")
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
        sorts=_ops("created_at", "id", "name", "updated_at"),
        includes=_ops("campaign-audiences", "campaign-messages"),
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
        includes=_ops("campaign-audiences", "campaign-messages"),
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
        sorts=_ops("created", "id", "name", "status", "updated"),
        includes=_ops("campaign", "campaign-variations"),
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
        includes=_ops("campaign", "campaign-variations"),
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
        fieldsets=_ops("campaign-audience"),
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
        fieldsets=_ops("campaign-variation"),
        model=OMNICHANNEL,
    ),
)
ALL_OPERATIONS = OPERATIONS + OMNICHANNEL_OPERATIONS
BY_ID: Mapping[str, Operation] = {op.operation_id: op for op in ALL_OPERATIONS}


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
