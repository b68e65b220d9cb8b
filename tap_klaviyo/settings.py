"""The one typed ``Settings`` object every part of the tap reads, built once from the config
(validated by ``tap_klaviyo.config_checks``, defaults from ``tap_klaviyo.config_schema``)."""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field

from tap_klaviyo.config_checks import check_base_url, parse_datetime, resolve_api_key, validate
from tap_klaviyo.config_schema import DEFAULTS, SDK_RECORD_SETTINGS


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
