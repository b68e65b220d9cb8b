"""Klaviyo's reporting endpoints (POST, read-only): campaign/flow performance and daily
metric aggregates. They answer one document per request, with no ``links.next``."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from tap_klaviyo.streams.base import (
    Context,
    KlaviyoStream,
    klaviyo_datetime,
    parse_datetime,
    record_datetime,
)

DAY = dt.timedelta(days=1)
# Klaviyo answers at most one year of daily points per request.
MAX_AGGREGATE_SPAN = dt.timedelta(days=365)
NOT_STATISTICS = frozenset(
    {"send_channel", "timeframe_key", "timeframe_start", "timeframe_end", "conversion_metric_id",
     "extracted_at"}
)  # fmt: skip


def start_of_day(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


class ReportStream(KlaviyoStream):
    """Shared by the reporting streams: the sync's start and the conversion metric."""

    @functools.cached_property
    def started_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._initialized_at / 1000, dt.timezone.utc)

    def metrics(self) -> list[dict[str, t.Any]]:
        """Every metric of the account (one or two requests)."""
        return list(self.klaviyo_tap.reader("metrics").read(None))


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
        name = self.config.get("conversion_metric_name", "Placed Order")
        return next((m["id"] for m in self.metrics() if m.get("name") == name), None)

    def read(self, context: Context | None, *, incremental: bool = True) -> t.Iterator[dict]:
        metric_id = self.conversion_metric_id()
        if metric_id is None:
            self.logger.warning(
                "Skipping stream '%s': the account has no 'Placed Order' metric to measure "
                "conversions; set 'conversion_metric_id' to the metric to use.",
                self.name,
            )
            return
        end = start_of_day(self.started_at)
        start = end - int(self.config.get("report_timeframe_days", 30)) * DAY
        body = {
            "data": {
                "type": self.report_type,
                "attributes": {
                    "statistics": self.statistics,
                    "timeframe": {"start": klaviyo_datetime(start), "end": klaviyo_datetime(end)},
                    "conversion_metric_id": metric_id,
                },
            }
        }
        document = self.client.post(self.resource.path, body, tier=self.tier)
        common = {
            "timeframe_key": None,
            "timeframe_start": record_datetime(start),
            "timeframe_end": record_datetime(end),
            "conversion_metric_id": metric_id,
            "extracted_at": record_datetime(self.started_at),
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
                        f"greater-or-equal(datetime,{klaviyo_datetime(start)})",
                        f"less-than(datetime,{klaviyo_datetime(end)})",
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
                "date": record_datetime(parse_datetime(date)),
                **{name: values[index] for name, values in series.items()},
            }
