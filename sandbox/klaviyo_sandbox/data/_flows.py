"""The catalog's flows, their actions and their messages."""

from __future__ import annotations

import random
from typing import Any

from ._core import DAY, iso, mix, salt, short_id
from ._tables import CatalogBase, Item, epoch_of, spread, unique_short_ids
from ._words import FLOW_NAMES, SMS_BODIES, SUBJECTS


class Flows(CatalogBase):
    """Flows, actions, messages, and their quirks (mixed into ``Catalog``)."""

    def _flows(self, rng: random.Random, count: int) -> None:
        archived = spread(rng, count, 0.2)
        for number, flow_id in enumerate(unique_short_ids(self.seed, "flow", count)):
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
        created = epoch_of(flow.attributes["created"]) + position * 60
        updated = epoch_of(flow.attributes["updated"])
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
