"""Rows assembled from more than one resource object: campaigns with their messages, and
list/segment snapshots that accumulate growth over daily runs."""

from __future__ import annotations

import functools
import typing as t

from tap_klaviyo import timestamps
from tap_klaviyo.records import campaign_message_row, index_included, to_record
from tap_klaviyo.streams.base import KlaviyoStream


class CampaignsDetailedStream(KlaviyoStream):
    """Each campaign with its messages (``include=campaign-messages``) and A/B shape."""

    def shape(self, resource: dict[str, t.Any], document: dict[str, t.Any]) -> dict[str, t.Any]:
        record = to_record(resource)
        included = self.included_messages(document)
        messages = [
            campaign_message_row(included[message_id])
            for message_id in record.get("campaign_message_ids") or ()
            if message_id in included
        ]
        record["messages"] = messages
        record["message_count"] = len(messages)
        record["is_ab_test"] = (record.get("send_strategy") or {}).get(
            "method"
        ) == "ab_test_campaign" or len(messages) > 1
        return record

    @staticmethod
    def included_messages(document: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
        """Message id -> message object, indexed once per page."""
        if "_messages" not in document:
            document["_messages"] = {
                object_id: item
                for (kind, object_id), item in index_included(document).items()
                if kind == "campaign-message"
            }
        return document["_messages"]


class SnapshotStream(KlaviyoStream):
    """One row per list (or segment) per run, stamped with the run's start time."""

    @functools.cached_property
    def snapshot_at(self) -> str:
        return timestamps.to_text(
            timestamps.floor_second(timestamps.from_millis(self._initialized_at))
        )

    def shape(self, resource: dict[str, t.Any], document: dict[str, t.Any]) -> dict[str, t.Any]:
        record = to_record(resource)
        record["snapshot_at"] = self.snapshot_at
        return record
