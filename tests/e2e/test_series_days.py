"""Series days are Klaviyo's labels, west and east of UTC.

Live accounts label each day of a series report with its calendar date at UTC midnight
(``2026-07-01T00:00:00+00:00`` is the account's 1 July, in Los Angeles as in Tokyo), while
metric aggregates give the instant the local day starts; without quirks the sandbox writes
local midnights with their offsets. Either way, each row's ``date`` is the label's day, the
last day is there, and the bookmark is the account's yesterday. (Metric aggregates' days,
instants, are tests/e2e/test_series_reports.py's.)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import running_sandbox
from tests import truth
from tests.conftest import SMALL, tap_config
from tests.singer import run_tap, select_only

SERIES = {"flow_series_reports", "segment_series_reports"}
DAY = dt.timedelta(days=1)


def labels(url: str, start: dt.date, end: dt.date) -> list[str]:
    """The sandbox's own labels of a segment series over [start, end) (its answer, asked
    as the tap asks: local midnights without an offset)."""
    body: dict[str, Any] = {
        "data": {
            "type": "segment-series-report",
            "attributes": {
                "statistics": ["total_members"],
                "timeframe": {"start": f"{start}T00:00:00", "end": f"{end}T00:00:00"},
                "interval": "daily",
            },
        }
    }
    response = requests.post(
        f"{url}/api/segment-series-reports",
        json=body,
        headers={"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2026-07-15"},
        timeout=30,
    )
    response.raise_for_status()
    return list(response.json()["data"]["attributes"]["date_times"])


@pytest.mark.parametrize("quirks", [True, False], ids=["labels-utc-midnight", "local-midnights"])
@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_each_series_row_is_on_the_day_klaviyo_labels(zone: str, quirks: bool) -> None:
    with running_sandbox(
        seed=71, sizes=SMALL, rate_limits=False, quirks=quirks, timezone=zone
    ) as sandbox:
        config = tap_config(sandbox, series_report_days=10)
        discovered = run_tap(config, "--discover")
        catalog = select_only(json.loads(discovered.stdout), SERIES)
        run = run_tap(config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        today = dt.datetime.now(ZoneInfo(zone)).date()
        days = truth.local_days(today - 9 * DAY, today)

        given = labels(sandbox.url, days[0], today + DAY)
        if quirks:  # what the live API sends, whichever side of UTC
            assert given == [f"{day}T00:00:00+00:00" for day in days]
        assert [label[:10] for label in given] == [day.isoformat() for day in days]

        segments = run.records["segment_series_reports"]
        expected = truth.segment_series(sandbox, days)
        assert {(r["segment_id"], r["date"]) for r in segments} == expected.keys()
        for row in segments:
            statistics = expected[(row["segment_id"], row["date"])]
            assert {name: row[name] for name in statistics} == statistics, row
            assert row["timezone"] == zone
        flows = run.records["flow_series_reports"]
        metric = {row["conversion_metric_id"] for row in flows}.pop()
        expected_flows = truth.flow_series(sandbox, metric, days)
        assert {(r["flow_message_id"], r["date"]) for r in flows} == expected_flows.keys()
        for row in flows:
            day_statistics = expected_flows[(row["flow_message_id"], row["date"])]
            assert {name: row[name] for name in day_statistics} == day_statistics, row
        for stream in ("flow_series_reports", "segment_series_reports"):
            bookmark = run.state["bookmarks"][stream]["replication_key_value"]  # type: ignore[index]
            assert bookmark == (today - DAY).isoformat(), stream
