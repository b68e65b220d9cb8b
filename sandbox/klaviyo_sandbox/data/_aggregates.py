"""Metric aggregates (``POST /api/metric-aggregates``): counts, sums and uniques of one
metric's events per interval, ``by`` the attribution dimensions too.

They count the real sandbox events: counts by binary search over each metric's monotone
stream (exact at any size); ``sum_value`` and ``unique`` walk the events when the window
holds at most ``WALK_LIMIT`` of them and are estimated from the count beyond that.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..model import InvalidQuery, NotFound
from ._core import INF, Run, epoch, mix, salt, uuid_text
from ._metrics import PRODUCT_KIND
from ._timeframes import add_years, interval_starts, one_interval_on

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
_RANGE = re.compile(
    r"(greater-or-equal|greater-than|less-than|less-or-equal)\(\s*datetime\s*,\s*([^)]+?)\s*\)$"
)


class Aggregates:
    """Metric aggregates of an account; ``label`` writes a bucket's date."""

    def __init__(self, account: Any, label: Callable[[dt.datetime], str]) -> None:
        self.account, self.label = account, label

    def run(self, attributes: dict[str, Any]) -> dict[str, Any]:
        account = self.account
        metric, measurements, interval = self._asked(attributes)
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
        buckets = interval_starts(start, end, interval)
        if account.quirks:
            end = one_interval_on(buckets, end, interval, account.now())
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
        split: dict[tuple[Any, ...], list[list[int]]] = {}  # dimension values -> events per bucket
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
            "attributes": {"dates": [self.label(m) for m in buckets], "data": data},
        }

    def _asked(self, attributes: dict[str, Any]) -> tuple[Any, list[str], str]:
        """The query's metric, measurements and interval, each checked as Klaviyo does."""
        metric = self.account.metric(str(attributes.get("metric_id")))
        if metric is None:
            raise InvalidQuery("'metric_id' must be an existing metric.", "metric_id")
        if metric.id in self.account.vanished["metrics"]:  # listed, then deleted
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
        return metric, measurements, interval

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
        total: float = sum(v for v in values if v is not None)
        return round(total, 2)

    def _unique(self, indices: list[int], count: int, fresh: int, walk: bool) -> float:
        events = self.account.events
        if not walk:  # estimate: most profiles appear once per bucket
            return float(int(count * 0.9) + fresh)
        return float(len({events.profile_of(e) for e in indices}))


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
    if end > add_years(start, 1):
        raise InvalidQuery("The datetime range cannot be longer than 1 year.", "filter")
    return start, end
