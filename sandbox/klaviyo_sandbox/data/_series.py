"""Series reports: flow statistics and segment membership per interval, in the account's
timezone.

A flow message's numbers for one day are a pure function of (message, day): the sandbox's
truth for the tap's daily rows (``flow_day``). Conversions keep arriving for
``SETTLING_DAYS`` days after a day (Klaviyo's default attribution window), so a day read
again later has larger conversion numbers. Segment series count the real members of each
segment: who joined in each interval and how many there were at its end (nobody leaves a
sandbox segment, so ``members_removed`` is 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ..model import InvalidQuery
from ._core import epoch, mix, salt, unit

SETTLING_DAYS = 5
INTERVALS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}
# The longest timeframe per interval (the spec: hourly 7 days, daily 60, monthly 52 weeks).
MAX_SPAN = {
    "hourly": dt.timedelta(days=7),
    "daily": dt.timedelta(days=60),
    "weekly": dt.timedelta(days=365),
    "monthly": dt.timedelta(weeks=52),
}
SEGMENT_STATISTICS = frozenset(
    {"members_added", "members_removed", "net_members_changed", "total_members"}
)
# Segment data starts on 1 June 2023 (the spec's timeframe description).
SEGMENT_DATA_START = dt.date(2023, 6, 1)


Span = tuple[dt.datetime, dt.datetime]


def series_timeframe(
    timeframe: Any, interval: Any, zone: ZoneInfo, named: Callable[[str], Span]
) -> Span:
    """The timeframe as instants in the account's timezone (offsets ignored, as Klaviyo
    does; ``named`` resolves a key), checked against the interval's longest span."""
    if interval not in INTERVALS:
        raise InvalidQuery(
            f"'{interval}' is not a valid choice for interval: {', '.join(sorted(INTERVALS))}.",
            "interval",
        )
    if isinstance(timeframe, dict) and "key" in timeframe:
        start, end = named(str(timeframe["key"]))
    else:
        start, end = _custom(timeframe, zone)
    if end.replace(tzinfo=None) - start.replace(tzinfo=None) > MAX_SPAN[interval]:
        days = MAX_SPAN[interval].days
        raise InvalidQuery(
            f"With interval '{interval}' the timeframe cannot be longer than {days} days.",
            "timeframe",
        )
    return start, end


def _custom(timeframe: Any, zone: ZoneInfo) -> Span:
    if not isinstance(timeframe, dict) or not {"start", "end"} <= set(timeframe):
        raise InvalidQuery("'timeframe' needs a 'key', or a 'start' and an 'end'.", "timeframe")
    try:
        start, end = (
            dt.datetime.fromisoformat(str(timeframe[k]).replace("Z", "+00:00"))
            .replace(tzinfo=None)
            .replace(tzinfo=zone)
            for k in ("start", "end")
        )
    except ValueError as error:
        raise InvalidQuery("Invalid timeframe.", "timeframe") from error
    if end <= start:
        raise InvalidQuery("The timeframe end must be after its start.", "timeframe")
    return start, end


def flow_day(
    seed: int, message_id: str, *, daily: float, day: dt.date, age_days: int
) -> tuple[int, int, float]:
    """One flow message's hash, recipients and settled share for one day."""
    h = mix(salt(seed, f"{message_id}-{day.isoformat()}"))
    recipients = int(daily * (0.6 + 0.8 * unit(h)))
    settled = min(1.0, (max(age_days, 0) + 1) / (SETTLING_DAYS + 1))
    return h, recipients, settled


def segment_point(groups: Any, g: int, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """One segment's membership statistics for the interval [start, end)."""
    before = groups.joined_before(g, int(epoch(start)))
    after = groups.joined_before(g, int(epoch(end)))
    return {
        "members_added": after - before,
        "members_removed": 0,
        "net_members_changed": after - before,
        "total_members": after,
    }
