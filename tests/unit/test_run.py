"""What a run shares with its streams (``tap_klaviyo.run``): each parent stream listed once
for all its children, and the listings of different parents at once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from tap_klaviyo.run import ParentListings

WAIT = 30.0  # seconds: only ever reached when the behaviour under test is broken


def test_the_listings_of_two_parents_run_at_once() -> None:
    """A slow listing of lists does not hold back the segments' (their budgets are apart)."""
    lists_started, lists_may_end, segments_listed = (threading.Event() for _ in range(3))

    def read(name: str) -> list[dict[str, Any]]:
        if name == "lists":
            lists_started.set()
            assert lists_may_end.wait(WAIT)
        return [{"id": f"{name}-1"}]

    listings = ParentListings(read)
    lists = threading.Thread(target=listings.get, args=("lists",))
    lists.start()
    assert lists_started.wait(WAIT)

    def list_segments() -> None:
        listings.get("segments")
        segments_listed.set()

    segments = threading.Thread(target=list_segments)
    segments.start()
    assert segments_listed.wait(WAIT), "the segments' listing waited for the lists'"
    lists_may_end.set()
    lists.join(WAIT)
    segments.join(WAIT)
    assert listings.get("lists") == [{"id": "lists-1"}]
    assert listings.get("segments") == [{"id": "segments-1"}]


def test_a_parent_is_listed_once_for_all_its_children() -> None:
    calls: Counter[str] = Counter()
    first_started, first_may_end = threading.Event(), threading.Event()

    def read(name: str) -> list[dict[str, Any]]:
        calls[name] += 1
        first_started.set()
        assert first_may_end.wait(WAIT)
        return [{"id": "L1"}, {"id": "L2"}]

    listings = ParentListings(read)
    results: list[list[dict[str, Any]]] = []
    children = [
        threading.Thread(target=lambda: results.append(listings.get("lists"))) for _ in range(4)
    ]
    children[0].start()
    assert first_started.wait(WAIT)
    for child in children[1:]:  # they wait for the first one's listing
        child.start()
    first_may_end.set()
    for child in children:
        child.join(WAIT)
    assert calls == {"lists": 1}
    assert results == [[{"id": "L1"}, {"id": "L2"}]] * 4
