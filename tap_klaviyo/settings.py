"""The tap's settings: their JSON schema (for --about and Meltano), their validation, and
the one typed ``Settings`` object every part of the tap reads.

Each default is written once, in the schema below. Validation happens before any request and
reports the first problem as one line that names the setting and shows the expected form. It
never echoes the API key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import re
import typing as t
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_klaviyo import timestamps
from tap_klaviyo.errors import ConfigError
from tap_klaviyo.resources import REVISION_2026_07, REVISION_2026_10, REVISIONS, TABLE
from tap_klaviyo.schemas import load_schema

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


PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9]{34}")
PUBLIC_KEY = re.compile(r"[A-Za-z0-9]{6}")
REVISION = re.compile(r"\d{4}-\d{2}-\d{2}(\.pre)?")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)  # Klaviyo's event timestamps start here
DATETIME_FORM = "YYYY-MM-DDTHH:MM:SSZ, e.g. 2024-01-01T00:00:00Z"
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


@dataclass(frozen=True)
class Settings:
    """Every setting, validated and with its default applied: built once from the config."""

    api_key: str = field(repr=False)
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    revision: str
    account_name: str | None
    base_url: str
    rate_limit_budget: bool
    request_timeout: float
    max_retries: int
    user_agent: str | None
    lookback_window: int
    late_events_days: int
    max_workers: int
    max_buffered_pages: int
    event_attributions: bool
    profile_subscriptions: bool
    profile_predictive_analytics: bool
    report_timeframe_days: int
    report_lookback_days: int
    report_timezone: str | None
    series_report_days: int
    report_requests_per_day: int
    report_statistics: tuple[str, ...] | None
    conversion_metric_id: str | None
    conversion_metric_name: str
    metric_aggregates_days: int
    activate_versions: bool
    reconcile_every_days: int
    reconcile_now: bool
    metric_aggregates_by: tuple[str, ...]
    fail_on_missing_scope: bool
    profile_properties_as_columns: bool
    profile_properties_sample: int
    # Stream maps, flattening or batch messages are configured: records take the SDK's path.
    sdk_records: bool

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        """Validate ``config`` (ConfigError on the first bad setting) and apply defaults."""
        validate(config)

        def value(name: str) -> t.Any:
            given = config.get(name)
            return DEFAULTS.get(name) if given is None else given

        start, end = (
            parse_datetime(name, config[name]) if config.get(name) is not None else None
            for name in ("start_date", "end_date")
        )
        statistics = config.get("report_statistics")
        return cls(
            api_key=resolve_api_key(config),
            start_date=start,
            end_date=end,
            revision=value("revision"),
            account_name=config.get("account_name") or None,
            base_url=check_base_url(value("base_url")),
            rate_limit_budget=bool(value("rate_limit_budget")),
            request_timeout=float(value("request_timeout")),
            max_retries=value("max_retries"),
            user_agent=config.get("user_agent") or None,
            lookback_window=value("lookback_window"),
            late_events_days=value("late_events_days"),
            max_workers=value("max_workers"),
            max_buffered_pages=value("max_buffered_pages"),
            event_attributions=bool(value("event_attributions")),
            profile_subscriptions=bool(value("profile_subscriptions")),
            profile_predictive_analytics=bool(value("profile_predictive_analytics")),
            report_timeframe_days=value("report_timeframe_days"),
            report_lookback_days=value("report_lookback_days"),
            report_timezone=config.get("report_timezone") or None,
            series_report_days=value("series_report_days"),
            report_requests_per_day=value("report_requests_per_day"),
            report_statistics=tuple(statistics) if statistics else None,
            conversion_metric_id=str(config["conversion_metric_id"])
            if config.get("conversion_metric_id")
            else None,
            conversion_metric_name=value("conversion_metric_name"),
            metric_aggregates_days=value("metric_aggregates_days"),
            activate_versions=bool(value("activate_versions")),
            reconcile_every_days=value("reconcile_every_days"),
            reconcile_now=bool(value("reconcile_now")),
            metric_aggregates_by=tuple(config.get("metric_aggregates_by") or ()),
            fail_on_missing_scope=bool(value("fail_on_missing_scope")),
            profile_properties_as_columns=bool(value("profile_properties_as_columns")),
            profile_properties_sample=value("profile_properties_sample"),
            sdk_records=any(config.get(name) for name in SDK_RECORD_SETTINGS),
        )

    @property
    def label(self) -> str:
        return self.account_name or "Klaviyo account"


def resolve_api_key(config: t.Mapping[str, t.Any]) -> str:
    """The key from ``api_key`` or its alias ``auth_token``, checked for form."""
    key = config.get("api_key") or config.get("auth_token")
    if not key:
        account = config.get("account_name")
        raise ConfigError(
            f"Setting 'api_key' is missing{f' for account {account!r}' if account else ''}: "
            "give a Klaviyo private API key (pk_ followed by 34 letters or digits); in Meltano, "
            "each account's plugin takes its own (e.g. TAP_KLAVIYO__ACME_API_KEY for "
            "tap-klaviyo--acme), never another's."
        )
    if not isinstance(key, str) or not PRIVATE_KEY.fullmatch(key.strip()):
        hint = (
            " It looks like a 6-character public key (site ID); the tap needs a private key."
            if isinstance(key, str) and PUBLIC_KEY.fullmatch(key.strip())
            else ""
        )
        raise ConfigError(
            "Setting 'api_key' is not a Klaviyo private API key: expected pk_ followed by "
            f"34 letters or digits (37 characters).{hint}"
        )
    return key.strip()


def parse_datetime(name: str, value: object) -> dt.datetime:
    """Parse a setting given as an ISO 8601 timestamp; naive values are taken as UTC."""
    if not isinstance(value, str):
        raise ConfigError(f"Setting '{name}' must be a timestamp in the form {DATETIME_FORM}.")
    try:
        parsed = timestamps.parse(value)
    except ValueError:
        raise ConfigError(
            f"Setting '{name}' is not a valid timestamp: expected the form {DATETIME_FORM}."
        ) from None
    if parsed < EPOCH:
        raise ConfigError(f"Setting '{name}' must be 1970-01-01T00:00:00Z or later.")
    return parsed


def check_base_url(value: object) -> str:
    """https anywhere; plain http only to loopback (how tests reach the sandbox)."""
    parts = urlsplit(str(value))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            "Setting 'base_url' must be an absolute URL such as https://a.klaviyo.com."
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            "Setting 'base_url' uses plain http for a non-loopback host: use https "
            "(http is accepted only for 127.0.0.1, ::1 or localhost)."
        )
    return str(value).rstrip("/")


def check_rate_limit_budget(value: object, base_url: str) -> None:
    """The budget goes off only for a loopback server: Klaviyo itself would throttle (and,
    past its daily quotas, lock out) an account whose tap ignored its tiers."""
    if value is None or value is True:
        return
    if value is not False:
        raise ConfigError("Setting 'rate_limit_budget' must be true or false.")
    if not is_loopback(urlsplit(base_url).hostname or ""):
        raise ConfigError(
            "Setting 'rate_limit_budget' may be false only with a loopback 'base_url' "
            "(127.0.0.1, ::1 or localhost): Klaviyo's rate limits always apply to it."
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate(config: t.Mapping[str, t.Any]) -> list[str]:
    """Check every setting; raise ConfigError on the first bad one, return warnings."""
    resolve_api_key(config)
    start = (
        parse_datetime("start_date", config["start_date"])
        if config.get("start_date") is not None
        else None
    )
    if config.get("end_date") is not None:
        end = parse_datetime("end_date", config["end_date"])
        if start and end <= start:
            raise ConfigError(
                "Setting 'end_date' must be later than 'start_date' "
                f"({config['end_date']} is not after {config['start_date']})."
            )
    revision = config.get("revision") or DEFAULTS["revision"]
    if not isinstance(revision, str) or not REVISION.fullmatch(revision):
        raise ConfigError(
            f"Setting 'revision' must be a revision date YYYY-MM-DD: {' or '.join(REVISIONS)}."
        )
    check_revision(revision)
    base_url = check_base_url(config.get("base_url") or DEFAULTS["base_url"])
    check_rate_limit_budget(config.get("rate_limit_budget"), base_url)
    agent = config.get("user_agent")
    if agent is not None and (not isinstance(agent, str) or not agent.isprintable()):
        raise ConfigError(
            "Setting 'user_agent' must be one line of printable text (it is sent as the "
            "User-Agent header), e.g. acme-etl/1.0."
        )
    check_timezone(config.get("report_timezone"))
    check_statistics(config.get("report_statistics"))
    check_dimensions(config.get("metric_aggregates_by"))
    for name, spec in CONFIG_SCHEMA["properties"].items():
        if {"integer", "number"} & set(_types(spec)):
            check_number(name, spec, config.get(name))
    warnings = [
        unknown_setting(name) for name in sorted(set(config) - KNOWN_SETTINGS - SDK_SETTINGS)
    ]
    if start and start > dt.datetime.now(dt.timezone.utc):
        warnings.append(
            f"Setting 'start_date' ({config['start_date']}) is in the future: nothing is "
            "synced until then."
        )
    return warnings


def report_statistic_names() -> frozenset[str]:
    """The statistics Klaviyo's values reports accept: the numeric columns of their schema,
    derived from the spec's ``statistics`` enum (the same 31 for campaigns and flows)."""
    properties = load_schema("campaign_values_reports")["properties"]
    return frozenset(
        name for name, spec in properties.items() if {"number", "integer"} & set(_types(spec))
    )


def check_statistics(value: object) -> None:
    """A list of Klaviyo's report statistics: a bad one would fail the first report request,
    after every other stream's work."""
    if value is None:
        return
    allowed = report_statistic_names()
    names = value if isinstance(value, list | tuple) else [value]
    bad = [name for name in names if not isinstance(name, str) or name not in allowed]
    if isinstance(value, list | tuple) and not bad:
        return
    shown = bad[0] if bad else value
    near = difflib.get_close_matches(str(shown), sorted(allowed), n=1)
    hint = f"; did you mean '{near[0]}'?" if near else "."
    raise ConfigError(
        f"Setting 'report_statistics' must be a list of Klaviyo report statistics, and "
        f"{shown!r} is not one{hint} Allowed: {', '.join(sorted(allowed))}; or leave it "
        "unset for all of them."
    )


def check_revision(revision: str) -> None:
    """A revision the tap has shapes for. Klaviyo answers only real revisions (a date between
    two is no longer served as the one before it), and what a newer or beta revision changed
    is unknown until the tap is taught it: rather than sync unknown shapes, it stops here."""
    if revision in REVISIONS:
        return
    beta = " (a beta revision: its shapes change without notice)" if ".pre" in revision else ""
    raise ConfigError(
        f"Setting 'revision' ({revision}) is not a revision the tap has shapes for{beta}: "
        f"use {' or '.join(REVISIONS)} (the default is {DEFAULT_REVISION})."
    )


def check_timezone(value: object) -> None:
    """An IANA timezone name that this machine's timezone database knows."""
    if value is None or value == "":
        return
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Setting 'report_timezone' ({value}) is not a known IANA timezone: give a name "
            "such as America/New_York or UTC, or leave it unset for the account's."
        ) from None


def check_dimensions(value: object) -> None:
    """A list of Klaviyo's ``$`` dimensions of metric aggregates."""
    if value is None:
        return
    names = value if isinstance(value, list | tuple) else [value]
    unknown = [name for name in names if name not in AGGREGATE_DIMENSIONS]
    if not isinstance(value, list | tuple) or unknown:
        raise ConfigError(
            f"Setting 'metric_aggregates_by' must be a list of: "
            f"{', '.join(sorted(AGGREGATE_DIMENSIONS))} ({unknown[0] if unknown else value!r} "
            "is not one)."
        )


def _types(spec: t.Mapping[str, t.Any]) -> list[str]:
    kinds = spec.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def check_number(name: str, spec: t.Mapping[str, t.Any], value: t.Any) -> None:
    """A count is a whole number (not 2.5, not true), a duration any number; both within the
    bounds the schema gives."""
    if value is None:
        return
    whole = "integer" in _types(spec)
    low, high = spec.get("minimum"), spec.get("maximum")
    above = spec.get("exclusiveMinimum")
    # A config file's fractions arrive as Decimal (singer-sdk reads JSON that way).
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float | Decimal):
        ok = False
    else:
        ok = (low is None or value >= low) and (high is None or value <= high)
        ok = ok and (above is None or value > above)
    if not ok:
        kind = "a whole number" if whole else "a number"
        if high is not None:
            bounds = f" from {low} to {high}"
        elif above is not None:
            bounds = f" above {above}"
        else:
            bounds = f" of at least {low}" if low is not None else ""
        raise ConfigError(f"Setting '{name}' must be {kind}{bounds}.")


def unknown_setting(name: str) -> str:
    known = sorted(KNOWN_SETTINGS | SDK_SETTINGS)
    near = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{near[0]}'?" if near else "."
    return f"Unknown setting '{name}' is ignored{hint}"
