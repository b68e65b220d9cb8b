"""The reports' daily quota: Klaviyo allows an account 225 report requests a day.

The values and series reports all count against it (``resources.REPORTS``), and so do two
runs on one day: the count of requests sent in the current 24-hour window is kept in the
STATE (``report_quota``), opened by the window's first request (Klaviyo's windows are fixed,
API digest section 3) and reset once it has passed. Each run plans its report requests up
front, grants them in the order asked while they fit, and the streams send no more than
granted: what does not fit is deferred, its bookmark kept, so the next run catches up.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from tap_klaviyo import timestamps

STATE_KEY = "report_quota"
WINDOW = dt.timedelta(days=1)


class ReportQuota:
    """The requests left in the current window, shared by the report streams' threads."""

    def __init__(
        self,
        limit: int,
        saved: t.Mapping[str, t.Any] | None,
        now: t.Callable[[], dt.datetime],
        keep: t.Callable[[dict[str, t.Any]], None] = lambda saved: None,
    ) -> None:
        self.limit = limit
        self._now = now
        # Where each spent request is recorded at once (the tap's state): a run that dies
        # midway still hands its count to the next STATE, and so to the next run.
        self._keep = keep
        self._lock = threading.Lock()
        self._granted: dict[str, int] = {}
        self._closed = False
        self.window_start: dt.datetime | None = None
        self.used = 0
        if saved and saved.get("window_start"):
            start = timestamps.parse(str(saved["window_start"]))
            if now() - start < WINDOW:  # the window is still open: its requests count
                self.window_start, self.used = start, int(saved.get("used") or 0)

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def plan(self, needs: t.Mapping[str, int]) -> dict[str, int]:
        """Grant each stream its requests, in the order given, while they fit."""
        with self._lock:
            left = self.remaining
            for name, count in needs.items():
                self._granted[name] = min(count, left)
                left -= self._granted[name]
            return dict(self._granted)

    def spend(self, stream: str) -> bool:
        """Take one of the stream's granted requests; False when none is left. A stream
        synced outside a planned run (singer-sdk's own tests sync streams one by one) takes
        what no plan has granted."""
        with self._lock:
            if self._closed:
                return False
            if stream not in self._granted:
                unplanned = self.remaining - sum(self._granted.values())
                if unplanned <= 0:
                    return False
            elif self._granted[stream] <= 0:
                return False
            else:
                self._granted[stream] -= 1
            self.used += 1
            if self.window_start is None:
                self.window_start = timestamps.floor_second(self._now())
            self._keep(self._saved())
            return True

    def close(self) -> dict[str, t.Any]:
        """Grant nothing more and return the final count: a run that stops writes this in
        its last STATE, so no request can be sent that the STATE does not count."""
        with self._lock:
            self._closed = True
            return self._saved()

    def saved(self) -> dict[str, t.Any]:
        """The quota as the STATE keeps it."""
        with self._lock:
            return self._saved()

    def _saved(self) -> dict[str, t.Any]:
        start = timestamps.to_text(self.window_start) if self.window_start else None
        return {"window_start": start, "used": self.used, "limit": self.limit}

    def describe(self, needs: t.Mapping[str, int], grants: t.Mapping[str, int]) -> str:
        """One line: the plan, what it spends and what remains of the window."""
        planned = ", ".join(f"{name} {grants[name]} of {count}" for name, count in needs.items())
        opened = f"since {timestamps.to_text(self.window_start)}" if self.window_start else "today"
        spent = sum(grants.values())
        return (
            f"Report requests: {self.used} of {self.limit} used {opened}; this run plans "
            f"{spent} ({planned or 'none'}), leaving {self.remaining - spent}"
        )
