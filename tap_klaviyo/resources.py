"""One declarative table of the Klaviyo resources the tap reads.

Streams differ mostly in data: the endpoint and its method, the keys, the server-side filter
that makes them incremental, the partitions and their filters, the page size, the rate-limit
tier (and what lowers it), the scope, the row shape, and which of a few behaviours reads them.
Adding a stream is adding a row here (and its schema in ``schemas/``); the README's streams
table and the client's list of read-only POSTs are derived from it.
"""

from __future__ import annotations

import enum
import math
import re
import typing as t
from dataclasses import dataclass, replace

from tap_klaviyo import records
from tap_klaviyo.typed_pages import EVENT_PAGES, PROFILE_PAGES, TypedPages, member_pages


@dataclass(frozen=True)
class Tier:
    """A Klaviyo rate-limit tier: requests per second (burst) and per minute (steady)."""

    name: str
    burst: int
    steady: int
    daily: int | None = None

    def workers(self, max_workers: int) -> int:
        """Requests in flight at once that spend the steady rate even at a second per page,
        no more (``max_workers`` at most): more would only wait for budget. M (2.5
        requests/s) needs 4, L 14, XL all the workers."""
        per_second = self.steady / 60
        return max(1, min(max_workers, math.ceil(per_second * SLOWEST_PAGE) + 1))


SLOWEST_PAGE = 1.0  # seconds: Klaviyo answers a page in less (the sandbox's 250 ms in tests)


# The API revisions the tap has shapes for. 2026-10-15 reads campaigns through the omnichannel
# model (campaigns, audiences, messages, variations); every other stream is the same in both.
REVISION_2026_07 = "2026-07-15"
REVISION_2026_10 = "2026-10-15"
REVISIONS = (REVISION_2026_07, REVISION_2026_10)

# From `x-klaviyo-ratelimit` in the OpenAPI spec (revision 2026-07-15).
XS = Tier("XS", 1, 15)
S = Tier("S", 3, 60)
M = Tier("M", 10, 150)
L = Tier("L", 75, 750)
XL = Tier("XL", 350, 3500)
REPORTS = Tier("reports", 1, 2, daily=225)


@dataclass(frozen=True)
class Increment:
    """How a stream resumes: the row column that bookmarks it, and Klaviyo's filter on it."""

    key: str
    # The API's filter and sort field, where it is named otherwise than the row's column.
    field: str | None = None
    # The operators the spec allows on that field; a ``greater-than`` lower bound is sent one
    # second early, so records sharing the bookmark's second are read again, not lost.
    lower: str = "greater-or-equal"
    upper: str | None = "less-than"

    @property
    def filter_field(self) -> str:
        return self.field or self.key


UPDATED = Increment("updated")


class Deletes(enum.Enum):
    """How rows Klaviyo deleted reach the warehouse: Klaviyo has no feed of deletions, a
    deleted object just stops appearing. A complete read is a Singer table version, and its
    ACTIVATE_VERSION marks the rows it did not have (see ``tap_klaviyo.versions``)."""

    NEVER = "never"  # immutable (events), or history (snapshots, reports)
    EVERY_RUN = "every run"  # small: each run reads the whole table, a complete version
    # Large and incremental: every ``reconcile_every_days`` a cheap pass reads every key.
    RECONCILE = "reconcile"


class Behaviour(enum.Enum):
    """How a stream is read; everything else about it is data in its ``Resource``."""

    PAGES = "pages"  # page after page, one cursor per partition
    WINDOWS = "windows"  # the time range cut into windows read in parallel (large streams)
    VALUES_REPORT = "values report"  # one report POST a run
    SERIES_REPORT = "series report"  # daily rows, incremental by day, 60 days a POST
    METRIC_AGGREGATES = "metric aggregates"  # one POST per metric per year of days


@dataclass(frozen=True)
class Partition:
    """One pass over an endpoint: its state context and the filters that select it."""

    context: t.Mapping[str, t.Any]
    filters: tuple[str, ...]


@dataclass(frozen=True)
class KeysPass:
    """A reconciliation pass that reads the primary key alone: a sparse fieldset (and no
    additional fields, so no lowered tier), the largest page the endpoint allows."""

    fieldset: tuple[str, str]  # ("fields[<type>]", "id")
    # An immutable field bounding the pass at the sync's start: an object created since is
    # not in the warehouse, and its id alone would make a blank row. Never ``updated``, which
    # moves: an object updated during the pass could be missed, and marked deleted.
    created: str


@dataclass(frozen=True)
class AdditionalField:
    """An ``additional-fields[<type>]`` value that a setting turns on, and the tier it costs
    when Klaviyo serves it at a lower one."""

    of_type: str
    name: str
    setting: str
    tier: Tier | None = None


@dataclass(frozen=True)
class Resource:
    """How one stream is read from Klaviyo."""

    name: str
    path: str
    scopes: tuple[str, ...]
    tier: Tier
    behaviour: Behaviour = Behaviour.PAGES
    method: t.Literal["GET", "POST"] = "GET"
    primary_keys: tuple[str, ...] = ("id",)
    increment: Increment | None = None
    # Klaviyo sorts on the filter field server-side; where rows are known to come otherwise
    # (series reports, grouped by message), the bookmark is set at the end of the pass.
    sorted: bool = True
    deletes: Deletes = Deletes.NEVER
    # How a reconciliation pass reads (``Deletes.RECONCILE``): ids only, or, without one,
    # every parent's children in full (their rows are a few small fields anyway).
    keys_pass: KeysPass | None = None
    page_size: int | None = None
    include: tuple[str, ...] = ()
    # Includes a setting turns on: (include, setting).
    optional_includes: tuple[tuple[str, str], ...] = ()
    additional_fields: tuple[AdditionalField, ...] = ()
    # Each entry is one pass over the endpoint with its own filter (Klaviyo hides archived
    # campaigns and flows unless asked, and wants one campaign pass per channel).
    partitions: tuple[Partition, ...] = ()
    # Rows taken from the page's ``included`` objects of this type instead of ``data``: one
    # request per page of parents rather than one per parent.
    emits: str | None = None
    # A child read once per parent: ``path`` holds ``{id}``, the parent's id goes in
    # ``parent_key`` (a partition of the state, and a column of every row).
    parent: str | None = None
    parent_key: str | None = None
    # A child read through its parent's filter rather than its path (coupon codes: Klaviyo
    # lists them only for given coupons): ``{id}`` is the parent's id.
    parent_filter: str | None = None
    # Columns of the parent's row that the child's rows inherit: (parent column, child column).
    carry: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    # Some filters cannot be left open (the suppression filter selects suppressed profiles).
    earliest: str | None = None
    # Events reach Klaviyo late with past timestamps: ``lookback_window`` re-reads the last
    # day, a second read the range ``late_events_days`` old (``tap_klaviyo.late_events``).
    late_arrivals: bool = False
    # One row per parent per run, stamped ``snapshot_at`` (the run's start): daily runs
    # accumulate growth.
    snapshot: bool = False
    # Windowed reads: pages per window (longer windows waste fewer part-filled last pages).
    pages_per_window: int = 8
    report_type: str | None = None  # the JSON:API type of a report's request body
    # A report's ``group_by`` where Klaviyo's default grouping is coarser than the row's key.
    group_by: tuple[str, ...] = ()
    # The report measures conversions by a metric (``conversion_metric_id``).
    conversion_metric: bool = False
    # Rows from the run's one listing of the stream (``RunContext.listings``), not a read
    # of its own: the account's is made anyway, for the state's account check.
    listed: bool = False
    # ``--test`` checks this stream's scope by probing another with the same scope: a report
    # POST would spend the reports' daily quota (225) of the next sync.
    probe_with: str | None = None
    shape: records.Shape = records.to_record
    # A typed decoder of the endpoint's pages, for the hottest streams (see ``typed_pages``).
    typed: TypedPages | None = None
    description: str = ""
    # The attribute of free-form custom properties that ``profile_properties_as_columns``
    # turns into columns (see ``tap_klaviyo.profile_columns``).
    custom_properties: bool = False
    # The revisions whose catalog offers the stream (``REVISIONS``: all of them).
    revisions: tuple[str, ...] = REVISIONS

    @property
    def schema_name(self) -> str:
        """Its schema, ``schemas/<schema_name>.json``: a stream of revision 2026-10-15 alone
        has it in ``schemas/2026-10-15/`` (derived from the beta spec)."""
        only_2026_10 = self.revisions == (REVISION_2026_10,)
        return f"{REVISION_2026_10}/{self.name}" if only_2026_10 else self.name

    @property
    def replication_key(self) -> str | None:
        return self.increment.key if self.increment else None


def archived_partitions(*channels: str) -> tuple[Partition, ...]:
    """Archived and not (and one pass per campaign channel, where given)."""
    passes = []
    for channel in channels or (None,):
        for archived in (False, True):
            context: dict[str, t.Any] = {"archived": archived}
            filters = [f"equals(archived,{str(archived).lower()})"]
            if channel:
                context = {"channel": channel, **context}
                filters.insert(0, f"equals(messages.channel,'{channel}')")
            passes.append(Partition(context, tuple(filters)))
    return tuple(passes)


PROFILE_FIELDS = (
    AdditionalField("profile", "subscriptions", "profile_subscriptions"),
    # Klaviyo drops profiles from the L to the M tier when predictions are requested.
    AdditionalField("profile", "predictive_analytics", "profile_predictive_analytics", tier=M),
)

PROFILES = Resource(
    name="profiles",
    path="/api/profiles",
    scopes=("profiles:read",),
    tier=L,
    behaviour=Behaviour.WINDOWS,
    increment=replace(UPDATED, lower="greater-than"),
    deletes=Deletes.RECONCILE,
    keys_pass=KeysPass(("fields[profile]", "id"), created="created"),
    page_size=100,
    additional_fields=PROFILE_FIELDS,
    # Bound by their tier (M: 150 requests a minute), not latency: longer windows waste
    # even fewer requests on part-filled last pages.
    pages_per_window=20,
    custom_properties=True,
    typed=PROFILE_PAGES,
    description="People, with consent (`subscriptions`) and predictions by default.",
)
LISTS = Resource(
    name="lists",
    path="/api/lists",
    scopes=("lists:read",),
    tier=L,
    deletes=Deletes.EVERY_RUN,
    page_size=10,
    include=("tags",),
    description="Lists, with their tag ids.",
)
SEGMENTS = replace(
    LISTS,
    name="segments",
    path="/api/segments",
    scopes=("segments:read",),
    description="Segments with their definition and tag ids.",
)
CAMPAIGNS = Resource(
    name="campaigns",
    path="/api/campaigns",
    scopes=("campaigns:read",),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    include=("tags",),
    partitions=archived_partitions("email", "sms", "mobile_push"),
    description="Email, SMS and push campaigns, archived ones included.",
    revisions=(REVISION_2026_07,),
)
FLOWS = Resource(
    name="flows",
    path="/api/flows",
    scopes=("flows:read",),
    tier=S,
    deletes=Deletes.EVERY_RUN,
    page_size=50,
    include=("tags",),
    partitions=archived_partitions(),
    description="Flows, archived ones included.",
)
METRICS = Resource(
    name="metrics",
    path="/api/metrics",
    scopes=("metrics:read",),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    description="Metric definitions (Opened Email, Placed Order...).",
)
EVENTS = Resource(
    name="events",
    path="/api/events",
    scopes=("events:read",),
    tier=XL,
    behaviour=Behaviour.WINDOWS,
    increment=Increment("datetime"),
    page_size=1000,
    include=("metric",),
    # Attribution left ``event_properties`` in the 2024 revisions: it is a relationship now.
    optional_includes=(("attributions", "event_attributions"),),
    params=(("fields[metric]", "name"),),  # only the names travel with each page
    late_arrivals=True,
    shape=records.event_row,
    typed=EVENT_PAGES,
    description="Every event, with `metric_id`, `metric_name`, `profile_id` and the "
    "campaign or flow message a conversion is attributed to (`attributed_*`).",
)
TEMPLATES = Resource(
    name="templates",
    path="/api/templates",
    scopes=("templates:read",),
    tier=L,
    deletes=Deletes.EVERY_RUN,
    page_size=10,
    description="Email templates with their HTML and text.",
)
TAGS = Resource(
    name="tags",
    path="/api/tags",
    scopes=("tags:read",),
    tier=S,
    deletes=Deletes.EVERY_RUN,
    page_size=50,
    include=("tag-group",),
    description="Tags with their tag group.",
)
CAMPAIGNS_DETAILED = replace(
    CAMPAIGNS,
    name="campaigns_detailed",
    include=("tags", "campaign-messages"),
    shape=records.campaign_detailed_row,
    description="Campaigns with their messages and A/B test shape in one row.",
    revisions=(REVISION_2026_07,),
)
CAMPAIGN_MESSAGES = replace(
    CAMPAIGNS,
    name="campaign_messages",
    include=("campaign-messages",),
    emits="campaign-message",
    shape=records.campaign_message_row,
    description="One row per campaign message (subject, preview, sender, body, send times).",
    revisions=(REVISION_2026_07,),
)
# Revision 2026-10-15: the omnichannel campaign model (API digest section 11).
OMNICHANNEL_CAMPAIGNS = Resource(
    name="campaigns",
    path="/api/campaigns",
    scopes=("campaigns:read",),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    # The ids of each campaign's messages and audiences (``include=tags`` is not offered).
    include=("campaign-audiences", "campaign-messages"),
    partitions=archived_partitions(),
    description="Campaigns (every channel in one), archived ones included, with their "
    "message and audience ids.",
    revisions=(REVISION_2026_10,),
)
OMNICHANNEL_CAMPAIGN_MESSAGES = Resource(
    name="campaign_messages",
    path="/api/campaign-messages",
    scopes=("campaigns:read",),
    tier=M,
    increment=UPDATED,
    # Incremental: no read is complete, so a reconciliation pass reads every id (created
    # before the sync) every ``reconcile_every_days``; the ids it did not get are deleted.
    deletes=Deletes.RECONCILE,
    keys_pass=KeysPass(("fields[campaign-message]", "id"), created="created"),
    page_size=100,
    include=("campaign-variations",),
    shape=records.omnichannel_message_row,
    description="One row per message: its campaign, audience and variation ids, status, "
    "send and tracking options (A/B test in `definition`).",
    revisions=(REVISION_2026_10,),
)
CAMPAIGN_AUDIENCES = Resource(
    name="campaign_audiences",
    path="/api/campaigns/{id}/campaign-audiences",
    scopes=("campaigns:read",),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    parent="campaigns",
    parent_key="campaign_id",
    description="Who each campaign is sent to: included and excluded lists and segments. "
    "One request per campaign (M tier).",
    revisions=(REVISION_2026_10,),
)
CAMPAIGN_VARIATIONS = Resource(
    name="campaign_variations",
    path="/api/campaign-messages",
    scopes=("campaigns:read",),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    include=("campaign-variations",),
    emits="campaign-variation",
    shape=records.campaign_variation_row,
    description="One row per variation of a message, one per channel (email, SMS, push, "
    "WhatsApp): its content (subject, sender, body, title) and channel.",
    revisions=(REVISION_2026_10,),
)
FLOW_ACTIONS = replace(
    FLOWS,
    name="flow_actions",
    include=("flow-actions",),
    emits="flow-action",
    shape=records.flow_action_row,
    description="Each step of each flow, with its definition.",
)
FLOW_MESSAGES = Resource(
    name="flow_messages",
    path="/api/flow-actions/{id}/flow-messages",
    scopes=("flows:read",),
    tier=S,
    # Read whole every run: a bookmark saves no request (one per flow action whatever it
    # says), and a complete read marks the messages of deleted flows and actions.
    deletes=Deletes.EVERY_RUN,
    page_size=50,
    parent="flow_actions",
    parent_key="flow_action_id",
    carry=(("flow_id", "flow_id"),),
    shape=records.flow_message_row,
    description="The messages flow actions send, `channel` in lowercase. One request per "
    "flow action (S tier).",
)
LISTS_DETAILED = Resource(
    name="lists_detailed",
    path="/api/lists/{id}",
    scopes=("lists:read",),
    tier=XS,
    primary_keys=("id", "snapshot_at"),
    include=("tags",),
    params=(("additional-fields[list]", "profile_count"),),
    parent="lists",
    parent_key="id",
    snapshot=True,
    description="Each list with its profile_count, one snapshot per run (XS tier: 15/min).",
)
SEGMENTS_DETAILED = replace(
    LISTS_DETAILED,
    name="segments_detailed",
    path="/api/segments/{id}",
    scopes=("segments:read",),
    params=(("additional-fields[segment]", "profile_count"),),
    parent="segments",
    description="Each segment with its profile_count and definition, one snapshot per run.",
)
LIST_MEMBERS = Resource(
    name="list_members",
    path="/api/lists/{id}/profiles",
    scopes=("lists:read", "profiles:read"),
    tier=L,
    primary_keys=("list_id", "profile_id"),
    increment=Increment("joined_group_at"),
    deletes=Deletes.RECONCILE,
    page_size=100,
    # Only what a member row holds: far fewer bytes than the whole profile.
    params=(("fields[profile]", "email,joined_group_at"),),
    parent="lists",
    parent_key="list_id",
    shape=records.member_row,
    typed=member_pages("list_id"),
    description="Who is on each list and since when; every list, every run.",
)
SEGMENT_MEMBERS = replace(
    LIST_MEMBERS,
    name="segment_members",
    path="/api/segments/{id}/profiles",
    scopes=("segments:read", "profiles:read"),
    primary_keys=("segment_id", "profile_id"),
    parent="segments",
    parent_key="segment_id",
    typed=member_pages("segment_id"),
    description="Who is in each segment and since when; every segment, every run.",
)
GLOBAL_EXCLUSIONS = Resource(
    name="global_exclusions",
    path="/api/profiles",
    scopes=("profiles:read",),
    tier=L,
    primary_keys=("profile_id",),
    increment=Increment("timestamp", field="subscriptions.email.marketing.suppression.timestamp"),
    page_size=100,
    params=(("additional-fields[profile]", "subscriptions"),),
    earliest="2000-01-01T00:00:00Z",
    shape=records.global_exclusion_row,
    description="Suppressed profiles (reason, since when), read through the suppression filter.",
)
REPORT_TIMEFRAME = ("timeframe_start", "timeframe_end")
CAMPAIGN_VALUES_REPORTS = Resource(
    name="campaign_values_reports",
    path="/api/campaign-values-reports",
    scopes=("campaigns:read",),
    tier=REPORTS,
    behaviour=Behaviour.VALUES_REPORT,
    method="POST",
    report_type="campaign-values-report",
    conversion_metric=True,
    probe_with="campaigns",
    primary_keys=("campaign_id", "campaign_message_id", "send_channel", *REPORT_TIMEFRAME),
    description="Opens, clicks, conversions... per campaign message over the last N days. "
    "1 request a run (reports: 1/s, 2/min, 225/day).",
)
FLOW_VALUES_REPORTS = replace(
    CAMPAIGN_VALUES_REPORTS,
    name="flow_values_reports",
    path="/api/flow-values-reports",
    scopes=("flows:read",),
    report_type="flow-values-report",
    probe_with="flows",
    primary_keys=("flow_id", "flow_message_id", "send_channel", *REPORT_TIMEFRAME),
    description="The same statistics per flow message. 1 request a run.",
)
FLOW_SERIES_REPORTS = Resource(
    name="flow_series_reports",
    path="/api/flow-series-reports",
    scopes=("flows:read",),
    tier=REPORTS,
    behaviour=Behaviour.SERIES_REPORT,
    method="POST",
    report_type="flow-series-report",
    conversion_metric=True,
    probe_with="flows",
    primary_keys=("flow_id", "flow_message_id", "send_channel", "date"),
    # Rows come grouped by message, not by day: the bookmark is set at the end of the pass.
    increment=Increment("date"),
    sorted=False,
    description="Daily opens, clicks, conversions... per flow message and channel, the last "
    "`report_lookback_days` read again. 1 request per 60 days (reports' quota).",
)
SEGMENT_SERIES_REPORTS = replace(
    FLOW_SERIES_REPORTS,
    name="segment_series_reports",
    path="/api/segment-series-reports",
    scopes=("segments:read",),
    report_type="segment-series-report",
    conversion_metric=False,
    probe_with="segments",
    primary_keys=("segment_id", "date"),
    description="Daily members added, removed, net and total per segment. 1 request per 60 "
    "days (reports' quota).",
)
ACCOUNTS = Resource(
    name="accounts",
    path="/api/accounts",
    scopes=("accounts:read",),
    tier=XS,
    listed=True,
    description="The account: timezone, preferred currency, industry, contact information. "
    "Full table, from the run's one request to `/api/accounts`.",
)
METRIC_AGGREGATES = Resource(
    name="metric_aggregates",
    path="/api/metric-aggregates",
    scopes=("metrics:read",),
    tier=S,
    behaviour=Behaviour.METRIC_AGGREGATES,
    method="POST",
    report_type="metric-aggregate",
    primary_keys=("metric_id", "date"),
    increment=Increment("date"),
    parent="metrics",
    parent_key="metric_id",
    carry=(("name", "metric_name"),),
    description="Daily count, unique profiles and value per metric: engagement trends. "
    "1 request per metric per year of days.",
)

# The storefront: forms, coupons, the product catalog, reviews, push tokens, tag groups and
# custom objects (revision 2026-07-15's stable endpoints; both revisions offer them).
FORMS = Resource(
    name="forms",
    path="/api/forms",
    scopes=("forms:read",),
    tier=S,
    increment=Increment("updated_at"),
    deletes=Deletes.RECONCILE,
    keys_pass=KeysPass(("fields[form]", "id"), created="created_at"),
    page_size=100,
    description="Sign-up forms: name, status, A/B test. Incremental on `updated_at`.",
)
FORM_VERSIONS = Resource(
    name="form_versions",
    path="/api/forms/{id}/form-versions",
    scopes=("forms:read",),
    tier=S,
    increment=Increment("updated_at"),
    page_size=100,
    parent="forms",
    parent_key="form_id",
    description="Each form's versions (type, status, A/B variation); incremental per form. "
    "One request per form (S tier).",
)
COUPONS = Resource(
    name="coupons",
    path="/api/coupons",
    scopes=("coupons:read",),
    tier=L,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    description="Coupons (the discount each stands for). Full table.",
)
COUPON_CODES = Resource(
    name="coupon_codes",
    path="/api/coupon-codes",
    # The coupons are listed first: their codes are read one coupon at a time.
    scopes=("coupons:read", "coupon-codes:read"),
    tier=XL,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    parent="coupons",
    parent_key="coupon_id",
    parent_filter="any(coupon.id,['{id}'])",
    description="Every code of every coupon: status (assigned, used), expiry, the profile it "
    "went to. One pass per coupon (Klaviyo requires the coupon filter).",
)
CATALOG_ITEMS = Resource(
    name="catalog_items",
    path="/api/catalog-items",
    scopes=("catalogs:read",),
    tier=XL,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    description="Products: title, price, URL, images, custom metadata. Full table (no date "
    "filter).",
)
CATALOG_VARIANTS = replace(
    CATALOG_ITEMS,
    name="catalog_variants",
    path="/api/catalog-variants",
    description="Product variants: SKU, price, inventory, their item's id. Full table.",
)
CATALOG_CATEGORIES = replace(
    CATALOG_ITEMS,
    name="catalog_categories",
    path="/api/catalog-categories",
    description="Product categories. Full table.",
)
REVIEWS = Resource(
    name="reviews",
    path="/api/reviews",
    scopes=("reviews:read",),
    tier=M,
    # The only date filter is on ``created`` (greater-or-equal, less-or-equal).
    increment=Increment("created", upper=None),
    page_size=100,
    description="Product reviews and questions: rating, content, product, status. "
    "Incremental on `created`: a review edited later is read again by a full refresh.",
)
PUSH_TOKENS = Resource(
    name="push_tokens",
    path="/api/push-tokens",
    scopes=("profiles:read", "push-tokens:read"),
    tier=M,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    description="Mobile push tokens: platform, enablement status, app metadata, profile id. "
    "Full table.",
)
TAG_GROUPS = Resource(
    name="tag_groups",
    path="/api/tag-groups",
    scopes=("tags:read",),
    tier=S,
    deletes=Deletes.EVERY_RUN,
    page_size=25,
    description="Tag groups (whether exclusive, the default one). Full table.",
)
CUSTOM_OBJECT_TYPES = Resource(
    name="custom_object_types",
    path="/api/object-types",
    scopes=("custom-objects:read",),
    tier=S,
    deletes=Deletes.EVERY_RUN,
    description="Custom object types (title, namespace, status). One request.",
)
CUSTOM_OBJECT_RECORDS = Resource(
    name="custom_object_records",
    path="/api/object-types/{id}/object-records",
    scopes=("custom-objects:read",),
    tier=S,
    deletes=Deletes.EVERY_RUN,
    page_size=100,
    parent="custom_object_types",
    parent_key="object_type_id",
    description="The records of every custom object type, one stream, with `object_type_id` "
    "and `record_properties`. One pass per type (S tier).",
)
FORM_GROUPS = ("form_id", "form_version_id")
FORM_VALUES_REPORTS = Resource(
    name="form_values_reports",
    path="/api/form-values-reports",
    scopes=("forms:read",),
    tier=REPORTS,
    behaviour=Behaviour.VALUES_REPORT,
    method="POST",
    report_type="form-values-report",
    group_by=FORM_GROUPS,
    probe_with="forms",
    primary_keys=(*FORM_GROUPS, *REPORT_TIMEFRAME),
    description="Views, submits, submit rate, closes... per form version over the last N "
    "days. 1 request a run (reports' quota).",
)
FORM_SERIES_REPORTS = replace(
    FLOW_SERIES_REPORTS,
    name="form_series_reports",
    path="/api/form-series-reports",
    scopes=("forms:read",),
    report_type="form-series-report",
    conversion_metric=False,
    group_by=FORM_GROUPS,
    probe_with="forms",
    primary_keys=(*FORM_GROUPS, "date"),
    description="Daily views, submits, submit rate, closes... per form version. 1 request per "
    "60 days (reports' quota).",
)
SEGMENT_VALUES_REPORTS = replace(
    FORM_VALUES_REPORTS,
    name="segment_values_reports",
    path="/api/segment-values-reports",
    scopes=("segments:read",),
    report_type="segment-values-report",
    group_by=(),
    probe_with="segments",
    primary_keys=("segment_id", *REPORT_TIMEFRAME),
    # Klaviyo has no segment data before 1 June 2023.
    earliest="2023-06-01T00:00:00Z",
    description="Members added, removed, net and total per segment over the last N days. "
    "1 request a run (reports' quota).",
)

TABLE: tuple[Resource, ...] = (
    PROFILES,
    LISTS,
    SEGMENTS,
    CAMPAIGNS,
    FLOWS,
    METRICS,
    EVENTS,
    TEMPLATES,
    TAGS,
    CAMPAIGNS_DETAILED,
    CAMPAIGN_MESSAGES,
    FLOW_ACTIONS,
    FLOW_MESSAGES,
    LISTS_DETAILED,
    SEGMENTS_DETAILED,
    LIST_MEMBERS,
    SEGMENT_MEMBERS,
    GLOBAL_EXCLUSIONS,
    CAMPAIGN_VALUES_REPORTS,
    FLOW_VALUES_REPORTS,
    FLOW_SERIES_REPORTS,
    SEGMENT_SERIES_REPORTS,
    METRIC_AGGREGATES,
    ACCOUNTS,
    OMNICHANNEL_CAMPAIGNS,
    OMNICHANNEL_CAMPAIGN_MESSAGES,
    CAMPAIGN_AUDIENCES,
    CAMPAIGN_VARIATIONS,
    FORMS,
    FORM_VERSIONS,
    FORM_VALUES_REPORTS,
    FORM_SERIES_REPORTS,
    SEGMENT_VALUES_REPORTS,
    COUPONS,
    COUPON_CODES,
    CATALOG_ITEMS,
    CATALOG_VARIANTS,
    CATALOG_CATEGORIES,
    REVIEWS,
    PUSH_TOKENS,
    TAG_GROUPS,
    CUSTOM_OBJECT_TYPES,
    CUSTOM_OBJECT_RECORDS,
)


def resources_for(revision: str) -> tuple[Resource, ...]:
    """The streams a revision offers (``revision`` is one of ``REVISIONS``)."""
    return tuple(resource for resource in TABLE if revision in resource.revisions)


# The default revision's streams (see ``tap_klaviyo.config_schema``).
RESOURCES = resources_for(REVISION_2026_07)
STREAM_NAMES = frozenset(resource.name for resource in TABLE)
# The streams that spend the reports' daily quota, in the order a short quota serves them.
QUOTA_STREAMS = tuple(r.name for r in RESOURCES if r.tier is REPORTS)
RESOURCE_BY_NAME = {resource.name: resource for resource in RESOURCES}
# The tap is read-only by construction: these POSTs read (reports), every other call is a GET.
READ_ONLY_POSTS = frozenset(r.path for r in TABLE if r.method == "POST")
# ``--test`` checks a child's second scope (profiles:read of list members) by this stream
# when there is no parent to read children of.
SCOPE_PROBES = {r.scopes[0]: r.name for r in reversed(RESOURCES) if len(r.scopes) == 1}


def scopes_for(endpoint: str | None) -> tuple[str, ...] | None:
    """The scopes Klaviyo asks of an endpoint as sent (its ids filled in), where the table
    has it: the fewest of the streams reading it."""
    for resource in sorted(TABLE, key=lambda r: len(r.scopes)):
        if endpoint and re.fullmatch(resource.path.replace("{id}", "[^/]+"), endpoint):
            return resource.scopes
    return None
