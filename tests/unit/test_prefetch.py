"""The concurrency under every parallel read: ``Prefetch`` (real threads) and ``Frontier``.

- Ordered: pages come in task order however the tasks finish; the head is never starved.
- Unordered: a slow task does not hold back the others' pages.
- Both: at most ``max_workers`` tasks run at once, at most ``max_buffered`` pages are fetched
  or waiting (plus the head's, when ordered), a task's error reaches the consumer, and a
  consumer that stops early stops the workers.
- Frontier (hypothesis): whatever order windows' pages are written and windows finish in,
  the bookmark never passes a value not yet written, and at the end it is the highest value
  written at or before the cap, as a sequential read's would be.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo.prefetch import Prefetch, body_received
from tap_klaviyo.streams.windows import Frontier

WAIT = 10.0  # seconds: a generous bound on any event in these tests, never reached when right


class Probe:
    """Counts what the tasks are doing right now, and the most they ever did at once.

    Nothing here sleeps: a test that needs a state (the buffer full, two tasks running at
    once) waits for it on ``changed``, which every count change notifies."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.running = self.max_running = 0
        self.unconsumed = self.max_unconsumed = 0
        self.fetched = 0

    def task(
        self,
        name: str,
        pages: int,
        gate: threading.Event | None = None,
        together: threading.Barrier | None = None,
        body: int | None = None,
    ) -> t.Callable[[], t.Iterator[str]]:
        """A task of ``pages`` pages; it waits for ``gate`` before its first request, and
        with the other tasks of ``together`` (all running at once) before its first page.
        With ``body``, each page's response body weighs that much (as the client says it)."""

        def run() -> t.Iterator[str]:
            with self.changed:
                self.running += 1
                self.max_running = max(self.max_running, self.running)
                self.changed.notify_all()
            try:
                if gate is not None:
                    assert gate.wait(WAIT), "the gate was never opened"
                if together is not None:
                    together.wait(WAIT)  # broken (an error) if they never all run at once
                for page in range(pages):
                    if body is not None:
                        body_received(body)
                    with self.changed:
                        self.fetched += 1
                        self.unconsumed += 1
                        self.max_unconsumed = max(self.max_unconsumed, self.unconsumed)
                        self.changed.notify_all()
                    yield f"{name}{page}"
            finally:
                with self.changed:
                    self.running -= 1
                    self.changed.notify_all()

        return run

    def consumed(self) -> None:
        with self.changed:
            self.unconsumed -= 1

    def wait_for(self, predicate: t.Callable[[], bool], what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, WAIT), f"never happened: {what}"


def drain(prefetch: Prefetch[str], probe: Probe, total: int, buffer: int) -> list[str]:
    """Read every page as a slow consumer would: each only once the workers have filled the
    buffer (or fetched everything), so the bound on what they hold is tested at its limit."""
    pages = []
    for page in prefetch:  # the first ``next`` starts the workers
        probe.consumed()
        pages.append(page)
        probe.wait_for(
            lambda: probe.unconsumed >= buffer or probe.fetched == total, "a full buffer"
        )
    return pages


def test_ordered_pages_come_in_task_order_whatever_is_fetched_first() -> None:
    probe, gate = Probe(), threading.Event()
    tasks = [probe.task("a", 3, gate)] + [probe.task(name, 3) for name in "bcdef"]
    prefetch = Prefetch(tasks, max_workers=3, max_buffered=4)

    def open_the_gate() -> None:
        # The head is the slowest task: it answers only once the rest of the buffer (the
        # slot it holds aside) is full of later tasks' pages.
        probe.wait_for(lambda: probe.fetched >= 3, "later pages")
        gate.set()

    opener = threading.Thread(target=open_the_gate)
    opener.start()
    pages = drain(prefetch, probe, total=18, buffer=4)
    opener.join(WAIT)
    assert pages == [f"{name}{page}" for name in "abcdef" for page in range(3)]
    assert probe.max_running <= 3
    assert probe.max_unconsumed <= 4 + 1  # the buffer, plus the head's page in hand


def test_unordered_pages_do_not_wait_for_a_slow_task() -> None:
    probe, gate = Probe(), threading.Event()
    tasks = [probe.task("a", 2, gate), probe.task("b", 5), probe.task("c", 5)]
    seen: list[str] = []
    for page in Prefetch(tasks, max_workers=3, max_buffered=3, ordered=False):
        probe.consumed()
        seen.append(page)
        if len(seen) == 10:
            gate.set()  # "a" answers only once all of "b" and "c" were read
    assert sorted(seen) == sorted(
        [f"a{i}" for i in range(2)] + [f"{n}{i}" for n in "bc" for i in range(5)]
    )
    assert seen[-2:] == ["a0", "a1"]
    assert probe.max_unconsumed <= 3


@pytest.mark.parametrize("ordered", [True, False])
def test_a_slow_consumer_holds_back_the_head_too(ordered: bool) -> None:
    probe = Probe()
    prefetch = Prefetch([probe.task("a", 30)], max_workers=2, max_buffered=2, ordered=ordered)
    # The target is slower than the API (drain reads only a full buffer): no hoarding.
    assert len(drain(prefetch, probe, total=30, buffer=2)) == 30
    assert probe.fetched == 30
    assert probe.max_unconsumed <= 2 + (1 if ordered else 0)


@pytest.mark.parametrize("ordered", [True, False])
def test_workers_and_buffer_stay_bounded(ordered: bool) -> None:
    probe = Probe()
    # The first four tasks meet before their first page: four workers did run at once.
    together = threading.Barrier(4)
    tasks = [probe.task(f"t{n}-", 4, together=together if n < 4 else None) for n in range(40)]
    prefetch = Prefetch(tasks, max_workers=4, max_buffered=6, ordered=ordered)
    pages = drain(prefetch, probe, total=160, buffer=6)
    assert len(pages) == len(set(pages)) == 160
    assert not together.broken
    assert probe.max_running == 4
    assert probe.max_unconsumed <= 6 + (1 if ordered else 0)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_task_error_reaches_the_consumer(ordered: bool) -> None:
    def failing() -> t.Iterator[str]:
        yield "x0"
        raise ConnectionError("the API went away")

    tasks = [Probe().task("a", 2), failing, Probe().task("c", 2)]
    prefetch = Prefetch(tasks, max_workers=2, max_buffered=4, ordered=ordered)
    with pytest.raises(ConnectionError, match="went away"):
        list(prefetch)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_task_that_fails_as_it_starts_ends_the_read_with_its_error(ordered: bool) -> None:
    def refused() -> t.Iterator[str]:
        raise ConnectionError("refused before its first page")

    tasks = [Probe().task("a", 2), refused, Probe().task("c", 2)]
    prefetch = Prefetch(tasks, max_workers=2, max_buffered=4, ordered=ordered)
    with pytest.raises(ConnectionError, match="refused"):
        list(prefetch)


def fetch_workers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "klaviyo-fetch"}


@pytest.mark.parametrize("ordered", [True, False])
def test_a_consumer_that_stops_early_stops_the_workers(ordered: bool) -> None:
    probe = Probe()
    earlier = fetch_workers()  # other tests' workers, if any, are not this test's business
    tasks = [probe.task(f"t{n}-", 50) for n in range(8)]
    for count, _ in enumerate(Prefetch(tasks, max_workers=4, max_buffered=4, ordered=ordered)):
        probe.consumed()
        if count == 5:
            break
    # Every worker thread ends (a worker may start another before it sees the close: join
    # until none is left). Once they all have, nothing can fetch again: the count is final.
    while workers := fetch_workers() - earlier:
        for worker in workers:
            worker.join(WAIT)
            assert not worker.is_alive(), "a worker went on after the consumer stopped"
        earlier |= workers
    assert probe.running == 0
    assert probe.fetched <= 6 + 4 + 1, "workers went on fetching after the close"


# -- Frontier ----------------------------------------------------------------------------------

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def stamp(second: int) -> dt.datetime:
    return BASE + dt.timedelta(seconds=second)


@st.composite
def windowed_reads(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[list[list[int]]], list]:
    """Contiguous windows, each with ascending pages of values inside it, and an order of
    events (write a window's next page, or close a window once all its pages are written)."""
    cuts = sorted(draw(st.sets(st.integers(1, 500), min_size=1, max_size=6)))
    bounds = list(zip([0, *cuts], [*cuts, 600], strict=True))
    pages = []
    for low, high in bounds:
        values = sorted(draw(st.lists(st.integers(low, high - 1), max_size=12)))
        size = draw(st.integers(1, 4))
        pages.append([values[i : i + size] for i in range(0, len(values), size)])
    steps: list[tuple[int, int | None]] = [
        (w, p) for w, window_pages in enumerate(pages) for p in range(len(window_pages))
    ]
    steps += [(w, None) for w in range(len(pages))]
    order = draw(st.permutations(steps))
    # Each window's own steps in order: its pages one after another, then its close.
    by_window: dict[int, list] = {w: [] for w in range(len(pages))}
    for w, p in steps:
        by_window[w].append((w, p))
    schedule = [by_window[w].pop(0) for w, _ in order]
    return bounds, pages, schedule


@settings(max_examples=300, deadline=None)
@given(windowed_reads(), st.integers(0, 650))
def test_the_frontier_never_passes_an_unwritten_value(read: tuple, cap_second: int) -> None:
    bounds, pages, schedule = read
    cap = stamp(cap_second)
    frontier = Frontier(cap)
    for low, high in bounds:
        frontier.open((BASE + dt.timedelta(seconds=low), BASE + dt.timedelta(seconds=high)))
    unwritten = {
        (w, v) for w, window_pages in enumerate(pages) for page in window_pages for v in page
    }
    written: list[dt.datetime] = []
    for window, page in schedule:
        if page is None:
            frontier.close(window)
        else:
            values = pages[window][page]
            frontier.written(window, [stamp(v) for v in values])
            unwritten -= {(window, v) for v in values}
            written += [stamp(v) for v in values]
        bookmark = frontier.bookmark
        if bookmark is None:
            assert not [v for v in written if v <= cap]
            continue
        # A resume reads values >= bookmark: nothing unwritten may lie below it.
        assert all(stamp(v) >= bookmark for _, v in unwritten)
        assert bookmark <= cap
    final = [v for v in written if v <= cap]
    assert frontier.bookmark == (max(final) if final else None)
