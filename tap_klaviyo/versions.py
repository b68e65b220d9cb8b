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

What the table was built from is kept there too (``covered_from``: the earliest lower bound
any run read from, null for "from the beginning"): a pass reads from it, not from today's
``start_date``, so it sees every row the warehouse can hold whatever ``start_date`` was then
or is now. And the rows of the last version activated (``activated``), so that the next one
can say how many rows it leaves out.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

from tap_klaviyo import timestamps

# Keys of a stream's bookmark dict (next to singer-sdk's own).
RECONCILED_AT = "reconciled_at"  # when the last pass completed
RECONCILIATION = "reconciliation"  # the pass in progress: {"version": V, "done": [ids]}
COVERED_FROM = "covered_from"  # the earliest lower bound read (null: from the beginning)
ACTIVATED = "activated"  # the last version activated: {"version": V, "rows": N}


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


def is_due(
    bookmarks: t.Mapping[str, t.Any], now: dt.datetime, every_days: int, *, asked: bool = False
) -> bool:
    """A pass is due when asked for (``reconcile_now``), or when none completed in the last
    ``every_days`` (0: never), or never."""
    if asked:
        return True
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
        bookmarks[RECONCILIATION] = {"version": version, "done": [], "rows": 0}
    return resumed


def parent_done(bookmarks: dict[str, t.Any], parent_id: str, rows: int) -> None:
    """One parent's ``rows`` members were all read with the pass's version."""
    entry = bookmarks.get(RECONCILIATION)
    if isinstance(entry, dict) and parent_id not in entry.setdefault("done", []):
        entry["done"].append(parent_id)
        if isinstance(entry.get("rows"), int):  # a pass begun by an older tap counts none
            entry["rows"] += rows


def pass_rows(bookmarks: t.Mapping[str, t.Any]) -> int | None:
    """The rows the parents read in full so far hold (None: a pass of an older state)."""
    entry = bookmarks.get(RECONCILIATION)
    rows = entry.get("rows") if isinstance(entry, dict) else None
    return rows if isinstance(rows, int) else None


def complete(bookmarks: dict[str, t.Any], now: dt.datetime) -> None:
    """The pass is complete (its ACTIVATE_VERSION written): the next one is due from now."""
    bookmarks.pop(RECONCILIATION, None)
    bookmarks[RECONCILED_AT] = timestamps.to_text(now)


# -- what the table was built from ---------------------------------------------------------


def covered_from(bookmarks: t.Mapping[str, t.Any]) -> tuple[bool, dt.datetime | None]:
    """Whether the state knows where the table's rows begin, and where (None: from the
    beginning of the account's data)."""
    if COVERED_FROM not in bookmarks:
        return False, None
    value = bookmarks[COVERED_FROM]
    if value is None:
        return True, None
    if not isinstance(value, str):  # a hand-edited state: what cannot be read is not known
        return False, None
    try:
        return True, timestamps.parse(value)
    except ValueError:
        return False, None


def cover(bookmarks: dict[str, t.Any], start: dt.datetime | None) -> bool:
    """A read from ``start`` (None: from the beginning) loads rows: the table's coverage
    reaches back to it now, if it did not already. Whether the state changed."""
    known, since = covered_from(bookmarks)
    if known and (since is None or (start is not None and since <= start)):
        return False
    bookmarks[COVERED_FROM] = None if start is None else timestamps.to_text(start)
    return True


# -- what an activation leaves out -----------------------------------------------------------


def activated(bookmarks: dict[str, t.Any], version: int, rows: int | None) -> str:
    """Keep the version just activated with its row count; what it leaves out, in words
    ("" for a first version: there is nothing to compare with).

    Rows left out (marked deleted by the target) are the previous version's rows that this
    one does not have: ``previous - rows + new`` where ``new`` is the rows of this version the
    previous one did not have, which the tap cannot count. So the line says the two counts and
    the least that can be left out; exactly that many when no row is new.
    """
    if rows is None:  # a pass begun by an older tap: the rows read then were not counted
        bookmarks.pop(ACTIVATED, None)
        return f"table version {version} activated (its rows were not counted)"
    previous = bookmarks.get(ACTIVATED)
    bookmarks[ACTIVATED] = {"version": version, "rows": rows}
    text = f"table version {version} activated with {rows:,} rows"
    if not isinstance(previous, dict) or not isinstance(previous.get("rows"), int):
        return ""  # a first version: nothing to compare with
    before, was = previous["rows"], previous.get("version")
    fewest = max(0, before - rows)
    return (
        f"{text}; the previous version ({was}) had {before:,}: at least {fewest:,} rows left "
        f"out (marked deleted), more by as many as the rows new since"
    )
