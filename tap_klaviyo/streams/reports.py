"""Klaviyo's reporting endpoints (POST, read-only): campaign/flow performance and daily
metric aggregates. They answer one document per request, with no ``links.next``."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from tap_klaviyo import timestamps
from tap_klaviyo.streams.base import Context, KlaviyoStream

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


class ReportStream(KlaviyoStream):
    """Shared by the reporting streams: the sync's start."""

    @functools.cached_property
    def started_at(self) -> dt.datetime:
        return timestamps.floor_second(timestamps.from_millis(self._initialized_at))


class ValuesReportStream(ReportStream):
    """campaign_values_reports / flow_values_reports: one row per message and channel."""

    @property
    def report_type(self) -> str:  # campaign-values-report, flow-values-report
        return self.resource.path.removeprefix("/api/").removesuffix("s")

    @property
    def statistics(self) -> list[str]:
        configured = self.config.get("report_statistics")
        if configured:
            return list(configured)
        owner_keys = set(self.resource.primary_keys)
        return sorted(set(self.schema["properties"]) - NOT_STATISTICS - owner_keys)

    def conversion_metric_id(self) -> str | None:
        if self.config.get("conversion_metric_id"):
            return str(self.config["conversion_metric_id"])
        chosen = self.klaviyo_tap.conversion_metric.chosen
        return chosen["id"] if chosen else None

    def read(self, context: Context | None, *, incremental: bool = True) -> t.Iterator[dict]:
        metric_id = self.conversion_metric_id()
        if metric_id is None:
            self.logger.warning(
                "Skipping stream '%s': %s.",
                self.name, self.klaviyo_tap.conversion_metric.describe(),
            )  # fmt: skip
            return
        end = start_of_day(self.started_at)
        start = end - int(self.config.get("report_timeframe_days", 30)) * DAY
        body = {
            "data": {
                "type": self.report_type,
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
            "extracted_at": timestamps.to_text(self.started_at),
        }
        for result in document["data"]["attributes"]["results"]:
            yield {**result["groupings"], **common, **result["statistics"]}


class MetricAggregatesStream(ReportStream):
    """Daily count, unique and sum_value of every metric, incremental by day per metric."""

    def read_from(self, context: Context | None, start: dt.datetime | None) -> t.Iterator[dict]:
        context = context or {}
        assert start is not None
        start = start_of_day(start)  # the bookmark's day again: it may have been partial
        while start < self.started_at:
            end = min(start + MAX_AGGREGATE_SPAN, self.started_at)
            yield from self.aggregate(context, start, end)
            start = end

    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        # The last ``days`` calendar days, today included: with 365, one request per metric
        # (a year of daily points is the most Klaviyo answers at once), not two.
        days = int(self.config.get("metric_aggregates_days", 365))
        first_day = start_of_day(self.started_at) - (days - 1) * DAY
        return self.get_starting_timestamp(context) or first_day

    def aggregate(self, context: Context, start: dt.datetime, end: dt.datetime) -> t.Iterator[dict]:
        body = {
            "data": {
                "type": "metric-aggregate",
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
