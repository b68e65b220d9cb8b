"""Late events: the ranges each run reads again, and how far the second read has come.

Events reach Klaviyo after their ``datetime`` (integrations send historical ones, e.g.
backfilled orders), and the events API filters on ``datetime`` only: nothing says when an
event arrived, so only reading a past range again finds what came late. Each run reads:

- from the bookmark less ``lookback_window`` (a day by default): an event that arrives up
  to a day late is in the warehouse after the next run;
- the **second read**: the range that became ``late_events_days`` (7) days old since the
  last run, read once more. Every event that reaches Klaviyo up to that many days late was
  there when its range was read the second time.

A daily run thus reads about three days of events (the new day, the trailing day, the day
now a week old) instead of the eight days a 7-day trailing re-read would take (measured in
``benchmarks``, scenario 7). The second read keeps its own point in the stream's state,
``read_again_to`` (every range before it has been read at least ``late_events_days`` after
it happened), saved as its windows are written, so a run stopped during it resumes there;
it never moves the stream's bookmark.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_klaviyo import timestamps

READ_AGAIN_TO = "read_again_to"  # the second read's point, in the stream's bookmarks
DAY = dt.timedelta(days=1)


def second_read(
    bookmarks: t.Mapping[str, t.Any],
    sync_started: dt.datetime,
    days: int,
    start_date: dt.datetime | None = None,
) -> tuple[dt.datetime, dt.datetime] | None:
    """The range [start, end) this run reads a second time; None when there is none.

    Its end is ``days`` before the sync's start. Its start is where the last second read
    ended; without one (a first run, or a state from before this setting), ``days`` before
    the bookmark, or before the sync's start when there is no bookmark either: a first run
    reads everything once, the last ``days`` of it too recently to be complete.
    """
    if days <= 0:
        return None
    end = timestamps.floor_second(sync_started - days * DAY)
    start = reached(bookmarks)
    if start is None:
        bookmark = bookmarks.get("replication_key_value")
        start = (timestamps.parse(bookmark) if bookmark else sync_started) - days * DAY
    if start_date is not None:
        start = max(start, start_date)
    start = timestamps.floor_second(start)
    return (start, end) if start < end else None


def reached(bookmarks: t.Mapping[str, t.Any]) -> dt.datetime | None:
    """How far the second read has come (None: never run)."""
    value = bookmarks.get(READ_AGAIN_TO)
    return timestamps.parse(value) if value else None


def advance(bookmarks: t.MutableMapping[str, t.Any], value: dt.datetime) -> bool:
    """Move the second read's point to ``value``'s whole second (a resume reads that
    second's ties again), never back; whether it moved."""
    value = timestamps.floor_second(value)
    current = reached(bookmarks)
    if current is not None and value <= current:
        return False
    bookmarks[READ_AGAIN_TO] = timestamps.to_text(value)
    return True
