"""Reporting endpoints: campaign/flow/form/segment values reports, flow/segment/form series
reports (their days in the account's timezone, see ``_series``); metric aggregates are
``_aggregates``'.

Values reports derive every number from the message's hash, so results are stable and
consistent (uniques <= totals, rates are the ratios).

With quirks, values reports carry an ``id`` and send count statistics as floats on most
rows (``4779.0``, as Klaviyo does); a metric that vanished after being listed is 404; and
days are labelled as live accounts label them: a series day as its date at UTC midnight,
a metric aggregate's day as the UTC instant of its local midnight.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from ..model import InvalidQuery
from ._aggregates import Aggregates
from ._core import DAY, UTC, epoch, mix, salt, unit, uuid_text
from ._series import (
    INTERVALS as SERIES_INTERVALS,
)
from ._series import (
    SEGMENT_DATA_START,
    SEGMENT_STATISTICS,
    flow_day,
    segment_point,
    series_timeframe,
)
from ._statistics import (
    CAMPAIGN_GROUPS,
    COUNTS,
    FLOW_GROUPS,
    FORM_GROUPS,
    SEND_CHANNEL,
    checked_statistics,
    filter_terms,
    group_by_of,
    report_links,
    segment_filter,
    statistics_of,
    term_matches,
    values_document,
)
from ._storefront import FORM_STATISTICS
from ._timeframes import add_years, interval_starts, named_timeframe

# A group's statistics over one interval [start, end) of a series.
Point = Callable[[dt.datetime, dt.datetime], Mapping[str, float]]


class Reports:
    def __init__(self, account: Any) -> None:
        self.account = account
        self.aggregates = Aggregates(account, self.aggregate_label)

    def run(self, report_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
        if report_type == "campaign-values-report":
            return self._values(
                report_type, attributes, CAMPAIGN_GROUPS, ("campaign_id", "campaign_message_id")
            )
        if report_type == "flow-values-report":
            return self._values(
                report_type, attributes, FLOW_GROUPS, ("flow_id", "flow_message_id")
            )
        if report_type == "flow-series-report":
            return self._flow_series(attributes)
        if report_type == "segment-series-report":
            return self._segment_series(attributes)
        if report_type == "metric-aggregate":
            return self.aggregates.run(attributes)
        if report_type == "form-values-report":
            return self._form_values(attributes)
        if report_type == "form-series-report":
            return self._form_series(attributes)
        if report_type == "segment-values-report":
            return self._segment_values(attributes)
        raise InvalidQuery(f"Unknown report type {report_type}.", "type")

    # --- values reports --------------------------------------------------------------

    def _values(
        self,
        report_type: str,
        attributes: dict[str, Any],
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> dict[str, Any]:
        statistics = checked_statistics(attributes)
        metric_id = self._checked_metric(attributes)
        start, end = self._timeframe(attributes.get("timeframe"))
        group_by = group_by_of(attributes, allowed, required)
        terms = filter_terms(attributes.get("filter"), allowed)
        rows = (
            self._campaign_rows(start, end)
            if report_type.startswith("campaign")
            else self._flow_rows(start, end)
        )
        quirks = self.account.quirks
        results = []
        for dimensions, h, recipients, channel in rows:
            if all(term_matches(dimensions, term) for term in terms):
                numbers = statistics_of(h, recipients, channel, metric_id)
                floats = quirks and (h >> 7) % 4 != 0  # most rows, stable per message
                results.append(
                    {
                        "groupings": {name: dimensions.get(name) for name in group_by},
                        "statistics": {
                            name: float(numbers[name])
                            if floats and name in COUNTS
                            else numbers[name]
                            for name in statistics
                        },
                    }
                )
        document: dict[str, Any] = {"type": report_type}
        if quirks:
            h = mix(salt(self.account.seed, f"{report_type}-{metric_id}-{start}-{end}"))
            document["id"] = uuid_text(h, mix(h))
        document["attributes"] = {"results": results}
        document["relationships"] = report_links(report_type, results)
        return document

    def _timeframe(self, timeframe: Any) -> tuple[int, int]:
        if not isinstance(timeframe, dict):
            raise InvalidQuery("'timeframe' is a required field.", "timeframe")
        if "key" in timeframe:
            start, end = named_timeframe(
                str(timeframe["key"]), self.account.now().astimezone(self.zone)
            )
        else:
            try:  # offsets are ignored: the account timezone applies
                start, end = (
                    dt.datetime.fromisoformat(str(timeframe[k]))
                    .replace(tzinfo=None)
                    .replace(tzinfo=self.zone)
                    for k in ("start", "end")
                )
            except (KeyError, ValueError) as error:
                raise InvalidQuery("Invalid timeframe.", "timeframe") from error
        if end <= start:
            raise InvalidQuery("The timeframe end must be after its start.", "timeframe")
        if end > add_years(start, 1):
            raise InvalidQuery("The timeframe cannot be longer than 1 year.", "timeframe")
        return int(epoch(start)), int(epoch(end))

    def _campaign_rows(self, start: int, end: int) -> list[tuple[dict[str, Any], int, int, str]]:
        catalog = self.account.catalog
        rows = []
        for campaign in catalog.campaigns.items:
            sent_at = campaign.attributes["send_time"]
            if campaign.attributes["status"] not in ("Sent", "Variations Sent") or sent_at is None:
                continue
            if not start <= epoch(dt.datetime.fromisoformat(sent_at)) < end:
                continue
            channel = campaign.virtual["messages.channel"]
            tags = campaign.to_many.get("tags", [])
            for message_ref in campaign.to_many["campaign-messages"]:
                message = catalog.campaign_messages.by_id[message_ref[1]]
                label = message.attributes["definition"].get("label") or campaign.attributes["name"]
                dimensions = {
                    "campaign_id": campaign.id,
                    "campaign_message_id": message.id,
                    "campaign_message_name": label,
                    "group": campaign.attributes["audiences"]["included"][0],
                    "group_name": None,
                    "send_channel": SEND_CHANNEL[channel],
                    "tag_id": tags[0][1] if tags else None,
                    "tag_name": catalog.tags.by_id[tags[0][1]].attributes["name"] if tags else None,
                    "text_message_format": "SMS" if channel == "sms" else None,
                    "variation": message.id,
                    "variation_name": label,
                }
                h = mix(salt(self.account.seed, message.id))
                recipients = 200 + int(unit(h) * (40_000 if channel == "email" else 8_000))
                rows.append((dimensions, h, recipients, channel))
        return rows

    def _flow_rows(self, start: int, end: int) -> list[tuple[dict[str, Any], int, int, str]]:
        rows = []
        for message in self.flow_messages():
            days = (end - max(start, message.live_from)) / DAY
            if days > 0:
                rows.append(
                    (message.dimensions, message.h, int(message.daily * days), message.channel)
                )
        return rows

    def flow_messages(self) -> list[FlowMessage]:
        """Every message of every live flow, with what its numbers derive from."""
        catalog = self.account.catalog
        messages = []
        for flow in catalog.flows.items:
            if flow.attributes["status"] != "live":
                continue
            live_from = int(epoch(dt.datetime.fromisoformat(flow.attributes["created"])))
            tags = flow.to_many.get("tags", [])
            for action_ref in flow.to_many["flow-actions"]:
                action = catalog.flow_actions.by_id[action_ref[1]]
                for message_ref in action.to_many.get("flow-messages", []):
                    message = catalog.flow_messages.by_id[message_ref[1]]
                    channel = message.virtual["channel"]
                    dimensions = {
                        "flow_id": flow.id,
                        "flow_message_id": message.id,
                        "flow_message_name": message.virtual["name"],
                        "flow_name": flow.attributes["name"],
                        "send_channel": SEND_CHANNEL[channel],
                        "tag_id": tags[0][1] if tags else None,
                        "tag_name": catalog.tags.by_id[tags[0][1]].attributes["name"]
                        if tags
                        else None,
                        "text_message_format": "SMS" if channel == "sms" else None,
                        "variation": message.id,
                        "variation_name": message.virtual["name"],
                    }
                    h = mix(salt(self.account.seed, message.id))
                    messages.append(
                        FlowMessage(dimensions, h, channel, 5 + unit(h) * 120, live_from)
                    )
        return messages

    # --- series reports (daily rows and the like, in the account's timezone) ------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.account.timezone)

    def _flow_series(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = checked_statistics(attributes)
        metric_id = self._checked_metric(attributes)
        start, end = self._series_timeframe(attributes)
        group_by = group_by_of(attributes, FLOW_GROUPS, ("flow_id", "flow_message_id"))
        terms = filter_terms(attributes.get("filter"), FLOW_GROUPS)
        groups = [
            (
                {name: message.dimensions.get(name) for name in group_by},
                functools.partial(self._flow_point, message, metric_id=metric_id),
            )
            for message in self.flow_messages()
            if all(term_matches(message.dimensions, term) for term in terms)
        ]
        document = self._series("flow-series-report", attributes, statistics, (start, end), groups)
        results = document["attributes"]["results"]
        document["relationships"] = report_links("flow-series-report", results)
        return document

    def _flow_point(
        self, message: FlowMessage, start: dt.datetime, end: dt.datetime, metric_id: str
    ) -> dict[str, float]:
        """One message's statistics for the interval [start, end) (local times)."""
        now = self.account.now()
        live = (int(epoch(end)) - max(int(epoch(start)), message.live_from)) / DAY
        if live <= 0 or start > now:
            live = 0.0
        age = (now.astimezone(self.zone).date() - start.date()).days
        h, recipients, settled = flow_day(
            self.account.seed,
            message.dimensions["flow_message_id"],
            daily=message.daily * live,
            day=start.date(),
            age_days=age,
        )
        return statistics_of(h, recipients, message.channel, metric_id, settled)

    def flow_day(self, message_id: str, day: dt.date, metric_id: str) -> dict[str, float]:
        """The truth of one daily row: a flow message's statistics for one local day."""
        message = next(
            m for m in self.flow_messages() if m.dimensions["flow_message_id"] == message_id
        )
        start = dt.datetime.combine(day, dt.time(), self.zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
        return self._flow_point(message, start, end, metric_id)

    def segment_day(self, segment_id: str, day: dt.date) -> dict[str, int]:
        """The truth of one daily row: a segment's membership statistics for one local day."""
        groups = self.account.segment_groups
        start = dt.datetime.combine(day, dt.time(), self.zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
        return segment_point(groups, groups.position[segment_id], start, end)

    def _segment_series(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = checked_statistics(attributes, SEGMENT_STATISTICS)
        start, end = self._series_timeframe(attributes)
        groups = [
            (grouping, functools.partial(segment_point, self.account.segment_groups, g))
            for g, grouping in self._segments(start, attributes)
        ]
        return self._series("segment-series-report", attributes, statistics, (start, end), groups)

    def _segments(
        self, start: dt.datetime, attributes: dict[str, Any]
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The segments a segment report covers (by position), with their grouping."""
        if start.date() < SEGMENT_DATA_START:
            raise InvalidQuery(
                "Data is unavailable before June 1st, 2023. Please use a time frame after "
                "this date.",
                "timeframe",
            )
        chosen = segment_filter(attributes.get("filter"))
        vanished = self.account.vanished["segments"]
        for g, segment_id in enumerate(self.account.segment_groups.ids):
            if (chosen is None or segment_id in chosen) and segment_id not in vanished:
                yield g, {"segment_id": segment_id}

    def _series(
        self,
        report_type: str,
        attributes: dict[str, Any],
        statistics: list[str],
        timeframe: tuple[dt.datetime, dt.datetime],
        groups: Sequence[tuple[dict[str, Any], Point]],
    ) -> dict[str, Any]:
        """A series report: for each group, each statistic's value per interval."""
        start, end = timeframe
        buckets = interval_starts(start, end, SERIES_INTERVALS[str(attributes.get("interval"))])
        spans = list(zip(buckets, [*buckets[1:], end], strict=True))
        results = []
        for grouping, point in groups:
            points = [point(lo, hi) for lo, hi in spans]
            results.append(
                {
                    "groupings": grouping,
                    "statistics": {name: [p[name] for p in points] for name in statistics},
                }
            )
        return self._series_document(report_type, buckets, results)

    def _series_document(
        self, report_type: str, buckets: list[dt.datetime], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "type": report_type,
            "attributes": {
                "results": results,
                "date_times": [self.series_label(moment) for moment in buckets],
            },
        }

    def series_label(self, moment: dt.datetime) -> str:
        """A series interval's label. Live accounts write a local day as its calendar date at
        UTC midnight (``2026-07-01T00:00:00+00:00`` for an account's 1 July, wherever it is;
        an hour as its instant, unconfirmed); without quirks, the local time with its offset."""
        if not self.account.quirks:
            return moment.isoformat()
        if moment.time() == dt.time():
            return f"{moment.date().isoformat()}T00:00:00+00:00"
        return moment.astimezone(UTC).isoformat()

    def aggregate_label(self, moment: dt.datetime) -> str:
        """A metric aggregate's date: live accounts write the local midnight as a UTC
        instant (``…T22:00:00+00:00`` in Copenhagen in summer); without quirks, with the
        local offset."""
        return moment.astimezone(UTC).isoformat() if self.account.quirks else moment.isoformat()

    def _series_timeframe(self, attributes: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
        now = self.account.now().astimezone(self.zone)
        return series_timeframe(
            attributes.get("timeframe"),
            attributes.get("interval"),
            self.zone,
            lambda key: named_timeframe(key, now),
        )

    def _checked_metric(self, attributes: dict[str, Any]) -> str:
        metric_id = attributes.get("conversion_metric_id")
        if not metric_id:
            raise InvalidQuery(
                "'conversion_metric_id' is a required field.", "conversion_metric_id"
            )
        if (
            metric_id not in self.account.metric_table.by_id
            or metric_id in self.account.vanished["metrics"]
        ):
            raise InvalidQuery(f"Metric {metric_id} does not exist.", "conversion_metric_id")
        return str(metric_id)

    # --- form and segment reports (the storefront's forms, the account's segments) --------

    def _form_groups(self, attributes: dict[str, Any]) -> list[tuple[dict[str, Any], list[str]]]:
        """Each grouping (by form_id by default) with the form versions it sums."""
        group_by = attributes.get("group_by") or ["form_id"]
        if not isinstance(group_by, list) or not set(group_by) <= set(FORM_GROUPS):
            raise InvalidQuery(
                f"group_by allows {', '.join(FORM_GROUPS)}; got {group_by}.", "group_by"
            )
        groups: dict[tuple[str | None, ...], list[str]] = {}
        for version in self.account.storefront.form_versions():
            values = {"form_id": version.parent, "form_version_id": version.id}
            groups.setdefault(tuple(values[name] for name in group_by), []).append(version.id)
        return [
            (dict(zip(group_by, values, strict=True)), versions)
            for values, versions in groups.items()
        ]

    def _form_point(self, versions: list[str], days: list[dt.date]) -> dict[str, float]:
        store = self.account.storefront
        total = dict.fromkeys(FORM_STATISTICS, 0.0)
        for version in versions:
            for day in days:
                for name, value in store.form_day(version, day).items():
                    total[name] += value
        uniques = total["viewed_form_uniques"]
        total["submit_rate"] = total["submits"] / uniques if uniques else 0.0
        return {name: int(v) if name != "submit_rate" else v for name, v in total.items()}

    def _form_values(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = checked_statistics(attributes, FORM_STATISTICS)
        start, end = self._timeframe(attributes.get("timeframe"))
        first = dt.datetime.fromtimestamp(start, self.zone).date()
        last = dt.datetime.fromtimestamp(end, self.zone).date()
        days = [first + dt.timedelta(days=k) for k in range((last - first).days)]
        points = [
            (grouping, self._form_point(versions, days))
            for grouping, versions in self._form_groups(attributes)
        ]
        return values_document("form-values-report", statistics, points)

    def _form_series(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = checked_statistics(attributes, FORM_STATISTICS)
        start, end = self._series_timeframe(attributes)
        hourly = attributes.get("interval") == "hourly"

        def point(versions: list[str], lo: dt.datetime, hi: dt.datetime) -> Mapping[str, float]:
            # A bucket's days: those starting in it (an hourly bucket holds its day's midnight).
            count = max((hi.date() - lo.date()).days, 0)
            days = [lo.date() + dt.timedelta(days=k) for k in range(count)]
            midnight = [lo.date()] if lo.hour == 0 and hourly else []
            return self._form_point(versions, days or midnight)

        groups = [
            (grouping, functools.partial(point, versions))
            for grouping, versions in self._form_groups(attributes)
        ]
        return self._series("form-series-report", attributes, statistics, (start, end), groups)

    def _segment_values(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = checked_statistics(attributes, SEGMENT_STATISTICS)
        start, end = (
            dt.datetime.fromtimestamp(moment, self.zone)
            for moment in self._timeframe(attributes.get("timeframe"))
        )
        groups = self.account.segment_groups
        points = [
            (grouping, segment_point(groups, g, start, end))
            for g, grouping in self._segments(start, attributes)
        ]
        return values_document("segment-values-report", statistics, points)


class FlowMessage(NamedTuple):
    """A live flow's message as the reports see it."""

    dimensions: dict[str, Any]
    h: int
    channel: str
    daily: float  # recipients a day
    live_from: int  # the flow's creation, epoch seconds
