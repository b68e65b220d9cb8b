"""What one run of the tap shares with every stream, built by the tap and handed to each.

The settings, the one client (and its rate-limit budget), the output, the sync's clock and
start, the flag that stops every stream, the parent listings (one per parent stream a run,
shared by its children), the reports' conversion metric, timezone and daily quota, and the
warnings of missing scopes. Typed: a stream reads its run through this object, never
through its tap.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
import typing as t
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from tap_klaviyo import report_quota, timestamps
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.conversion_metric import ConversionMetric, choose_conversion_metric
from tap_klaviyo.errors import PermissionDeniedError
from tap_klaviyo.output import SingerOutput
from tap_klaviyo.profile_columns import PropertyColumns
from tap_klaviyo.report_quota import ReportQuota
from tap_klaviyo.settings import Settings

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream


class Cancelled(Exception):
    """Another stream failed: this one stops at its next record (its bookmarks stay safe)."""


class ParentListings:
    """Every row of a parent stream, listed once per run for all its children (and the
    conversion metric, the account), whichever stream asks first; the others wait for it.
    Each name has its own lock: the listings of different parents run at once."""

    def __init__(self, read: t.Callable[[str], t.Iterable[dict[str, t.Any]]]) -> None:
        self._read = read
        self._rows: dict[str, list[dict[str, t.Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def get(self, name: str) -> list[dict[str, t.Any]]:
        with self._locks_lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._rows:
                self._rows[name] = list(self._read(name))
            return self._rows[name]


class MissingScopes:
    """The streams skipped for a scope the key lacks: one warning per scope a run, naming
    every selected stream that needs it (``needs``: selected stream -> its scopes)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.denied: dict[str, tuple[str, ...]] = {}  # stream -> the scopes it lacked
        self.needs: dict[str, tuple[str, ...]] = {}
        self._warned: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def skipped(self, stream: str, scopes: tuple[str, ...], denied: PermissionDeniedError) -> None:
        with self._lock:
            self.denied[stream] = scopes
            if scopes in self._warned:
                return
            self._warned.add(scopes)
        needing = sorted(name for name, own in self.needs.items() if set(scopes) <= set(own))
        names = needing or [stream]
        self.logger.warning(
            "Skipping %s %s: the API key lacks the scope %s (%s). Add the scope to the key in "
            "Klaviyo (Settings > API keys), or deselect %s.",
            "stream" if len(names) == 1 else "streams", ", ".join(f"'{n}'" for n in names),
            " + ".join(scopes), denied, "it" if len(names) == 1 else "them",
        )  # fmt: skip


@dataclass
class RunContext:
    """One run's services, shared by every stream (see the module's docstring)."""

    settings: Settings
    client: KlaviyoClient
    output: SingerOutput
    initialized_at: int  # the sync's start, in milliseconds (the SDK's)
    logger: logging.Logger
    # The run's state (the tap's), where the reports' quota is kept beside the bookmarks.
    state: dict[str, t.Any]
    # A stream object used only to read (a child's parents, a probe), apart from the synced one.
    reader: t.Callable[[str], KlaviyoStream]
    property_columns: PropertyColumns | None = None
    # Injectable, so tests of progress lines and timed STATEs need no sleeps.
    clock: t.Callable[[], float] = time.monotonic
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listings = ParentListings(self._list)
        self.missing_scopes = MissingScopes(self.logger)

    def _list(self, name: str) -> t.Iterator[dict[str, t.Any]]:
        reader = self.reader(name)
        passes: list[dict[str, t.Any] | None] = (
            [*reader.partitions] if reader.partitions else [None]
        )
        for partition in passes:
            yield from reader.read_all(partition)

    @functools.cached_property
    def sync_started(self) -> dt.datetime:
        """The sync's start, to the whole second: no bookmark passes it (Klaviyo accepts
        future-dated records), windows and reports end there, snapshots carry it."""
        return timestamps.floor_second(timestamps.from_millis(self.initialized_at))

    def stop_if_cancelled(self, stream: str) -> None:
        if self.cancelled.is_set():
            raise Cancelled(stream)

    @functools.cached_property
    def conversion_metric(self) -> ConversionMetric:
        """The values reports' conversion metric, chosen once per run (one metrics listing)."""
        name = self.settings.conversion_metric_name
        choice = choose_conversion_metric(self.listings.get("metrics"), name)
        if len(choice.candidates) > 1:
            self.logger.warning("Values reports: %s.", choice.describe())
        return choice

    @functools.cached_property
    def account(self) -> dict[str, t.Any] | None:
        """The key's account, from the run's one ``GET /api/accounts`` (XS tier: 15/min),
        shared by the state's account check, the reports' timezone and the ``accounts``
        stream; None without the scope accounts:read."""
        try:
            accounts = self.listings.get("accounts")
        except PermissionDeniedError:
            return None
        return accounts[0] if accounts else None

    @property
    def account_timezone(self) -> str | None:
        timezone = (self.account or {}).get("timezone")
        return str(timezone) if timezone else None

    @functools.cached_property
    def report_timezone(self) -> ZoneInfo:
        """The timezone reports and aggregates cut days in: the setting, else the account's."""
        name = self.settings.report_timezone or self.account_timezone
        if name is None:
            self.logger.warning(
                "Reports: the key lacks the scope accounts:read, so the account's timezone is "
                "unknown; days are cut in UTC. Add the scope or set 'report_timezone'."
            )
        return ZoneInfo(name or "UTC")

    @functools.cached_property
    def report_quota(self) -> ReportQuota:
        """The reports' daily quota, as the state left it; each request spent is kept there."""
        saved = self.state.get(report_quota.STATE_KEY)
        return ReportQuota(
            self.settings.report_requests_per_day,
            saved if isinstance(saved, dict) else None,
            lambda: dt.datetime.now(dt.timezone.utc),
            keep=functools.partial(self.state.__setitem__, report_quota.STATE_KEY),
        )
