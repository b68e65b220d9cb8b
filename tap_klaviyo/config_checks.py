"""The settings' validation: before any request, the first problem as one line that names
the setting and shows the expected form. It never echoes the API key."""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import re
import typing as t
import zoneinfo
from decimal import Decimal
from urllib.parse import urlsplit

from tap_klaviyo import timestamps
from tap_klaviyo.config_schema import (
    AGGREGATE_DIMENSIONS,
    CONFIG_SCHEMA,
    DEFAULT_REVISION,
    DEFAULTS,
    KNOWN_SETTINGS,
    SDK_SETTINGS,
)
from tap_klaviyo.errors import ConfigError
from tap_klaviyo.resources import REVISIONS
from tap_klaviyo.schemas import load_schema

PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9]{34}")
PUBLIC_KEY = re.compile(r"[A-Za-z0-9]{6}")
REVISION = re.compile(r"\d{4}-\d{2}-\d{2}(\.pre)?")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)  # Klaviyo's event timestamps start here
DATETIME_FORM = "YYYY-MM-DDTHH:MM:SSZ, e.g. 2024-01-01T00:00:00Z"


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
