"""Klaviyo's reporting endpoints (POST, read-only): campaign/flow performance and daily
metric aggregates. They answer one document per request, with no ``links.next``."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t
from zoneinfo import ZoneInfo

from tap_klaviyo import report_quota, timestamps
from tap_klaviyo.conversion_metric import ConversionMetric
from tap_klaviyo.request_plan import Context
from tap_klaviyo.resources import QUOTA_STREAMS, Resource
from tap_klaviyo.run import RunContext
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.children import ChildBlock
from tap_klaviyo.streams.writing import EXTRA_ATTRIBUTES

if t.TYPE_CHECKING:
    from singer_sdk import Tap

DAY = dt.timedelta(days=1)
# Klaviyo answers at most one year of daily points per request.
MAX_AGGREGATE_SPAN = dt.timedelta(days=365)
# A series report's longest daily timeframe (the spec: hourly 7 days, daily 60).
SERIES_DAYS = 60
NOT_STATISTICS = frozenset(
    {"send_channel", "timeframe_key", "timeframe_start", "timeframe_end", "conversion_metric_id",
     "extracted_at", "date", "timezone", EXTRA_ATTRIBUTES}
)  # fmt: skip


class ReportStream(KlaviyoStream):
    """What the values and series reports share: days in the report timezone, the
    conversion metric, and the daily quota each request is taken from."""

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        """The timezone of the report's days: Klaviyo cuts them in the account's whatever a
        request says (offsets are ignored), so a different ``report_timezone`` cannot apply."""
        chosen = self.run.report_timezone
        account = self.run.account_timezone
        if account is None or account == chosen.key:
            return chosen
        self.logger.warning(
            "Stream '%s': Klaviyo cuts report days in the account's timezone %s, not in "
            "report_timezone %s; the rows' days and timezone are the account's.",
            self.name, account, chosen.key,
        )  # fmt: skip
        return ZoneInfo(account)

    @functools.cached_property
    def today(self) -> dt.date:
        return self.sync_started.astimezone(self.zone).date()

    def midnight(self, day: dt.date) -> dt.datetime:
        """The instant ``day`` starts in the report timezone."""
        return dt.datetime.combine(day, dt.time(), self.zone)

    @property
    def statistics(self) -> list[str]:
        if self.settings.report_statistics and self.resource.conversion_metric:
            return list(self.settings.report_statistics)
        owner_keys = set(self.resource.primary_keys)
        return sorted(set(self.schema["properties"]) - NOT_STATISTICS - owner_keys)

    @property
    def conversion_metric(self) -> ConversionMetric:
        return self.run.conversion_metric

    def conversion_metric_id(self) -> str | None:
        if self.settings.conversion_metric_id:
            return self.settings.conversion_metric_id
        chosen = self.conversion_metric.chosen
        return chosen["id"] if chosen else None

    def skip_without_conversion_metric(self) -> None:
        """No metric to measure conversions by: the stream is skipped, and says why."""
        reason = self.conversion_metric.describe()
        self.log_book.skip(reason)
        self.logger.warning("Skipping stream '%s': %s.", self.name, reason)

    @property
    def grouping(self) -> dict[str, list[str]]:
        """The ``group_by`` of the request, where the row's key needs a finer one."""
        return {"group_by": list(self.resource.group_by)} if self.resource.group_by else {}

    def requests_needed(self) -> int:
        """The report requests this run's read takes, for the quota's plan."""
        return 1

    def post_report(self, attributes: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """The report's document; None when the run's quota grants no more requests."""
        if not self.run.report_quota.spend(self.name):
            return None
        body = {"data": {"type": self.resource.report_type, "attributes": attributes}}
        return self.client.post(self.resource.path, body, tier=self.plan.tier, stream=self.name)

    def local_text(self, day: dt.date) -> str:
        """Midnight of ``day`` as Klaviyo's report timeframes take it: offsets are ignored
        and the account timezone applies, so the local time is sent without one."""
        return dt.datetime.combine(day, dt.time()).isoformat()


class ValuesReportStream(ReportStream):
    """campaign_values_reports / flow_values_reports: one row per message and channel."""

    def read(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        measures: dict[str, t.Any] = {}
        if self.resource.conversion_metric:
            metric_id = self.conversion_metric_id()
            if metric_id is None:
                self.skip_without_conversion_metric()
                return
            measures["conversion_metric_id"] = metric_id
        first = self.today - self.settings.report_timeframe_days * DAY
        if self.resource.earliest:  # no data before it: Klaviyo rejects such a timeframe
            first = max(first, timestamps.parse(self.resource.earliest).date())
        attributes = {
            "statistics": self.statistics,
            "timeframe": {"start": self.local_text(first), "end": self.local_text(self.today)},
            **self.grouping,
            **measures,
        }
        document = self.post_report(attributes)
        if document is None:
            self.logger.warning(
                "Stream '%s': the reports' daily quota is used up; deferred to the next run.",
                self.name,
            )
            return
        common = {
            "timeframe_key": None,
            "timeframe_start": timestamps.to_text(self.midnight(first)),
            "timeframe_end": timestamps.to_text(self.midnight(self.today)),
            "timezone": self.zone.key,
            **measures,
            "extracted_at": timestamps.to_text(self.sync_started),
        }
        for result in document["data"]["attributes"]["results"]:
            yield {**result["groupings"], **common, **result["statistics"]}


class SeriesReportStream(ReportStream):
    """flow_series_reports / segment_series_reports: one row per grouping per day,
    incremental by day. The bookmark is the last complete day read; each run reads from
    ``report_lookback_days`` before the day after it through today, 60 days a request."""

    def first_day(self, context: Context | None) -> dt.date:
        # The bookmark itself: the SDK's starting value is only set once the sync begins,
        # after the quota's plan has asked how many days there are.
        bookmark = self.get_context_state(context).get("replication_key_value")
        if not bookmark:
            return self.today - (self.settings.series_report_days - 1) * DAY
        after = dt.date.fromisoformat(str(bookmark)[:10]) + DAY
        return min(after - self.settings.report_lookback_days * DAY, self.today)

    def windows(self, context: Context | None) -> list[tuple[dt.date, dt.date]]:
        """[first, end) day ranges of at most ``SERIES_DAYS`` days, oldest first."""
        first, end = self.first_day(context), self.today + DAY
        spans = []
        while first < end:
            spans.append((first, min(first + SERIES_DAYS * DAY, end)))
            first = spans[-1][1]
        return spans

    def requests_needed(self) -> int:
        return len(self.windows(None))

    def describe_read(self, context: Context | None) -> str:
        return (
            f"incremental by day from {self.first_day(context)} ({self.zone.key}), "
            f"{len(self.windows(context))} request(s)"
        )

    def read(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        attributes: dict[str, t.Any] = {
            "statistics": self.statistics,
            "interval": "daily",
            **self.grouping,
        }
        if self.resource.conversion_metric:
            metric_id = self.conversion_metric_id()
            if metric_id is None:
                self.skip_without_conversion_metric()
                return
            attributes["conversion_metric_id"] = metric_id
        common = {
            "timezone": self.zone.key,
            "extracted_at": timestamps.to_text(self.sync_started),
            **({"conversion_metric_id": metric_id} if self.resource.conversion_metric else {}),
        }
        spans = self.windows(context)
        for number, (first, end) in enumerate(spans):
            timeframe = {"start": self.local_text(first), "end": self.local_text(end)}
            document = self.post_report({**attributes, "timeframe": timeframe})
            if document is None:
                self.logger.warning(
                    "Stream '%s': the reports' daily quota is used up; days %s to %s are "
                    "deferred (%d request(s)), the bookmark stays, the next run reads them.",
                    self.name, first, spans[-1][1] - DAY, len(spans) - number,
                )  # fmt: skip
                return
            yield from self.series_rows(document["data"]["attributes"], common)

    def series_rows(
        self, attributes: dict[str, t.Any], common: dict[str, t.Any]
    ) -> t.Iterator[dict[str, t.Any]]:
        days = [self.label_day(label) for label in attributes.get("date_times") or ()]
        for result in attributes.get("results") or ():
            statistics = result["statistics"]
            for index, day in enumerate(days):
                yield {
                    **result["groupings"],
                    "date": day,
                    **common,
                    **{name: values[index] for name, values in statistics.items()},
                }

    def label_day(self, label: str) -> str:
        """The calendar day a series label names. Klaviyo writes a day as its date at UTC
        midnight (``2026-07-01T00:00:00+00:00`` is the account's 1 July, east or west of
        UTC): a label at midnight, whatever its offset, names the date it is written with.
        A label at another time is an instant, whose day is the account's."""
        written = label[11:19] if len(label) > 10 else "00:00:00"
        if written == "00:00:00":
            return label[:10]
        return timestamps.parse(label).astimezone(self.zone).date().isoformat()

    def on_record_for_state(
        self, record: dict[str, t.Any] | ChildBlock, context: Context | None
    ) -> None:
        assert isinstance(record, dict)  # report rows: no typed pages, no blocks
        # Today is not complete: the bookmark is the last whole day read.
        if record["date"] < self.today.isoformat():
            self.sdk_increment_state(record, context)


class MetricAggregatesStream(ReportStream):
    """Daily count, unique and sum_value of every metric, incremental by day per metric, in
    the report timezone; the last ``report_lookback_days`` days are read again."""

    def __init__(self, tap: Tap, resource: Resource, run: RunContext) -> None:
        super().__init__(tap, resource, run)
        # ``metric_aggregates_by``: each dimension a column and part of the key.
        self.dimensions = {
            name: name.removeprefix("$") for name in self.settings.metric_aggregates_by
        }
        for column in self.dimensions.values():
            self.schema["properties"][column] = {"type": ["string", "null"]}
        self.primary_keys = [*self.primary_keys, *self.dimensions.values()]

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        return self.run.report_timezone  # metric aggregates take a ``timezone``

    def read_from(
        self, context: Context | None, start: dt.datetime | None
    ) -> t.Iterator[dict[str, t.Any]]:
        context = context or {}
        assert start is not None
        while start < self.sync_started:
            end = min(start + MAX_AGGREGATE_SPAN, self.sync_started.astimezone(self.zone))
            yield from self.aggregate(context, start, end)
            start = end

    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        # The last ``days`` calendar days, today included: with 365, one request per metric
        # (a year of daily points is the most Klaviyo answers at once), not two.
        bookmark = self.get_starting_timestamp(context)
        if bookmark is None:
            first = self.today - (self.settings.metric_aggregates_days - 1) * DAY
        else:  # the bookmark's day again (it may have been partial), and the lookback's
            bookmark_day = bookmark.astimezone(self.zone).date()
            first = bookmark_day - self.settings.report_lookback_days * DAY
        return self.midnight(first)

    def aggregate(
        self, context: Context, start: dt.datetime, end: dt.datetime
    ) -> t.Iterator[dict[str, t.Any]]:
        body = {
            "data": {
                "type": self.resource.report_type,
                "attributes": {
                    "metric_id": context["metric_id"],
                    "measurements": ["count", "unique", "sum_value"],
                    "interval": "day",
                    "timezone": self.zone.key,
                    "filter": [
                        f"greater-or-equal(datetime,{timestamps.filter_text(start)})",
                        f"less-than(datetime,{timestamps.filter_text(end)})",
                    ],
                    **({"by": list(self.dimensions)} if self.dimensions else {}),
                },
            }
        }
        attributes = self.client.post(
            self.resource.path, body, tier=self.plan.tier, stream=self.name
        )["data"]["attributes"]
        dates = [
            timestamps.to_text(timestamps.parse(date)) for date in attributes.get("dates") or ()
        ]
        groups = attributes.get("data") or ([] if self.dimensions else [{"measurements": {}}])
        rows: list[dict[str, t.Any]] = []
        for group in groups:
            # A missing value is '' rather than null: it is part of the key, and upserts
            # match keys with '=' (null never equals null).
            given = [*(group.get("dimensions") or ()), *[None] * len(self.dimensions)]
            values = {
                column: "" if value is None else str(value)
                for column, value in zip(self.dimensions.values(), given, strict=False)
            }
            series = group["measurements"]
            rows.extend(
                {
                    "date": date,
                    "timezone": self.zone.key,
                    **values,
                    **{name: numbers[index] for name, numbers in series.items()},
                }
                for index, date in enumerate(dates)
            )
        # By day, whatever the grouping: the bookmark moves with the rows.
        yield from sorted(rows, key=lambda row: row["date"])


def plan_reports(run: RunContext, selected: t.Iterable[KlaviyoStream]) -> None:
    """The run's report requests, planned up front within the daily quota (one line)."""
    reports = {s.name: s for s in selected if isinstance(s, ReportStream)}
    needs = {name: reports[name].requests_needed() for name in QUOTA_STREAMS if name in reports}
    if not needs:
        return
    quota = run.report_quota
    grants = quota.plan(needs)
    run.logger.info("%s.", quota.describe(needs, grants))
    run.state[report_quota.STATE_KEY] = quota.saved()
