"""One typed settings object: every default written once (in the schema), every setting
validated before any request, read everywhere from ``Settings``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tap_klaviyo.config_checks import validate
from tap_klaviyo.config_schema import CONFIG_SCHEMA, DEFAULTS, SDK_SETTINGS
from tap_klaviyo.errors import ConfigError
from tap_klaviyo.settings import Settings

KEY = "pk_" + "Q7x2Lm9Kd4" * 3 + "Zr8T"  # the right form, never a real key
PACKAGE = Path(__file__).resolve().parents[2] / "tap_klaviyo"


def test_defaults_come_from_the_schema() -> None:
    settings = Settings.from_config({"api_key": KEY})
    for name, default in DEFAULTS.items():
        assert getattr(settings, name) == default, name
    assert settings.start_date is None
    assert settings.label == "Klaviyo account"
    assert KEY not in repr(settings)


def test_values_are_typed() -> None:
    settings = Settings.from_config(
        {
            "api_key": f" {KEY} ",
            "start_date": "2024-01-01 00:00:00Z",
            "report_statistics": ["opens", "clicks"],
            "conversion_metric_id": "AbC123",
            "request_timeout": 5,
            "stream_maps": {"events": {"__filter__": "true"}},
        }
    )
    assert settings.api_key == KEY
    assert settings.start_date is not None
    assert settings.start_date.isoformat() == "2024-01-01T00:00:00+00:00"
    assert settings.report_statistics == ("opens", "clicks")
    assert settings.request_timeout == 5.0
    assert isinstance(settings.request_timeout, float)
    assert settings.sdk_records  # stream maps: records take the SDK's path


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("max_workers", 2.5, "'max_workers' must be a whole number of at least 1"),
        ("max_workers", True, "'max_workers' must be a whole number of at least 1"),
        ("max_workers", 0, "'max_workers' must be a whole number of at least 1"),
        ("max_retries", "8", "'max_retries' must be a whole number of at least 1"),
        ("lookback_window", -1, "'lookback_window' must be a whole number of at least 0"),
        (
            "report_timeframe_days",
            400,
            "'report_timeframe_days' must be a whole number from 1 to 365",
        ),
        ("request_timeout", 0, "'request_timeout' must be a number above 0"),
        ("report_lookback_days", 91, "'report_lookback_days' must be a whole number from 0 to 90"),
        (
            "report_requests_per_day",
            300,
            "'report_requests_per_day' must be a whole number from 1 to 225",
        ),
    ],
)
def test_counts_are_whole_numbers_within_bounds(name: str, value: Any, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_config({"api_key": KEY, name: value})
    assert str(raised.value) == f"Setting {words}."


def test_a_duration_may_be_a_fraction() -> None:
    assert Settings.from_config({"api_key": KEY, "request_timeout": 0.5}).request_timeout == 0.5


def test_near_misses_are_named_and_sdk_settings_are_known() -> None:
    config = {"api_key": KEY, "start_dat": "2024-01-01T00:00:00Z", "flattening_separator": "__"}
    assert validate(config) == [
        "Unknown setting 'start_dat' is ignored; did you mean 'start_date'?"
    ]
    assert validate({"api_key": KEY, "colour": "blue"}) == ["Unknown setting 'colour' is ignored."]
    assert {"flattening_separator", "flattening_max_key_length", "stream_maps"} <= SDK_SETTINGS


def test_every_setting_is_a_field() -> None:
    names = set(CONFIG_SCHEMA["properties"]) - {"auth_token"}  # an alias of api_key
    derived = {"sdk_records"}  # from the SDK's own settings, not one of ours
    assert set(Settings.__dataclass_fields__) - derived == names


def test_nothing_outside_the_settings_reads_the_config() -> None:
    """Defaults written twice drift apart: every module reads ``Settings``, not the config."""
    readers = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name not in {"settings.py", "config_checks.py", "tap.py"}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bconfig(\.get\(|\[)", line)
    ]
    assert not readers, readers


@pytest.mark.parametrize("agent", ["acme\netl", "tab\there", 42])
def test_a_user_agent_is_one_printable_line(agent: Any) -> None:
    with pytest.raises(ConfigError, match="'user_agent' must be one line of printable text"):
        Settings.from_config({"api_key": KEY, "user_agent": agent})


@pytest.mark.parametrize("zone", ["America/Nowhere", "EST+5/oops", "../etc/passwd"])
def test_a_report_timezone_is_an_iana_name(zone: str) -> None:
    with pytest.raises(ConfigError, match=r"'report_timezone' .* is not a known IANA timezone"):
        Settings.from_config({"api_key": KEY, "report_timezone": zone})
    assert Settings.from_config({"api_key": KEY, "report_timezone": "Europe/Paris"})


@pytest.mark.parametrize("by", [["$attributed_flow", "Flow"], "$attributed_flow", [3]])
def test_metric_aggregates_by_names_klaviyo_dimensions(by: Any) -> None:
    with pytest.raises(ConfigError, match="'metric_aggregates_by' must be a list of: "):
        Settings.from_config({"api_key": KEY, "metric_aggregates_by": by})
    by = ["$attributed_flow", "$attributed_message"]
    assert Settings.from_config({"api_key": KEY, "metric_aggregates_by": by}).metric_aggregates_by


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"]
)
def test_the_rate_limit_budget_goes_off_only_for_a_loopback_server(base_url: str) -> None:
    assert Settings.from_config({"api_key": KEY, "base_url": base_url}).rate_limit_budget
    settings = Settings.from_config(
        {"api_key": KEY, "base_url": base_url, "rate_limit_budget": False}
    )
    assert settings.rate_limit_budget is False


@pytest.mark.parametrize("base_url", [None, "https://a.klaviyo.com", "https://192.168.1.9"])
def test_klaviyo_always_gets_the_rate_limit_budget(base_url: str | None) -> None:
    config = {"api_key": KEY, "base_url": base_url, "rate_limit_budget": False}
    with pytest.raises(ConfigError, match="'rate_limit_budget' may be false only with a loopback"):
        Settings.from_config(config)
    with pytest.raises(ConfigError, match="'rate_limit_budget' must be true or false"):
        Settings.from_config({"api_key": KEY, "rate_limit_budget": "no"})
