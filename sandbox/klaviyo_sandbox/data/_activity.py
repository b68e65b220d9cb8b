"""What happens to an account over time (``advance``) and what a user deletes (``delete``).

Klaviyo keeps no trace of deletes (no feed of deletions): ``advance`` answers with what it
deleted and removed, the only ground truth of what went.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import time
from dataclasses import dataclass
from typing import Any

from ..model import InvalidQuery, NotFound
from ._collections import BY_NAME, COLLECTIONS
from ._core import DAY, UTC, epoch, iso, salt
from ._events import Events, NewEvent
from ._groups import Groups
from ._metrics import DUPLICATED, Metric
from ._profiles import SUPPRESSION_REASONS, Profiles
from ._tables import Item, Table

# With quirks, ``advance`` adds one late event per ``LATE_SHARE`` new ones, dated up to
# ``LATE_DAYS`` days before they arrive.
LATE_SHARE = 5
LATE_DAYS = 20
# In name order: the draws of ``advance`` follow it, so the same seed deletes the same ids.
DELETABLE = tuple(sorted(row.name for row in COLLECTIONS if row.deletable))
# What ``advance`` edits besides profiles and campaign messages (their timeline moves).
EDITED = ("campaigns", "flows", "lists", "segments")
# Collection -> the table collections read under it: they go when it goes.
CHILDREN: dict[str, tuple[str, ...]] = {
    row.name: tuple(
        child.name for child in COLLECTIONS if child.parent == row.name and child.table is not None
    )
    for row in COLLECTIONS
}


@dataclass(frozen=True)
class LateEvent:
    """A late event's ``datetime`` and when it reached the account (both canonical text)."""

    datetime: str
    arrived: str


class Activity:
    """``advance`` and ``delete``, mixed into ``Account`` (whose state they change)."""

    seed: int
    quirks: bool
    anchor: int
    clock_offset: float
    profiles: Profiles
    events: Events
    metrics: list[Metric]
    list_groups: Groups
    segment_groups: Groups
    tables: dict[str, Table]
    vanished: dict[str, frozenset[str]]
    deleted: dict[str, set[str]]
    removed: dict[str, set[tuple[str, str]]]
    late_events: dict[str, LateEvent]
    version: int
    _advances: int

    def _open_activity(self) -> None:
        """Nothing happened yet."""
        self.version = 0
        """One more after each change (``advance``, ``delete``): what was worked out from
        the account before (its ground truth) is out of date."""
        self._advances = 0
        self.deleted = {name: set() for name in ("profiles", *DELETABLE)}
        """Collection -> ids ``advance`` deleted: gone from listings, NotFound by id."""
        self.removed = {"list-profiles": set(), "segment-profiles": set()}
        """Members ``advance`` removed: (list or segment id, profile id)."""
        self.late_events = {}
        """Event id -> when a late event (``datetime`` before its arrival) arrived."""

    def now(self) -> dt.datetime:
        """The sandbox clock: real wall time, so a tap and the sandbox agree on "now"; ahead
        of it by what ``advance(..., move_clock=...)`` moved it (a tap is then run with the
        same clock)."""
        return dt.datetime.fromtimestamp(time.time() + self.clock_offset, UTC)

    def advance(self, seconds: float, move_clock: float = 0) -> dict[str, Any]:
        """Simulate ``seconds`` of activity, all stamped with the current second: new and
        changed objects, and deletes (Klaviyo keeps no trace of them: the answer's
        ``deleted`` and ``removed`` are the only ground truth of what went). The clock
        first moves ``move_clock`` seconds ahead (a day passes in an instant).

        With quirks, a share of the new events arrive late: their ``datetime`` is up to
        ``LATE_DAYS`` days before now, as integrations send historical events (backfilled
        orders). The answer's ``late_events`` names them, with when they arrived."""
        self._advances += 1
        self.version += 1
        rng = random.Random(salt(self.seed, f"advance-{self._advances}"))
        self.clock_offset += move_clock
        now = int(epoch(self.now()))
        # Deletes first: what is deleted is not also touched, created or joined below.
        deleted = self._delete(rng)
        count = max(1, min(10_000, int(seconds / 10)))
        late = self._late_events(rng, now, count // LATE_SHARE if self.quirks else 0)
        changes: dict[str, Any] = {
            "events": self._new_events(rng, now, count) + len(late),
            "late_events": late,
            "profiles_created": self._new_profiles(now, max(1, min(1_000, int(seconds / 120)))),
        }
        changes.update(self._touch_profiles(rng, now, max(1, self.profiles.base // 100)))
        for collection in EDITED:
            timeline = BY_NAME[collection].timeline
            assert timeline is not None
            changes[collection] = self._touch_items(rng, self.tables[collection], timeline, now)
        # Messages edited (revision 2026-10-15 reads them incrementally): their own draw, so
        # what the other collections get is as before.
        touch = random.Random(salt(self.seed, f"advance-messages-{self._advances}"))
        changes["campaign-messages"] = self._touch_items(
            touch, self.tables["campaign-messages"], "updated_at", now
        )
        changes["list-profiles"] = self._join(rng, self.list_groups, now)
        changes["segment-profiles"] = self._join(rng, self.segment_groups, now)
        changes["deleted"] = deleted
        changes["removed"] = {
            "list-profiles": self._remove_members(rng, self.list_groups),
            "segment-profiles": self._remove_members(rng, self.segment_groups),
        }
        changes["clock"] = iso(now)
        return changes

    # --- advance helpers -------------------------------------------------------------

    def _new_events(self, rng: random.Random, now: int, count: int) -> int:
        overlay = self.events.overlay
        weights = [metric.share for metric in self.metrics]
        for _ in range(count):
            e = self.events.total
            metric = rng.choices(self.metrics, weights)[0] if self.metrics else None
            profile = rng.randrange(self.profiles.total) if self.profiles.total else 0
            overlay.events[e] = NewEvent(now, metric.index if metric else 0, profile)
            bisect.insort(overlay.keys, (now, e))
        return count

    def _late_events(self, rng: random.Random, now: int, count: int) -> list[dict[str, Any]]:
        """``count`` events arriving now, dated up to ``LATE_DAYS`` days ago: half within a
        day, a third within a week, the rest later (Klaviyo has no "received at" field)."""
        overlay, arrived = self.events.overlay, iso(now)
        named = []
        for _ in range(count):
            draw = rng.random()
            days = 1 if draw < 0.5 else 7 if draw < 0.83 else LATE_DAYS
            stamp = now - rng.randint(60, days * DAY)
            e = self.events.total
            metric = next((m.index for m in self.metrics if m.name == DUPLICATED), 0)
            profile = rng.randrange(self.profiles.base) if self.profiles.base else 0
            overlay.events[e] = NewEvent(stamp, metric, profile)
            bisect.insort(overlay.keys, (stamp, e))
            event_id = self.events.id(e)
            self.late_events[event_id] = LateEvent(iso(stamp), arrived)
            named.append({"id": event_id, "datetime": iso(stamp), "arrived": arrived})
        return named

    def _new_profiles(self, now: int, count: int) -> int:
        overlay = self.profiles.overlay
        for _ in range(count):
            p = self.profiles.total
            overlay.created.append(now)
            overlay.updated[p] = now
            bisect.insort(overlay.updated_keys, (now, p))
        return count

    def _touch_profiles(self, rng: random.Random, now: int, count: int) -> dict[str, Any]:
        profiles, overlay = self.profiles, self.profiles.overlay
        deleted = profiles.overlay.deleted
        touched = [
            p
            for p in rng.sample(range(profiles.total), min(count, profiles.total))
            if p not in deleted
        ]
        suppressed = 0
        for p in touched:
            previous = overlay.updated.get(p)
            if previous is not None:
                overlay.updated_keys.remove((previous, p))
            overlay.updated[p] = now
            bisect.insort(overlay.updated_keys, (now, p))
            if rng.random() < 0.1 and profiles.suppression(p) is None:
                overlay.suppressed[p] = (now, rng.choice(SUPPRESSION_REASONS))
                suppressed += 1
        return {"profiles_updated": len(touched), "profiles_suppressed": suppressed}

    @staticmethod
    def _touch_items(rng: random.Random, table: Table, attribute: str, now: int) -> int:
        if not table.items:
            return 0
        chosen = rng.sample(table.items, min(len(table.items), rng.randint(1, 2)))
        for item in chosen:
            item.attributes[attribute] = iso(now)
        return len(chosen)

    def _delete(self, rng: random.Random) -> dict[str, list[str]]:
        """Delete 1% of the profiles and one of each small collection (not the last few):
        the ids deleted, by collection. A deleted profile leaves its lists and segments."""
        profiles = self.profiles
        wanted = min(profiles.total - len(profiles.overlay.deleted), max(1, profiles.base // 100))
        picked: set[int] = set()
        while len(picked) < wanted:
            p = rng.randrange(profiles.total)
            if p not in profiles.overlay.deleted:
                picked.add(p)
        chosen = sorted(picked)
        deleted: dict[str, list[str]] = {"profiles": [profiles.id(p) for p in chosen]}
        for p in chosen:
            for groups in (self.list_groups, self.segment_groups):
                for g in range(len(groups.ids)):
                    groups.leave(g, p)
        profiles.overlay.deleted.update(chosen)
        for collection in DELETABLE:
            table = self.tables[collection]
            vanished = self.vanished.get(collection, frozenset())
            candidates = [item for item in table.items if item.id not in vanished]
            gone = [rng.choice(candidates)] if len(candidates) > 3 else []
            for item in gone:
                self._drop(collection, item)
            deleted[collection] = [item.id for item in gone]
        for collection, ids in deleted.items():
            self.deleted[collection].update(ids)
        return deleted

    def delete(self, collection: str, id: str) -> dict[str, list[str]]:
        """Delete one object of a small collection, as a user does in Klaviyo: a campaign
        with its messages, a flow with its actions and their messages, a list or segment
        with its memberships. The ids gone, by collection (the object's and its children's)."""
        if collection not in DELETABLE:
            raise InvalidQuery(f"{collection}: only {', '.join(DELETABLE)} can be deleted")
        item = self.tables[collection].by_id.get(id)
        if item is None:
            raise NotFound(f"A resource with id {id} does not exist.")
        self.version += 1
        before = {name: set(table.by_id) for name, table in self.tables.items()}
        self._drop(collection, item)
        self.deleted[collection].add(id)
        gone = {name: sorted(ids - set(self.tables[name].by_id)) for name, ids in before.items()}
        return {name: ids for name, ids in gone.items() if ids}

    def _drop(self, collection: str, item: Item) -> None:
        """An item gone from its table, its children (and theirs) with it."""
        table = self.tables[collection]
        table.items.remove(item)
        del table.by_id[item.id]
        for child in CHILDREN.get(collection, ()):
            for kid in self.tables[child].children(item.id):
                self._drop(child, kid)

    def _remove_members(self, rng: random.Random, groups: Groups) -> dict[str, list[str]]:
        """One or two profiles removed from each group that has some: ids by group id."""
        removed: dict[str, list[str]] = {}
        total = self.profiles.total
        for g, group_id in enumerate(groups.ids):
            gone: list[int] = []
            # A few random draws per removal: the sparsest groups hold 1% of the profiles.
            for _ in range(rng.randint(1, 2) * 300 if total else 0):
                p = rng.randrange(total)
                if groups.leave(g, p):
                    gone.append(p)
                    if len(gone) == 2:
                        break
            if gone:
                removed[group_id] = [self.profiles.id(p) for p in sorted(gone)]
        collection = "list-profiles" if groups is self.list_groups else "segment-profiles"
        self.removed[collection].update(
            (group_id, profile) for group_id, ids in removed.items() for profile in ids
        )
        return removed

    def _future_dated(self) -> None:
        """Rows Klaviyo keeps dated in the future: members and suppressions (metric
        aggregates: ``_aggregates.one_interval_on``)."""
        for groups in (self.list_groups, self.segment_groups):
            self._future_members(groups)
        self._future_suppressions()

    def _future_suppressions(self) -> None:
        """A few profiles suppressed in the future (the suppression's ``timestamp`` days
        ahead: an import with a wrong clock, which Klaviyo keeps as sent)."""
        rng = random.Random(f"{self.seed}:future-suppressions")
        profiles = self.profiles
        for _ in range(3 if profiles.total else 0):
            p = rng.randrange(profiles.total)
            if profiles.suppression(p) is None:
                when = self.anchor + rng.randint(2, 20) * DAY + p % DAY
                profiles.overlay.suppressed[p] = (when, rng.choice(SUPPRESSION_REASONS))

    def _future_members(self, groups: Groups) -> None:
        """A few members of each group joined in the future (``joined_group_at`` days ahead:
        an import with a wrong clock, which Klaviyo keeps as sent), one group in two."""
        rng = random.Random(f"{self.seed}:future-members:{groups.ids[:1]}")
        for g in range(0, len(groups.ids), 2):
            for _ in range(10 if self.profiles.total else 0):  # a profile not yet a member
                p = rng.randrange(self.profiles.total)
                if groups.join(g, p, self.anchor + rng.randint(2, 20) * DAY + g):
                    break

    def _join(self, rng: random.Random, groups: Groups, now: int) -> int:
        joined = 0
        deleted = self.profiles.overlay.deleted
        for g in range(len(groups.ids)):
            for _ in range(rng.randint(1, 3)):
                p = rng.randrange(self.profiles.total) if self.profiles.total else None
                if p is not None and p not in deleted and groups.join(g, p, now):
                    joined += 1
        return joined
