"""Reporting endpoints: campaign/flow values reports, flow/segment series reports (their
days in the account's timezone, see ``_series``) and metric aggregates (``by`` the
attribution dimensions too).

Values reports derive every number from the message's hash, so results are stable and
consistent (uniques <= totals, rates are the ratios). Metric aggregates count the real
sandbox events: counts by binary search over each metric's monotone stream (exact at any
size); ``sum_value`` and ``unique`` walk the events when the window holds at most
``WALK_LIMIT`` of them and are estimated from the count beyond that.

With quirks, values reports carry an ``id`` and send count statistics as floats on most
rows (``4779.0``, as Klaviyo does); a metric that vanished after being listed is 404; and
days are labelled as live accounts label them: a series day as its date at UTC midnight,
a metric aggregate's day as the UTC instant of its local midnight.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ..model import InvalidQuery, NotFound
from ._core import DAY, INF, UTC, Run, epoch, mix, salt, unit, uuid_text
from ._events import PRODUCT_KIND
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
MEASUREMENTS = frozenset({"count", "sum_value", "unique"})
# The ``by`` dimensions the spec lists; the attribution ones split by the events' credits.
AGGREGATE_DIMENSIONS = frozenset(
    {
        "$attributed_channel", "$attributed_flow", "$attributed_message", "$attributed_variation",
        "$campaign_channel", "$flow", "$flow_channel", "$message", "$message_send_cohort",
        "$usage_amount", "$value_currency", "$variation", "$variation_send_cohort", "Bot Click",
        "Bounce Type", "Campaign Name", "Client Canonical", "Client Name", "Client Type",
        "Email Domain", "Failure Source", "Failure Type", "From Number", "From Phone Region",
        "Inbox Provider", "List", "Message Format", "Message Name", "Message Type", "Method",
        "Segment Count", "Subject", "To Number", "To Phone Region", "URL", "form_id",
    }
)  # fmt: skip
INTERVALS = frozenset({"hour", "day", "week", "month"})
WALK_LIMIT = 200_000
_TERM = re.compile(r"(equals|contains-any|contains-all)\(\s*([\w$]+)\s*,\s*(.+?)\s*\)$")
_RANGE = re.compile(
    r"(greater-or-equal|greater-than|less-than|less-or-equal)\(\s*datetime\s*,\s*([^)]+?)\s*\)$"
)


class Reports:
    def __init__(self, account: Any) -> None:
        self.account = account

    def run(self, report_type: str, attributes: dict) -> dict:
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
            return self._aggregate(attributes)
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
        attributes: dict,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
    ) -> dict:
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
            start, end = _named_timeframe(
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
        if end > _add_years(start, 1):
            raise InvalidQuery("The timeframe cannot be longer than 1 year.", "timeframe")
        return int(epoch(start)), int(epoch(end))

    def _campaign_rows(self, start: int, end: int) -> list[tuple[dict, int, int, str]]:
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

    def _flow_rows(self, start: int, end: int) -> list[tuple[dict, int, int, str]]:
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

    def _flow_series(self, attributes: dict) -> dict:
        statistics = _checked_statistics(attributes)
        metric_id = self._checked_metric(attributes)
        interval = attributes.get("interval")
        start, end = self._series_timeframe(attributes)
        group_by = _group_by(attributes, FLOW_GROUPS, ("flow_id", "flow_message_id"))
        terms = _filter_terms(attributes.get("filter"), FLOW_GROUPS)
        buckets = _buckets(start, end, SERIES_INTERVALS[str(interval)])
        bounds = [*buckets[1:], end]
        results = []
        for message in self.flow_messages():
            if not all(_term_matches(message.dimensions, term) for term in terms):
                continue
            points = [
                self._flow_point(message, lo, hi, metric_id)
                for lo, hi in zip(buckets, bounds, strict=True)
            ]
            results.append(
                {
                    "groupings": {name: message.dimensions.get(name) for name in group_by},
                    "statistics": {name: [p[name] for p in points] for name in statistics},
                }
            )
        document = self._series_document("flow-series-report", buckets, results)
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

    def _segment_series(self, attributes: dict) -> dict:
        statistics = _checked_statistics(attributes, SEGMENT_STATISTICS)
        interval = attributes.get("interval")
        start, end = self._series_timeframe(attributes)
        if start.date() < SEGMENT_DATA_START:
            raise InvalidQuery(
                "Data is unavailable before June 1st, 2023. Please use a time frame after "
                "this date.",
                "timeframe",
            )
        chosen = _segment_filter(attributes.get("filter"))
        groups = self.account.segment_groups
        buckets = _buckets(start, end, SERIES_INTERVALS[str(interval)])
        bounds = [*buckets[1:], end]
        results = []
        for g, segment_id in enumerate(groups.ids):
            if chosen is not None and segment_id not in chosen:
                continue
            if segment_id in self.account.vanished["segments"]:
                continue
            points = [
                segment_point(groups, g, lo, hi) for lo, hi in zip(buckets, bounds, strict=True)
            ]
            results.append(
                {
                    "groupings": {"segment_id": segment_id},
                    "statistics": {name: [p[name] for p in points] for name in statistics},
                }
            )
        return self._series_document("segment-series-report", buckets, results)

    def _series_document(
        self, report_type: str, buckets: list[dt.datetime], results: list[dict]
    ) -> dict:
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

    def _series_timeframe(self, attributes: dict) -> tuple[dt.datetime, dt.datetime]:
        now = self.account.now().astimezone(self.zone)
        return series_timeframe(
            attributes.get("timeframe"),
            attributes.get("interval"),
            self.zone,
            lambda key: _named_timeframe(key, now),
        )

    def _checked_metric(self, attributes: dict) -> str:
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

    def _form_groups(self, attributes: dict) -> dict[tuple[str | None, ...], list[str]]:
        """Grouping values -> the form versions they sum (grouped by form_id by default)."""
        group_by = attributes.get("group_by") or ["form_id"]
        if not isinstance(group_by, list) or not set(group_by) <= set(FORM_GROUPS):
            raise InvalidQuery(
                f"group_by allows {', '.join(FORM_GROUPS)}; got {group_by}.", "group_by"
            )
        groups: dict[tuple[str | None, ...], list[str]] = {}
        for version in self.account.storefront.form_versions():
            values = {"form_id": version.parent, "form_version_id": version.id}
            groups.setdefault(tuple(values[name] for name in group_by), []).append(version.id)
        return groups

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

    def _form_values(self, attributes: dict) -> dict:
        statistics = _checked_statistics(attributes, FORM_STATISTICS)
        start, end = self._timeframe(attributes.get("timeframe"))
        first = dt.datetime.fromtimestamp(start, self.zone).date()
        last = dt.datetime.fromtimestamp(end, self.zone).date()
        days = [first + dt.timedelta(days=k) for k in range((last - first).days)]
        group_by = attributes.get("group_by") or ["form_id"]
        results = []
        for values, versions in self._form_groups(attributes).items():
            point = self._form_point(versions, days)
            results.append(
                {
                    "groupings": dict(zip(group_by, values, strict=True)),
                    "statistics": {name: point[name] for name in statistics},
                }
            )
        return {"type": "form-values-report", "attributes": {"results": results}}

    def _form_series(self, attributes: dict) -> dict:
        statistics = _checked_statistics(attributes, FORM_STATISTICS)
        interval = attributes.get("interval")
        start, end = self._series_timeframe(attributes)
        buckets = _buckets(start, end, SERIES_INTERVALS[str(interval)])
        bounds = [*buckets[1:], end]
        # A bucket's days: those starting in it (an hourly bucket holds its day's midnight).
        spans = [
            [lo.date() + dt.timedelta(days=k) for k in range(max((hi.date() - lo.date()).days, 0))]
            or ([lo.date()] if lo.hour == 0 and interval == "hourly" else [])
            for lo, hi in zip(buckets, bounds, strict=True)
        ]
        group_by = attributes.get("group_by") or ["form_id"]
        results = []
        for values, versions in self._form_groups(attributes).items():
            points = [self._form_point(versions, days) for days in spans]
            results.append(
                {
                    "groupings": dict(zip(group_by, values, strict=True)),
                    "statistics": {name: [p[name] for p in points] for name in statistics},
                }
            )
        return self._series_document("form-series-report", buckets, results)

    def _segment_values(self, attributes: dict) -> dict:
        statistics = _checked_statistics(attributes, SEGMENT_STATISTICS)
        start, end = (
            dt.datetime.fromtimestamp(moment, self.zone)
            for moment in self._timeframe(attributes.get("timeframe"))
        )
        if start.date() < SEGMENT_DATA_START:
            raise InvalidQuery(
                "Data is unavailable before June 1st, 2023. Please use a time frame after "
                "this date.",
                "timeframe",
            )
        chosen = _segment_filter(attributes.get("filter"))
        groups = self.account.segment_groups
        results = []
        for g, segment_id in enumerate(groups.ids):
            if (chosen is not None and segment_id not in chosen) or (
                segment_id in self.account.vanished["segments"]
            ):
                continue
            point = segment_point(groups, g, start, end)
            results.append(
                {
                    "groupings": {"segment_id": segment_id},
                    "statistics": {name: point[name] for name in statistics},
                }
            )
        return {"type": "segment-values-report", "attributes": {"results": results}}

    # --- metric aggregates -----------------------------------------------------------

    def _aggregate(self, attributes: dict) -> dict:
        account = self.account
        metric = account.metric(str(attributes.get("metric_id")))
        if metric is None:
            raise InvalidQuery("'metric_id' must be an existing metric.", "metric_id")
        if metric.id in account.vanished["metrics"]:  # listed, then deleted
            raise NotFound(f"A metric with id {metric.id} does not exist.")
        measurements = attributes.get("measurements")
        if (
            not isinstance(measurements, list)
            or not measurements
            or not set(measurements) <= MEASUREMENTS
        ):
            raise InvalidQuery(
                "'measurements' must be a non-empty subset of count, sum_value, unique.",
                "measurements",
            )
        interval = attributes.get("interval") or "day"
        if interval not in INTERVALS:
            raise InvalidQuery(f"'{interval}' is not a valid interval.", "interval")
        try:
            zone = ZoneInfo(attributes.get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidQuery("Invalid timezone.", "timezone") from error
        start, end = _aggregate_range(attributes.get("filter"), zone)
        by = attributes.get("by") or []
        if not isinstance(by, list) or not set(by) <= AGGREGATE_DIMENSIONS:
            raise InvalidQuery(
                f"'by' must be a list of: {', '.join(sorted(AGGREGATE_DIMENSIONS))}.", "by"
            )
        buckets = _buckets(start, end, interval)
        if account.quirks:
            end = _one_interval_on(buckets, end, interval, account.now())
        events = account.events
        stream = events.span(metric)
        run = Run(stream.lo, stream.hi, stream.at) if stream else Run(0, 0, lambda e: 0)
        fresh = [
            (ts, e)
            for ts, e in account.events.overlay.keys
            if account.events.overlay.events[e].metric == metric.index
        ]
        bounds = [int(epoch(moment)) for moment in buckets] + [int(epoch(end))]
        bounds[0] = int(epoch(start))
        series: dict[str, list[float]] = {name: [] for name in measurements}
        positions = [run.position((bound, -INF)) for bound in bounds]
        total = positions[-1] - positions[0]
        walk = total <= WALK_LIMIT  # beyond it, sum and unique are estimated from counts
        split: dict[tuple, list[list[int]]] = {}  # dimension values -> events per bucket
        for k in range(len(buckets)):
            lo, hi = positions[k], positions[k + 1]
            extra = [e for ts, e in fresh if bounds[k] <= ts < bounds[k + 1]]
            count = events.count(metric, lo, hi)
            indices = [*events.members(metric, lo, hi), *extra] if walk else []
            if by:
                for e in indices:
                    split.setdefault(self._dimensions(e, by), [[] for _ in buckets])[k].append(e)
                continue
            if "count" in series:
                series["count"].append(float(count + len(extra)))
            if "sum_value" in series:
                series["sum_value"].append(self._sum(metric.kind, indices, count, walk))
            if "unique" in series:
                series["unique"].append(self._unique(indices, count, len(extra), walk))
        data = (
            [
                {
                    "dimensions": list(values),
                    "measurements": self._walked(metric, per, measurements),
                }
                for values, per in sorted(split.items(), key=lambda item: str(item[0]))
            ]
            if by
            else [{"dimensions": [], "measurements": series}]
        )
        h = mix(salt(account.seed, f"aggregate-{metric.id}-{bounds[0]}-{bounds[-1]}"))
        return {
            "type": "metric-aggregate",
            "id": uuid_text(h, mix(h)),
            "attributes": {"dates": [self.aggregate_label(m) for m in buckets], "data": data},
        }

    def _dimensions(self, e: int, by: list[str]) -> tuple[str | None, ...]:
        """The event's value of each ``by`` dimension: its first attribution's flow, message
        or variation; None where it has none (or for a dimension the sandbox does not model)."""
        credits = self.account.attributions.credits(e)
        sent = credits[0] if credits else None
        values = {
            "$attributed_flow": sent.flow if sent else None,
            "$attributed_message": (sent.campaign_message or sent.flow_message) if sent else None,
            "$attributed_variation": sent.flow_message if sent else None,
        }
        return tuple(values.get(name) for name in by)

    def _walked(
        self, metric: Any, per_bucket: list[list[int]], measurements: list[str]
    ) -> dict[str, list[float]]:
        """The measurements of one dimension group, from its events in each bucket."""
        events = self.account.events
        series: dict[str, list[float]] = {name: [] for name in measurements}
        for indices in per_bucket:
            if "count" in series:
                series["count"].append(float(len(indices)))
            if "sum_value" in series:
                series["sum_value"].append(self._sum(metric.kind, indices, len(indices), True))
            if "unique" in series:
                series["unique"].append(float(len({events.profile_of(e) for e in indices})))
        return series

    def _sum(self, kind: int, indices: list[int], count: int, walk: bool) -> float:
        events = self.account.events
        if not walk:  # estimate: the base count x the mean order value
            return round(count * (90.0 if kind != PRODUCT_KIND else 40.0), 2)
        values = [events.value(e) for e in indices]
        return round(sum(v for v in values if v is not None), 2)

    def _unique(self, indices: list[int], count: int, fresh: int, walk: bool) -> float:
        events = self.account.events
        if not walk:  # estimate: most profiles appear once per bucket
            return float(int(count * 0.9) + fresh)
        return float(len({events.profile_of(e) for e in indices}))


class FlowMessage(NamedTuple):
    """A live flow's message as the reports see it."""

    dimensions: dict[str, Any]
    h: int
    channel: str
    daily: float  # recipients a day
    live_from: int  # the flow's creation, epoch seconds


def _checked_statistics(attributes: dict, allowed: Collection[str] = STATISTICS) -> list[str]:
    statistics = attributes.get("statistics")
    if not isinstance(statistics, list) or not statistics:
        raise InvalidQuery("'statistics' is a required field.", "statistics")
    unknown = [name for name in statistics if name not in allowed]
    if unknown:
        raise InvalidQuery(f"'{unknown[0]}' is not a valid choice for statistics.", "statistics")
    return statistics


def _group_by(attributes: dict, allowed: tuple[str, ...], required: tuple[str, ...]) -> list[str]:
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


def _report_links(report_type: str, results: list[dict]) -> dict:
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


def _term_matches(dimensions: dict, term: tuple[str, str, list[str]]) -> bool:
    op, name, values = term
    actual = dimensions.get(name)
    if op == "contains-all":
        return all(value == actual for value in values)
    return actual in values


def _add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _named_timeframe(key: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Klaviyo's timeframe keys in the account timezone; whole days end at midnight."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - dt.timedelta(days=today.weekday())
    month = today.replace(day=1)
    year = month.replace(month=1)
    days = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90, "last_365_days": 365}
    frames = {
        "today": (today, now),
        "yesterday": (today - dt.timedelta(days=1), today),
        "this_week": (week, now),
        "last_week": (week - dt.timedelta(days=7), week),
        "this_month": (month, now),
        "last_month": (_add_months(month, -1), month),
        "this_year": (year, now),
        "last_year": (_add_years(year, -1), year),
        "last_3_months": (_add_months(today, -3), today),
        "last_12_months": (_add_months(today, -12), today),
    }
    if key in days:
        return today - dt.timedelta(days=days[key]), today
    if key not in frames:
        raise InvalidQuery(f"'{key}' is not a valid timeframe key.", "timeframe")
    start, end = frames[key]
    return start, max(end, start + dt.timedelta(seconds=1))


def _aggregate_range(filters: Any, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(filters, list) or not filters:
        raise InvalidQuery("'filter' must be a list including a datetime range.", "filter")
    start = end = None
    for text in filters:
        match = _RANGE.match(str(text).strip())
        if match is None:
            continue  # other metric-aggregate filters do not narrow the sandbox's events
        try:
            moment = dt.datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidQuery(f"Invalid datetime in filter: {text}", "filter") from error
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
        if match.group(1).startswith("greater"):
            start = moment
        else:
            end = moment
    if start is None or end is None:
        raise InvalidQuery(
            "The filter must include greater-or-equal(datetime,...) and less-than(datetime,...).",
            "filter",
        )
    if end <= start:
        raise InvalidQuery("The datetime range is empty.", "filter")
    if end > _add_years(start, 1):
        raise InvalidQuery("The datetime range cannot be longer than 1 year.", "filter")
    return start, end


def _one_interval_on(
    buckets: list[dt.datetime], end: dt.datetime, interval: str, now: dt.datetime
) -> dt.datetime:
    """Quirk: a range ending within the last hour (a read "up to now") is answered one
    interval further, counting the events already dated there (Klaviyo accepts future-dated
    events): a future-dated aggregate. ``buckets`` gains that interval; its end is returned."""
    if end < now - dt.timedelta(hours=1):
        return end
    following, after = _buckets(buckets[-1], buckets[-1] + dt.timedelta(days=64), interval)[1:3]
    buckets.append(following)
    return after


def _buckets(start: dt.datetime, end: dt.datetime, interval: str) -> list[dt.datetime]:
    """Bucket starts in the query's timezone, aligned to the interval."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if interval != "hour":
        first = first.replace(hour=0)
    if interval == "week":
        first -= dt.timedelta(days=first.weekday())
    if interval == "month":
        first = first.replace(day=1)
    buckets = []
    moment = first
    while moment < end:
        buckets.append(moment)
        if interval == "hour":
            moment = (moment.astimezone(UTC) + dt.timedelta(hours=1)).astimezone(moment.tzinfo)
        elif interval == "day":
            moment = (moment + dt.timedelta(days=1)).replace(hour=0)
        elif interval == "week":
            moment = (moment + dt.timedelta(days=7)).replace(hour=0)
        else:
            moment = _add_months(moment, 1)
    return buckets
