"""The budget's fairness: requests waiting for one endpoint are granted in the order they
asked, so a stream with many requests never starves another sharing the endpoint.

The limiter is replaced by a gate the test opens one grant at a time, and the test waits on
the bucket's own condition for each request to queue: no sleeps, no timing.
"""

from __future__ import annotations

import threading
import typing as t

from tap_klaviyo.budget import Bucket
from tap_klaviyo.resources import S

GRANTS_PER_STREAM = 6


class GatedLimiter:
    """Grants one request each time the test opens the gate, and records whose it was."""

    def __init__(self) -> None:
        self.gate = threading.Semaphore(0)
        self.granted: list[str] = []

    def try_acquire(self, name: str, blocking: bool = True) -> bool:
        self.gate.acquire()
        self.granted.append(threading.current_thread().name)
        return True


def gated_bucket() -> tuple[Bucket, GatedLimiter]:
    limiter = GatedLimiter()
    return Bucket(S, limiter=t.cast("t.Any", limiter)), limiter


def wait_until(bucket: Bucket, *, waiting: int, granted: int = 0) -> None:
    with bucket.changed:
        assert bucket.changed.wait_for(
            lambda: bucket.waiting == waiting and bucket.granted == granted, timeout=30
        ), f"never {waiting} waiting, {granted} granted ({bucket.waiting}, {bucket.granted})"


def start(name: str, target: t.Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def test_requests_are_granted_in_the_order_they_asked() -> None:
    bucket, limiter = gated_bucket()
    threads = []
    for number, name in enumerate("abcd", start=1):
        threads.append(start(name, bucket.acquire))
        wait_until(bucket, waiting=number)
    for _ in threads:
        limiter.gate.release()
    for thread in threads:
        thread.join(timeout=30)
    assert limiter.granted == ["a", "b", "c", "d"]
    assert bucket.waiting == 0


def test_two_streams_on_one_endpoint_take_turns() -> None:
    """Each stream asks again as soon as it is granted: neither gets two in a row."""
    bucket, limiter = gated_bucket()

    def stream() -> None:
        for _ in range(GRANTS_PER_STREAM):
            bucket.acquire()

    threads = [start("campaigns", stream)]
    wait_until(bucket, waiting=1)
    threads.append(start("campaign_messages", stream))
    wait_until(bucket, waiting=2)
    total = 2 * GRANTS_PER_STREAM
    for grant in range(1, total + 1):
        limiter.gate.release()
        # The granted stream asks again, at the back of the queue (the last ones do not).
        wait_until(bucket, waiting=min(2, total - grant), granted=grant)
    for thread in threads:
        thread.join(timeout=30)
    assert limiter.granted == ["campaigns", "campaign_messages"] * GRANTS_PER_STREAM
