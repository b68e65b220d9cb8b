"""What the tap says on stderr at the default level: a few lines per stream (its start, a
progress line every few seconds of a long read, its end with counts), the warnings that
need the user, and none of singer-sdk's per-partition or per-interval chatter.

``LOGLEVEL=DEBUG`` (or ``TAP_KLAVIYO_LOGLEVEL``) shows everything, the SDK's lines included.
A ``SINGER_SDK_LOG_CONFIG`` file (Meltano always writes one, for its structured logs) keeps
its handlers and format; the chatter is filtered there too.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from collections import Counter

PROGRESS_EVERY = 10.0  # seconds between progress lines of one stream

# singer-sdk's lines that say nothing a user acts on, once per partition or interval: a
# sync of a small account wrote 160 "Starting incremental sync", 42 METRIC, 18 "Skipping
# deselected" and 12 "assumed to be unsorted" lines (untrue here: an unsorted pass is
# bookmarked at its end, and resumes from the last). The "unhandled error" line preceded
# every error the tap reports itself, in one line. The tap's own end-of-stream line gives
# the record counts the METRIC lines gave.
SDK_CHATTER = frozenset(
    {
        "Starting incremental sync of '%s' with bookmark value: %s",
        "Stream is assumed to be unsorted, progress is not resumable if interrupted",
        "Skipping parse of env var settings...",
        "An unhandled error occurred while syncing '%s'",
        "METRIC: %s",
        "Beginning sync of '%s' in %s mode",
        "Beginning sync of '%s' in %s mode with context keys: %s",
        "Skipping deselected stream '%s'.",
    }
)


class QuietSDK(logging.Filter):
    """Drops singer-sdk's chatter unless the log is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in SDK_CHATTER or logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_sdk() -> None:
    """Install ``QuietSDK`` on every handler of the root logger (once)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, QuietSDK) for f in handler.filters):
            handler.addFilter(QuietSDK())


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 record``, ``3,969 records``: a count as an integer, the noun agreeing with it."""
    count = int(count)
    return f"{count:,} {word if count == 1 else words or word + 's'}"


class StreamLog:
    """One stream's lines: start, progress at most every ``PROGRESS_EVERY`` seconds, end;
    and what the run's summary says of it (records, time, and how it ended).

    ``clock`` is injectable so tests need no sleeps.
    """

    def __init__(
        self,
        logger: logging.Logger,
        name: str,
        *,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.name, self.clock = logger, name, clock
        self.records = 0
        self.began = self.last = clock()
        self.started = False  # the start line was written
        self.ended: float | None = None
        self.skipped = ""  # why the stream was skipped (a missing scope...), or ""
        self.outcome = ""  # "failed: ...", "stopped: ..." when the sync did not end well
        self.deletes_marked = False  # an ACTIVATE_VERSION was sent
        self._left_out: Counter[tuple[str, str]] = Counter()  # (noun, why) -> count
        self._lock = threading.Lock()

    def start(self, how: str) -> None:
        self.records = 0
        self.began = self.last = self.clock()
        self.started = True
        self.logger.info("%s: %s", self.name, how)

    def add(self, records: int, detail: t.Callable[[], str]) -> float:
        """Count ``records``; log a progress line if the last one is old enough. Returns the
        clock's reading."""
        self.records += records
        now = self.clock()
        if now - self.last < PROGRESS_EVERY:
            return now
        self.last = now
        extra = detail()
        self.logger.info(
            "%s: %s, %s/s%s",
            self.name, plural(self.records, "record"), f"{self.rate(now):,.0f}",
            f"; {extra}" if extra else "",
        )  # fmt: skip
        return now

    def skip(self, reason: str) -> None:
        self.skipped = self.skipped or reason

    def leave_out(self, counts: Counter[tuple[str, str]]) -> None:
        """Count records Klaviyo sent that are not emitted, by (noun, why)."""
        if counts:
            with self._lock:  # windows are read on several threads
                self._left_out.update(counts)

    def left_out(self) -> str:
        """What Klaviyo sent that was not emitted, and why, for the end line."""
        with self._lock:
            text = "; ".join(
                f"{plural(count, noun)} {why}"
                for (noun, why), count in sorted(self._left_out.items())
            )
            self._left_out.clear()
        return f"not emitted: {text}" if text else ""

    def end(self, versions: str = "") -> None:
        """The end line: counts, what was not emitted and why, the table version activated;
        or why the stream was skipped."""
        left_out = self.left_out()
        now = self.ended = self.clock()
        if self.skipped:
            self.logger.info("%s: skipped: %s", self.name, self.skipped)
            return
        self.deletes_marked = bool(versions)
        self.logger.info(
            "%s: done, %s in %.1f s%s%s",
            self.name, plural(self.records, "record"), now - self.began,
            f"; {left_out}" if left_out else "",
            f"; {versions}" if versions else "",
        )  # fmt: skip

    def seconds(self) -> float:
        """How long the stream ran (so far); 0 if it never started."""
        if not self.started:
            return 0.0
        return (self.ended if self.ended is not None else self.clock()) - self.began

    def rate(self, now: float) -> float:
        return self.records / max(now - self.began, 1e-6)
