"""Klaviyo's reporting endpoints (POST, read-only): campaign/flow performance and daily
metric aggregates. They answer one document per request, with no ``links.next``."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_klaviyo import timestamps
from tap_klaviyo.streams.base import Context, KlaviyoStream, TapServices

DAY = dt.timedelta(days=1)
# Klaviyo answers at most one year of daily points per request.
MAX_AGGREGATE_SPAN = dt.timedelta(days=365)
NOT_STATISTICS = frozenset(
    {"send_channel", "timeframe_key", "timeframe_start", "timeframe_end", "conversion_metric_id",
     "extracted_at"}
)  # fmt: skip


def start_of_day(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


class ConversionMetric(t.NamedTuple):
    """The metric the values reports measure conversions by, and the others of its name."""

    name: str
    chosen: dict[str, t.Any] | None
    candidates: list[dict[str, t.Any]]

    def describe(self) -> str:
        """One line for the log and ``--test``."""
        if self.chosen is None:
            return (
                f"the account has no metric named '{self.name}' to measure conversions; set "
                "'conversion_metric_id' (or 'conversion_metric_name') to the metric to use"
            )
        chosen = f"conversion metric '{self.name}': {describe_metric(self.chosen)}"
        if len(self.candidates) == 1:
            return chosen
        others = ", ".join(describe_metric(m) for m in self.candidates if m is not self.chosen)
        return (
            f"{chosen}, chosen of {len(self.candidates)} metrics with that name (one not sent "
            f"through the API first, then the oldest; the others: {others}); set "
            "'conversion_metric_id' to use another"
        )


def choose_conversion_metric(metrics: t.Iterable[dict[str, t.Any]], name: str) -> ConversionMetric:
    """Real accounts have several metrics of one name (an e-commerce integration's "Placed
    Order" and one sent through the API): prefer the integration's, then the oldest."""
    candidates = sorted((m for m in metrics if m.get("name") == name), key=_preference)
    return ConversionMetric(name, candidates[0] if candidates else None, candidates)


def _preference(metric: dict[str, t.Any]) -> tuple[bool, dt.datetime, str]:
    created = metric.get("created")
    return (
        integration_name(metric).lower() == "api",
        timestamps.parse(created) if created else timestamps.NEVER,
        metric["id"],
    )


def integration_name(metric: dict[str, t.Any]) -> str:
    """The metric's source ("Shopify", "API"); ``category`` may be a text or an object."""
    integration = metric.get("integration")
    if not isinstance(integration, dict):
        return str(integration or "unknown integration")
    if str(integration.get("key") or "").lower() == "api":
        return "API"
    return str(integration.get("name") or integration.get("key") or "unknown integration")


def describe_metric(metric: dict[str, t.Any]) -> str:
    return f"{metric['id']} ({integration_name(metric)}, created {metric.get('created') or '?'})"


class ReportServices(TapServices, t.Protocol):
    """What the values reports use of their tap: the run's one conversion metric choice."""

    @property
    def conversion_metric(self) -> ConversionMetric: ...


class ValuesReportStream(KlaviyoStream):
    """campaign_values_reports / flow_values_reports: one row per message and channel."""

    @property
    def statistics(self) -> list[str]:
        if self.settings.report_statistics:
            return list(self.settings.report_statistics)
        owner_keys = set(self.resource.primary_keys)
        return sorted(set(self.schema["properties"]) - NOT_STATISTICS - owner_keys)

    @property
    def conversion_metric(self) -> ConversionMetric:
        return t.cast("ReportServices", self.services).conversion_metric

    def conversion_metric_id(self) -> str | None:
        if self.settings.conversion_metric_id:
            return self.settings.conversion_metric_id
        chosen = self.conversion_metric.chosen
        return chosen["id"] if chosen else None

    def read(self, context: Context | None) -> t.Iterator[dict]:
        metric_id = self.conversion_metric_id()
        if metric_id is None:
            self.logger.warning(
                "Skipping stream '%s': %s.", self.name, self.conversion_metric.describe()
            )
            return
        end = start_of_day(self.sync_started)
        start = end - self.settings.report_timeframe_days * DAY
        body = {
            "data": {
                "type": self.resource.report_type,
                "attributes": {
                    "statistics": self.statistics,
                    "timeframe": {
                        "start": timestamps.filter_text(start),
                        "end": timestamps.filter_text(end),
                    },
                    "conversion_metric_id": metric_id,
                },
            }
        }
        document = self.client.post(self.resource.path, body, tier=self.tier)
        common = {
            "timeframe_key": None,
            "timeframe_start": timestamps.to_text(start),
            "timeframe_end": timestamps.to_text(end),
            "conversion_metric_id": metric_id,
            "extracted_at": timestamps.to_text(self.sync_started),
        }
        for result in document["data"]["attributes"]["results"]:
            yield {**result["groupings"], **common, **result["statistics"]}


class MetricAggregatesStream(KlaviyoStream):
    """Daily count, unique and sum_value of every metric, incremental by day per metric."""

    def read_from(self, context: Context | None, start: dt.datetime | None) -> t.Iterator[dict]:
        context = context or {}
        assert start is not None
        start = start_of_day(start)  # the bookmark's day again: it may have been partial
        while start < self.sync_started:
            end = min(start + MAX_AGGREGATE_SPAN, self.sync_started)
            yield from self.aggregate(context, start, end)
            start = end

    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        # The last ``days`` calendar days, today included: with 365, one request per metric
        # (a year of daily points is the most Klaviyo answers at once), not two.
        days = self.settings.metric_aggregates_days
        first_day = start_of_day(self.sync_started) - (days - 1) * DAY
        return self.get_starting_timestamp(context) or first_day

    def aggregate(self, context: Context, start: dt.datetime, end: dt.datetime) -> t.Iterator[dict]:
        body = {
            "data": {
                "type": self.resource.report_type,
                "attributes": {
                    "metric_id": context["metric_id"],
                    "measurements": ["count", "unique", "sum_value"],
                    "interval": "day",
                    "timezone": "UTC",
                    "filter": [
                        f"greater-or-equal(datetime,{timestamps.filter_text(start)})",
                        f"less-than(datetime,{timestamps.filter_text(end)})",
                    ],
                },
            }
        }
        attributes = self.client.post(self.resource.path, body, tier=self.tier)["data"][
            "attributes"
        ]
        series = (attributes.get("data") or [{"measurements": {}}])[0]["measurements"]
        for index, date in enumerate(attributes.get("dates") or ()):
            yield {
                "date": timestamps.to_text(timestamps.parse(date)),
                **{name: values[index] for name, values in series.items()},
            }
