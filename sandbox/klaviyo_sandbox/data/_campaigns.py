"""The catalog's campaigns and their messages (revision 2026-07-15's model)."""

from __future__ import annotations

import random
from typing import Any

from ._core import DAY, iso, mix, salt, ulid
from ._tables import CatalogBase, Item, epoch_of, spread
from ._words import SMS_BODIES, SUBJECTS

CAMPAIGN_CHANNELS = ("email", "sms", "mobile_push")
SENT = ("Sent", "Variations Sent")
# Days before the anchor when the latest sent campaigns went out: a last_30_days
# campaign-values-report has rows in every account.
RECENT_SENDS = (4, 11, 18, 25)


class Campaigns(CatalogBase):
    """Campaigns, their messages, and the campaigns' quirks (mixed into ``Catalog``)."""

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
            for k, flag in zip(positions, spread(rng, len(positions), 0.15), strict=True):
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
            created = epoch_of(item.attributes["created_at"])
            if send_time - 3600 <= created or send_time <= epoch_of(item.attributes["send_time"]):
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
        created = epoch_of(campaign.attributes["created_at"])
        updated = epoch_of(campaign.attributes["updated_at"])
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
