"""The small collections, materialised at construction: lists, segments, campaigns and
their messages, flows with actions and messages, templates, tags and tag groups."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from ._core import DAY, iso, mix, salt, short_id, ulid, uuid_text
from ._events import Metric
from ._words import (
    FLOW_NAMES,
    LIST_NAMES,
    SEGMENT_NAMES,
    SMS_BODIES,
    SUBJECTS,
    TAG_NAMES,
    TEMPLATE_NAMES,
)

CAMPAIGN_CHANNELS = ("email", "sms", "mobile_push")
GREETING = "<p>Hello {{ first_name }}</p>"
SENT = ("Sent", "Variations Sent")
# Days before the anchor when the latest sent campaigns went out: a last_30_days
# campaign-values-report has rows in every account.
RECENT_SENDS = (4, 11, 18, 25)


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


def _unique_short_ids(seed: int, kind: str, count: int) -> list[str]:
    ids: list[str] = []
    h = salt(seed, kind)
    while len(ids) < count:
        h = mix(h)
        candidate = short_id(h)
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _spread(rng: random.Random, count: int, share: float) -> list[bool]:
    """Exactly ``round(count * share)`` (at least one when count > 1) flags, shuffled."""
    hits = max(1 if count > 1 else 0, round(count * share))
    flags = [k < hits for k in range(count)]
    rng.shuffle(flags)
    return flags


class Catalog:
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

    def _tag_ids(self, rng: random.Random) -> list[tuple[str, str]]:
        chosen = rng.sample(self.tags.items, min(len(self.tags.items), rng.choice((0, 0, 1, 2))))
        return [("tag", item.id) for item in chosen]

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

    def _link_tags(self, item: Item, kind: str, tags: list[tuple[str, str]]) -> None:
        item.to_many["tags"] = tags
        for _, tag_id in tags:
            self.tags.by_id[tag_id].to_many[kind + "s"].append((kind, item.id))

    def _templates(self, rng: random.Random, count: int) -> None:
        editors = ("SYSTEM_DRAGGABLE", "CODE", "USER_DRAGGABLE", "SIMPLE")
        for number, template_id in enumerate(_unique_short_ids(self.seed, "template", count)):
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
        for number, segment_id in enumerate(_unique_short_ids(self.seed, "segment", count)):
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

    # --- campaigns -------------------------------------------------------------------

    def _campaigns(self, rng: random.Random, count: int) -> None:
        channels = [CAMPAIGN_CHANNELS[0]] * round(count * 0.6) + [CAMPAIGN_CHANNELS[1]] * round(
            count * 0.25
        )
        channels += [CAMPAIGN_CHANNELS[2]] * (count - len(channels))
        channels = channels[:count]
        rng.shuffle(channels)
        archived: list[bool] = [False] * count
        for channel in CAMPAIGN_CHANNELS:
            positions = [k for k, c in enumerate(channels) if c == channel]
            for k, flag in zip(positions, _spread(rng, len(positions), 0.15), strict=True):
                archived[k] = flag
        audiences = [item.id for item in (*self.lists.items, *self.segments.items)] or ["none"]
        for number in range(count):
            created = self.anchor - (700 - number * 680 // count) * DAY + rng.randint(0, DAY)
            self._campaign(
                rng,
                number,
                created,
                channel=channels[number],
                archived=archived[number],
                audiences=audiences,
            )
        self._recent_sends()

    def _recent_sends(self) -> None:
        """Move the send of the latest sent campaigns into the last 30 days.

        Only send-related times change (hashes, not the shared rng, pick the jitter), so
        ids, statuses and every later record stay as they were.
        """
        sent = [
            item
            for item in reversed(self.campaigns.items)
            if item.attributes["status"] in SENT and not item.attributes["archived"]
        ]
        for item, days in zip(sent, RECENT_SENDS, strict=False):
            h = mix(salt(self.seed, "recent-send") ^ item.order)
            send_time = self.anchor - days * DAY + h % (8 * 3600)
            created = _epoch(item.attributes["created_at"])
            if send_time - 3600 <= created or send_time <= _epoch(item.attributes["send_time"]):
                continue  # already as recent as this (very many campaigns): keep it
            updated = min(self.anchor - 120, send_time + 60 + (h >> 20) % (2 * DAY))
            attributes = item.attributes
            attributes["scheduled_at"] = iso(send_time - 600)
            attributes["send_time"] = iso(send_time)
            attributes["updated_at"] = iso(updated)
            strategy = dict(attributes["send_strategy"])
            if "datetime" in strategy:
                strategy["datetime"] = iso(send_time)
            if "date" in strategy:
                strategy["date"] = iso(send_time)[:10]
            attributes["send_strategy"] = strategy
            for _, message_id in item.to_many["campaign-messages"]:
                message = self.campaign_messages.by_id[message_id].attributes
                message["send_times"] = [{"datetime": iso(send_time), "is_local": False}]
                message["updated_at"] = iso(updated)

    def _campaign(
        self,
        rng: random.Random,
        number: int,
        created: int,
        *,
        channel: str,
        archived: bool,
        audiences: list[str],
    ) -> None:
        ab_test = channel == "email" and rng.random() < 0.2 and not archived
        status = (
            "Sent"
            if archived
            else rng.choices(
                ("Sent", "Draft", "Scheduled", "Cancelled", "Cancelled: No Recipients"),
                (70, 12, 8, 6, 4),
            )[0]
        )
        if ab_test and status == "Sent":
            status = "Variations Sent"
        scheduled_at: int | None = None
        send_time: int | None = None
        if status in SENT or status.startswith("Cancelled"):
            scheduled_at = created + rng.randint(1, 5) * DAY
            send_time = scheduled_at + 600 if status in SENT else None
        elif status == "Scheduled":
            scheduled_at = self.anchor - rng.randint(1, 3) * DAY
            send_time = self.anchor + rng.randint(1, 10) * DAY
        updated = max(created, scheduled_at or 0, send_time or 0) + rng.randint(60, 3 * DAY)
        updated = min(updated, self.anchor - 120)
        h = mix(salt(self.seed, "campaign") ^ number)
        campaign_id = ulid(created * 1000, h)
        send_strategy = self._send_strategy(rng, ab_test, send_time or scheduled_at or created)
        name = f"{SUBJECTS[number % len(SUBJECTS)].split('!')[0][:30]} #{number}"
        resource = {
            "type": "campaign",
            "id": campaign_id,
            "attributes": {
                "name": name,
                "status": status,
                "archived": archived,
                "audiences": {
                    "included": rng.sample(audiences, min(len(audiences), rng.randint(1, 2))),
                    "excluded": rng.sample(audiences, 1) if rng.random() < 0.3 else [],
                },
                "send_options": {"use_smart_sending": rng.random() < 0.8},
                "tracking_options": self._tracking_options(rng, channel),
                "send_strategy": send_strategy,
                "created_at": iso(created),
                "scheduled_at": iso(scheduled_at) if scheduled_at else None,
                "updated_at": iso(updated),
                "send_time": iso(send_time) if send_time else None,
            },
        }
        item = self.campaigns.add(Item(number, resource, virtual={"messages.channel": channel}))
        self._link_tags(item, "campaign", self._tag_ids(rng))
        messages = [
            self._campaign_message(rng, item, channel, k, send_time)
            for k in range(rng.randint(2, 3) if ab_test else 1)
        ]
        item.to_many["campaign-messages"] = [("campaign-message", m.id) for m in messages]

    @staticmethod
    def _send_strategy(rng: random.Random, ab_test: bool, at: int) -> dict[str, Any]:
        if ab_test:
            return {"method": "ab_test_campaign"}
        method = rng.choices(
            ("static", "throttled", "immediate", "smart_send_time"), (60, 10, 20, 10)
        )[0]
        if method == "static":
            local = rng.random() < 0.3
            options: dict[str, Any] = {
                "is_local": True,
                "send_past_recipients_immediately": rng.random() < 0.5,
            }
            return {
                "method": "static",
                "datetime": iso(at),
                "options": options if local else {"is_local": False},
            }
        if method == "throttled":
            return {
                "method": "throttled",
                "datetime": iso(at),
                "throttle_percentage": rng.choice((10, 20, 25, 50)),
            }
        if method == "smart_send_time":
            return {"method": "smart_send_time", "date": iso(at)[:10]}
        return {"method": "immediate"}

    @staticmethod
    def _tracking_options(rng: random.Random, channel: str) -> dict[str, Any] | None:
        if channel == "mobile_push":
            return None
        params = [
            {"type": "dynamic", "value": "campaign_name", "name": "utm_campaign"},
            {"type": "static", "value": "klaviyo", "name": "utm_source"},
        ]
        options: dict[str, Any] = {
            "add_tracking_params": rng.random() < 0.7,
            "custom_tracking_params": params if rng.random() < 0.6 else None,
        }
        if channel == "email":
            options["is_tracking_clicks"] = True
            options["is_tracking_opens"] = rng.random() < 0.9
        return options

    def _campaign_message(
        self,
        rng: random.Random,
        campaign: Item,
        channel: str,
        variation: int,
        send_time: int | None,
    ) -> Item:
        created = _epoch(campaign.attributes["created_at"])
        updated = _epoch(campaign.attributes["updated_at"])
        h = mix(salt(self.seed, "campaign-message") ^ (campaign.order * 8 + variation))
        definition: dict[str, Any]
        if channel == "email":
            subject = SUBJECTS[(campaign.order + variation) % len(SUBJECTS)]
            definition = {
                "channel": "email",
                "label": f"{campaign.attributes['name']} - Variation {'ABC'[variation]}",
                "content": {
                    "subject": subject,
                    "preview_text": "Don't miss out" if variation % 2 == 0 else None,
                    "from_email": "hello@shop.example.com",
                    "from_label": "Example Shop",
                    "reply_to_email": "support@shop.example.com" if rng.random() < 0.5 else None,
                    "cc_email": None,
                    "bcc_email": None,
                },
            }
        elif channel == "sms":
            definition = {
                "channel": "sms",
                "content": {
                    "body": SMS_BODIES[campaign.order % len(SMS_BODIES)],
                    "media_url": None,
                },
                "render_options": {
                    "shorten_links": True,
                    "add_org_prefix": True,
                    "add_info_link": False,
                    "add_opt_out_language": rng.random() < 0.5,
                },
            }
        else:
            definition = {
                "channel": "mobile_push",
                "notification_type": "standard",
                "content": {
                    "title": "Example Shop",
                    "body": "Something new just dropped 👀",
                    "dynamic_image": None,
                    "action_buttons": None,
                },
                "kv_pairs": None,
                "options": {
                    "on_open": {"type": "open_app"},
                    "badge": {"display": False},
                    "play_sound": True,
                },
            }
        relationships: dict[str, Any] = {
            "campaign": {"data": {"type": "campaign", "id": campaign.id}}
        }
        if channel == "email" and self.templates.items:
            template = self.templates.items[
                (campaign.order + variation) % len(self.templates.items)
            ]
            relationships["template"] = {"data": {"type": "template", "id": template.id}}
        resource = {
            "type": "campaign-message",
            "id": ulid(created * 1000 + variation, h),
            "attributes": {
                "definition": definition,
                "send_times": [{"datetime": iso(send_time), "is_local": False}]
                if send_time
                else [],
                "created_at": iso(created),
                "updated_at": iso(updated),
            },
            "relationships": relationships,
        }
        return self.campaign_messages.add(
            Item(
                len(self.campaign_messages.items),
                resource,
                parent=campaign.id,
                virtual={"channel": channel},
            )
        )

    def add_quirks(self) -> dict[str, frozenset[str]]:
        """What live accounts send beyond the spec's plain shapes; the ids listed but gone."""
        self.vary_campaigns()
        self.add_unlisted_attributes()
        self.vary_flow_messages()
        return self.add_vanished()

    def vary_campaigns(self) -> None:
        """Quirks: email ``send_options`` carry ``ignore_unsubscribes``; half the campaigns
        without custom tracking params say ``[]`` instead of null (hash-chosen)."""
        for item in self.campaigns.items:
            h = mix(salt(self.seed, "campaign-quirks") ^ item.order)
            attributes = item.attributes
            if item.virtual["messages.channel"] == "email":
                attributes["send_options"] = {
                    **attributes["send_options"],
                    "ignore_unsubscribes": h % 10 == 0,
                }
            tracking = attributes["tracking_options"]
            if tracking is not None and tracking["custom_tracking_params"] is None and h >> 8 & 1:
                attributes["tracking_options"] = {**tracking, "custom_tracking_params": []}

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

    def _vanished_action(self) -> frozenset[str]:
        """A send-email action of the first listed flow, after its real actions."""
        flow = next((f for f in self.flows.items if not f.attributes["archived"]), None)
        if flow is None:
            return frozenset()
        h = mix(salt(self.seed, "vanished-flow-action"))
        action_id = str(90_000_000 + h % 9_000_000)
        while action_id in self.flow_actions.by_id:
            h = mix(h)
            action_id = str(90_000_000 + h % 9_000_000)
        status = flow.attributes["status"]
        definition = {
            "id": action_id,
            "type": "send-email",
            "data": {"message": _vanished_message(self.seed), "status": status},
        }
        self.flow_actions.add(
            Item(
                len(self.flow_actions.items),
                {
                    "type": "flow-action",
                    "id": action_id,
                    "attributes": {
                        "created": flow.attributes["created"],
                        "updated": flow.attributes["updated"],
                        "definition": definition,
                    },
                    "relationships": {"flow": {"data": {"type": "flow", "id": flow.id}}},
                },
                parent=flow.id,
                virtual={"action_type": "send-email", "status": status},
                to_many={"flow-messages": []},
            )
        )
        flow.to_many["flow-actions"] = [*flow.to_many["flow-actions"], ("flow-action", action_id)]
        return frozenset({action_id})

    # --- flows -----------------------------------------------------------------------

    def _flows(self, rng: random.Random, count: int) -> None:
        archived = _spread(rng, count, 0.2)
        for number, flow_id in enumerate(_unique_short_ids(self.seed, "flow", count)):
            self._flow(rng, number, flow_id, archived[number])

    def _flow(self, rng: random.Random, number: int, flow_id: str, archived: bool) -> None:
        created = self.anchor - (690 - number * 60) * DAY + rng.randint(0, DAY)
        updated = min(self.anchor - 300, created + rng.randint(1, 300) * DAY)
        status = "draft" if archived else rng.choices(("live", "draft", "manual"), (65, 20, 15))[0]
        trigger_type = (
            "Added to List",
            "Metric",
            "Metric",
            "Date Based",
            "Price Drop",
            "Metric",
            "Low Inventory",
            "Unconfigured",
        )[number % 8]
        trigger: dict[str, Any] | None = None
        if trigger_type == "Added to List" and self.lists.items:
            target = self.lists.items[number % len(self.lists.items)]
            target.to_many["flow-triggers"].append(("flow", flow_id))
            trigger = {"type": "list", "id": target.id}
        elif trigger_type == "Metric" and self.metrics:
            metric = self.metrics[(number * 3) % len(self.metrics)]
            self.metric_triggers.setdefault(metric.id, []).append(("flow", flow_id))
            trigger = {"type": "metric", "id": metric.id, "trigger_filter": None}
        resource = {
            "type": "flow",
            "id": flow_id,
            "attributes": {
                "name": FLOW_NAMES[number % len(FLOW_NAMES)]
                + (f" {number}" if number >= 8 else ""),
                "status": status,
                "archived": archived,
                "created": iso(created),
                "updated": iso(updated),
                "trigger_type": trigger_type,
            },
        }
        item = self.flows.add(Item(number, resource))
        self._link_tags(item, "flow", self._tag_ids(rng))
        actions = [self._flow_action(rng, item, k, status) for k in range(rng.randint(2, 6))]
        item.to_many["flow-actions"] = [("flow-action", a.id) for a in actions]
        item.extra["definition"] = {
            "triggers": [trigger] if trigger else [],
            "profile_filter": None,
            "actions": [a.attributes["definition"] for a in actions],
            "entry_action_id": actions[0].id,
        }

    def _flow_action(self, rng: random.Random, flow: Item, position: int, status: str) -> Item:
        created = _epoch(flow.attributes["created"]) + position * 60
        updated = _epoch(flow.attributes["updated"])
        action_id = str(
            90_000_000
            + mix(salt(self.seed, "flow-action") ^ (flow.order * 16 + position)) % 9_000_000
        )
        kind = (
            "time-delay"
            if position % 2
            else rng.choices(("send-email", "send-sms", "send-mobile-push"), (70, 20, 10))[0]
        )
        action_status = "live" if status == "live" else status
        item = self.flow_actions.add(
            Item(
                len(self.flow_actions.items),
                {
                    "type": "flow-action",
                    "id": action_id,
                    "attributes": {
                        "created": iso(created),
                        "updated": iso(updated),
                        "definition": None,
                    },
                    "relationships": {"flow": {"data": {"type": "flow", "id": flow.id}}},
                },
                parent=flow.id,
                virtual={"action_type": kind, "status": action_status},
            )
        )
        if kind == "time-delay":
            definition: dict[str, Any] = {
                "id": action_id,
                "type": kind,
                "data": {"unit": "days", "value": rng.randint(1, 3), "secondary_value": None},
            }
            item.to_many["flow-messages"] = []
        else:
            channel = {"send-email": "email", "send-sms": "sms", "send-mobile-push": "push"}[kind]
            messages = [
                self._flow_message(rng, item, channel, k, created=created, updated=updated)
                for k in range(rng.choice((1, 1, 1, 2)))
            ]
            item.to_many["flow-messages"] = [("flow-message", m.id) for m in messages]
            definition = {
                "id": action_id,
                "type": kind,
                "data": {"message": messages[0].attributes["definition"], "status": action_status},
            }
        item.attributes["definition"] = definition
        return item

    def _flow_message(
        self,
        rng: random.Random,
        action: Item,
        channel: str,
        variation: int,
        *,
        created: int,
        updated: int,
    ) -> Item:
        h = mix(salt(self.seed, "flow-message") ^ (action.order * 4 + variation))
        message_id = short_id(h)
        while message_id in self.flow_messages.by_id:
            h = mix(h)
            message_id = short_id(h)
        name = f"{channel.title()} #{action.order}{'AB'[variation] if variation else ''}"
        relationships: dict[str, Any] = {
            "flow-action": {"data": {"type": "flow-action", "id": action.id}}
        }
        definition: dict[str, Any]
        if channel == "email":
            template = (
                self.templates.items[(action.order + variation) % len(self.templates.items)]
                if self.templates.items
                else None
            )
            if template is not None:
                relationships["template"] = {"data": {"type": "template", "id": template.id}}
            definition = {
                "id": message_id,
                "name": name,
                "from_email": "hello@shop.example.com",
                "from_label": "Example Shop",
                "reply_to_email": None,
                "cc_email": None,
                "bcc_email": None,
                "subject_line": SUBJECTS[(action.order + variation) % len(SUBJECTS)],
                "preview_text": None,
                "template_id": template.id if template else None,
                "smart_sending_enabled": True,
                "transactional": False,
                "add_tracking_params": True,
                "custom_tracking_params": [{"param": "utm_source", "value": "klaviyo"}],
                "additional_filters": None,
            }
        elif channel == "sms":
            definition = {
                "id": message_id,
                "name": name,
                "body": SMS_BODIES[action.order % len(SMS_BODIES)],
                "image_id": None,
                "dynamic_image": None,
                "shorten_links": True,
                "include_contact_card": False,
                "add_org_prefix": True,
                "add_info_link": False,
                "add_opt_out_language": True,
                "smart_sending_enabled": True,
                "sms_quiet_hours_enabled": True,
                "transactional": False,
                "add_tracking_params": False,
                "custom_tracking_params": None,
                "template_id": None,
                "additional_filters": None,
            }
        else:
            definition = {
                "id": message_id,
                "name": name,
                "title": "Example Shop",
                "body": "We saved your cart 🛒",
                "sound": True,
                "badge": False,
                "image_id": None,
                "dynamic_image": None,
                "on_open": "home",
                "ios_link": None,
                "android_link": None,
                "web_url": None,
                "push_type": "standard",
                "kv_pairs": None,
                "conversion_metric_id": None,
                "smart_sending_enabled": True,
                "additional_filters": None,
            }
        resource = {
            "type": "flow-message",
            "id": message_id,
            "attributes": {
                "channel": channel,
                "created": iso(created),
                "updated": iso(updated),
                "definition": definition,
            },
            "relationships": relationships,
        }
        return self.flow_messages.add(
            Item(
                len(self.flow_messages.items),
                resource,
                parent=action.id,
                virtual={"name": name, "channel": channel},
            )
        )

    def vary_flow_messages(self) -> None:
        """Quirk: flow messages spell their email channel ``Email`` (campaign messages and
        the reports say ``email``), as the live API does; ``virtual`` keeps the canonical."""
        for item in self.flow_messages.items:
            if item.virtual["channel"] == "email":
                item.attributes["channel"] = "Email"


_PROFILE_POINTS = {
    "type": "profile-property",
    "property": "properties['loyalty_points']",
    "filter": {"type": "numeric", "operator": "greater-than", "value": 10},
}


def _vanished_message(seed: int) -> dict[str, Any]:
    """The definition of the vanished action's email (its flow message is gone too)."""
    return {
        "id": short_id(mix(salt(seed, "vanished-flow-message"))),
        "name": "Email #gone",
        "from_email": "hello@shop.example.com",
        "from_label": "Example Shop",
        "reply_to_email": None,
        "cc_email": None,
        "bcc_email": None,
        "subject_line": SUBJECTS[0],
        "preview_text": None,
        "template_id": None,
        "smart_sending_enabled": True,
        "transactional": False,
        "add_tracking_params": True,
        "custom_tracking_params": [{"param": "utm_source", "value": "klaviyo"}],
        "additional_filters": None,
    }


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())
