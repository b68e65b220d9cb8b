"""The orjson parse-and-write floor of scenario 1: the least CPU any tap spends per event.

The event pages the tap requests (its page size, includes and fields) are fetched first (not
timed), then timed: one ``orjson.loads`` per page and one ``orjson.dumps`` of a Singer RECORD
line per event. No HTTP, no rows, no state: the least CPU any tap spends per event.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

import orjson

from klaviyo_sandbox.app import DEMO_API_KEY, REVISION
from tap_klaviyo.resources import EVENTS

PAGES = 30  # 30,000 events: a stable figure, a few seconds to fetch
ROUNDS = 3  # the best of a few rounds: the floor, not the noise


def event_pages(base_url: str, pages: int = PAGES) -> list[bytes]:
    """Raw bodies of the first ``pages`` pages of /api/events, following links.next."""
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": REVISION}
    query = {
        **dict(EVENTS.params),
        "page[size]": str(EVENTS.page_size),
        "include": ",".join([*EVENTS.include, *(name for name, _ in EVENTS.optional_includes)]),
    }
    url: str | None = f"{base_url}/api/events?{urllib.parse.urlencode(query)}"
    bodies: list[bytes] = []
    while url and len(bodies) < pages:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            body = answer.read()
        bodies.append(body)
        url = orjson.loads(body).get("links", {}).get("next")
    return bodies


def floor_us_per_event(bodies: list[bytes]) -> float:
    """CPU µs per event to parse the pages and write one RECORD line per event."""
    best = float("inf")
    for _ in range(ROUNDS):
        events = 0
        start = time.process_time()
        for body in bodies:
            for event in orjson.loads(body)["data"]:
                orjson.dumps({"type": "RECORD", "stream": "events", "record": event})
                events += 1
        best = min(best, (time.process_time() - start) / max(events, 1) * 1e6)
    return best
