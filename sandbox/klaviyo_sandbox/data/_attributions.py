"""Attributions: which message Klaviyo credits a conversion ("Placed Order") to.

Since the 2024 revisions attribution is no longer in ``event_properties`` but an
``attribution`` object per credit (``GET /api/events?include=attributions``), related to the
event, the attributed event, and the campaign and campaign message, or the flow, flow message
and its variation. Here, by the event's hash: about half the base "Placed Order" events are
credited to a message sent before them (a sent campaign's message, or a message of a flow live
by then), and every ``SECOND_PERIOD``-th of those also to a second one (the relationship is
to-many). The attributed event is the last event of an email metric before the conversion.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from ._campaigns import SENT
from ._catalog import Catalog
from ._core import mix, salt
from ._events import Events
from ._metrics import DUPLICATED, EMAIL_KIND
from ._tables import epoch_of

SECOND_PERIOD = 10
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Sent:
    """A message that can be credited from ``at`` on: a campaign's or a flow's."""

    at: int
    campaign: str | None
    campaign_message: str | None
    flow: str | None
    flow_message: str | None


def sent_messages(catalog: Catalog) -> list[Sent]:
    sent = []
    for campaign in catalog.campaigns.items:
        at = campaign.attributes.get("send_time")
        if campaign.attributes["status"] in SENT and at:
            for _, message in campaign.to_many.get("campaign-messages", []):
                sent.append(Sent(epoch_of(at), campaign.id, message, None, None))
    for flow in catalog.flows.items:
        if flow.attributes["status"] != "live":
            continue
        for _, action in flow.to_many.get("flow-actions", []):
            for _, message in catalog.flow_actions.by_id[action].to_many.get("flow-messages", []):
                sent.append(
                    Sent(epoch_of(flow.attributes["created"]), None, None, flow.id, message)
                )
    return sorted(sent, key=lambda s: (s.at, s.campaign_message or "", s.flow_message or ""))


class Attributions:
    def __init__(self, seed: int, events: Events, catalog: Catalog) -> None:
        self.events = events
        self._salt = salt(seed, "attribution")
        self._sent = sent_messages(catalog)
        self._times = [s.at for s in self._sent]
        self._email = next(
            (s for s in events.streams_by_metric if s.metric.kind == EMAIL_KIND and s.hi > s.lo),
            None,
        )

    def credits(self, e: int) -> list[Sent]:
        """The messages event ``e`` is credited to, the one Klaviyo credits first."""
        metric = self.events.metric_of(e)
        if e >= self.events.base or metric is None or metric.name != DUPLICATED:
            return []
        h = mix(self._salt ^ e)
        available = bisect.bisect_right(self._times, self.events.datetime_of(e))
        if h % 2 or not available:
            return []
        found = [self._sent[(h >> 8) % available]]
        if (h >> 4) % SECOND_PERIOD == 0 and available > 1:
            second = self._sent[(h >> 24) % available]
            if second != found[0]:
                found.append(second)
        return found

    def attributed_event(self, e: int) -> int | None:
        """The last email event before the conversion (the click or open it followed)."""
        stream = self._email
        if stream is None:
            return None
        ts = self.events.datetime_of(e)
        lo, hi = stream.lo, stream.hi
        while lo < hi:  # the first of the stream at or after ts
            middle = (lo + hi) // 2
            if stream.at(middle) < ts:
                lo = middle + 1
            else:
                hi = middle
        return lo - 1 if lo > stream.lo else None

    def id(self, e: int, k: int) -> str:
        """32 hex digits (as the spec's example), the event's index recoverable from them."""
        return f"{mix(self._salt ^ e ^ k) & _MASK:016x}{(e * 4 + k) ^ (self._salt & _MASK):016x}"

    def index_of_id(self, text: str) -> tuple[int, int] | None:
        if len(text) != 32:
            return None
        try:
            number = int(text[16:], 16) ^ (self._salt & _MASK)
        except ValueError:
            return None
        e, k = divmod(number, 4)
        return (e, k) if self.id(e, k) == text and k < len(self.credits(e)) else None

    def refs(self, e: int) -> list[dict[str, Any]]:
        return [{"type": "attribution", "id": self.id(e, k)} for k in range(len(self.credits(e)))]

    def resource(self, e: int, k: int) -> dict[str, Any]:
        sent = self.credits(e)[k]
        attributed = self.attributed_event(e)
        related = {
            "event": ("event", self.events.id(e)),
            "attributed-event": ("event", self.events.id(attributed) if attributed else None),
            "campaign": ("campaign", sent.campaign),
            "campaign-message": ("campaign-message", sent.campaign_message),
            "flow": ("flow", sent.flow),
            "flow-message": ("flow-message", sent.flow_message),
            "flow-message-variation": ("flow-message", sent.flow_message),
        }
        relationships: dict[str, dict[str, Any]] = {}
        for name, (kind, ident) in related.items():
            if ident is not None:  # the spec's data is never null: a missing one is left out
                relationships[name] = {"data": {"type": kind, "id": ident}}
        attribution_id = self.id(e, k)
        return {
            "type": "attribution",
            "id": attribution_id,
            "relationships": relationships,
            "links": {"self": f"https://a.klaviyo.com/api/attributions/{attribution_id}"},
        }

    def truth(self, e: int) -> list[dict[str, Any]]:
        """The ids of each of the event's attributions as the tap lists them (``event_id``: the
        attributed event)."""
        rows = []
        for k, sent in enumerate(self.credits(e)):
            attributed = self.attributed_event(e)
            rows.append(
                {
                    "id": self.id(e, k),
                    "event_id": self.events.id(attributed) if attributed else None,
                    "campaign_id": sent.campaign,
                    "campaign_message_id": sent.campaign_message,
                    "flow_id": sent.flow,
                    "flow_message_id": sent.flow_message,
                    "variation_id": sent.flow_message,
                }
            )
        return rows
