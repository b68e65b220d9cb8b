"""Series reports, the report lookback, the report timezone and the reports' daily quota,
against the sandbox (its account is in America/New_York, with daylight saving time)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import Sandbox
from tap_klaviyo.report_quota import ReportQuota
from tap_klaviyo.resources import QUOTA_STREAMS
from tests import truth
from tests.conftest import tap_config
from tests.singer import TapRun, run_tap, select_only
from tests.truth import data

SERIES = {"flow_series_reports", "segment_series_reports"}
NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.timedelta(days=1)


@cache
def _discovered(url: str, by: tuple[str, ...]) -> str:
    """The catalog, discovered with the one setting that changes it (the keys)."""
    config: dict[str, Any] = {"api_key": DEMO_API_KEY, "base_url": url}
    if by:
        config["metric_aggregates_by"] = list(by)
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def sync(
    sandbox: Sandbox, streams: set[str], state: dict[str, Any] | None = None, **settings: Any
) -> TapRun:
    by = tuple(settings.get("metric_aggregates_by") or ())
    catalog = select_only(json.loads(_discovered(sandbox.url, by)), streams)
    run = run_tap(tap_config(sandbox, **settings), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def report_requests(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    """The report POSTs among the requests the sandbox received after its ``since``-th (the
    log keeps the latest 10,000)."""
    log = sandbox.requests()
    new = log["requests"][len(log["requests"]) - (log["total"] - since) :]
    return [r for r in new if r["method"] == "POST" and r["route"].endswith("-reports")]


def logged(sandbox: Sandbox) -> int:
    return int(sandbox.requests()["total"])


def today() -> dt.date:
    return dt.datetime.now(NEW_YORK).date()


def placed_order(run: TapRun) -> str:
    ids = {row["conversion_metric_id"] for row in run.records["flow_series_reports"]}
    assert len(ids) == 1
    return ids.pop()


# --- series rows are the sandbox's truth, day by day ----------------------------------------


def test_series_rows_per_day_equal_the_truth(sandbox: Sandbox) -> None:
    run = sync(sandbox, SERIES, series_report_days=10)
    days = truth.local_days(today() - 9 * DAY, today())
    flows = {
        (row["flow_message_id"], row["date"]): row for row in run.records["flow_series_reports"]
    }
    expected = truth.flow_series(sandbox, placed_order(run), days)
    assert flows.keys() == expected.keys()
    for key, statistics in expected.items():
        row = flows[key]
        assert row["timezone"] == "America/New_York"
        assert {name: row[name] for name in statistics} == statistics, key
    segments = {
        (row["segment_id"], row["date"]): row for row in run.records["segment_series_reports"]
    }
    expected_segments = truth.segment_series(sandbox, days)
    assert segments.keys() == expected_segments.keys()
    for key, counts in expected_segments.items():
        assert {name: segments[key][name] for name in counts} == counts, key
    # Growth adds up: each day's total is the day before's plus that day's net change.
    for (segment_id, day), row in segments.items():
        before = segments.get((segment_id, (dt.date.fromisoformat(day) - DAY).isoformat()))
        if before is not None:
            assert row["total_members"] == before["total_members"] + row["net_members_changed"]
    # Today is not complete: the bookmark is yesterday.
    assert run.state is not None
    for stream in SERIES:
        bookmark = run.state["bookmarks"][stream]["replication_key_value"]
        assert bookmark == (today() - DAY).isoformat()


# --- the lookback re-reads exactly the last N days -------------------------------------------


@pytest.mark.parametrize("lookback", [0, 3])
def test_lookback_rereads_exactly_the_last_n_days(sandbox: Sandbox, lookback: int) -> None:
    first = sync(sandbox, SERIES, series_report_days=20)
    before = logged(sandbox)
    second = sync(sandbox, SERIES, state=first.state, report_lookback_days=lookback)
    asked = report_requests(sandbox, before)
    assert len(asked) == 2  # one per series stream: the days fit in one request each
    start = dt.datetime.combine(today() - lookback * DAY, dt.time()).isoformat()
    end = dt.datetime.combine(today() + DAY, dt.time()).isoformat()
    for request in asked:
        assert request["attributes"]["timeframe"] == {"start": start, "end": end}
        assert request["attributes"]["interval"] == "daily"
    reread = {(today() - n * DAY).isoformat() for n in range(lookback + 1)}
    for stream in SERIES:
        assert {row["date"] for row in second.records[stream]} == reread, stream


def test_metric_aggregates_reread_the_lookback_days(sandbox: Sandbox) -> None:
    first = sync(sandbox, {"metric_aggregates"}, metric_aggregates_days=30)
    second = sync(sandbox, {"metric_aggregates"}, state=first.state, report_lookback_days=2)
    days = {row["date"] for row in second.records["metric_aggregates"]}
    # With its quirks, the sandbox answers a range ending now one day further: tomorrow too.
    tomorrow = 1 if sandbox.state.quirks else 0
    midnights = {
        dt.datetime.combine(today() - n * DAY, dt.time(), NEW_YORK).astimezone(dt.timezone.utc)
        for n in range(-tomorrow, 3)
    }
    assert {dt.datetime.fromisoformat(day) for day in days} == midnights


# --- day boundaries follow the timezone ------------------------------------------------------


def test_day_boundaries_follow_the_timezone(sandbox: Sandbox) -> None:
    """The account is in New York: aggregate days start at 04:00 UTC in summer time and at
    05:00 UTC after 1 November 2026; with report_timezone UTC, at midnight UTC."""
    days = (today() - dt.date(2026, 10, 1)).days + 1  # across the end of daylight saving time
    local = sync(sandbox, {"metric_aggregates"}, metric_aggregates_days=days)
    utc = sync(sandbox, {"metric_aggregates"}, metric_aggregates_days=days, report_timezone="UTC")
    hours = {
        (row["date"][:10], row["date"][11:13], row["timezone"])
        for row in local.records["metric_aggregates"]
    }
    assert ("2026-10-31", "04", "America/New_York") in hours
    assert ("2026-11-02", "05", "America/New_York") in hours
    assert {row["date"][11:19] for row in utc.records["metric_aggregates"]} == {"00:00:00"}
    assert {row["timezone"] for row in utc.records["metric_aggregates"]} == {"UTC"}
    # Each local day counts the events of that local day.
    placed = [
        row for row in local.records["metric_aggregates"] if row["metric_name"] == "Placed Order"
    ]
    by_day: dict[tuple[str, dt.date], int] = {}
    for metric_id, moment in sandbox_event_times(sandbox, {row["metric_id"] for row in placed}):
        key = (metric_id, moment.astimezone(NEW_YORK).date())
        by_day[key] = by_day.get(key, 0) + 1
    for row in placed:
        day = dt.datetime.fromisoformat(row["date"]).astimezone(NEW_YORK).date()
        assert row["count"] == by_day.get((row["metric_id"], day), 0), row


def sandbox_event_times(sandbox: Sandbox, metric_ids: set[str]) -> list[tuple[str, dt.datetime]]:
    run = sync(sandbox, {"events"}, start_date="2026-09-25T00:00:00Z")
    return [
        (event["metric_id"], dt.datetime.fromisoformat(event["datetime"]))
        for event in run.records["events"]
        if event["metric_id"] in metric_ids
    ]


def test_series_days_are_the_account_timezone(sandbox: Sandbox) -> None:
    before = logged(sandbox)
    run = sync(sandbox, {"flow_series_reports"}, series_report_days=1)
    (request,) = report_requests(sandbox, before)
    # Klaviyo ignores offsets and uses the account's timezone: local midnights are sent.
    assert request["attributes"]["timeframe"]["start"] == f"{today().isoformat()}T00:00:00"
    assert {row["date"] for row in run.records["flow_series_reports"]} == {today().isoformat()}
    accounts = sync(sandbox, {"accounts"}).records["accounts"]
    assert [a["timezone"] for a in accounts] == ["America/New_York"]
    # report_timezone cannot move a report's days (Klaviyo uses the account's): said, and
    # the rows name the account's timezone.
    utc = sync(sandbox, {"flow_series_reports"}, series_report_days=1, report_timezone="UTC")
    assert {row["timezone"] for row in utc.records["flow_series_reports"]} == {NEW_YORK.key}
    assert "not in report_timezone UTC" in utc.stderr


# --- the daily cap holds across runs ---------------------------------------------------------


def test_daily_report_cap_is_never_exceeded_across_two_runs(sandbox: Sandbox) -> None:
    streams = set(QUOTA_STREAMS)  # values and series reports: 1 + 1 + 2 + 2 requests
    settings: dict[str, Any] = {"report_requests_per_day": 4, "series_report_days": 120}
    before = logged(sandbox)
    first = sync(sandbox, streams, **settings)
    after_first = logged(sandbox)
    second = sync(sandbox, streams, state=first.state, **settings)
    sent = report_requests(sandbox, before)
    assert len(sent) == 4  # of the 6 planned, across both runs
    assert not report_requests(sandbox, after_first)  # the second run had none left
    assert first.state is not None
    assert second.state is not None
    assert first.state["report_quota"]["used"] == 4
    assert second.state["report_quota"] == first.state["report_quota"]
    assert "leaving 0" in first.stderr
    assert "this run plans 0" in second.stderr
    # Values reports, then series: the last stream's days do not fit. It says so, sends
    # nothing and keeps no bookmark, so a later run catches it up.
    deferred = "Stream 'segment_series_reports': the reports' daily quota is used up; days"
    assert deferred in first.stderr
    assert deferred in second.stderr
    assert not first.records["segment_series_reports"]
    assert "replication_key_value" not in first.state["bookmarks"].get("segment_series_reports", {})
    # A day later the window has passed: the count starts again and the oldest days are read
    # first (60 a request), the rest deferred again.
    window = dict(first.state["report_quota"])
    opened = dt.datetime.fromisoformat(window["window_start"]) - dt.timedelta(hours=25)
    aged = {**second.state, "report_quota": {**window, "window_start": opened.isoformat()}}
    before_third = logged(sandbox)
    third = sync(sandbox, streams, state=aged, **settings)
    assert len(report_requests(sandbox, before_third)) == 4, third.stderr
    assert third.state is not None
    assert third.state["report_quota"]["used"] == 4
    oldest = today() - 119 * DAY
    days = sorted({row["date"] for row in third.records["segment_series_reports"]})
    assert days == [day.isoformat() for day in truth.local_days(oldest, oldest + 59 * DAY)]
    bookmark = third.state["bookmarks"]["segment_series_reports"]["replication_key_value"]
    assert bookmark == days[-1]


# --- metric aggregates by attribution ------------------------------------------------------


def test_metric_aggregates_by_attributed_flow_and_message(sandbox: Sandbox) -> None:
    by = ["$attributed_flow", "$attributed_message"]
    plain = sync(sandbox, {"metric_aggregates"}, metric_aggregates_days=60)
    split = sync(sandbox, {"metric_aggregates"}, metric_aggregates_days=60, metric_aggregates_by=by)
    (schema,) = [
        message
        for message in map(json.loads, split.stdout.splitlines())
        if message["type"] == "SCHEMA" and message["stream"] == "metric_aggregates"
    ]
    keys = ["metric_id", "date", "attributed_flow", "attributed_message"]
    assert schema["key_properties"] == keys
    totals: dict[tuple[str, str], float] = {}
    for row in split.records["metric_aggregates"]:
        key = (row["metric_id"], row["date"])
        totals[key] = totals.get(key, 0) + row["count"]
    # The groups add up to the metric's own daily count.
    for row in plain.records["metric_aggregates"]:
        assert totals.get((row["metric_id"], row["date"]), 0) == row["count"], row
    # Conversions credited to a flow carry its id and one of its messages; the others ''.
    flows: dict[str, set[str]] = {
        m.dimensions["flow_id"]: set() for m in data(sandbox).reports.flow_messages()
    }
    for message in data(sandbox).reports.flow_messages():
        flows[message.dimensions["flow_id"]].add(message.dimensions["flow_message_id"])
    credited = [r for r in split.records["metric_aggregates"] if r["attributed_flow"]]
    assert credited
    for row in credited:
        assert row["attributed_message"] in flows[row["attributed_flow"]]
    assert any(r["attributed_flow"] == "" for r in split.records["metric_aggregates"])
    row_keys = [
        (r["metric_id"], r["date"], r["attributed_flow"], r["attributed_message"])
        for r in split.records["metric_aggregates"]
    ]
    assert len(row_keys) == len(set(row_keys))


def test_the_quota_is_shared_by_the_report_threads() -> None:
    now = dt.datetime(2026, 12, 3, 12, tzinfo=dt.timezone.utc)
    quota = ReportQuota(10, {"window_start": "2026-12-03T01:00:00+00:00", "used": 2}, lambda: now)
    assert quota.plan({"a": 5, "b": 5}) == {"a": 5, "b": 3}
    spent: list[str] = []

    def spend(stream: str) -> None:
        for _ in range(50):
            if quota.spend(stream):
                spent.append(stream)

    threads = [threading.Thread(target=spend, args=(s,)) for s in ("a", "b", "a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(spent) == ["a"] * 5 + ["b"] * 3  # "c", unplanned, finds nothing left
    assert quota.saved() == {"window_start": "2026-12-03T01:00:00+00:00", "used": 10, "limit": 10}
    # A window opened more than 24 hours ago is over: the count starts again.
    later = ReportQuota(10, quota.saved(), lambda: now + dt.timedelta(hours=14))
    assert later.used == 0
    assert later.window_start is None


def test_each_spent_request_is_kept_in_the_state_at_once() -> None:
    """A run that dies after some report requests still hands their count to its next STATE."""
    now = dt.datetime(2026, 12, 3, 12, tzinfo=dt.timezone.utc)
    state: dict[str, Any] = {}
    quota = ReportQuota(5, None, lambda: now, keep=lambda saved: state.update(quota=saved))
    quota.plan({"a": 3})
    assert state == {}  # nothing spent yet
    for used in (1, 2):
        assert quota.spend("a")
        assert state["quota"] == {"window_start": now.isoformat(), "used": used, "limit": 5}
