"""The small collections, materialised at construction: lists, segments, campaigns and
their messages (``_campaigns``), flows with actions and messages (``_flows``), templates,
tags and tag groups."""

from __future__ import annotations

import random
from typing import Any

from ._campaigns import Campaigns
from ._core import DAY, iso, mix, salt, short_id, uuid_text
from ._flows import Flows
from ._metrics import Metric
from ._tables import Item, Table, unique_short_ids
from ._words import LIST_NAMES, SEGMENT_NAMES, TAG_NAMES, TEMPLATE_NAMES

GREETING = "<p>Hello {{ first_name }}</p>"
_PROFILE_POINTS = {
    "type": "profile-property",
    "property": "properties['loyalty_points']",
    "filter": {"type": "numeric", "operator": "greater-than", "value": 10},
}


class Catalog(Campaigns, Flows):
    def __init__(
        self, seed: int, sizes: Any, anchor: int, metrics: list[Metric], list_ids: list[str]
    ) -> None:
        self.seed, self.anchor = seed, anchor
        self.metrics = metrics
        self.tag_groups = Table()
        self.tags = Table()
        self.templates = Table()
        self.lists = Table()
        self.segments = Table()
        self.campaigns = Table()
        self.campaign_messages = Table()
        self.flows = Table()
        self.flow_actions = Table()
        self.flow_messages = Table()
        self.metric_triggers: dict[str, list[tuple[str, str]]] = {}
        rng = random.Random(salt(seed, "catalog"))
        self._tags(sizes.tags)
        self._templates(rng, sizes.templates)
        self._lists(rng, list_ids)
        self._segments(rng, sizes.segments)
        self._campaigns(rng, sizes.campaigns)
        self._flows(rng, sizes.flows)

    def _tags(self, count: int) -> None:
        for number, (name, exclusive, default) in enumerate(
            (("Default", False, True), ("Season", True, False))
        ):
            h = mix(salt(self.seed, "tag-group") ^ number)
            self.tag_groups.add(
                Item(
                    number,
                    {
                        "type": "tag-group",
                        "id": uuid_text(h, mix(h)),
                        "attributes": {"name": name, "exclusive": exclusive, "default": default},
                        "relationships": {"tags": {}},
                    },
                )
            )
        groups = self.tag_groups.items
        for number in range(count):
            h = mix(salt(self.seed, "tag") ^ number)
            name = TAG_NAMES[number % len(TAG_NAMES)] + (
                "" if number < len(TAG_NAMES) else f" {number}"
            )
            group = groups[1 if name in ("Black Friday", "Holiday") else 0]
            self.tags.add(
                Item(
                    number,
                    {
                        "type": "tag",
                        "id": uuid_text(h, mix(h)),
                        "attributes": {"name": name},
                        "relationships": {
                            "tag-group": {"data": {"type": "tag-group", "id": group.id}}
                        },
                    },
                    to_many={"lists": [], "segments": [], "campaigns": [], "flows": []},
                )
            )

    def _templates(self, rng: random.Random, count: int) -> None:
        editors = ("SYSTEM_DRAGGABLE", "CODE", "USER_DRAGGABLE", "SIMPLE")
        for number, template_id in enumerate(unique_short_ids(self.seed, "template", count)):
            name = TEMPLATE_NAMES[number % len(TEMPLATE_NAMES)] + (
                f" v{number}" if number >= 8 else ""
            )
            created = self.anchor - (700 - number * 50) * DAY
            self.templates.add(
                Item(
                    number,
                    {
                        "type": "template",
                        "id": template_id,
                        "attributes": {
                            "name": name,
                            "editor_type": editors[number % len(editors)],
                            "html": f"<html><body><h1>{name}</h1>{GREETING}</body></html>",
                            "text": f"{name}\n\nHello {{{{ first_name }}}}"
                            if rng.random() < 0.7
                            else None,
                            "amp": "<html ⚡4email><body>AMP</body></html>"
                            if rng.random() < 0.15
                            else None,
                            "created": iso(created),
                            "updated": iso(created + rng.randint(0, 40) * DAY),
                        },
                    },
                )
            )

    def _lists(self, rng: random.Random, list_ids: list[str]) -> None:
        for number, list_id in enumerate(list_ids):
            created = self.list_created(number)
            item = self.lists.add(
                Item(
                    number,
                    {
                        "type": "list",
                        "id": list_id,
                        "attributes": {
                            "name": LIST_NAMES[number % len(LIST_NAMES)]
                            + (f" {number}" if number >= 12 else ""),
                            "created": iso(created),
                            "updated": iso(created + rng.randint(1, 200) * DAY),
                            "opt_in_process": "double_opt_in"
                            if number % 3 == 0
                            else "single_opt_in",
                        },
                    },
                    to_many={"flow-triggers": []},
                )
            )
            self._link_tags(item, "list", self._tag_ids(rng))

    def list_created(self, number: int) -> int:
        return self.anchor - (720 - number * 30) * DAY

    def segment_created(self, number: int) -> int:
        return self.anchor - (650 - number * 40) * DAY

    def _segments(self, rng: random.Random, count: int) -> None:
        for number, segment_id in enumerate(unique_short_ids(self.seed, "segment", count)):
            created = self.segment_created(number)
            item = self.segments.add(
                Item(
                    number,
                    {
                        "type": "segment",
                        "id": segment_id,
                        "attributes": {
                            "name": SEGMENT_NAMES[number % len(SEGMENT_NAMES)]
                            + (f" {number}" if number >= 8 else ""),
                            "definition": self._segment_definition(number),
                            "created": iso(created),
                            "updated": iso(created + rng.randint(1, 200) * DAY),
                            "is_active": number % 5 != 4,
                            "is_processing": False,
                            "is_starred": number % 3 == 0,
                        },
                    },
                    to_many={"flow-triggers": []},
                )
            )
            self._link_tags(item, "segment", self._tag_ids(rng))

    def _segment_definition(self, number: int) -> dict[str, Any]:
        metric = self.metrics[number % len(self.metrics)] if self.metrics else None
        condition: dict[str, Any]
        if number % 3 == 0 and self.lists.items:
            condition = {
                "type": "profile-group-membership",
                "is_member": True,
                "group_ids": [self.lists.items[number % len(self.lists.items)].id],
                "timeframe_filter": None,
            }
        elif number % 3 == 1 and metric is not None:
            condition = {
                "type": "profile-metric",
                "metric_id": metric.id,
                "measurement": "count",
                "measurement_filter": {"type": "numeric", "operator": "greater-than", "value": 0},
                "timeframe_filter": {
                    "type": "date",
                    "operator": "in-the-last",
                    "unit": "day",
                    "quantity": 90,
                },
                "metric_filters": None,
            }
        else:
            condition = {
                "type": "profile-property",
                "property": "properties['loyalty_points']",
                "filter": {"type": "numeric", "operator": "greater-than", "value": 1000},
            }
        return {"condition_groups": [{"conditions": [condition]}]}

    def add_quirks(self) -> dict[str, frozenset[str]]:
        """What live accounts send beyond the spec's plain shapes; the ids listed but gone."""
        self.vary_campaigns()
        self.add_unlisted_attributes()
        self.vary_flow_messages()
        return self.add_vanished()

    def add_unlisted_attributes(self) -> None:
        """Quirks: templates carry ``thumbnail_url``, an attribute no spec lists: Klaviyo adds
        attributes between spec releases (live profiles' ``anonymous_id`` is another)."""
        for item in self.templates.items:
            item.attributes["thumbnail_url"] = f"https://cdn.example.com/templates/{item.id}.png"

    def add_vanished(self) -> dict[str, frozenset[str]]:
        """Quirks: one list, segment and flow action that are listed but deleted meanwhile.

        They are appended last, so every first listed record is a real one; nothing else
        refers to them (no members, messages, tags or triggers).
        """
        anchor = self.anchor
        created, updated = iso(anchor - 400 * DAY), iso(anchor - 2 * DAY)
        list_id = self._free_short_id("vanished-list", self.lists)
        self.lists.add(
            Item(
                len(self.lists.items),
                {
                    "type": "list",
                    "id": list_id,
                    "attributes": {
                        "name": "Imported 2023 (old)",
                        "created": created,
                        "updated": updated,
                        "opt_in_process": "single_opt_in",
                    },
                },
                to_many={"flow-triggers": [], "tags": []},
            )
        )
        segment_id = self._free_short_id("vanished-segment", self.segments)
        definition = {"condition_groups": [{"conditions": [_PROFILE_POINTS]}]}
        self.segments.add(
            Item(
                len(self.segments.items),
                {
                    "type": "segment",
                    "id": segment_id,
                    "attributes": {
                        "name": "Test segment (delete me)",
                        "definition": definition,
                        "created": created,
                        "updated": updated,
                        "is_active": True,
                        "is_processing": False,
                        "is_starred": False,
                    },
                },
                to_many={"flow-triggers": [], "tags": []},
            )
        )
        found = {"lists": frozenset({list_id}), "segments": frozenset({segment_id})}
        found["flow-actions"] = self._vanished_action()
        return found

    def _free_short_id(self, kind: str, table: Table) -> str:
        h = mix(salt(self.seed, kind))
        while short_id(h) in table.by_id:
            h = mix(h)
        return short_id(h)
