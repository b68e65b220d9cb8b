"""The tap's settings as a JSON schema (for --about, Meltano and validation): each setting's
type, bounds, description and default, each default written once, here."""

from __future__ import annotations

import typing as t

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_klaviyo.resources import REVISION_2026_07, REVISION_2026_10, REVISIONS, TABLE

# The GA revision 2026-10-15 is known offline only through its beta spec (2026-07-15.pre):
# the default stays the revision whose spec the tap's shapes are checked against.
DEFAULT_REVISION = REVISION_2026_07


def _revision_streams() -> str:
    """What 2026-10-15 changes in the catalog, from the resource table."""

    def only(revision: str) -> str:
        return ", ".join(f"`{r.name}`" for r in TABLE if r.revisions == (revision,))

    return (
        f"The campaign streams are {only(REVISION_2026_07)} in `{REVISION_2026_07}`, and "
        f"{only(REVISION_2026_10)} in `{REVISION_2026_10}` (Klaviyo's omnichannel campaign "
        "model); the other streams are the same in both."
    )


# The ``$`` dimensions of ``POST /api/metric-aggregates`` (``by``), revision 2026-07-15.
AGGREGATE_DIMENSIONS = frozenset(
    {
        "$attributed_channel", "$attributed_flow", "$attributed_message", "$attributed_variation",
        "$campaign_channel", "$flow", "$flow_channel", "$message", "$message_send_cohort",
        "$usage_amount", "$value_currency", "$variation", "$variation_send_cohort",
    }
)  # fmt: skip

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,  # or its alias: ``Settings``' checks run before the SDK's schema
        secret=True,
        title="Private API key",
        description="A Klaviyo private API key (pk_ followed by 34 letters or digits) with "
        "the read scopes of the streams you sync. `auth_token` is accepted as an alias.",
    ),
    th.Property(
        "auth_token",
        th.StringType,
        secret=True,
        description="Alias of `api_key`, for configs written for the MeltanoLabs variant.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="Sync records updated (or, for events, happening) after this time, "
        "e.g. 2024-01-01T00:00:00Z. Absent: all history.",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Upper bound for a bounded backfill, e.g. 2024-02-01T00:00:00Z.",
    ),
    th.Property(
        "revision",
        th.StringType,
        default=DEFAULT_REVISION,
        allowed_values=list(REVISIONS),
        description="Klaviyo API revision sent as the `revision` header: "
        f"{' or '.join(f'`{r}`' for r in REVISIONS)}. {_revision_streams()}",
    ),
    th.Property(
        "account_name",
        th.StringType,
        description="A label for this account, used in logs and `--test` output.",
    ),
    th.Property(
        "base_url",
        th.StringType,
        default="https://a.klaviyo.com",
        description="API root. Plain http is accepted only for loopback hosts (the sandbox).",
    ),
    th.Property(
        "rate_limit_budget",
        th.BooleanType,
        default=True,
        description="Keep each endpoint's requests within Klaviyo's rate-limit tier on the "
        "tap's side. false is accepted only with a loopback `base_url`: for a local server "
        "without rate limits, such as the sandbox in tests.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="Seconds to wait for one HTTP response before retrying it.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=1),
        default=8,
        description="Attempts for one request on 429, 5xx and network errors before failing.",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        description="User-Agent header; defaults to tap-klaviyo/<version>.",
    ),
    th.Property(
        "lookback_window",
        th.IntegerType(minimum=0),
        default=86400,
        description="Seconds of events to read again behind the bookmark on each run: an "
        "event that reaches Klaviyo up to this long after its `datetime` is in the warehouse "
        "after the next run (default: a day). See Late events.",
    ),
    th.Property(
        "late_events_days",
        th.IntegerType(minimum=0, maximum=90),
        default=7,
        description="Events that reach Klaviyo up to N days after their `datetime` land in "
        "the warehouse: each run also reads, a second time, the range that became N days old "
        "since the last run (about one day of events a daily run). 0: no second read.",
    ),
    th.Property(
        "max_workers",
        th.IntegerType(minimum=1),
        default=32,
        description="Requests in flight at once, all streams together: streams, the time "
        "windows of events and profiles and the children of lists, segments, flows and "
        "metrics are read in parallel, within each endpoint's rate-limit tier.",
    ),
    th.Property(
        "max_buffered_pages",
        th.IntegerType(minimum=1),
        default=32,
        description="Pages being fetched or waiting to be written, at most (bounds memory "
        "use; requests in flight are at most this many too).",
    ),
    th.Property(
        "event_attributions",
        th.BooleanType,
        default=True,
        description="Request events' attributions (`include=attributions`): the campaign or "
        "flow message Klaviyo credits a conversion to, as `attributed_*` columns.",
    ),
    th.Property(
        "profile_subscriptions",
        th.BooleanType,
        default=True,
        description="Request profiles' consent (`additional-fields[profile]=subscriptions`). "
        "Free: keeps the L tier (75/s, 750/min).",
    ),
    th.Property(
        "profile_predictive_analytics",
        th.BooleanType,
        default=True,
        description="Request profiles' predictions (churn, CLV). Costs the M tier "
        "(10/s, 150/min) instead of L for every profiles request.",
    ),
    th.Property(
        "report_timeframe_days",
        th.IntegerType(minimum=1, maximum=365),
        default=30,
        description="campaign/flow values reports cover the last N whole days (in "
        "`report_timezone`), 1 to 365.",
    ),
    th.Property(
        "report_lookback_days",
        th.IntegerType(minimum=0, maximum=90),
        default=5,
        description="Past days every report, series and metric_aggregates reads again on "
        "each run, 0 to 90: Klaviyo revises conversions for days after a send (5 days by "
        "default, up to 90 with custom attribution windows). Rows are keyed by day, so "
        "upserting targets replace the revised numbers.",
    ),
    th.Property(
        "report_timezone",
        th.StringType,
        description="IANA timezone (e.g. America/New_York) that reports, series and "
        "metric_aggregates cut days in; default: the account's (`GET /api/accounts`), as "
        "Klaviyo's own UI does. Rows name it in their `timezone` column.",
    ),
    th.Property(
        "series_report_days",
        th.IntegerType(minimum=1, maximum=365),
        default=60,
        description="Days of daily series (flow_series_reports, segment_series_reports) to "
        "read on the first run, today included: 60 is one request each (Klaviyo's longest "
        "daily timeframe). Later runs resume from the bookmark.",
    ),
    th.Property(
        "report_requests_per_day",
        th.IntegerType(minimum=1, maximum=225),
        default=225,
        description="Report requests (values and series reports) the tap may send in 24 hours, "
        "of the 225 Klaviyo allows an account: lower it to leave some for other tools. The "
        "count is kept in the state; days that do not fit wait for the next run.",
    ),
    th.Property(
        "report_statistics",
        th.ArrayType(th.StringType),
        description="Statistics the values and flow series reports ask for, in Klaviyo's "
        'names (e.g. ["open_rate", "conversion_value"]; any other name stops the tap '
        "before its first request); default: all 31 of them.",
    ),
    th.Property(
        "conversion_metric_id",
        th.StringType,
        description="Metric whose events count as conversions in the values reports; "
        "default: the account's metric named by `conversion_metric_name`.",
    ),
    th.Property(
        "conversion_metric_name",
        th.StringType,
        default="Placed Order",
        description="Name of the conversion metric, used when `conversion_metric_id` is unset.",
    ),
    th.Property(
        "metric_aggregates_days",
        th.IntegerType(minimum=1),
        default=365,
        description="Days of daily metric aggregates to read on the first run, today "
        "included (later runs resume from the bookmark).",
    ),
    th.Property(
        "activate_versions",
        th.BooleanType,
        default=True,
        description="Mark the rows Klaviyo deleted: records carry a table version, and an "
        "`ACTIVATE_VERSION` follows each complete read, so target-postgres sets "
        "`_sdc_deleted_at` on the rows it did not have (see Deletes). false: never.",
    ),
    th.Property(
        "reconcile_every_days",
        th.IntegerType(minimum=0),
        default=7,
        description="Days between the passes that find deleted profiles and, in revision "
        "2026-10-15, campaign messages (their ids only) and members removed from lists and "
        "segments (every list read in full). 0: never.",
    ),
    th.Property(
        "reconcile_now",
        th.BooleanType,
        default=False,
        description="Make this run a reconciliation pass (profiles, list and segment members) "
        "whenever the last one was, instead of editing the state; set it for one run, then "
        "remove it: every run with it set makes a pass.",
    ),
    th.Property(
        "metric_aggregates_by",
        th.ArrayType(th.StringType),
        description='Dimensions to split metric_aggregates by, e.g. ["$attributed_flow", '
        '"$attributed_message"] for revenue per flow and message per day: each becomes a '
        "column (without the `$`) and part of the key, '' where Klaviyo gives no value. "
        "Default: none (one row per metric per day).",
    ),
    th.Property(
        "profile_properties_as_columns",
        th.BooleanType,
        default=False,
        description="Make each custom profile property a typed column of `profiles` "
        "(`property_<key>`), chosen at --discover from a sample of profiles (see Profile "
        "properties as columns). false: `properties` stays one JSON column.",
    ),
    th.Property(
        "profile_properties_sample",
        th.IntegerType(minimum=1, maximum=10000),
        default=500,
        description="How many profiles (the most recently updated) --discover reads to find "
        "the property columns: one request per 100.",
    ),
    th.Property(
        "fail_on_missing_scope",
        th.BooleanType,
        default=False,
        description="Stop the whole sync when the key lacks a stream's scope, instead of "
        "skipping that stream with a warning.",
    ),
).to_dict()

KNOWN_SETTINGS = frozenset(CONFIG_SCHEMA["properties"])
DEFAULTS: dict[str, t.Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}


def _sdk_settings() -> frozenset[str]:
    """The settings singer-sdk adds to every tap (stream maps, flattening, batching...), read
    from the SDK itself so that a new one is never reported as unknown."""
    schema: dict[str, t.Any] = {"type": "object", "properties": {}}
    Tap.append_builtin_config(schema)
    return frozenset(schema["properties"])


SDK_SETTINGS = _sdk_settings()
# Under these the SDK itself must shape and write each record (the fast path cannot).
SDK_RECORD_SETTINGS = ("stream_maps", "flattening_enabled", "batch_config")
