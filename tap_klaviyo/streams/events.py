"""Events: every event with its metric's name, from the page's ``included`` metrics."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_klaviyo.records import to_record
from tap_klaviyo.streams.base import Context, KlaviyoStream


class EventsStream(KlaviyoStream):
    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        # Events can arrive late (sent with a past timestamp): re-read a margin behind the
        # bookmark; the target's upsert on id keeps each event once.
        start = super().lower_bound(context)
        lookback = int(self.config.get("lookback_window", 0))
        return start - dt.timedelta(seconds=lookback) if start and lookback else start

    def shape(self, resource: dict[str, t.Any], document: dict[str, t.Any]) -> dict[str, t.Any]:
        record = to_record(resource)
        record["metric_name"] = self.metric_names(document).get(record.get("metric_id"))
        return record

    @staticmethod
    def metric_names(document: dict[str, t.Any]) -> dict[str | None, str | None]:
        """Metric id -> name for one page, built once per page from ``include=metric``."""
        names = document.get("_metric_names")
        if names is None:
            names = document["_metric_names"] = {
                item["id"]: (item.get("attributes") or {}).get("name")
                for item in document.get("included") or ()
                if item.get("type") == "metric"
            }
        return names
