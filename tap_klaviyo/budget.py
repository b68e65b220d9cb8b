"""The client-side rate-limit budget: one limiter per endpoint and tier, shared by all threads.

Klaviyo counts requests per account, per endpoint, in a 1-second (burst) and a 1-minute
(steady) window, some endpoints also per day. Staying inside those windows on our side means
the API never has to throttle us; when it does anyway (another client on the same account),
``Retry-After`` pauses the whole bucket, not just the request that saw it. Streams sharing an
endpoint (campaigns, campaigns_detailed and campaign_messages) share its bucket fairly: its
requests are granted in the order they asked.
"""

from __future__ import annotations

import collections
import threading
import time

from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

from tap_klaviyo.resources import Tier

BURST_WINDOW_MS = 2000


class Bucket:
    """The budget of one endpoint at one tier."""

    def __init__(self, tier: Tier, limiter: Limiter | None = None) -> None:
        # 2% short of the steady rate: our window slides, Klaviyo's is fixed, and a request
        # counted at the end of our minute can land in the start of its next one. A steady
        # 429 costs up to a minute's pause; the margin costs 2%.
        steady = tier.steady - tier.steady // 50
        # The burst counted over 2 s, not 1 (the steady rate binds anyway): with streams
        # running at once, a request may wait for the interpreter between its budget and
        # the wire, and share Klaviyo's second with the next one.
        rates = [Rate(tier.burst, BURST_WINDOW_MS), Rate(steady, Duration.MINUTE)]
        if tier.daily:
            rates.append(Rate(tier.daily, Duration.DAY))
        self.tier = tier
        self._limiter = limiter or Limiter(InMemoryBucket(rates))
        self._paused_until = 0.0
        # The requests waiting for this bucket, first come first served: only the first
        # waits on the limiter, so no stream's requests overtake another's.
        self._queue: collections.deque[threading.Event] = collections.deque()
        self.changed = threading.Condition()
        self.granted = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for (or being granted) this bucket."""
        return len(self._queue)

    def acquire(self) -> None:
        """Block until one request may be sent, after every request that asked before."""
        turn = threading.Event()
        with self.changed:
            self._queue.append(turn)
            if len(self._queue) == 1:
                turn.set()
            self.changed.notify_all()
        turn.wait()
        try:
            while (wait := self._paused_until - time.monotonic()) > 0:
                time.sleep(wait)
            self._limiter.try_acquire(self.tier.name, blocking=True)
        finally:
            with self.changed:
                self._queue.popleft()
                self.granted += 1
                if self._queue:
                    self._queue[0].set()
                self.changed.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every request of this bucket for ``seconds`` (Retry-After, exhausted window)."""
        with self.changed:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class Budget:
    """All buckets of one account, keyed by endpoint and tier."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, endpoint: str, tier: Tier) -> Bucket:
        key = (endpoint, tier.name)
        with self._lock:
            if key not in self._buckets:
                self._buckets[key] = Bucket(tier)
            return self._buckets[key]

    def acquire(self, endpoint: str, tier: Tier) -> Bucket:
        bucket = self.bucket(endpoint, tier)
        if self.enabled:
            bucket.acquire()
        return bucket
