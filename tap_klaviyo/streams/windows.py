"""Events and profiles: the time range is cut into windows, fetched in parallel.

Klaviyo serves one cursor at a time per query, so a single query is as slow as its latency.
Cutting [bookmark, sync start) into windows gives many independent cursors: workers fetch
them concurrently (inside each endpoint's rate-limit budget) and their pages are written as
soon as they arrive, so no worker waits behind a slow window. The bookmark follows the
``Frontier``: the point before which every window has been written, so it only ever covers
what was emitted, and a run killed at any moment resumes without a gap.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from tap_klaviyo import late_events, timestamps
from tap_klaviyo.output import RecordBlock, lines_bytes
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.records import Page
from tap_klaviyo.request_plan import ONE_SECOND, Context
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.first_row import first_row
from tap_klaviyo.streams.window_blocks import window_block

Window = tuple[dt.datetime, dt.datetime | None]


class WindowPage(t.NamedTuple):
    """One page of a window, ready to write; ``records`` None says the window is done."""

    window: int
    records: list[dict[str, t.Any]] | list[memoryview] | list[RecordBlock] | None = None
    keys: t.Sequence[dt.datetime] = ()  # the records' replication-key values, in page order


MIN_WINDOW = dt.timedelta(minutes=1)
WINDOWS_PER_CURSOR = 8  # at least this many windows per parallel cursor over the range


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


class Frontier:
    """How far a bookmark may go while windows finish out of order.

    Windows are opened in time order and each one's pages are written in order. Everything
    before the first unfinished window is written, and so is that window up to the last
    value written from it: that is the frontier. A bookmark there re-reads that second's ties
    on resume (the lower bound is inclusive) and skips nothing. It is also kept at or below
    the highest value written at or before ``cap`` (the sync's start), as a sequential read's
    bookmark would be: an empty stretch before the sync's start is read again next time.
    """

    def __init__(self, cap: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._cap = cap
        self._windows: list[Window] = []
        self._reached: dict[int, dt.datetime] = {}  # open window -> its last value written
        self._done: set[int] = set()
        self._head = 0  # the first window not done
        self._highest: dt.datetime | None = None

    def open(self, window: Window) -> int:
        with self._lock:
            self._windows.append(window)
            return len(self._windows) - 1

    def written(self, index: int, values: t.Sequence[dt.datetime]) -> None:
        """The values of one page of ``index`` (ascending to the second), now written.

        Within a second, records may come in any order of their fractions: the bookmark is
        resumed from its whole second, which reads that second again.
        """
        if not values:
            return
        below_cap = max((v for v in values if v <= self._cap), default=None)
        with self._lock:
            self._reached[index] = values[-1]
            if below_cap is not None and (self._highest is None or below_cap > self._highest):
                self._highest = below_cap

    def close(self, index: int) -> None:
        with self._lock:
            self._done.add(index)
            self._reached.pop(index, None)
            while self._head in self._done:
                self._done.discard(self._head)
                self._head += 1

    @property
    def bookmark(self) -> dt.datetime | None:
        """The replication-key value a STATE may hold now; None until something is written."""
        with self._lock:
            if self._highest is None:
                return None
            if self._head < len(self._windows):
                frontier = self._reached.get(self._head) or self._windows[self._head][0]
            else:
                end = self._windows[-1][1] if self._windows else None
                frontier = end or timestamps.NEVER
            return min(frontier, self._highest)


class WindowedStream(KlaviyoStream):
    """Parallel windows for a stream sorted on a timestamp filter field.

    Each window is one cursor read page after page; its last page is seldom full, so windows
    of several pages (the table's ``pages_per_window``) keep nearly every request a full
    page, while enough windows stay open to keep every worker busy.
    """

    _range: tuple[dt.datetime | None, Frontier]  # the read's start and progress, for its log
    _floor: dt.datetime | None = None  # the bookmark the read started from

    def read(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        frontier = Frontier(self.sync_started)
        start = self.lower_bound(context)
        self._range = (start, frontier)
        # A lookback starts the read before the bookmark: the bookmark never goes back there.
        self._floor = self.get_starting_timestamp(context)
        # Planned before the read moves the bookmark it starts from on a first run.
        again = self.resource.late_arrivals and self.settings.end_date is None
        span = self.second_read_span() if again else None
        tasks = self.window_tasks(context, frontier, start, self.upper_bound())
        for reached in self.read_windows(tasks, frontier):
            yield from reached  # type: ignore[misc]  # RECORD lines, written as they are
            self.advance_bookmark(frontier.bookmark, context)
        if again:
            yield from self.read_again(context, span)

    def read_windows(
        self, tasks: t.Iterable[t.Callable[[], t.Iterator[WindowPage]]], frontier: Frontier
    ) -> t.Iterator[list[dict[str, t.Any]] | list[memoryview] | list[RecordBlock]]:
        """The windows' pages as they come, each followed (once written) by its frontier's
        progress: the caller reads ``frontier.bookmark`` after each page."""
        pages: Prefetch[WindowPage] = Prefetch(
            tasks,
            max_workers=self.plan.workers,
            max_buffered=self.settings.max_buffered_pages,
            ordered=False,
            size=lambda page: lines_bytes(page.records),
        )
        for page in pages:
            if page.records is None:
                frontier.close(page.window)
                yield []
            else:
                # The SDK writes each record before it asks for the next one.
                yield page.records
                frontier.written(page.window, page.keys)

    def second_read_span(self) -> tuple[dt.datetime, dt.datetime] | None:
        settings = self.settings
        return late_events.second_read(
            self.stream_state, self.sync_started, settings.late_events_days, settings.start_date
        )

    def read_again(
        self, context: Context | None, span: tuple[dt.datetime, dt.datetime] | None
    ) -> t.Iterator[dict[str, t.Any]]:
        """The second read of ``span``, the range now ``late_events_days`` old (see
        ``tap_klaviyo.late_events``), from where the last one stopped; its point moves in
        the state as its windows are written, the bookmark never does."""
        bookmarks = self.stream_state
        if span is not None:
            start, end = span
            frontier = Frontier(end)
            emitted = self.log_book.records
            for reached in self.read_windows(
                self.window_tasks(context, frontier, start, end), frontier
            ):
                yield from reached  # type: ignore[misc]
                if (point := frontier.bookmark) is not None and late_events.advance(
                    bookmarks, point
                ):
                    self.mark_state_unflushed()
            self.logger.info(
                "Stream '%s': second read of %s to %s (events up to %d days late): %s "
                "records.",
                self.name, timestamps.to_text(start), timestamps.to_text(end),
                self.settings.late_events_days, f"{self.log_book.records - emitted:,}",
            )  # fmt: skip
        end = self.sync_started - self.settings.late_events_days * late_events.DAY
        if self.settings.late_events_days > 0 and late_events.advance(bookmarks, end):
            self.mark_state_unflushed()

    def progress_detail(self) -> str:
        """How far the windows are written, as a time range (records are not spread evenly
        over it, so it says nothing of the records left)."""
        start, frontier = self._range
        reached = frontier.bookmark
        if reached is None:
            return ""
        text = f"time range written up to {timestamps.to_text(reached)}"
        total = (self.sync_started - start).total_seconds() if start else 0
        if start and total > 0:
            done = min(max((reached - start).total_seconds() / total, 0), 1)
            text += f" ({done:.0%} of the time range since {timestamps.to_text(start)})"
        return text

    def on_record_for_state(
        self, record: dict[str, t.Any] | RecordBlock, context: Context | None
    ) -> None:
        """Windows finish out of order: the bookmark follows the frontier, not each record."""

    def advance_bookmark(self, value: dt.datetime | None, context: Context | None) -> None:
        if value is not None and (self._floor is None or value > self._floor):
            key = self.resource.replication_key or ""
            super().on_record_for_state({key: timestamps.to_text(value)}, context)

    def window_tasks(
        self,
        context: Context | None,
        frontier: Frontier,
        start: dt.datetime | None,
        stop: dt.datetime | None,
    ) -> t.Iterator[t.Callable[[], t.Iterator[WindowPage]]]:
        """Tasks for [start, sync start) in adaptive windows (to ``stop`` if it is earlier),
        then the future-dated tail when there is no ``stop``."""
        now = self.sync_started if stop is None else min(stop, self.sync_started)
        if start is None:
            start = self.earliest_record(context)
            if start is None:
                return  # the account has none
        if start >= now:  # a start_date in the future: only what is dated from it on
            if stop is None or stop > start:
                yield self.window_task(context, frontier, (start, stop), None)
            return
        first = next(self.pages(context, start, now))
        rows = first.objects(self.resource.emits)
        if not rows and first.next_url:
            # An empty page that still links onward says nothing about density: read the
            # range as one window, following every link.
            yield self.window_task(context, frontier, (start, now), None)
            after = None
        else:
            first_window, after = self.trim_first_page(first, start, now)
            # Density over the span the first page's records cover, not from ``start``: a
            # start_date years before the account's first event would make it look sparse.
            first_seconds = (after - self.row_time(rows[0], first)).total_seconds() if after else 0
            yield self.fixed_task(frontier, first, first_window)
        if after is not None:
            density = Density(len(rows), first_seconds)
            del first, rows  # not held for the whole read
            records_per_window = int(self.resource.pages_per_window * self.page_size)
            # However dense the data turns out to be, the range is cut into enough windows to
            # keep every cursor busy: the first page may come from a sparse start.
            widest = (now - after) / (WINDOWS_PER_CURSOR * self.plan.workers)
            while after < now:
                span = max(min(density.span_for(records_per_window), widest), ONE_SECOND)
                end = min(timestamps.floor_second(after + span), now)
                yield self.window_task(context, frontier, (after, end), density)
                after = end
        if stop is None or stop > now:
            yield self.window_task(context, frontier, (now, stop), None)

    def trim_first_page(
        self, first: Page, start: dt.datetime, now: dt.datetime
    ) -> tuple[Window, dt.datetime | None]:
        """The first page covers [start, t) exactly, t being its last record's second, once
        the rows at t are left to the next window (a second's ties may go on past the page)."""
        rows = first.objects(self.resource.emits)
        if not first.next_url or not rows:
            return (start, now), None
        boundary = timestamps.floor_second(self.row_time(rows[-1], first))
        return (start, boundary), boundary

    def row_time(self, row: dict[str, t.Any], page: Page) -> dt.datetime:
        return timestamps.parse(
            self.shaper.shape_of(page)(row, page)[self.resource.replication_key or ""]
        )

    def fixed_task(
        self, frontier: Frontier, first: Page, window: Window
    ) -> t.Callable[[], t.Iterator[WindowPage]]:
        page = self.window_page(frontier.open(window), first, window)
        return lambda: iter([page, WindowPage(page.window)])

    def window_task(
        self,
        context: Context | None,
        frontier: Frontier,
        window: Window,
        density: Density | None,
    ) -> t.Callable[[], t.Iterator[WindowPage]]:
        index = frontier.open(window)  # here, in time order, before any worker starts it
        start, end = window

        def task() -> t.Iterator[WindowPage]:
            records = 0
            for page in self.pages(context, start, end):
                records += len(page.objects(self.resource.emits))
                finished = [self.window_page(index, page, window)]
                del page  # only the finished lines wait in the buffer
                yield finished.pop()  # not kept here while the next page is fetched
            if density is not None and end is not None:
                density.add(records, (end - start).total_seconds())
            yield WindowPage(index)

        return task

    def window_page(self, index: int, page: Page, window: Window) -> WindowPage:
        """A page as finished RECORD lines, built on the worker: the buffer holds bytes, far
        smaller than the page's objects, and the writer only copies them."""
        if (typed := window_block(self, page, window)) is not None:
            block, moments = typed
            return WindowPage(index, [block], moments)
        keys: list[dt.datetime] = []  # a window always has a start: every value is parsed
        records = self.rows(page, *window, moments=keys)
        return WindowPage(index, self.record_lines(records), keys)

    def earliest_record(self, context: Context | None) -> dt.datetime | None:
        """Where the data begins, when neither a bookmark nor start_date says (one request)."""
        params = self.plan.params(context, None, None)
        found = first_row(
            self.client,
            self.resource.path,
            params,
            tier=self.plan.tier,
            stream=self.name,
            emits=self.resource.emits,
        )
        return self.row_time(*found) if found else None

    @property
    def page_size(self) -> int:
        return self.resource.page_size or 100
