"""``Account``: one simulated Klaviyo account, answering the HTTP layer's queries.

The account iterates its collection rows (``_collections``): tables to build, records by
type for ``include``, timelines for ground truth, parents, deletes. Pages are cut in
``_pages``, generated collections planned in ``_lazy``, time and deletes in ``_activity``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..model import Condition, InvalidQuery, NotFound, Page, Query, Resource
from . import _omnichannel as omnichannel
from . import _storefront as storefront
from ._activity import Activity
from ._attributions import Attributions
from ._catalog import Catalog
from ._collections import BY_NAME, COLLECTIONS, Collection
from ._core import UTC, epoch
from ._events import Events
from ._groups import Groups
from ._lazy import Lazy
from ._metrics import Metric, duplicate_metric, make_metrics, object_categories, vanished_metric
from ._pages import Included, item_values, lazy_page, small_page
from ._profiles import Profiles
from ._quirks import Stamps
from ._reports import Reports
from ._tables import Item, Table, unique_short_ids

ALL = 10**12  # page size for ground truth: everything in one page
ACCOUNT_TIMEZONE = "America/New_York"


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


class Account(Activity):
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
        list_ids = unique_short_ids(seed, "list", sizes.lists)
        base, duplicate = self._open_metrics()
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
        self.catalog: Catalog = Catalog(seed, sizes, self.anchor, base, list_ids)
        catalog = self.catalog
        self.metric_table: Table = self._metric_table()
        self.list_groups = self._groups(list_ids, catalog.list_created)
        self.segment_groups = self._groups(
            [item.id for item in catalog.segments.items], catalog.segment_created
        )
        self.vanished: dict[str, frozenset[str]] = {
            row.name: frozenset() for row in COLLECTIONS if row.vanishing
        }
        """Collection -> ids listed by it whose detail and children answer NotFound."""
        if quirks:
            # after the groups: vanished lists and segments have no members
            self.vanished.update(catalog.add_quirks())
            self._future_dated()
            self.vanished["metrics"] = frozenset({self.metrics[-1].id})
        self.stamps = Stamps(seed)
        self.attributions = Attributions(seed, self.events, catalog)
        self.storefront: storefront.Storefront = storefront.Storefront(
            seed, sizes, self.anchor, self.profiles.id, sizes.profiles
        )
        self.account_table: Table = Table()
        self.account_table.add(Item(0, self._account()))
        self.tables = {row.name: row.table(self) for row in COLLECTIONS if row.table is not None}
        self.by_type = {row.type: self.tables[row.name] for row in _typed(table=True)}
        self.groups = {"lists": self.list_groups, "segments": self.segment_groups}
        self.lazy = Lazy(
            profiles=self.profiles,
            events=self.events,
            lists=self.list_groups,
            segments=self.segment_groups,
            attributions=self.attributions,
            metric=self.metric,
        )
        self.reports = Reports(self)
        self._open_activity()
        self._truths: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def _open_metrics(self) -> tuple[list[Metric], Metric | None]:
        """``metrics``: with quirks, after the base ones (whose indices the events use), a
        second "Placed Order" (``duplicate_metrics``), then one that vanished. Returns the
        base metrics and the duplicate."""
        base = make_metrics(self.seed, self.sizes.metrics, self.anchor)
        self.metrics = base
        self.duplicate_metrics: dict[str, tuple[str, ...]] = {}
        """Metric name -> ids of the metrics sharing it, oldest first (quirks only)."""
        if not self.quirks:
            return base, None
        base = object_categories(base)
        duplicate = duplicate_metric(self.seed, base, self.anchor)
        listed = [*base, *([duplicate] if duplicate else [])]
        self.metrics = [*listed, vanished_metric(self.seed, listed, self.anchor)]
        if duplicate is not None:
            self.duplicate_metrics[duplicate.name] = tuple(
                m.id for m in self.metrics if m.name == duplicate.name
            )
        return base, duplicate

    def _metric_table(self) -> Table:
        table = Table()
        for metric in self.metrics:
            category = metric.integration["category"]
            # an object-shaped category (quirk) still filters by its name
            virtual = (
                {"integration.category": category["category"]} if isinstance(category, dict) else {}
            )
            triggers = self.catalog.metric_triggers.get(metric.id, [])
            table.add(
                Item(
                    metric.index,
                    metric.resource(),
                    to_many={"flow-triggers": triggers},
                    virtual=virtual,
                )
            )
        return table

    def _groups(self, ids: list[str], created: Callable[[int], int]) -> Groups:
        """Membership of the lists or the segments."""
        created_at = [created(k) for k in range(len(ids))]
        return Groups(self.seed, ids, created_at, self.anchor, self.sizes.profiles)

    # --- public API ------------------------------------------------------------------

    def query(self, q: Query) -> Page:
        return self._present(self._query(q, rules=True, quirks=self.quirks))

    def get(
        self,
        collection: str,
        id: str,
        additional_fields: frozenset[str] = frozenset(),
        include: frozenset[str] = frozenset(),
    ) -> Page:
        row = BY_NAME.get(collection)
        if row is None:
            raise NotFound(f"Unknown collection {collection}.")
        if id in self.vanished.get(collection, ()):
            raise NotFound(f"A resource with id {id} does not exist.")
        if row.one is not None:
            obj = row.one(self.lazy, id, additional_fields, include)
            return self._present(Page([obj], self._included(include)([obj])))
        if row.plan is not None:
            raise NotFound(f"Unknown collection {collection}.")  # members: no single GET
        view = omnichannel.View(self.seed, self.catalog) if row.view else None
        item = self._tables(view)[collection].by_id.get(id)
        if item is None:
            raise NotFound(f"A resource with id {id} does not exist.")
        obj = item.render(include, frozenset() if view else additional_fields)
        if "profile_count" in additional_fields and collection in self.groups:
            groups = self.groups[collection]
            obj["attributes"]["profile_count"] = groups.count(groups.position[id])
        return self._present(Page([obj], self._included(include, view)([obj])))

    def metric(self, metric_id: str) -> Metric | None:
        """A listed metric by id (vanished ones included)."""
        return next((m for m in self.metrics if m.id == metric_id), None)

    def report(self, report_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return self.reports.run(report_type, attributes)

    def truth(
        self,
        collection: str,
        parent_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        field: str | None = None,
    ) -> dict[str, Any]:
        """Ids whose ``field`` (default: the timeline field) is in ``(since, until]``.

        Worked out once per version of the account: a test asks for the same truth many
        times between changes, and working it out builds every object."""
        key = (self.version, collection, parent_id, since, until, field)
        ids = self._truths.get(key)
        if ids is None:
            if self._truths and next(iter(self._truths))[0] != self.version:
                self._truths.clear()
            ids = self._truths[key] = self._truth_ids(collection, parent_id, since, until, field)
        return {"count": len(ids), "ids": list(ids)}

    def _truth_ids(
        self,
        collection: str,
        parent_id: str | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
        field: str | None,
    ) -> tuple[str, ...]:
        row = BY_NAME.get(collection)
        name = field or (row.timeline if row else None)
        conditions = []
        if name is not None and since is not None:
            conditions.append(Condition("greater-than", name, since))
        if name is not None and until is not None:
            conditions.append(Condition("less-or-equal", name, until))
        q = Query(collection, parent_id, tuple(conditions), sort=name, size=ALL)
        return tuple(obj["id"] for obj in self._query(q, rules=False, quirks=False).data)

    def summary(self) -> dict[str, Any]:
        """How many records each collection holds, as its ground truth counts them (once:
        not again under another collection's name)."""
        view = omnichannel.View(self.seed, self.catalog)
        counts = {row.name: self._count(row, view) for row in COLLECTIONS if row.same_as is None}
        return {**counts, "clock": self.now().isoformat()}

    def _count(self, row: Collection, view: omnichannel.View) -> int:
        if row.count is not None:
            return row.count(self)
        return len(self._tables(view if row.view else None)[row.name].items)

    def member_count(self, collection: str) -> int:
        """Memberships of the lists or segments the account still has, as its truth counts
        them: a deleted (or vanished) group's members are gone with it."""
        groups = self.groups[collection]
        gone = self.deleted.get(collection, set()) | self.vanished.get(collection, frozenset())
        return sum(groups.count(g) for g, group_id in enumerate(groups.ids) if group_id not in gone)

    # --- queries ---------------------------------------------------------------------

    def _present(self, page: Page) -> Page:
        """Mixed timestamp forms (quirks), applied to the page once it is chosen."""
        if self.quirks:
            vary = self.stamps.vary
            for obj in page.data:
                vary(obj)
            for obj in page.included:
                vary(obj)
        return page

    def _query(self, q: Query, rules: bool, quirks: bool) -> Page:
        """A page of the collection. ``rules``: a request (Klaviyo's required filters, a
        gone parent is NotFound); without, ground truth (a gone parent has no children)."""
        row = BY_NAME.get(q.collection)
        if row is None:
            raise InvalidQuery(f"Unknown collection {q.collection}.")
        view = omnichannel.View(self.seed, self.catalog) if row.view else None
        tables = self._tables(view)
        parent, parent_id = row.parent, q.parent_id
        if parent and parent_id is not None and not self._exists(parent, parent_id, tables):
            if rules:
                raise NotFound(f"A resource with id {q.parent_id} does not exist.")
            return Page([])
        included = self._included(q.include, view)
        if row.plan is not None:
            return lazy_page(q, row.plan(self.lazy, q), quirks, self.seed, included)
        if parent and parent_id is not None:
            items = tables[row.name].children(parent_id)
        else:
            items = self._listed(row, tables[row.name], q, rules)
        if not row.paginated:
            q = replace(q, size=ALL, after=None)
        return small_page(q, items, quirks, self.seed, included)

    def _tables(self, view: omnichannel.View | None) -> dict[str, Table]:
        return view.tables if view is not None else self.tables

    def _exists(self, collection: str, id: str, tables: dict[str, Table]) -> bool:
        """Listed, neither deleted nor vanished (whose children answer 404 too)."""
        return (
            id in tables[collection].by_id
            and id not in self.vanished.get(collection, ())
            and id not in self.deleted.get(collection, ())
        )

    def _listed(self, row: Collection, table: Table, q: Query, rules: bool) -> list[Item]:
        if rules and row.required is not None and not row.required.met(q.conditions):
            raise InvalidQuery(row.required.detail, "filter")
        if rules and row.hides_archived and not any(c.field == "archived" for c in q.conditions):
            return [item for item in table.items if not any(item_values(item, "archived"))]
        return table.items

    # --- related objects -------------------------------------------------------------

    def _included(self, include: frozenset[str], view: omnichannel.View | None = None) -> Included:
        """The objects ``include`` names, by type (the 2026-10-15 model's own in its view)."""
        if view is None:
            by_type = self.by_type
        else:
            by_type = {row.type: view.tables[row.name] for row in _typed(table=False)}

        def included(data: list[Resource]) -> list[Resource]:
            found: list[Resource] = []
            seen: set[tuple[str, str]] = set()
            for obj in data:
                for name in sorted(include):
                    related = obj.get("relationships", {}).get(name, {}).get("data")
                    for ref in (
                        related if isinstance(related, list) else [related] if related else []
                    ):
                        marker = (ref["type"], ref["id"])
                        if marker not in seen:
                            seen.add(marker)
                            other = self._object(*marker, by_type)
                            if other is not None:
                                found.append(other)
            return found

        return included

    def _object(self, kind: str, ident: str, by_type: dict[str, Table]) -> Resource | None:
        if kind == "profile":
            p = self.profiles.index_of_id(ident)
            return None if p is None else self.profiles.build(p)
        if kind == "attribution":
            found = self.attributions.index_of_id(ident)
            return None if found is None else self.attributions.resource(*found)
        table = by_type.get(kind)
        item = table.by_id.get(ident) if table else None
        return None if item is None else item.render(frozenset())

    def _account(self) -> Resource:
        public_key = unique_short_ids(self.seed, "account", 1)[0]
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


def _typed(table: bool) -> list[Collection]:
    """The rows whose records ``include`` finds by type: the tables', or the view's."""
    return [row for row in COLLECTIONS if (row.table is not None if table else row.view)]
