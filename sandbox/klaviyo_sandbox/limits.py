"""Klaviyo's rate limits: fixed burst (1 s), steady (1 min) and daily windows.

Klaviyo counts per account and per endpoint (API digest section 3), so a bucket is
(account, operation, tier): ``GET /api/lists/{id}`` with ``profile_count`` (XS) and
without it (L) are counted apart. A window opens on the first request that lands in
it and closes a fixed duration later, so "two XS requests within one second" is
always throttled no matter where a clock-second boundary falls. Throttled requests
are not counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from klaviyo_sandbox.endpoints import Tier

BURST_SECONDS = 1.0
STEADY_SECONDS = 60.0
DAILY_SECONDS = 86_400.0


@dataclass
class _Window:
    seconds: float
    limit: int
    opened: float = -math.inf
    used: int = 0

    def roll(self, now: float) -> None:
        if now - self.opened >= self.seconds:
            self.opened, self.used = now, 0

    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def reset_in(self, now: float) -> float:
        """Seconds until the window closes, never more than its length.

        ``seconds - elapsed`` rather than ``opened + seconds - now``: the latter rounds
        ``opened + seconds`` first, so on the request that opens the window it can come
        out a hair above ``seconds`` (60.00000000000001 at ``opened = 4.4``), which
        ``ceil`` then turned into a ``RateLimit-Reset`` of 61.
        """
        elapsed = max(now - self.opened, 0.0)
        return min(max(self.seconds - elapsed, 0.0), self.seconds)

    def reset_seconds(self, now: float) -> int:
        """``reset_in`` in whole seconds, rounded up (a client waiting that long is safe)."""
        return math.ceil(self.reset_in(now))


@dataclass(frozen=True)
class Decision:
    """The limiter's answer for one request.

    ``retry_after`` is set (whole seconds, at least 1) when the request is throttled;
    otherwise ``headers`` are the ``RateLimit-*`` headers of the steady window.
    """

    retry_after: int | None
    headers: dict[str, str]

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


class RateLimiter:
    """Fixed windows per (account, operation, tier)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], list[_Window]] = {}

    def hit(self, account: str, operation: str, tier: Tier) -> Decision:
        """Count one request, or refuse it when any of its windows is used up."""
        now = self._clock()
        windows = self._windows(account, operation, tier)
        for window in windows:
            window.roll(now)
        full = [window for window in windows if window.remaining() == 0]
        if full:
            wait = max(window.reset_seconds(now) for window in full)
            return Decision(max(1, wait), {})
        for window in windows:
            window.used += 1
        return Decision(None, _headers(windows[1], now))

    def reset(self) -> None:
        self._buckets.clear()

    def _windows(self, account: str, operation: str, tier: Tier) -> list[_Window]:
        key = (account, operation, tier.name)
        if key not in self._buckets:
            windows = [_Window(BURST_SECONDS, tier.burst), _Window(STEADY_SECONDS, tier.steady)]
            if tier.daily is not None:
                windows.append(_Window(DAILY_SECONDS, tier.daily))
            self._buckets[key] = windows
        return self._buckets[key]


def _headers(steady: _Window, now: float) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(steady.limit),
        "RateLimit-Remaining": str(steady.remaining()),
        "RateLimit-Reset": str(steady.reset_seconds(now)),
    }
