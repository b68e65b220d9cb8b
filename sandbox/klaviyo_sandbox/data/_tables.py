"""The materialised records of the small collections: ``Item`` and ``Table``, and what the
modules that build them share (``CatalogBase``: the tables and their tags)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from ._core import mix, salt, short_id
from ._metrics import Metric


@dataclass
class Item:
    """One materialised record: its resource object plus what queries need beside it.

    ``to_many`` relationship data is rendered only when included; ``virtual`` holds filter
    fields that are not attributes (``messages.channel``, ``action_type``...).
    """

    order: int
    resource: dict[str, Any]
    parent: str | None = None
    to_many: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    virtual: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = self.resource["attributes"]
        return attributes

    def render(
        self, include: frozenset[str], additional_fields: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        relationships = dict(self.resource.get("relationships", {}))
        for name, related in self.to_many.items():
            relationships[name] = (
                {"data": [{"type": kind, "id": ident} for kind, ident in related]}
                if name in include
                else {}
            )
        attributes = dict(self.attributes)
        for name, value in self.extra.items():
            if name in additional_fields:
                attributes[name] = value
        rendered = {"type": self.resource["type"], "id": self.id, "attributes": attributes}
        if relationships:
            rendered["relationships"] = relationships
        return rendered


class Table:
    """Items of one collection in natural order, with an id index."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.by_id: dict[str, Item] = {}

    def add(self, item: Item) -> Item:
        self.items.append(item)
        self.by_id[item.id] = item
        return item

    def children(self, parent: str) -> list[Item]:
        return [item for item in self.items if item.parent == parent]


def unique_short_ids(seed: int, kind: str, count: int) -> list[str]:
    ids: list[str] = []
    h = salt(seed, kind)
    while len(ids) < count:
        h = mix(h)
        candidate = short_id(h)
        if candidate not in ids:
            ids.append(candidate)
    return ids


def spread(rng: random.Random, count: int, share: float) -> list[bool]:
    """Exactly ``round(count * share)`` (at least one when count > 1) flags, shuffled."""
    hits = max(1 if count > 1 else 0, round(count * share))
    flags = [k < hits for k in range(count)]
    rng.shuffle(flags)
    return flags


def epoch_of(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


class CatalogBase:
    """The catalog's tables, shared by the modules that fill them (``_catalog``,
    ``_campaigns``, ``_flows``)."""

    seed: int
    anchor: int
    metrics: list[Metric]
    tag_groups: Table
    tags: Table
    templates: Table
    lists: Table
    segments: Table
    campaigns: Table
    campaign_messages: Table
    flows: Table
    flow_actions: Table
    flow_messages: Table
    metric_triggers: dict[str, list[tuple[str, str]]]

    def _tag_ids(self, rng: random.Random) -> list[tuple[str, str]]:
        chosen = rng.sample(self.tags.items, min(len(self.tags.items), rng.choice((0, 0, 1, 2))))
        return [("tag", item.id) for item in chosen]

    def _link_tags(self, item: Item, kind: str, tags: list[tuple[str, str]]) -> None:
        item.to_many["tags"] = tags
        for _, tag_id in tags:
            self.tags.by_id[tag_id].to_many[kind + "s"].append((kind, item.id))
