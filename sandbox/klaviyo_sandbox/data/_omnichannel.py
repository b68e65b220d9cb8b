"""Revision 2026-10-15's campaign model (API digest section 11), as a view of the account's
campaigns: the same campaigns, seen as campaigns, audiences, messages and variations.

The view is built from the 2026-07-15 tables on each request, so deletes and ``advance``
show in both revisions at once. What it assumes where Klaviyo is unconfirmed:

- a campaign keeps its id, and each of its 2026-07-15 messages is one message with the same
  id (an A/B test's messages stay separate messages, with ``ab_test`` set), so the reports'
  ``campaign_message_id`` joins messages in both revisions;
- each campaign has one audience (its ``audiences``), each message one variation per channel;
- every third email campaign (by creation order) with one message was made with the new
  builder and sends SMS too, every sixth push as well: under 2026-07-15 they show as the
  email campaigns they were (that revision cannot express more channels).
"""

from __future__ import annotations

from typing import Any

from ._catalog import Catalog
from ._core import mix, salt, ulid
from ._tables import Item, Table, epoch_of
from ._words import SMS_BODIES

CAMPAIGNS = "campaigns@2026-10-15"
MESSAGES = "campaign-messages@2026-10-15"
AUDIENCES = "campaign-audiences"
VARIATIONS = "campaign-variations"
COLLECTIONS = (CAMPAIGNS, MESSAGES, AUDIENCES, VARIATIONS)
STATUSES = {"Sent": "sent", "Variations Sent": "sent", "Draft": "draft", "Scheduled": "scheduled"}
SEND_STRATEGIES = {
    "static": "static",
    "immediate": "static",
    "throttled": "throttled",
    "smart_send_time": "send_time_optimization",
    "ab_test_campaign": "content_variation",
}
AB_TEST = {"winner_metric": "open_rate", "winner_percentage": 20, "winner_wait_hours": 4}


def extra_channels(campaign: Item) -> tuple[str, ...]:
    """The channels a campaign made with the new builder sends besides email."""
    messages = campaign.to_many["campaign-messages"]
    if campaign.virtual["messages.channel"] != "email" or len(messages) != 1:
        return ()
    if campaign.order % 6 == 0:
        return ("sms", "push")
    return ("sms",) if campaign.order % 3 == 0 else ()


class View:
    """The four collections of the 2026-10-15 model, and their objects by type."""

    def __init__(self, seed: int, catalog: Catalog) -> None:
        self.seed = seed
        self.tables = {name: Table() for name in COLLECTIONS}
        for campaign in catalog.campaigns.items:
            self._campaign(catalog, campaign)

    def _id(self, kind: str, created_ms: int, number: int) -> str:
        return ulid(created_ms, mix(salt(self.seed, kind) ^ number))

    def _campaign(self, catalog: Catalog, old: Item) -> None:
        attributes = old.attributes
        extra = extra_channels(old)
        audience = self._audience(old)
        messages = [
            self._message(old, catalog.campaign_messages.by_id[ident], audience, extra)
            for _, ident in old.to_many["campaign-messages"]
        ]
        audience.to_many["campaign-messages"] = [("campaign-message", m.id) for m in messages]
        strategy = attributes["send_strategy"]
        definition = {
            "name": attributes["name"],
            "builder": "canvas" if extra else "wizard",
            "archived": attributes["archived"],
            "color": None,
            "description": None,
            "send_settings": {
                "send_timezone": None,
                "send_strategy": SEND_STRATEGIES.get(strategy["method"], "static"),
                "send_passed_rltz_immediately": (strategy.get("options") or {}).get(
                    "send_past_recipients_immediately"
                ),
                "exit_condition_enabled": False,
                "exit_condition_conversion_metric_id": None,
            },
        }
        resource = {
            "type": "campaign",
            "id": old.id,
            "attributes": {
                "created_at": attributes["created_at"],
                "updated_at": attributes["updated_at"],
                "definition": definition,
            },
        }
        self.tables[CAMPAIGNS].add(
            Item(
                old.order,
                resource,
                to_many={
                    "campaign-audiences": [("campaign-audience", audience.id)],
                    "campaign-messages": [("campaign-message", m.id) for m in messages],
                    "tags": list(old.to_many.get("tags", [])),
                },
                virtual={
                    "name": attributes["name"],
                    "archived": attributes["archived"],
                    "builder": definition["builder"],
                },
            )
        )

    def _audience(self, campaign: Item) -> Item:
        attributes = campaign.attributes
        created = attributes["created_at"]
        resource = {
            "type": "campaign-audience",
            "id": self._id("campaign-audience", _millis(created), campaign.order),
            "attributes": {
                "created": created,
                "updated": attributes["updated_at"],
                "definition": {
                    "name": f"{attributes['name']} audience",
                    "included": list(attributes["audiences"]["included"]),
                    "excluded": list(attributes["audiences"]["excluded"]),
                    "priority": 1,
                },
            },
            "relationships": {"campaign": {"data": {"type": "campaign", "id": campaign.id}}},
        }
        return self.tables[AUDIENCES].add(Item(campaign.order, resource, parent=campaign.id))

    def _message(self, campaign: Item, old: Item, audience: Item, extra: tuple[str, ...]) -> Item:
        attributes = old.attributes
        channel = old.virtual["channel"]
        variations = [self._variation(old, channel, 0)] + [
            self._variation(old, other, k) for k, other in enumerate(extra, start=1)
        ]
        send_time = campaign.attributes["send_time"]
        strategy = campaign.attributes["send_strategy"]["method"]
        tracking = campaign.attributes["tracking_options"] or {}
        status = campaign.attributes["status"]
        definition = {
            "name": old.attributes["definition"].get("label") or campaign.attributes["name"],
            "status": STATUSES.get(status, "cancelled"),
            "tracking_options": {
                "is_add_utm": tracking.get("add_tracking_params"),
                "is_tracking_clicks": tracking.get("is_tracking_clicks"),
                "is_tracking_opens": tracking.get("is_tracking_opens"),
            },
            "send_options": {
                "send_time": send_time,
                "send_times": {v.id: send_time for v in variations} if send_time else None,
                "send_strategy": SEND_STRATEGIES.get(strategy, "static"),
                "recipient_percentage": 100,
                "throttling_type": "none",
                "throttle_unit": None,
                "is_ignoring_unsubscribes": campaign.attributes["send_options"].get(
                    "ignore_unsubscribes", False
                ),
            },
            # The GA revision's A/B test fields (not in the beta spec).
            "ab_test": AB_TEST if strategy == "ab_test_campaign" else None,
        }
        resource = {
            "type": "campaign-message",
            "id": old.id,
            "attributes": {
                "created": attributes["created_at"],
                "updated": attributes["updated_at"],
                "definition": definition,
            },
            "relationships": {
                "campaign": {"data": {"type": "campaign", "id": campaign.id}},
                "campaign-audience": {"data": {"type": "campaign-audience", "id": audience.id}},
            },
        }
        return self.tables[MESSAGES].add(
            Item(
                old.order,
                resource,
                parent=campaign.id,
                to_many={"campaign-variations": [("campaign-variation", v.id) for v in variations]},
                virtual={
                    "campaign_id": campaign.id,
                    "name": definition["name"],
                    "status": definition["status"],
                },
            )
        )

    def _variation(self, message: Item, channel: str, k: int) -> Item:
        attributes = message.attributes
        old = attributes["definition"]
        created = _millis(attributes["created_at"])
        details = _details(old, channel, message.order)
        template = (message.resource.get("relationships", {}).get("template") or {}).get("data")
        if channel == "email":
            details["template_id"] = template["id"] if template else None
        resource = {
            "type": "campaign-variation",
            "id": self._id("campaign-variation", created + k, message.order * 4 + k),
            "attributes": {
                "created": attributes["created_at"],
                "updated": attributes["updated_at"],
                "definition": {"name": f"{channel} variation", "details": details},
            },
            "relationships": {
                "campaign-message": {"data": {"type": "campaign-message", "id": message.id}}
            },
        }
        return self.tables[VARIATIONS].add(Item(message.order * 4 + k, resource, parent=message.id))


def _details(old: dict[str, Any], channel: str, number: int) -> dict[str, Any]:
    """A variation's channel details: the 2026-07-15 message's content where it is that
    channel's, else what the new builder made."""
    content = old.get("content") or {}
    if channel == "email":
        return {
            "channel": "email",
            "from_label": content.get("from_label") or "",
            "from_email": content.get("from_email") or "",
            "reply_to_email": content.get("reply_to_email") or "",
            "cc_email": content.get("cc_email") or "",
            "bcc_email": content.get("bcc_email") or "",
            "subject": content.get("subject") or "",
            "preview_text": content.get("preview_text") or "",
        }
    if channel == "sms":
        render = old.get("render_options") or {}
        return {
            "channel": "sms",
            "template_id": None,
            "body": content.get("body") or SMS_BODIES[number % len(SMS_BODIES)],
            "shorten_links": render.get("shorten_links", True),
            "add_org_prefix": render.get("add_org_prefix", True),
            "add_info_link": render.get("add_info_link", False),
            "add_opt_out_language": render.get("add_opt_out_language", True),
            "text_message_type": "SMS",
        }
    options = old.get("options") or {}
    return {
        "channel": "push",
        "title": content.get("title") or "Example Shop",
        "body": content.get("body") or "Something new just dropped",
        "badge": bool((options.get("badge") or {}).get("display")),
        "sound": bool(options.get("play_sound")),
        "push_type": "standard",
        "action_buttons": content.get("action_buttons"),
    }


def _millis(text: str) -> int:
    return epoch_of(text) * 1000
