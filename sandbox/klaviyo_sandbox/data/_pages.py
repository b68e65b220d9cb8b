"""Pages of a collection: filtered, sorted, cut after a cursor, with the records Klaviyo
serves twice (quirks: those exactly at a ``greater-than`` bound come back on the next read).

Small collections are lists of ``Item``s; lazy ones (profiles, events, members) are walked
through a ``Plan``: streams of sort keys in index order, built into objects on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model import Condition, Page, Query, Resource
from ._core import (
    INF,
    Key,
    Stream,
    Window,
    condition_number,
    decode_token,
    encode_token,
    merged,
    salt,
    satisfies,
    walk,
)
from ._tables import Item

QUIRK_REPEATS = 3
Included = Callable[[list[Resource]], list[Resource]]
"""The objects a page's ``include`` names, given the page's data."""


def resolve(obj: Resource, name: str) -> list[Any]:
    """The values of a (dotted) field of a resource object, for filters and sorts."""
    if name == "id":
        return [obj["id"]]
    return walk(obj["attributes"], name.split("."))


def item_values(item: Item, name: str) -> list[Any]:
    """The values of a field of an item: its filter-only fields first."""
    if name in item.virtual:
        return [item.virtual[name]]
    return [item.id] if name == "id" else walk(item.attributes, name.split("."))


def sortable(values: list[Any]) -> Any:
    value = values[0] if values else None
    return "" if value is None else value


def _unchanged(obj: Resource) -> Resource:
    return obj


@dataclass
class Plan:
    """How to page a lazy collection: key streams, a key window, per-index checks."""

    sort: str
    streams: list[Stream]
    window: Window
    window_fields: frozenset[str]
    build: Callable[[int, Any], Resource]
    checks: list[Callable[[int], bool]] = field(default_factory=list)
    residual: list[Condition] = field(default_factory=list)
    resolve: Callable[[Resource, str], list[Any]] = field(default=resolve)
    finish: Callable[[Resource], Resource] = field(default=_unchanged)


def window(q: Query, fields: frozenset[str]) -> tuple[Window, list[Condition]]:
    """The key window the conditions on ``fields`` narrow to, and the other conditions."""
    found, rest = Window(), []
    for condition in q.conditions:
        if not (condition.field in fields and found.narrow(condition)):
            rest.append(condition)
    return found, rest


def repeat_equal(seed: int, collection: str, bound: Any) -> bool:
    """Deterministically, half the bounds get their equal records served again."""
    return salt(seed, f"{collection}|{bound}") % 2 == 0


# --- small collections -----------------------------------------------------------------


def small_page(q: Query, items: list[Item], quirks: bool, seed: int, included: Included) -> Page:
    selected = [
        item
        for item in items
        if all(satisfies(item_values(item, c.field), c) for c in q.conditions)
    ]
    sort = q.sort or ""

    def key(item: Item) -> Key:
        return (sortable(item_values(item, sort)) if sort else item.order, item.order)

    keyed = sorted(
        ((key(item), item) for item in selected), key=lambda pair: pair[0], reverse=q.descending
    )
    if q.after is not None:
        cursor = decode_token(q.after, sort, q.descending)
        keyed = [(k, item) for k, item in keyed if (k < cursor if q.descending else k > cursor)]
    repeats = _small_repeats(q, items, sort, seed) if quirks else []
    room = q.size - len(repeats)
    page_items = repeats + [item for _, item in keyed[:room]]
    after = encode_token(sort, q.descending, keyed[room - 1][0]) if len(keyed) > room else None
    if quirks and _archived_email(q) and len(page_items) >= 3:
        # Klaviyo returns archived email campaigns slightly out of order despite sort
        page_items[0], page_items[1] = page_items[1], page_items[0]
    data = [item.render(q.include, q.additional_fields) for item in page_items]
    return Page(data, included(data), after)


def _small_repeats(q: Query, items: list[Item], sort: str, seed: int) -> list[Item]:
    """Records exactly at a greater-than bound on the sort field, served again."""
    bounds = [c for c in q.conditions if c.op == "greater-than" and c.field == sort]
    if (
        not bounds
        or q.after is not None
        or q.descending
        or not repeat_equal(seed, q.collection, bounds[0].value)
    ):
        return []
    equal = Condition("equals", sort, bounds[0].value)
    others = [c for c in q.conditions if c.field != sort]
    repeats = [
        item
        for item in items
        if satisfies(item_values(item, sort), equal)
        and all(satisfies(item_values(item, c.field), c) for c in others)
    ]
    return repeats[: min(QUIRK_REPEATS, q.size - 1)]


def _archived_email(q: Query) -> bool:
    conditions = {(c.op, c.field): c.value for c in q.conditions}
    return (
        q.collection == "campaigns"
        and conditions.get(("equals", "archived")) is True
        and conditions.get(("equals", "messages.channel")) == "email"
    )


# --- lazy collections ------------------------------------------------------------------


def lazy_page(q: Query, plan: Plan, quirks: bool, seed: int, included: Included) -> Page:
    bounds = Window(plan.window.low, plan.window.high)
    if q.after is not None:
        cursor = decode_token(q.after, plan.sort, q.descending)
        if q.descending:
            bounds.high = min(bounds.high, cursor)
        else:
            bounds.low = max(bounds.low, cursor)
    repeats = (
        _lazy_repeats(q, plan, seed) if quirks and q.after is None and not q.descending else []
    )
    room = q.size - len(repeats)
    found = _collect(plan, bounds, q.descending, room + 1)
    after = encode_token(plan.sort, q.descending, found[room - 1][0]) if len(found) > room else None
    data = repeats + [obj for _, obj in found[:room]]
    return Page(data, included(data), after)


def _collect(
    plan: Plan, bounds: Window, descending: bool, limit: int
) -> list[tuple[Key, Resource]]:
    found: list[tuple[Key, Resource]] = []
    checks, residual = plan.checks, plan.residual
    for key in merged(plan.streams, bounds, descending):
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


def _lazy_repeats(q: Query, plan: Plan, seed: int) -> list[Resource]:
    bounds = [c for c in q.conditions if c.op == "greater-than" and c.field in plan.window_fields]
    if not bounds or not repeat_equal(seed, q.collection, bounds[0].value):
        return []
    # records exactly at the greater-than bound come back again, as Klaviyo does
    bound = condition_number(bounds[0].value)
    repeats = _collect(plan, Window((bound, -INF), (bound, INF)), False, QUIRK_REPEATS)
    return [obj for _, obj in repeats][: max(0, q.size - 1)]
