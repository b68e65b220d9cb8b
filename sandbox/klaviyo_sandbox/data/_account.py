"""``Account``: one simulated Klaviyo account, answering the HTTP layer's queries."""

from __future__ import annotations

import bisect
import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..model import Condition, InvalidQuery, NotFound, Page, Query
from . import _omnichannel as omnichannel
from . import _storefront as storefront
from ._attributions import Attributions
from ._catalog import Catalog, Item, Table, _unique_short_ids
from ._core import (
    DAY,
    INF,
    UTC,
    Key,
    Keys,
    Stream,
    Window,
    condition_number,
    decode_token,
    encode_token,
    epoch,
    iso,
    merged,
    salt,
    satisfies,
    walk,
)
from ._events import (
    DUPLICATED,
    Events,
    Metric,
    NewEvent,
    duplicate_metric,
    make_metrics,
    object_categories,
    vanished_metric,
)
from ._profiles import LIST_SUPPRESSION, SUPPRESSION, SUPPRESSION_REASONS, Groups, Profiles
from ._quirks import Stamps
from ._reports import Reports

TIMELINE: dict[str, str | None] = {
    "profiles": "updated",
    "events": "datetime",
    "lists": "updated",
    "segments": "updated",
    "campaigns": "updated_at",
    "campaign-messages": "updated_at",
    "flows": "updated",
    "flow-actions": "updated",
    "flow-messages": "updated",
    "metrics": "updated",
    "templates": "updated",
    "tags": None,
    "list-profiles": "joined_group_at",
    "segment-profiles": "joined_group_at",
    "accounts": None,
    "tag-groups": None,
    **omnichannel.TIMELINE,
    **storefront.TIMELINE,
}
CHANNEL_REQUIRED = (
    "A channel filter is required to list campaigns. Please try adding either "
    "\"equals(messages.channel,'email')\", \"equals(messages.channel,'sms')\" or "
    "\"equals(messages.channel,'mobile_push')\" to your filter."
)
IDENTIFIERS = frozenset({"id", "email", "phone_number", "external_id", "profile_id"})
ALL = 10**12  # page size for ground truth: everything in one page
QUIRK_REPEATS = 3
VANISHING = ("lists", "segments", "flow-actions", "metrics")
# What ``advance`` deletes besides profiles: Klaviyo keeps no trace of them (no feed of
# deletions), their children go with them.
# With quirks, ``advance`` adds one late event per ``LATE_SHARE`` new ones, dated up to
# ``LATE_DAYS`` days before they arrive.
LATE_SHARE = 5
LATE_DAYS = 20
DELETABLE = ("campaigns", "flows", "lists", "segments", "templates")

ACCOUNT_TIMEZONE = "America/New_York"
# related collections whose parent may have vanished (quirks), by the parent's collection
PARENTS = {
    "list-profiles": "lists",
    "segment-profiles": "segments",
    "flow-messages": "flow-actions",
}
# Child collection -> its parent's, for the children read by the parent's path.
PATH_PARENTS = {
    "campaign-messages": "campaigns",
    "flow-actions": "flows",
    "flow-messages": "flow-actions",
    **storefront.PARENTS,
}


@dataclass(frozen=True)
class LateEvent:
    """A late event's ``datetime`` and when it reached the account (both canonical text)."""

    datetime: str
    arrived: str


@dataclass(frozen=True)
class Sizes:
    profiles: int = 1000
    events: int = 10000
    lists: int = 12
    segments: int = 8
    campaigns: int = 30
    flows: int = 8
    metrics: int = 16
    templates: int = 12
    tags: int = 8
    # The storefront (``_storefront``): variants, codes, tokens and records follow from these.
    forms: int = 6
    coupons: int = 4
    catalog_items: int = 12
    reviews: int = 20


def _resolve_object(obj: dict, name: str) -> list:
    if name == "id":
        return [obj["id"]]
    return walk(obj["attributes"], name.split("."))


def _unchanged(obj: dict) -> dict:
    return obj


@dataclass
class Plan:
    """How to page a lazy collection: key streams, a key window, per-index checks."""

    sort: str
    streams: list[Stream]
    window: Window
    window_fields: frozenset[str]
    build: Callable[[int, Any], dict]
    checks: list[Callable[[int], bool]] = field(default_factory=list)
    residual: list[Condition] = field(default_factory=list)
    resolve: Callable[[dict, str], list] = field(default=_resolve_object)
    finish: Callable[[dict], dict] = field(default=_unchanged)


def _values(item: Item, name: str) -> list:
    if name in item.virtual:
        return [item.virtual[name]]
    return [item.id] if name == "id" else walk(item.attributes, name.split("."))


def _archived_email(q: Query) -> bool:
    conditions = {(c.op, c.field): c.value for c in q.conditions}
    return (
        q.collection == "campaigns"
        and conditions.get(("equals", "archived")) is True
        and conditions.get(("equals", "messages.channel")) == "email"
    )


def _sortable(values: list) -> Any:
    value = values[0] if values else None
    return "" if value is None else value


class Account:
    """One seeded account. With ``quirks`` (the default) it also has what real accounts
    send: mixed timestamp forms, a second "Placed Order" metric (``duplicate_metrics``),
    object-shaped integration categories, events without a resolvable metric, records
    listed but gone on detail (``vanished``), float counts in reports, and more."""

    def __init__(
        self,
        seed: int = 1,
        sizes: Sizes = Sizes(),
        now: dt.datetime | None = None,
        quirks: bool = True,
        timezone: str = ACCOUNT_TIMEZONE,
    ) -> None:
        # The timezone: not UTC by default, and with daylight saving time: reports cut days
        # where Klaviyo's UI does.
        self.seed, self.sizes, self.quirks, self.timezone = seed, sizes, quirks, timezone
        self.clock_offset = 0.0  # seconds ``advance(..., move_clock=...)`` moved the clock
        moment = now if now is not None else dt.datetime.now(UTC).replace(second=0, microsecond=0)
        self.anchor = int(epoch(moment))
        list_ids = _unique_short_ids(seed, "list", sizes.lists)
        base = make_metrics(seed, sizes.metrics, self.anchor)
        duplicate = gone = None
        self.metrics = base
        if quirks:  # extra metrics go last: base indices (and events) stay as they are
            base = object_categories(base)
            duplicate = duplicate_metric(seed, base, self.anchor)
            listed = [*base, *([duplicate] if duplicate else [])]
            gone = vanished_metric(seed, listed, self.anchor)
            self.metrics = [*listed, gone]
        self.profiles = Profiles(seed, sizes.profiles, self.anchor, list_ids, live_fields=quirks)
        self.events = Events(
            seed,
            sizes.events,
            self.anchor,
            self.metrics,
            self.profiles,
            layout=len(base),
            duplicate=duplicate,
            orphans=quirks,
        )
        self.catalog = Catalog(seed, sizes, self.anchor, base, list_ids)
        catalog = self.catalog
        self.duplicate_metrics: dict[str, tuple[str, ...]] = {}
        """Metric name -> ids of the metrics sharing it, oldest first (quirks only)."""
        if duplicate is not None:
            self.duplicate_metrics[duplicate.name] = tuple(
                m.id for m in self.metrics if m.name == duplicate.name
            )
        self.metric_table = Table()
        for metric in self.metrics:
            triggers = catalog.metric_triggers.get(metric.id, [])
            category = metric.integration["category"]
            # an object-shaped category (quirk) still filters by its name
            virtual = (
                {"integration.category": category["category"]} if isinstance(category, dict) else {}
            )
            self.metric_table.add(
                Item(
                    metric.index,
                    metric.resource(),
                    to_many={"flow-triggers": triggers},
                    virtual=virtual,
                )
            )
        self.list_groups = Groups(
            seed,
            list_ids,
            [catalog.list_created(k) for k in range(len(list_ids))],
            self.anchor,
            sizes.profiles,
        )
        segment_ids = [item.id for item in catalog.segments.items]
        self.segment_groups = Groups(
            seed,
            segment_ids,
            [catalog.segment_created(k) for k in range(len(segment_ids))],
            self.anchor,
            sizes.profiles,
        )
        self.vanished: dict[str, frozenset[str]] = dict.fromkeys(VANISHING, frozenset())
        """Collection -> ids listed by it whose detail and children answer NotFound."""
        if quirks:
            # after the groups: vanished lists and segments have no members
            self.vanished.update(catalog.add_quirks())
            self._future_dated()
        if gone is not None:
            self.vanished["metrics"] = frozenset({gone.id})
        self.stamps = Stamps(seed)
        self.attributions = Attributions(seed, self.events, catalog)
        self.tables: dict[str, Table] = {
            "lists": catalog.lists,
            "segments": catalog.segments,
            "campaigns": catalog.campaigns,
            "campaign-messages": catalog.campaign_messages,
            "flows": catalog.flows,
            "flow-actions": catalog.flow_actions,
            "flow-messages": catalog.flow_messages,
            "metrics": self.metric_table,
            "templates": catalog.templates,
            "tags": catalog.tags,
        }
        self.by_type: dict[str, Table] = {
            "list": catalog.lists,
            "segment": catalog.segments,
            "campaign": catalog.campaigns,
            "campaign-message": catalog.campaign_messages,
            "flow": catalog.flows,
            "flow-action": catalog.flow_actions,
            "flow-message": catalog.flow_messages,
            "metric": self.metric_table,
            "template": catalog.templates,
            "tag": catalog.tags,
            "tag-group": catalog.tag_groups,
        }
        self.storefront = self._open_storefront()
        self.reports = Reports(self)
        self._advances = 0
        self.deleted: dict[str, set[str]] = {name: set() for name in ("profiles", *DELETABLE)}
        """Collection -> ids ``advance`` deleted: gone from listings, NotFound by id."""
        self.removed: dict[str, set[tuple[str, str]]] = {
            "list-profiles": set(),
            "segment-profiles": set(),
        }
        """Members ``advance`` removed: (list or segment id, profile id)."""
        self.late_events: dict[str, LateEvent] = {}
        """Event id -> when a late event (``datetime`` before its arrival) arrived."""

    def _open_storefront(self) -> storefront.Storefront:
        """The storefront's collections (and tag groups) served like the other small ones."""
        store = storefront.Storefront(
            self.seed, self.sizes, self.anchor, self.profiles.id, self.sizes.profiles
        )
        self.tables.update(store.tables)
        self.tables["tag-groups"] = self.catalog.tag_groups
        self.by_type.update(store.by_type)
        return store

    # --- clock -----------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The sandbox clock: real wall time, so a tap and the sandbox agree on "now"; ahead
        of it by what ``advance(..., move_clock=...)`` moved it (a tap is then run with the
        same clock)."""
        return dt.datetime.fromtimestamp(time.time() + self.clock_offset, UTC)

    # --- public API ------------------------------------------------------------------

    def query(self, q: Query) -> Page:
        return self._present(self._query(q, rules=True, quirks=self.quirks))

    def _present(self, page: Page) -> Page:
        """Mixed timestamp forms (quirks), applied to the page once it is chosen."""
        if self.quirks:
            vary = self.stamps.vary
            for obj in page.data:
                vary(obj)
            for obj in page.included:
                vary(obj)
        return page

    def metric(self, metric_id: str) -> Metric | None:
        """A listed metric by id (vanished ones included)."""
        return next((m for m in self.metrics if m.id == metric_id), None)

    def get(
        self,
        collection: str,
        id: str,
        additional_fields: frozenset[str] = frozenset(),
        include: frozenset[str] = frozenset(),
    ) -> Page:
        if id in self.vanished.get(collection, ()):
            raise NotFound(f"A resource with id {id} does not exist.")
        if collection == "profiles":
            p = self.profiles.index_of_id(id)
            if p is None:
                raise NotFound(f"A profile with id {id} does not exist.")
            obj = self._profile(p, additional_fields, include)
        elif collection == "events":
            e = self.events.index_of_id(id)
            if e is None:
                raise NotFound(f"An event with id {id} does not exist.")
            obj = self._event(e, None, include)
        elif collection in omnichannel.COLLECTIONS:
            view = omnichannel.View(self.seed, self.catalog)
            item = view.tables[collection].by_id.get(id)
            if item is None:
                raise NotFound(f"A resource with id {id} does not exist.")
            obj = item.render(include)
            return self._present(Page([obj], self._included([obj], include, view.by_type)))
        elif collection in self.tables:
            item = self.tables[collection].by_id.get(id)
            if item is None:
                raise NotFound(f"A resource with id {id} does not exist.")
            obj = item.render(include, additional_fields)
            if "profile_count" in additional_fields and collection in ("lists", "segments"):
                groups = self._groups(collection)
                obj["attributes"]["profile_count"] = groups.count(groups.position[id])
        else:
            raise NotFound(f"Unknown collection {collection}.")
        return self._present(Page([obj], self._included([obj], include)))

    def report(self, report_type: str, attributes: dict) -> dict:
        return self.reports.run(report_type, attributes)

    def truth(
        self,
        collection: str,
        parent_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        field: str | None = None,
    ) -> dict:
        """Ids whose ``field`` (default: the timeline field) is in ``(since, until]``."""
        name = field or TIMELINE.get(collection)
        conditions = []
        if name is not None and since is not None:
            conditions.append(Condition("greater-than", name, since))
        if name is not None and until is not None:
            conditions.append(Condition("less-or-equal", name, until))
        q = Query(collection, parent_id, tuple(conditions), sort=name, size=ALL)
        ids = [obj["id"] for obj in self._query(q, rules=False, quirks=False).data]
        return {"count": len(ids), "ids": ids}

    def summary(self) -> dict:
        catalog = self.catalog
        return {
            "profiles": self.profiles.total - len(self.profiles.overlay.deleted),
            "events": self.events.total,
            "lists": len(catalog.lists.items),
            "segments": len(catalog.segments.items),
            "campaigns": len(catalog.campaigns.items),
            "campaign-messages": len(catalog.campaign_messages.items),
            "flows": len(catalog.flows.items),
            "flow-actions": len(catalog.flow_actions.items),
            "flow-messages": len(catalog.flow_messages.items),
            "metrics": len(self.metrics),
            "templates": len(catalog.templates.items),
            "tags": len(catalog.tags.items),
            "list-profiles": self._members("lists", self.list_groups),
            "segment-profiles": self._members("segments", self.segment_groups),
            "accounts": 1,
            **{
                name: len(table.items)
                for name, table in omnichannel.View(self.seed, catalog).tables.items()
                if name in (omnichannel.AUDIENCES, omnichannel.VARIATIONS)
            },
            "tag-groups": len(catalog.tag_groups.items),
            **{name: len(table.items) for name, table in self.storefront.tables.items()},
            "clock": self.now().isoformat(),
        }

    def _members(self, collection: str, groups: Groups) -> int:
        """Memberships of the lists or segments the account still has, as its truth counts
        them: a deleted (or vanished) group's members are gone with it."""
        gone = self.deleted.get(collection, set()) | self.vanished.get(collection, frozenset())
        return sum(groups.count(g) for g, group_id in enumerate(groups.ids) if group_id not in gone)

    def advance(self, seconds: float, move_clock: float = 0) -> dict:
        """Simulate ``seconds`` of activity, all stamped with the current second: new and
        changed objects, and deletes (Klaviyo keeps no trace of them: the answer's
        ``deleted`` and ``removed`` are the only ground truth of what went). The clock
        first moves ``move_clock`` seconds ahead (a day passes in an instant).

        With quirks, a share of the new events arrive late: their ``datetime`` is up to
        ``LATE_DAYS`` days before now, as integrations send historical events (backfilled
        orders). The answer's ``late_events`` names them, with when they arrived."""
        self._advances += 1
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
        for collection, attribute in (
            ("campaigns", "updated_at"),
            ("flows", "updated"),
            ("lists", "updated"),
            ("segments", "updated"),
        ):
            changes[collection] = self._touch_items(rng, self.tables[collection], attribute, now)
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

    def _late_events(self, rng: random.Random, now: int, count: int) -> list[dict]:
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

    def _touch_profiles(self, rng: random.Random, now: int, count: int) -> dict:
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
        before = {name: set(table.by_id) for name, table in self.tables.items()}
        self._drop(collection, item)
        self.deleted[collection].add(id)
        gone = {name: sorted(ids - set(self.tables[name].by_id)) for name, ids in before.items()}
        return {name: ids for name, ids in gone.items() if ids}

    def _drop(self, collection: str, item: Item) -> None:
        """An item gone from its table, its campaign messages or flow actions with it."""
        table = self.tables[collection]
        table.items.remove(item)
        del table.by_id[item.id]
        children = {"campaigns": ("campaign-messages",), "flows": ("flow-actions",)}
        for child in children.get(collection, ()):
            for kid in self.tables[child].children(item.id):
                if child == "flow-actions":
                    for message in self.tables["flow-messages"].children(kid.id):
                        self._drop("flow-messages", message)
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
        aggregates: ``_reports._one_interval_on``)."""
        for groups in (self.list_groups, self.segment_groups):
            self._future_members(groups)
        self._future_suppressions()

    def _future_members(self, groups: Groups) -> None:
        """A few members of each group joined in the future (``joined_group_at`` days ahead:
        an import with a wrong clock, which Klaviyo keeps as sent), one group in two."""
        rng = random.Random(f"{self.seed}:future-members:{groups.ids[:1]}")
        for g in range(0, len(groups.ids), 2):
            for _ in range(10 if self.profiles.total else 0):  # a profile not yet a member
                p = rng.randrange(self.profiles.total)
                if groups.join(g, p, self.anchor + rng.randint(2, 20) * DAY + g):
                    break

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

    def _join(self, rng: random.Random, groups: Groups, now: int) -> int:
        joined = 0
        deleted = self.profiles.overlay.deleted
        for g in range(len(groups.ids)):
            for _ in range(rng.randint(1, 3)):
                p = rng.randrange(self.profiles.total) if self.profiles.total else None
                if p is not None and p not in deleted and groups.join(g, p, now):
                    joined += 1
        return joined

    # --- dispatch --------------------------------------------------------------------

    def _query(self, q: Query, rules: bool, quirks: bool) -> Page:
        collection = q.collection
        parent = PARENTS.get(collection, "")
        if q.parent_id is not None and (
            q.parent_id in self.vanished.get(parent, ())
            or q.parent_id in self.deleted.get(parent, ())
        ):
            if rules:  # a request: the parent is gone; ground truth: it has no children
                raise NotFound(f"A resource with id {q.parent_id} does not exist.")
            return Page([])
        if collection == "profiles":
            return self._lazy_page(q, self._profile_plan(q), quirks)
        if collection == "events":
            return self._lazy_page(q, self._event_plan(q), quirks)
        if collection in ("list-profiles", "segment-profiles"):
            return self._lazy_page(q, self._member_plan(q), quirks)
        if collection == "accounts":
            return Page([self._account()])
        if collection in omnichannel.COLLECTIONS:
            return self._omnichannel_page(q, rules, quirks)
        if collection not in self.tables:
            raise InvalidQuery(f"Unknown collection {collection}.")
        items = self._items(q, rules)
        if collection in ("campaign-messages", storefront.OBJECT_TYPES):  # not paginated
            q = replace(q, size=ALL, after=None)
        return self._small_page(q, items, quirks)

    def _items(self, q: Query, rules: bool) -> list[Item]:
        table = self.tables[q.collection]
        parents = PATH_PARENTS
        if q.collection in parents and q.parent_id is not None:
            if q.parent_id not in self.tables[parents[q.collection]].by_id:
                raise NotFound(f"A resource with id {q.parent_id} does not exist.")
            return table.children(q.parent_id)
        if (
            rules
            and q.collection == storefront.COUPON_CODES
            and not any(c.field in ("coupon.id", "profile.id") for c in q.conditions)
        ):
            raise InvalidQuery(storefront.CODES_REQUIRED, "filter")
        if (
            rules
            and q.collection == "campaigns"
            and not any(c.field == "messages.channel" and c.op == "equals" for c in q.conditions)
        ):
            raise InvalidQuery(CHANNEL_REQUIRED, "filter")
        if (
            rules
            and q.collection in ("campaigns", "flows")
            and not any(c.field == "archived" for c in q.conditions)
        ):
            # archived campaigns and flows are hidden unless asked for explicitly
            return [item for item in table.items if not item.attributes["archived"]]
        return table.items

    # --- small collections -----------------------------------------------------------

    def _omnichannel_page(self, q: Query, rules: bool, quirks: bool) -> Page:
        """Revision 2026-10-15's campaigns, audiences, messages and variations."""
        view = omnichannel.View(self.seed, self.catalog)
        table = view.tables[q.collection]
        parent = omnichannel.PARENTS.get(q.collection)
        if parent is not None and q.parent_id is not None:
            if q.parent_id not in view.tables[parent].by_id:
                if rules:
                    raise NotFound(f"A resource with id {q.parent_id} does not exist.")
                return Page([])
            items = table.children(q.parent_id)
        elif (
            rules
            and q.collection == omnichannel.CAMPAIGNS
            and not any(c.field == "archived" for c in q.conditions)
        ):
            # as in 2026-07-15: archived campaigns are hidden unless asked for explicitly
            items = [item for item in table.items if not item.virtual["archived"]]
        else:
            items = table.items
        return self._small_page(q, items, quirks, view.by_type)

    def _small_page(
        self,
        q: Query,
        items: list[Item],
        quirks: bool,
        by_type: dict[str, Table] | None = None,
    ) -> Page:
        selected = [
            item
            for item in items
            if all(satisfies(_values(item, c.field), c) for c in q.conditions)
        ]
        sort = q.sort or ""

        def key(item: Item) -> Key:
            return (_sortable(_values(item, sort)) if sort else item.order, item.order)

        keyed = sorted(
            ((key(item), item) for item in selected), key=lambda pair: pair[0], reverse=q.descending
        )
        if q.after is not None:
            cursor = decode_token(q.after, sort, q.descending)
            keyed = [(k, item) for k, item in keyed if (k < cursor if q.descending else k > cursor)]
        repeats = self._small_repeats(q, items, sort) if quirks else []
        room = q.size - len(repeats)
        page_items = repeats + [item for _, item in keyed[:room]]
        after = encode_token(sort, q.descending, keyed[room - 1][0]) if len(keyed) > room else None
        if quirks and _archived_email(q) and len(page_items) >= 3:
            # Klaviyo returns archived email campaigns slightly out of order despite sort
            page_items[0], page_items[1] = page_items[1], page_items[0]
        data = [item.render(q.include, q.additional_fields) for item in page_items]
        return Page(data, self._included(data, q.include, by_type), after)

    def _small_repeats(self, q: Query, items: list[Item], sort: str) -> list[Item]:
        """Records exactly at a greater-than bound on the sort field, served again."""
        bounds = [c for c in q.conditions if c.op == "greater-than" and c.field == sort]
        if (
            not bounds
            or q.after is not None
            or q.descending
            or not self._repeat_equal(q.collection, bounds[0].value)
        ):
            return []
        equal = Condition("equals", sort, bounds[0].value)
        others = [c for c in q.conditions if c.field != sort]
        repeats = [
            item
            for item in items
            if satisfies(_values(item, sort), equal)
            and all(satisfies(_values(item, c.field), c) for c in others)
        ]
        return repeats[: min(QUIRK_REPEATS, q.size - 1)]

    def _repeat_equal(self, collection: str, bound: Any) -> bool:
        """Deterministically, half the bounds get their equal records served again."""
        return salt(self.seed, f"{collection}|{bound}") % 2 == 0

    # --- lazy collections ------------------------------------------------------------

    def _lazy_page(self, q: Query, plan: Plan, quirks: bool) -> Page:
        window = Window(plan.window.low, plan.window.high)
        if q.after is not None:
            cursor = decode_token(q.after, plan.sort, q.descending)
            if q.descending:
                window.high = min(window.high, cursor)
            else:
                window.low = max(window.low, cursor)
        repeats = (
            self._lazy_repeats(q, plan) if quirks and q.after is None and not q.descending else []
        )
        room = q.size - len(repeats)
        found = self._collect(plan, window, q.descending, room + 1)
        after = (
            encode_token(plan.sort, q.descending, found[room - 1][0]) if len(found) > room else None
        )
        data = repeats + [obj for _, obj in found[:room]]
        return Page(data, self._included(data, q.include), after)

    def _collect(
        self, plan: Plan, window: Window, descending: bool, limit: int
    ) -> list[tuple[Key, dict]]:
        found: list[tuple[Key, dict]] = []
        checks, residual = plan.checks, plan.residual
        for key in merged(plan.streams, window, descending):
            index = key[1]
            if checks and not all(check(index) for check in checks):
                continue
            obj = plan.build(index, key[0])
            if residual and not all(satisfies(plan.resolve(obj, c.field), c) for c in residual):
                continue
            found.append((key, plan.finish(obj)))
            if len(found) >= limit:
                break
        return found

    def _lazy_repeats(self, q: Query, plan: Plan) -> list[dict]:
        bounds = [
            c for c in q.conditions if c.op == "greater-than" and c.field in plan.window_fields
        ]
        if not bounds or not self._repeat_equal(q.collection, bounds[0].value):
            return []
        # records exactly at the greater-than bound come back again, as Klaviyo does
        bound = condition_number(bounds[0].value)
        repeats = self._collect(plan, Window((bound, -INF), (bound, INF)), False, QUIRK_REPEATS)
        return [obj for _, obj in repeats][: max(0, q.size - 1)]

    def _window(self, q: Query, fields: frozenset[str]) -> tuple[Window, list[Condition]]:
        window, rest = Window(), []
        for condition in q.conditions:
            if not (condition.field in fields and window.narrow(condition)):
                rest.append(condition)
        return window, rest

    # profiles

    def _profile_plan(self, q: Query) -> Plan:
        profiles = self.profiles
        sort = q.sort or "id"
        fields = frozenset({"id", "created"} if sort in ("id", "created") else {sort})
        window, residual = self._window(q, fields - {"id"})
        candidates = self._candidates(q.conditions)
        streams: list[Stream] | None
        if candidates is not None:
            streams = [
                self._keys(candidates, lambda p: profiles.value(sort, p), sort, lambda p: True)
            ]
        else:
            streams = profiles.streams(sort)
            if streams is None:  # e.g. sort=email: no arithmetic order, so it costs O(profiles)
                streams = [self._keys(range(profiles.total), lambda p: None, sort, lambda p: True)]
        needed = (
            {"subscriptions"}
            if any(c.field.startswith("subscriptions.") for c in residual)
            else set()
        )
        extra = frozenset(needed) - q.additional_fields
        checks = []
        if profiles.overlay.deleted:
            checks.append(lambda p: p not in profiles.overlay.deleted)
        if any(c.field.startswith("subscriptions.email.marketing.suppression.") for c in residual):
            checks.append(lambda p: profiles.suppression(p) is not None)
        if any(
            c.field.startswith("subscriptions.email.marketing.list_suppressions.") for c in residual
        ):
            checks.append(lambda p: profiles.list_suppression(p) is not None)

        def build(p: int, _: Any) -> dict:
            return self._profile(p, q.additional_fields | extra, q.include)

        def finish(obj: dict) -> dict:
            for name in extra:
                obj["attributes"].pop(name, None)
            return obj

        return Plan(sort, streams, window, fields, build, checks, residual, finish=finish)

    def _keys(
        self, indices: Any, value: Callable[[int], Any], sort: str, keep: Callable[[int], bool]
    ) -> Keys:
        """Explicit keys for candidate sets and for sorts without a monotone layout."""
        keys = []
        for p in indices:
            if not keep(p):
                continue
            found = value(p)
            if found is None and sort not in (SUPPRESSION, LIST_SUPPRESSION, "joined_group_at"):
                found = _sortable(_resolve_object(self.profiles.build(p), sort))
            if found is not None:
                keys.append((found, p))
        return Keys(keys)

    def _candidates(self, conditions: tuple[Condition, ...]) -> set[int] | None:
        """Profiles named by an identifier filter, decoded from the ids themselves."""
        result: set[int] | None = None
        for condition in conditions:
            if condition.field not in IDENTIFIERS or condition.op not in ("equals", "any"):
                continue
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            found = {
                p
                for value in values
                for p in self.profiles.indices_for(condition.field, str(value))
            }
            result = found if result is None else result & found
        return result

    def _profile(self, p: int, additional_fields: frozenset[str], include: frozenset[str]) -> dict:
        obj = self.profiles.build(p, additional_fields)
        relationships = obj["relationships"]
        for name in include & {"push-tokens", "conversations"}:
            relationships[name] = {"data": []}
        if "lists" in include:
            relationships["lists"] = {
                "data": [{"type": "list", "id": i} for i in self.list_groups.memberships(p)]
            }
        if "segments" in include:
            segments = self.segment_groups.memberships(p)
            relationships["segments"] = {"data": [{"type": "segment", "id": i} for i in segments]}
        return obj

    # events

    def _event_plan(self, q: Query) -> Plan:
        events = self.events
        fields = frozenset({"datetime", "timestamp"})
        window, rest = self._window(q, fields)
        metric = None
        checks: list[Callable[[int], bool]] = []
        residual = []
        for condition in rest:
            if condition.field == "metric_id" and condition.op == "equals":
                metric = self.metric(str(condition.value))
                if metric is None:
                    checks.append(lambda e: False)
            elif condition.field == "profile_id" and condition.op == "equals":
                wanted = self.profiles.index_of_id(str(condition.value))
                checks.append(lambda e, wanted=wanted: events.profile_of(e) == wanted)  # type: ignore[misc]
            elif condition.op == "has" and condition.field == "metric":
                if events.orphans:  # quirks: a few events have no resolvable metric
                    checks.append(events.resolvable)
            elif condition.op == "has" and condition.field == "profile":
                continue  # every sandbox event has one
            else:
                residual.append(condition)

        def build(e: int, ts: Any) -> dict:
            return self._event(e, ts, q.include)

        return Plan("datetime", events.streams(metric), window, fields, build, checks, residual)

    def _event(self, e: int, ts: int | None, include: frozenset[str]) -> dict:
        obj = self.events.build(e, ts)
        if "attributions" in include:
            obj["relationships"]["attributions"] = {"data": self.attributions.refs(e)}
        return obj

    # list and segment members

    def _groups(self, collection: str) -> Groups:
        return self.list_groups if collection.startswith("list") else self.segment_groups

    def _member_plan(self, q: Query) -> Plan:
        groups = self._groups(q.collection)
        g = groups.position.get(q.parent_id or "")
        if g is None:
            raise NotFound(f"A resource with id {q.parent_id} does not exist.")
        fields = frozenset({"joined_group_at"})
        window, residual = self._window(q, fields)
        candidates = self._candidates(q.conditions)
        if candidates is not None:
            streams: list[Stream] = [
                self._keys(
                    candidates, lambda p: groups.joined_at(g, p), "joined_group_at", lambda p: True
                )
            ]
        else:
            streams = groups.streams(g)

        def resolve(obj: dict, name: str) -> list:
            return _resolve_object(obj, "id" if name == "profile_id" else name)

        def build(p: int, joined: Any) -> dict:
            obj = self.profiles.build(p, q.additional_fields)
            obj["attributes"]["joined_group_at"] = iso(joined)
            obj["relationships"] = {name: {} for name in ("lists", "segments", "push-tokens")}
            return obj

        return Plan(
            "joined_group_at", streams, window, fields, build, residual=residual, resolve=resolve
        )

    # --- related objects -------------------------------------------------------------

    def _included(
        self, data: list[dict], include: frozenset[str], by_type: dict[str, Table] | None = None
    ) -> list[dict]:
        included: list[dict] = []
        seen: set[tuple[str, str]] = set()
        for obj in data:
            for name in sorted(include):
                related = obj.get("relationships", {}).get(name, {}).get("data")
                for ref in related if isinstance(related, list) else [related] if related else []:
                    marker = (ref["type"], ref["id"])
                    if marker not in seen:
                        seen.add(marker)
                        found = self._object(*marker, by_type or self.by_type)
                        if found is not None:
                            included.append(found)
        return included

    def _object(self, kind: str, ident: str, by_type: dict[str, Table]) -> dict | None:
        if kind == "profile":
            p = self.profiles.index_of_id(ident)
            return None if p is None else self.profiles.build(p)
        if kind == "attribution":
            found = self.attributions.index_of_id(ident)
            return None if found is None else self.attributions.resource(*found)
        table = by_type.get(kind)
        item = table.by_id.get(ident) if table else None
        return None if item is None else item.render(frozenset())

    def _account(self) -> dict:
        public_key = _unique_short_ids(self.seed, "account", 1)[0]
        return {
            "type": "account",
            "id": public_key,
            "attributes": {
                "test_account": False,
                "contact_information": {
                    "default_sender_name": "Example Shop",
                    "default_sender_email": "hello@shop.example.com",
                    "website_url": "https://shop.example.com",
                    "organization_name": "Example Shop Inc.",
                    "street_address": {
                        "address1": "125 Summer St",
                        "address2": "Floor 6",
                        "city": "Boston",
                        "region": "MA",
                        "country": "US",
                        "zip": "02110",
                    },
                },
                "industry": "Apparel & Accessories",
                "timezone": self.timezone,
                "preferred_currency": "USD",
                "public_api_key": public_key,
                "locale": "en-US",
            },
        }
