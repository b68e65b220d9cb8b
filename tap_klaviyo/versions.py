"""Deletes reach the warehouse through Singer table versions.

Klaviyo has no feed of deletions: a deleted profile, campaign or list, a profile removed from
a list, simply stops appearing. A read that saw every row Klaviyo has is a complete version
of the table: its records carry the version (the run's start, in milliseconds) and, after
its last record, ACTIVATE_VERSION tells the target that rows of older versions are gone
(target-postgres sets their ``_sdc_deleted_at``, or deletes them with ``hard_delete``).
A read that is not complete (a 403, a failure, a stop) never activates.

- Small tables are read whole every run: every run is a complete version.
- Profiles and the members of lists and segments stay incremental; every
  ``reconcile_every_days`` a reconciliation pass makes the run a complete version, cheaply
  (profiles: ids only; members: every list's members read in full, a few small fields).

A pass in progress is kept in the stream's bookmark dict with its version, and the parents
already read in full, so a run stopped during the pass resumes it with the same version:
rows already stamped keep it, nothing is activated before the pass is complete.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

from tap_klaviyo import timestamps

# Keys of a stream's bookmark dict (next to singer-sdk's own).
RECONCILED_AT = "reconciled_at"  # when the last pass completed
RECONCILIATION = "reconciliation"  # the pass in progress: {"version": V, "done": [ids]}


@dataclass
class Reconciliation:
    """A reconciliation pass: its table version, and the parents already read in full."""

    version: int
    done: set[str]


def in_progress(bookmarks: t.Mapping[str, t.Any]) -> Reconciliation | None:
    """The pass a previous run started and did not finish, if any."""
    entry = bookmarks.get(RECONCILIATION)
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), int):
        return None
    return Reconciliation(entry["version"], {str(done) for done in entry.get("done", [])})


def is_due(bookmarks: t.Mapping[str, t.Any], now: dt.datetime, every_days: int) -> bool:
    """A pass is due when none completed in the last ``every_days`` (0: never), or never."""
    if every_days <= 0:
        return False
    last = bookmarks.get(RECONCILED_AT)
    if not isinstance(last, str):
        return True
    try:
        return now - timestamps.parse(last) >= dt.timedelta(days=every_days)
    except ValueError:
        return True


def begin(bookmarks: dict[str, t.Any], version: int) -> Reconciliation:
    """This run's pass: the one in progress (resumed with its version), or a new one."""
    resumed = in_progress(bookmarks)
    if resumed is None:
        resumed = Reconciliation(version, set())
        bookmarks[RECONCILIATION] = {"version": version, "done": []}
    return resumed


def parent_done(bookmarks: dict[str, t.Any], parent_id: str) -> None:
    """One parent's members were all read with the pass's version."""
    entry = bookmarks.get(RECONCILIATION)
    if isinstance(entry, dict) and parent_id not in entry.setdefault("done", []):
        entry["done"].append(parent_id)


def complete(bookmarks: dict[str, t.Any], now: dt.datetime) -> None:
    """The pass is complete (its ACTIVATE_VERSION written): the next one is due from now."""
    bookmarks.pop(RECONCILIATION, None)
    bookmarks[RECONCILED_AT] = timestamps.to_text(now)
