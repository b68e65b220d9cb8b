"""The tap's settings: their JSON schema (for --about and Meltano) and their validation.

Validation happens before any request and reports the first problem as one line that names
the setting and shows the expected form. It never echoes the API key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import typing as t
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_klaviyo.errors import ConfigError

DEFAULT_REVISION = "2026-07-15"
DEFAULT_BASE_URL = "https://a.klaviyo.com"
DEFAULT_MAX_WORKERS = 32
DEFAULT_MAX_BUFFERED_PAGES = 32

PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9]{34}")
PUBLIC_KEY = re.compile(r"[A-Za-z0-9]{6}")
REVISION = re.compile(r"\d{4}-\d{2}-\d{2}(\.pre)?")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)  # Klaviyo's event timestamps start here
DATETIME_FORM = "YYYY-MM-DDTHH:MM:SSZ, e.g. 2024-01-01T00:00:00Z"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
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
        description="Klaviyo API revision sent as the `revision` header (YYYY-MM-DD, "
        "optionally with .pre).",
    ),
    th.Property(
        "account_name",
        th.StringType,
        description="A label for this account, used in logs and `--test` output.",
    ),
    th.Property(
        "base_url",
        th.StringType,
        default=DEFAULT_BASE_URL,
        description="API root. Plain http is accepted only for loopback hosts (the sandbox).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        description="Seconds to wait for one HTTP response before retrying it.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
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
        th.IntegerType,
        default=0,
        description="Seconds of events to read again behind the bookmark on each run, for "
        "events that reach Klaviyo late with an earlier timestamp (e.g. 3600).",
    ),
    th.Property(
        "max_workers",
        th.IntegerType,
        default=DEFAULT_MAX_WORKERS,
        description="Requests in flight at once: time windows of events and profiles, and "
        "the children of lists, segments, flows and metrics, are fetched in parallel within "
        "each endpoint's rate-limit tier.",
    ),
    th.Property(
        "max_buffered_pages",
        th.IntegerType,
        default=DEFAULT_MAX_BUFFERED_PAGES,
        description="Pages being fetched or waiting to be written, at most (bounds memory "
        "use; requests in flight are at most this many too).",
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
        th.IntegerType,
        default=30,
        description="campaign/flow values reports cover the last N whole days (UTC), 1 to 365.",
    ),
    th.Property(
        "report_statistics",
        th.ArrayType(th.StringType),
        description="Statistics the values reports ask for; default: all of them.",
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
        th.IntegerType,
        default=365,
        description="Days of daily metric aggregates to read on the first run, today "
        "included (later runs resume from the bookmark).",
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


def resolve_api_key(config: t.Mapping[str, t.Any]) -> str:
    """The key from ``api_key`` or its alias ``auth_token``, checked for form."""
    key = config.get("api_key") or config.get("auth_token")
    if not key:
        raise ConfigError(
            "Setting 'api_key' is missing: give a Klaviyo private API key "
            "(pk_ followed by 34 letters or digits)."
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
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"Setting '{name}' is not a valid timestamp: expected the form {DATETIME_FORM}."
        ) from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
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
    revision = config.get("revision", DEFAULT_REVISION)
    if not isinstance(revision, str) or not REVISION.fullmatch(revision):
        raise ConfigError(
            "Setting 'revision' must look like YYYY-MM-DD or YYYY-MM-DD.pre, "
            f"e.g. {DEFAULT_REVISION}."
        )
    check_base_url(config.get("base_url", DEFAULT_BASE_URL))
    days = config.get("report_timeframe_days")
    if days is not None and not (isinstance(days, int) and 1 <= days <= 365):
        raise ConfigError("Setting 'report_timeframe_days' must be a whole number from 1 to 365.")
    for name in (
        "request_timeout",
        "max_retries",
        "metric_aggregates_days",
        "max_workers",
        "max_buffered_pages",
        "lookback_window",
    ):
        value = config.get(name)
        minimum = 0 if name == "lookback_window" else 1
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < minimum
        ):
            raise ConfigError(f"Setting '{name}' must be a number of at least {minimum}.")
    unknown = sorted(set(config) - KNOWN_SETTINGS - _SDK_SETTINGS)
    return [f"Unknown setting '{name}' is ignored." for name in unknown]


# Settings that singer-sdk itself adds to every tap (stream maps, flattening, batching...).
_SDK_SETTINGS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "batch_config",
    }
)
