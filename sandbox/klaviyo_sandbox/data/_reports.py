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
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

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
from ._storefront import FORM_STATISTICS
from ._timeframes import add_years, interval_starts, named_timeframe

STATISTICS = frozenset(
    {
        "average_order_value", "bounce_rate", "bounced", "bounced_or_failed",
        "bounced_or_failed_rate", "click_rate", "click_to_open_rate", "clicks", "clicks_unique",
        "conversion_rate", "conversion_uniques", "conversion_value", "conversions", "delivered",
        "delivery_rate", "failed", "failed_rate", "message_segment_count_sum", "open_rate", "opens",
        "opens_unique", "recipients", "revenue_per_recipient", "spam_complaint_rate",
        "spam_complaints", "text_message_credit_usage_amount", "text_message_roi",
        "text_message_spend", "unsubscribe_rate", "unsubscribe_uniques", "unsubscribes",
    }
)  # fmt: skip
CAMPAIGN_GROUPS = (
    "campaign_id", "campaign_message_id", "campaign_message_name", "group", "group_name",
    "send_channel", "tag_id", "tag_name", "text_message_format", "variation", "variation_name",
)  # fmt: skip
FLOW_GROUPS = (
    "flow_id", "flow_message_id", "flow_message_name", "flow_name", "send_channel", "tag_id",
    "tag_name", "text_message_format", "variation", "variation_name",
)  # fmt: skip
FORM_GROUPS = ("form_id", "form_version_id")
SEND_CHANNEL = {
    "email": "email",
    "sms": "sms",
    "mobile_push": "push-notification",
    "push": "push-notification",
}
COUNTS = frozenset(
    {
        "bounced", "bounced_or_failed", "clicks", "clicks_unique", "conversion_uniques",
        "conversions", "delivered", "failed", "message_segment_count_sum", "opens",
        "opens_unique", "recipients", "spam_complaints", "text_message_credit_usage_amount",
        "unsubscribe_uniques", "unsubscribes",
    }
)  # fmt: skip
# A group's statistics over one interval [start, end) of a series.
Point = Callable[[dt.datetime, dt.datetime], Mapping[str, float]]
_TERM = re.compile(r"(equals|contains-any|contains-all)\(\s*([\w$]+)\s*,\s*(.+?)\s*\)$")


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
        statistics = _checked_statistics(attributes)
        metric_id = self._checked_metric(attributes)
        start, end = self._timeframe(attributes.get("timeframe"))
        group_by = _group_by(attributes, allowed, required)
        terms = _filter_terms(attributes.get("filter"), allowed)
        rows = (
            self._campaign_rows(start, end)
            if report_type.startswith("campaign")
            else self._flow_rows(start, end)
        )
        quirks = self.account.quirks
        results = []
        for dimensions, h, recipients, channel in rows:
            if all(_term_matches(dimensions, term) for term in terms):
                numbers = _statistics(h, recipients, channel, metric_id)
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
        document["relationships"] = _report_links(report_type, results)
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
        statistics = _checked_statistics(attributes)
        metric_id = self._checked_metric(attributes)
        start, end = self._series_timeframe(attributes)
        group_by = _group_by(attributes, FLOW_GROUPS, ("flow_id", "flow_message_id"))
        terms = _filter_terms(attributes.get("filter"), FLOW_GROUPS)
        groups = [
            (
                {name: message.dimensions.get(name) for name in group_by},
                functools.partial(self._flow_point, message, metric_id=metric_id),
            )
            for message in self.flow_messages()
            if all(_term_matches(message.dimensions, term) for term in terms)
        ]
        document = self._series("flow-series-report", attributes, statistics, (start, end), groups)
        results = document["attributes"]["results"]
        document["relationships"] = _report_links("flow-series-report", results)
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
        return _statistics(h, recipients, message.channel, metric_id, settled)

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
        statistics = _checked_statistics(attributes, SEGMENT_STATISTICS)
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
        chosen = _segment_filter(attributes.get("filter"))
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
        statistics = _checked_statistics(attributes, FORM_STATISTICS)
        start, end = self._timeframe(attributes.get("timeframe"))
        first = dt.datetime.fromtimestamp(start, self.zone).date()
        last = dt.datetime.fromtimestamp(end, self.zone).date()
        days = [first + dt.timedelta(days=k) for k in range((last - first).days)]
        points = [
            (grouping, self._form_point(versions, days))
            for grouping, versions in self._form_groups(attributes)
        ]
        return _values_document("form-values-report", statistics, points)

    def _form_series(self, attributes: dict[str, Any]) -> dict[str, Any]:
        statistics = _checked_statistics(attributes, FORM_STATISTICS)
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
        statistics = _checked_statistics(attributes, SEGMENT_STATISTICS)
        start, end = (
            dt.datetime.fromtimestamp(moment, self.zone)
            for moment in self._timeframe(attributes.get("timeframe"))
        )
        groups = self.account.segment_groups
        points = [
            (grouping, segment_point(groups, g, start, end))
            for g, grouping in self._segments(start, attributes)
        ]
        return _values_document("segment-values-report", statistics, points)


class FlowMessage(NamedTuple):
    """A live flow's message as the reports see it."""

    dimensions: dict[str, Any]
    h: int
    channel: str
    daily: float  # recipients a day
    live_from: int  # the flow's creation, epoch seconds


def _checked_statistics(
    attributes: dict[str, Any], allowed: Collection[str] = STATISTICS
) -> list[str]:
    statistics = attributes.get("statistics")
    if not isinstance(statistics, list) or not statistics:
        raise InvalidQuery("'statistics' is a required field.", "statistics")
    unknown = [name for name in statistics if name not in allowed]
    if unknown:
        raise InvalidQuery(f"'{unknown[0]}' is not a valid choice for statistics.", "statistics")
    return statistics


def _group_by(
    attributes: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> list[str]:
    group_by = attributes.get("group_by") or [*required, "send_channel"]
    bad = [name for name in group_by if name not in allowed]
    if bad or not set(required) <= set(group_by):
        raise InvalidQuery(
            f"group_by must include {' and '.join(required)}; allowed: {', '.join(allowed)}.",
            "group_by",
        )
    return list(group_by)


_SEGMENT_FILTER = re.compile(r"(equals|any)\(\s*segment_id\s*,\s*(.+?)\s*\)$")


def _segment_filter(text: Any) -> set[str] | None:
    """``equals(segment_id,"x")`` or ``any(segment_id,["x","y"])``: the segments chosen."""
    if not text:
        return None
    match = _SEGMENT_FILTER.match(str(text).strip())
    if match is None:
        raise InvalidQuery(
            f"Invalid filter: {text} (allowed: equals or any on segment_id).", "filter"
        )
    try:
        value = orjson.loads(match.group(2).replace("'", '"'))
    except orjson.JSONDecodeError as error:
        raise InvalidQuery(f"Invalid filter value: {match.group(2)}", "filter") from error
    values = value if isinstance(value, list) else [value]
    if (match.group(1) == "any") != isinstance(value, list) or len(values) > 100:
        raise InvalidQuery("equals takes one segment id, any a list of at most 100.", "filter")
    return {str(v) for v in values}


def _values_document(
    report_type: str,
    statistics: list[str],
    points: Sequence[tuple[dict[str, Any], Mapping[str, float]]],
) -> dict[str, Any]:
    """A values report: for each group, each statistic's value over the timeframe."""
    results = [
        {"groupings": grouping, "statistics": {name: point[name] for name in statistics}}
        for grouping, point in points
    ]
    return {"type": report_type, "attributes": {"results": results}}


def _report_links(report_type: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    if report_type.startswith("campaign"):
        ids = dict.fromkeys(r["groupings"]["campaign_id"] for r in results)
        return {"campaigns": {"data": [{"type": "campaign", "id": i} for i in ids]}}
    flows = dict.fromkeys(r["groupings"]["flow_id"] for r in results)
    messages = dict.fromkeys(r["groupings"]["flow_message_id"] for r in results)
    return {
        "flows": {"data": [{"type": "flow", "id": i} for i in flows]},
        "flow-messages": {"data": [{"type": "flow-message", "id": i} for i in messages]},
    }


def _statistics(
    h: int, recipients: int, channel: str, metric_id: str, settled: float = 1.0
) -> dict[str, float]:
    """All 31 statistics of one message, mutually consistent. ``settled`` is the share of
    its conversions already counted: a day's keep arriving for days after it."""
    r = [unit(mix(h ^ salt(0, f"{metric_id}-{k}"))) for k in range(10)]
    bounced = int(recipients * 0.03 * r[0])
    failed = int(recipients * 0.01 * r[1])
    delivered = recipients - bounced - failed
    opens_unique = int(delivered * (0.15 + 0.35 * r[2])) if channel == "email" else 0
    opens = opens_unique + int(opens_unique * 0.8 * r[3])
    clicks_unique = int((opens_unique if channel == "email" else delivered) * (0.03 + 0.15 * r[4]))
    clicks = clicks_unique + int(clicks_unique * 0.5 * r[5])
    conversion_uniques = int(clicks_unique * (0.05 + 0.2 * r[6]) * settled)
    conversions = conversion_uniques + int(conversion_uniques * 0.3 * r[7])
    conversion_value = round(conversions * (30 + 120 * r[8]), 2)
    unsubscribe_uniques = int(delivered * 0.004 * r[9])
    unsubscribes = unsubscribe_uniques + (1 if unsubscribe_uniques > 3 else 0)
    spam = int(delivered * 0.0005 * r[0])
    texts = channel == "sms"
    segments = delivered + int(delivered * 0.4 * r[3]) if texts else 0
    spend = round(segments * 0.0107, 2)

    def ratio(a: float, b: float) -> float:
        return round(a / b, 6) if b else 0.0

    return {
        "recipients": recipients,
        "delivered": delivered,
        "delivery_rate": ratio(delivered, recipients),
        "bounced": bounced,
        "bounce_rate": ratio(bounced, recipients),
        "failed": failed,
        "failed_rate": ratio(failed, recipients),
        "bounced_or_failed": bounced + failed,
        "bounced_or_failed_rate": ratio(bounced + failed, recipients),
        "opens": opens,
        "opens_unique": opens_unique,
        "open_rate": ratio(opens_unique, delivered),
        "clicks": clicks,
        "clicks_unique": clicks_unique,
        "click_rate": ratio(clicks_unique, delivered),
        "click_to_open_rate": ratio(clicks_unique, opens_unique),
        "conversions": conversions,
        "conversion_uniques": conversion_uniques,
        "conversion_rate": ratio(conversion_uniques, delivered),
        "conversion_value": conversion_value,
        "revenue_per_recipient": ratio(conversion_value, delivered),
        "average_order_value": ratio(conversion_value, conversions),
        "unsubscribes": unsubscribes,
        "unsubscribe_uniques": unsubscribe_uniques,
        "unsubscribe_rate": ratio(unsubscribe_uniques, delivered),
        "spam_complaints": spam,
        "spam_complaint_rate": ratio(spam, delivered),
        "message_segment_count_sum": segments,
        "text_message_credit_usage_amount": segments,
        "text_message_spend": spend,
        "text_message_roi": ratio(conversion_value - spend, spend),
    }


def _filter_terms(text: Any, allowed: tuple[str, ...]) -> list[tuple[str, str, list[str]]]:
    """Parse ``and(equals(campaign_id,"x"),contains-any(send_channel,["email"]))``."""
    if not text:
        return []
    body = str(text).strip()
    if body.startswith("and(") and body.endswith(")"):
        body = body[4:-1]
    terms = []
    for raw in re.split(r",(?=\s*(?:equals|contains-any|contains-all)\()", body):
        match = _TERM.match(raw.strip())
        if match is None or match.group(2) not in allowed:
            raise InvalidQuery(f"Invalid filter: {raw.strip()}", "filter")
        op, name, value = match.groups()
        try:
            parsed = orjson.loads(value.replace("'", '"'))
        except orjson.JSONDecodeError as error:
            raise InvalidQuery(f"Invalid filter value: {value}", "filter") from error
        terms.append((op, name, parsed if isinstance(parsed, list) else [parsed]))
    return terms


def _term_matches(dimensions: dict[str, Any], term: tuple[str, str, list[str]]) -> bool:
    op, name, values = term
    actual = dimensions.get(name)
    if op == "contains-all":
        return all(value == actual for value in values)
    return actual in values
