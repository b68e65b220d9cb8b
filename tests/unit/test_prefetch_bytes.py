"""``Prefetch`` bounds what it holds in bytes as well as pages (real threads, no sleeps).

- What is in memory stays within ``max_bytes``: the pages waiting, the bodies received and
  each page being made (counted at ``IN_FLIGHT_FACTOR`` times the largest page seen). Small
  pages are held by the many, large ones by the few, the same bytes either way.
- A fetch waiting on the network holds nothing and counts for nothing: many are in flight
  at once, even where the budget has room for a single page being made.
- A page larger than the whole budget still goes through, one at a time.
- The windows' pages weigh their finished lines (``output.lines_bytes``).
"""

from __future__ import annotations

import functools
import threading
import typing as t

import pytest

from tap_klaviyo.output import RecordBlock, lines_bytes
from tap_klaviyo.prefetch import IN_FLIGHT_FACTOR, Prefetch, body_received
from tests.unit.test_prefetch import WAIT, Probe, drain

BUDGET = 100
PAGES = 40


@pytest.mark.parametrize("page_bytes", [5, 10, 20])
def test_pages_held_stay_within_the_byte_budget(page_bytes: int) -> None:
    probe = Probe()
    prefetch = Prefetch(
        [probe.task("a", PAGES, body=page_bytes)],
        max_workers=1,
        max_buffered=64,  # not the bound here: the bytes are
        ordered=False,
        size=lambda page: page_bytes,
        max_bytes=BUDGET,
    )
    # A page is made while the pages waiting plus it (counted at the factor) fit the budget.
    most = (BUDGET - IN_FLIGHT_FACTOR * page_bytes) // page_bytes + 1
    assert len(drain(prefetch, probe, total=PAGES, buffer=most)) == PAGES
    assert probe.max_unconsumed == most
    assert probe.max_unconsumed * page_bytes <= BUDGET


def test_a_page_larger_than_the_budget_still_goes_through() -> None:
    probe = Probe()
    prefetch = Prefetch(
        [probe.task("a", 5, body=3 * BUDGET)],
        max_workers=2,
        max_buffered=8,
        ordered=False,
        size=lambda page: 3 * BUDGET,
        max_bytes=BUDGET,
    )
    assert len(drain(prefetch, probe, total=5, buffer=1)) == 5


def test_fetches_waiting_on_the_network_count_for_nothing() -> None:
    network, held = threading.Event(), Probe()
    fetches = 4
    page_bytes = BUDGET // IN_FLIGHT_FACTOR  # the budget holds one page being made

    def task(name: str) -> t.Iterator[str]:
        body_received(page_bytes)
        yield f"{name}0"  # the largest page is known from here on
        with held.changed:
            held.running += 1  # this task's second request is on the network
            held.changed.notify_all()
        assert network.wait(WAIT), "the network never answered"
        body_received(page_bytes)
        yield f"{name}1"

    prefetch = Prefetch(
        [functools.partial(task, name) for name in "abcd"],
        max_workers=fetches,
        max_buffered=64,
        ordered=False,
        size=lambda page: page_bytes,
        max_bytes=BUDGET,
    )
    pages = iter(prefetch)
    first = [next(pages) for _ in range(fetches)]
    # Every second request is sent, though a page being made would fill the budget.
    held.wait_for(lambda: held.running == fetches, "every fetch in flight at once")
    network.set()
    assert sorted(first + list(pages)) == sorted(f"{n}{p}" for n in "abcd" for p in "01")


def test_window_pages_weigh_their_finished_lines() -> None:
    block = RecordBlock(b'{"a":1}\n{"a":2}\n', 2)
    lines = memoryview(b'{"a":1}\n{"a":22}\n')
    assert lines_bytes([block]) == 16
    assert lines_bytes([lines[:8], lines[8:]]) == 17
    assert lines_bytes([{"a": 1}]) == 0  # rows the SDK will write: not yet bytes
    assert lines_bytes(None) == 0
