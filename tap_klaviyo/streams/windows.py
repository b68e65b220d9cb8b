"""Events and profiles: the time range is cut into windows fetched in parallel, read in order.

Klaviyo serves one cursor at a time per query, so a single query is as slow as its latency.
Cutting [bookmark, sync start) into windows gives many independent cursors: workers fetch
them concurrently (inside each endpoint's rate-limit budget), and the records still come out
in replication-key order, so the bookmark only ever covers what was emitted.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
import typing as t

from tap_klaviyo.prefetch import OrderedPrefetch
from tap_klaviyo.streams.base import Context, KlaviyoStream, parse_datetime
from tap_klaviyo.streams.events import EventsStream
from tap_klaviyo.streams.profiles import ProfilesStream

Window = tuple[dt.datetime, dt.datetime | None]
MIN_WINDOW = dt.timedelta(minutes=1)
PROGRESS_EVERY = 10.0  # seconds between progress lines on stderr


class Density:
    """Records per second of the range, learned from the windows read so far."""

    def __init__(self, records: int, seconds: float) -> None:
        self._lock = threading.Lock()
        self._records, self._seconds = float(records), max(seconds, 1.0)

    def add(self, records: int, seconds: float) -> None:
        with self._lock:
            self._records += records
            self._seconds += max(seconds, 1.0)

    def span_for(self, records: int) -> dt.timedelta:
        with self._lock:
            per_second = self._records / self._seconds
        return max(MIN_WINDOW, dt.timedelta(seconds=records / max(per_second, 1e-6)))


class WindowedMixin(KlaviyoStream):
    """Parallel windows for a stream sorted on a timestamp filter field."""

    # Windows of about one page: the reader waits on the window at the head of the line, so
    # windows of many sequential pages would leave the other workers' buffered pages idle.
    pages_per_window = 0.9

    @functools.cached_property
    def sync_started(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._initialized_at / 1000, dt.timezone.utc)

    def read(self, context: Context | None, *, incremental: bool = True) -> t.Iterator[dict]:
        if not incremental:
            yield from super().read(context, incremental=False)
            return
        progress = Progress(self, self.lower_bound(context), self.sync_started)
        for records in OrderedPrefetch(
            self.window_tasks(context),
            max_workers=int(self.config.get("max_workers", 8)),
            max_buffered=int(self.config.get("max_buffered_pages", 8)),
        ):
            for record in records:
                progress.tick(record)
                yield record
        progress.done()

    def window_tasks(self, context: Context | None) -> t.Iterator[t.Callable[[], t.Iterator]]:
        """Tasks for [start, sync start) in adaptive windows, then the future-dated tail."""
        start, stop = self.lower_bound(context), self.upper_bound()
        now = self.sync_started if stop is None else min(stop, self.sync_started)
        if start is None:
            start = self.earliest_record(context)
            if start is None:
                return  # the account has none
        first = next(self.pages(context, start, now))
        if not self.rows_of(first) and (first.get("links") or {}).get("next"):
            # An empty page that still links onward says nothing about density: read the
            # range as one window, following every link.
            yield self.window_task(context, (start, now), None)
            after = None
        else:
            first_window, after = self.trim_first_page(first, start, now)
            yield self.fixed_task(first, first_window)
        if after is not None:
            seen = len(self.rows_of(first))
            density = Density(seen, (after - start).total_seconds())
            records_per_window = int(self.pages_per_window * self.page_size)
            while after < now:
                end = min(after + density.span_for(records_per_window), now)
                yield self.window_task(context, (after, end), density)
                after = end
        if stop is None or stop > now:
            yield self.window_task(context, (now, stop), None)

    def trim_first_page(
        self, first: dict[str, t.Any], start: dt.datetime, now: dt.datetime
    ) -> tuple[Window, dt.datetime | None]:
        """The first page covers [start, t) exactly, t being its last record's second, once
        the rows at t are left to the next window (a second's ties may go on past the page)."""
        rows = self.rows_of(first)
        if not (first.get("links") or {}).get("next") or not rows:
            return (start, now), None
        last = self.shape(rows[-1], first)[self.resource.replication_key or ""]
        boundary = parse_datetime(last)
        return (start, boundary), boundary

    def fixed_task(self, document: dict[str, t.Any], window: Window) -> t.Callable[[], t.Iterator]:
        return lambda: iter([list(self.records_of(document, *window))])

    def window_task(
        self, context: Context | None, window: Window, density: Density | None
    ) -> t.Callable[[], t.Iterator]:
        start, end = window

        def task() -> t.Iterator[list[dict[str, t.Any]]]:
            # Pages become rows on the worker: the buffer holds rows, smaller than pages.
            records = 0
            for document in self.pages(context, start, end):
                records += len(self.rows_of(document))
                yield list(self.records_of(document, start, end))
            if density is not None and end is not None:
                density.add(records, (end - start).total_seconds())

        return task

    def earliest_record(self, context: Context | None) -> dt.datetime | None:
        """Where the data begins, when neither a bookmark nor start_date says (one request)."""
        params = self.request_params(context, None, None)
        params["page[size]"] = "1"
        for document in self.client.paginate(
            self.resource.path, params, tier=self.tier, endpoint=self.resource.path
        ):
            rows = self.rows_of(document)
            if rows:  # empty pages may come first and still link onward
                key = self.resource.replication_key or ""
                return parse_datetime(self.shape(rows[0], document)[key])
        return None

    @property
    def page_size(self) -> int:
        return self.resource.page_size or 100


class Progress:
    """A line on stderr every few seconds for long reads: records, rate, how far."""

    def __init__(self, stream: KlaviyoStream, start: dt.datetime | None, end: dt.datetime) -> None:
        self.stream, self.start, self.end = stream, start, end
        self.key = stream.resource.replication_key or ""
        self.count = 0
        self.began = self.last = time.monotonic()

    def tick(self, record: dict[str, t.Any]) -> None:
        self.count += 1
        if self.count % 1000 or time.monotonic() - self.last < PROGRESS_EVERY:
            return
        self.last = time.monotonic()
        reached = record.get(self.key) or "?"
        self.stream.logger.info(
            "%s: %s records, %s/s, reached %s%s",
            self.stream.name, f"{self.count:,}", f"{self.rate():,.0f}", reached,
            self.share(reached),
        )  # fmt: skip

    def rate(self) -> float:
        return self.count / max(time.monotonic() - self.began, 1e-6)

    def share(self, reached: str) -> str:
        if self.start is None or reached == "?":
            return ""
        total = (self.end - self.start).total_seconds()
        done = (parse_datetime(reached) - self.start).total_seconds()
        return f" ({min(max(done / total, 0), 1):.0%} of the range)" if total > 0 else ""

    def done(self) -> None:
        if time.monotonic() - self.began >= PROGRESS_EVERY:
            self.stream.logger.info(
                "%s: done, %s records at %s/s",
                self.stream.name, f"{self.count:,}", f"{self.rate():,.0f}",
            )  # fmt: skip


class WindowedEventsStream(WindowedMixin, EventsStream):
    pass


class WindowedProfilesStream(WindowedMixin, ProfilesStream):
    # Profiles are bound by their tier (M: 150 requests a minute), not by latency: windows of
    # several pages keep nearly every request a full page.
    pages_per_window = 4
