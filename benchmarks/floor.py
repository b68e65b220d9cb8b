"""The orjson parse-and-write floor of scenario 1: the least CPU any tap spends per event.

The same event pages the sandbox serves are fetched first (not timed), then timed: one
``orjson.loads`` per page and one ``orjson.dumps`` of a Singer RECORD line per event.
"""

from __future__ import annotations

import time
import urllib.request

import orjson

from klaviyo_sandbox.app import DEMO_API_KEY, REVISION

PAGES = 200  # enough pages for a stable figure, few enough to fetch in seconds
ROUNDS = 3  # the best of a few rounds: the floor, not the noise


def event_pages(base_url: str, pages: int = PAGES) -> list[bytes]:
    """Raw bodies of the first ``pages`` pages of /api/events, following links.next."""
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": REVISION}
    url: str | None = f"{base_url}/api/events"
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
