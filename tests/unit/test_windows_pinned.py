"""How far a windowed read's bookmark may go (``Frontier``) and how wide its windows are
(``Density``), pinned: each test kills mutants of ``tap_klaviyo/streams/windows.py`` that the
suite let live (tests/MUTANTS.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_klaviyo.streams.windows import MIN_WINDOW, Density, Frontier

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
CAP = T0 + dt.timedelta(days=4)  # the sync's start


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def seconds(span: dt.timedelta) -> float:
    return span.total_seconds()


# --- Density: records per second of the range, learned as windows are read ------------------


def test_a_first_page_of_under_a_second_counts_as_one_second() -> None:
    assert seconds(Density(1, 0.5).span_for(120)) == pytest.approx(120)


def test_each_window_read_adds_its_records_and_seconds() -> None:
    density = Density(100, 100)
    density.add(100, 300)  # 200 records over 400 seconds
    assert seconds(density.span_for(60)) == pytest.approx(120)


def test_a_window_of_under_a_second_adds_one_second() -> None:
    density = Density(100, 100)
    density.add(0, 0.5)
    assert seconds(density.span_for(1010)) == pytest.approx(1010 * 101 / 100)


def test_a_window_is_never_narrower_than_a_minute() -> None:
    assert Density(10_000, 1).span_for(1) == MIN_WINDOW


# --- Frontier: the bookmark follows the first unfinished window -------------------------------


def three_windows() -> Frontier:
    frontier = Frontier(CAP)
    for window in ((at(0), at(10)), (at(10), at(20)), (at(20), None)):
        frontier.open(window)
    return frontier


def test_nothing_written_is_no_bookmark() -> None:
    frontier = three_windows()
    frontier.written(0, [])
    assert frontier.bookmark is None


def test_the_bookmark_is_the_last_value_written_of_the_first_open_window() -> None:
    frontier = three_windows()
    frontier.written(0, [at(1), at(2), at(3)])
    assert frontier.bookmark == at(3)


def test_a_value_at_the_sync_start_may_be_the_bookmark() -> None:
    frontier = Frontier(CAP)
    frontier.open((CAP - dt.timedelta(hours=1), CAP))
    frontier.written(0, [CAP])
    frontier.close(0)
    assert frontier.bookmark == CAP


def test_closing_the_first_window_moves_the_bookmark_to_the_next_ones_start_only() -> None:
    frontier = three_windows()
    frontier.written(0, [at(1)])
    frontier.written(2, [at(25)])  # a later window finished first: not covered yet
    frontier.close(2)
    assert frontier.bookmark == at(1)
    frontier.close(0)
    assert frontier.bookmark == at(10)  # window 1 is not read: its start, not window 2's
    frontier.close(1)
    assert frontier.bookmark == at(25)  # every window done: the highest value written


def test_the_bookmark_stays_at_the_highest_value_written_before_the_sync_start() -> None:
    frontier = three_windows()
    frontier.written(0, [at(1), CAP + dt.timedelta(days=3)])  # a future-dated record
    for index in range(3):
        frontier.close(index)
    assert frontier.bookmark == at(1)
