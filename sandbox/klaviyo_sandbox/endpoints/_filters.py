"""The filter fields of each collection (``x-klaviyo-filters``)."""

from __future__ import annotations

from collections.abc import Mapping

from ._model import (
    ANY_EQUALS,
    COMPARISONS,
    COMPARISONS_OR_EQUALS,
    EQUALS,
    HAS,
    TEXT_MATCH,
    FilterField,
    boolean_field,
    datetime_field,
    ops,
    string_field,
)

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

SUPPRESSION = "subscriptions.email.marketing.suppression"
LIST_SUPPRESSIONS = "subscriptions.email.marketing.list_suppressions"

PROFILE_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(EQUALS, ANY_EQUALS),
    "email": string_field(EQUALS, ANY_EQUALS),
    "phone_number": string_field(EQUALS, ANY_EQUALS),
    "external_id": string_field(EQUALS, ANY_EQUALS),
    "_kx": string_field(EQUALS),
    "created": datetime_field(ops("greater-than", "less-than")),
    "updated": datetime_field(ops("greater-than", "less-than")),
    f"{LIST_SUPPRESSIONS}.reason": string_field(EQUALS),
    f"{LIST_SUPPRESSIONS}.timestamp": datetime_field(COMPARISONS),
    f"{LIST_SUPPRESSIONS}.list_id": string_field(EQUALS),
    f"{SUPPRESSION}.reason": string_field(EQUALS),
    f"{SUPPRESSION}.timestamp": datetime_field(COMPARISONS),
}

MEMBER_FILTERS: Mapping[str, FilterField] = {
    "email": string_field(lists=ANY_EQUALS),
    "phone_number": string_field(lists=ANY_EQUALS),
    "push_token": string_field(lists=ANY_EQUALS),
    "_kx": string_field(EQUALS),
    "joined_group_at": datetime_field(COMPARISONS),
}

GROUP_FILTERS: Mapping[str, FilterField] = {
    "name": string_field(lists=ANY_EQUALS),
    "id": string_field(EQUALS, ANY_EQUALS),
    "created": datetime_field(ops("greater-than")),
    "updated": datetime_field(ops("greater-than")),
}

SEGMENT_FILTERS: Mapping[str, FilterField] = {
    **GROUP_FILTERS,
    "is_active": boolean_field(EQUALS, ANY_EQUALS),
    "is_starred": boolean_field(EQUALS),
}

CAMPAIGN_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ops("any")),
    "messages.channel": string_field(EQUALS, enum=CAMPAIGN_CHANNELS),
    "name": string_field(ops("contains")),
    "status": string_field(EQUALS, ANY_EQUALS, CAMPAIGN_STATUSES),
    "archived": boolean_field(EQUALS),
    "created_at": datetime_field(COMPARISONS),
    "scheduled_at": datetime_field(COMPARISONS),
    "updated_at": datetime_field(COMPARISONS),
}

FLOW_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ops("any")),
    "name": string_field(TEXT_MATCH),
    "status": string_field(EQUALS),
    "archived": boolean_field(EQUALS),
    "created": datetime_field(COMPARISONS_OR_EQUALS),
    "updated": datetime_field(COMPARISONS_OR_EQUALS),
    "trigger_type": string_field(EQUALS, enum=FLOW_TRIGGER_TYPES),
}

FLOW_ACTION_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ops("any")),
    "action_type": string_field(EQUALS, ANY_EQUALS),
    "status": string_field(EQUALS),
    "created": datetime_field(COMPARISONS_OR_EQUALS),
    "updated": datetime_field(COMPARISONS_OR_EQUALS),
}

FLOW_MESSAGE_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ops("any")),
    "name": string_field(TEXT_MATCH),
    "created": datetime_field(COMPARISONS_OR_EQUALS),
    "updated": datetime_field(COMPARISONS_OR_EQUALS),
}

METRIC_FILTERS: Mapping[str, FilterField] = {
    "integration.name": string_field(EQUALS),
    "integration.category": string_field(EQUALS),
}

EVENT_FILTERS: Mapping[str, FilterField] = {
    "metric_id": string_field(EQUALS, EQUALS),
    "profile_id": string_field(EQUALS),
    "profile": HAS,
    "metric": HAS,
    "datetime": datetime_field(COMPARISONS),
    "timestamp": FilterField("number", COMPARISONS),
}

TEMPLATE_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ANY_EQUALS),
    "name": string_field(ops("contains", "equals"), ANY_EQUALS),
    "created": datetime_field(COMPARISONS_OR_EQUALS),
    "updated": datetime_field(COMPARISONS_OR_EQUALS),
}

TAG_FILTERS: Mapping[str, FilterField] = {
    "name": string_field(TEXT_MATCH, EQUALS),
}

OMNICHANNEL_CAMPAIGN_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(lists=ops("any")),
    "name": string_field(ops("contains")),
    "archived": boolean_field(EQUALS),
    "builder": string_field(EQUALS),
    "created_at": datetime_field(COMPARISONS),
    "updated_at": datetime_field(COMPARISONS),
}

CAMPAIGN_MESSAGE_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(EQUALS, ANY_EQUALS),
    "campaign_id": string_field(EQUALS),
    "name": string_field(ops("contains")),
    "status": string_field(EQUALS),
    "created": datetime_field(COMPARISONS),
    "updated": datetime_field(COMPARISONS),
}

# The storefront's collections (``data/_storefront``): forms, coupons, catalogs, reviews,
# push tokens, tag groups and custom objects.
FORM_STATUSES = frozenset({"draft", "live"})
FORM_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(EQUALS, ANY_EQUALS),
    "name": string_field(ops("contains", "equals"), ANY_EQUALS),
    "ab_test": boolean_field(EQUALS),
    "updated_at": datetime_field(COMPARISONS),
    "created_at": datetime_field(COMPARISONS),
    "status": string_field(EQUALS, enum=FORM_STATUSES),
}

FORM_VERSION_FILTERS: Mapping[str, FilterField] = {
    "form_type": string_field(
        EQUALS, ANY_EQUALS, frozenset({"popup", "embed", "full_page", "flyout", "banner"})
    ),
    "status": string_field(EQUALS, enum=FORM_STATUSES),
    "updated_at": datetime_field(COMPARISONS),
    "created_at": datetime_field(COMPARISONS),
}

COUPON_CODE_STATUSES = frozenset(
    {"UNASSIGNED", "PROCESSING", "ASSIGNED_TO_PROFILE", "VERSION_NOT_ACTIVE", "DELETING", "USED"}
)
COUPON_CODE_FILTERS: Mapping[str, FilterField] = {
    "expires_at": datetime_field(COMPARISONS),
    "status": string_field(EQUALS, enum=COUPON_CODE_STATUSES),
    "coupon.id": string_field(lists=ANY_EQUALS),
    "profile.id": string_field(lists=ANY_EQUALS),
}

CATALOG_ITEM_FILTERS: Mapping[str, FilterField] = {
    "ids": string_field(lists=ops("any")),
    "category.id": string_field(EQUALS),
    "title": string_field(ops("contains")),
    "published": boolean_field(EQUALS),
}

CATALOG_VARIANT_FILTERS: Mapping[str, FilterField] = {
    "ids": string_field(lists=ops("any")),
    "item.id": string_field(EQUALS),
    "sku": string_field(EQUALS),
    "title": string_field(ops("contains")),
    "published": boolean_field(EQUALS),
}

CATALOG_CATEGORY_FILTERS: Mapping[str, FilterField] = {
    "ids": string_field(lists=ops("any")),
    "item.id": string_field(EQUALS),
    "name": string_field(ops("contains")),
}

REVIEW_FILTERS: Mapping[str, FilterField] = {
    "created": datetime_field(ops("greater-or-equal", "less-or-equal")),
    "rating": FilterField("number", ops("equals", "greater-or-equal", "less-or-equal"), ANY_EQUALS),
    "id": string_field(EQUALS, ANY_EQUALS),
    "item.id": string_field(EQUALS, ANY_EQUALS),
    "content": string_field(ops("contains")),
    "status": string_field(
        EQUALS,
        enum=frozenset({"published", "unpublished", "rejected", "featured", "pending", "all"}),
    ),
    "review_type": string_field(EQUALS, enum=frozenset({"question", "review", "rating", "store"})),
    "verified": boolean_field(EQUALS),
}

PUSH_TOKEN_FILTERS: Mapping[str, FilterField] = {
    "id": string_field(EQUALS),
    "profile.id": string_field(EQUALS),
    "enablement_status": string_field(
        EQUALS,
        enum=frozenset({"AUTHORIZED", "UNAUTHORIZED", "DENIED", "PROVISIONAL", "NOT_DETERMINED"}),
    ),
    "platform": string_field(EQUALS, enum=frozenset({"ios", "android"})),
}

TAG_GROUP_FILTERS: Mapping[str, FilterField] = {
    "name": string_field(TEXT_MATCH, EQUALS),
    "exclusive": boolean_field(EQUALS),
    "default": boolean_field(EQUALS),
}
