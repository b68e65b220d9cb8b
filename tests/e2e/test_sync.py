"""A full sync of the sandbox: every stream emits exactly the sandbox's records, valid rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tap_klaviyo.schemas import load_schema
from tests.singer import TapRun
from tests.truth import KEYED_STREAMS, emitted_keys, expected_keys

# ``full_sync`` (tests/conftest.py): one full sync of the shared sandbox.


@pytest.mark.parametrize("stream", KEYED_STREAMS)
def test_stream_emits_the_sandbox_records(full_sync: TapRun, sandbox: Any, stream: str) -> None:
    emitted = emitted_keys(stream, full_sync.records[stream])
    expected = expected_keys(sandbox, stream)
    assert expected, f"the sandbox has no {stream}: the test would prove nothing"
    assert emitted == expected


@pytest.mark.parametrize("stream", KEYED_STREAMS)
def test_no_row_is_emitted_twice_in_one_pass(full_sync: TapRun, stream: str) -> None:
    keys = [_key(stream, r) for r in full_sync.records[stream]]
    duplicates = len(keys) - len(set(keys))
    # Quirk: Klaviyo may return a record equal to a greater-than bound again; a fresh sync
    # has no bound, so nothing may repeat.
    assert duplicates == 0


def _key(stream: str, record: dict[str, Any]) -> Any:
    return next(iter(emitted_keys(stream, [record])))


def test_every_record_validates_against_its_schema(full_sync: TapRun) -> None:
    checked = 0
    for stream, records in full_sync.records.items():
        validator = Draft202012Validator(load_schema(stream), format_checker=FormatChecker())
        for record in records:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, f"{stream} {record.get('id')}: {errors[:3]}"
            checked += 1
    assert checked > 1000


def test_schema_messages_precede_records_and_match_files(full_sync: TapRun) -> None:
    seen_schema: set[str] = set()
    for line in full_sync.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            seen_schema.add(message["stream"])
        elif message["type"] == "RECORD":
            assert message["stream"] in seen_schema
    for stream in seen_schema:
        assert (
            full_sync.schemas[stream]["properties"].keys()
            == load_schema(stream)["properties"].keys()
        )


def test_events_carry_metric_and_profile(full_sync: TapRun, sandbox: Any) -> None:
    metrics = {m["id"]: m["name"] for m in full_sync.records["metrics"]}
    events = full_sync.records["events"]
    # Events whose metric Klaviyo cannot resolve come with none (tests/e2e/test_fidelity.py).
    resolved = [e for e in events if e["metric_id"] is not None]
    assert resolved
    assert all(e["metric_name"] == metrics[e["metric_id"]] for e in resolved)
    assert all(e["metric_name"] is None for e in events if e["metric_id"] is None)
    assert all(e["profile_id"] for e in events)


def test_profiles_carry_consent_and_predictions(full_sync: TapRun) -> None:
    profiles = full_sync.records["profiles"]
    assert all(p["subscriptions"]["email"]["marketing"]["consent"] for p in profiles)
    churn = [p["predictive_analytics"]["churn_probability"] for p in profiles]
    assert any(isinstance(c, float) for c in churn)


def test_campaigns_cover_every_channel_and_archived(full_sync: TapRun) -> None:
    campaigns = full_sync.records["campaigns"]
    assert {c["channel"] for c in campaigns} == {"email", "sms", "mobile_push"}
    assert {c["archived"] for c in campaigns} == {True, False}


def test_campaigns_detailed_embed_their_messages(full_sync: TapRun) -> None:
    messages = {m["id"]: m for m in full_sync.records["campaign_messages"]}
    for campaign in full_sync.records["campaigns_detailed"]:
        assert campaign["message_count"] == len(campaign["messages"]) >= 1
        for message in campaign["messages"]:
            assert message["campaign_id"] == campaign["id"]
            assert message["subject"] == messages[message["id"]]["subject"]
    assert any(c["is_ab_test"] for c in full_sync.records["campaigns_detailed"])


def test_lists_detailed_count_members(full_sync: TapRun) -> None:
    members: dict[str, int] = {}
    for row in full_sync.records["list_members"]:
        members[row["list_id"]] = members.get(row["list_id"], 0) + 1
    snapshots = {r["snapshot_at"] for r in full_sync.records["lists_detailed"]}
    assert len(snapshots) == 1
    for row in full_sync.records["lists_detailed"]:
        assert row["profile_count"] == members.get(row["id"], 0)


def test_flow_messages_know_their_flow(full_sync: TapRun) -> None:
    action_flow = {a["id"]: a["flow_id"] for a in full_sync.records["flow_actions"]}
    for message in full_sync.records["flow_messages"]:
        assert message["flow_id"] == action_flow[message["flow_action_id"]]


def test_global_exclusions_have_reason_and_time(full_sync: TapRun) -> None:
    reasons = {"HARD_BOUNCE", "INVALID_EMAIL", "SPAM_COMPLAINT", "UNSUBSCRIBE", "USER_SUPPRESSED"}
    rows = full_sync.records["global_exclusions"]
    assert rows
    assert all(r["reason"] in reasons and r["timestamp"] for r in rows)


def test_reports_and_aggregates(full_sync: TapRun) -> None:
    campaign_rows = full_sync.records["campaign_values_reports"]
    assert campaign_rows
    for row in campaign_rows:
        assert row["opens_unique"] <= row["opens"]
        assert 0 <= row["open_rate"] <= 1
    assert full_sync.records["flow_values_reports"]
    aggregates = full_sync.records["metric_aggregates"]
    # Days are the account's (America/New_York): each row counts the events of its local day.
    (zone,) = {ZoneInfo(row["timezone"]) for row in aggregates}
    events_by_metric_day: dict[tuple[str, dt.date], int] = {}
    for event in full_sync.records["events"]:
        day = dt.datetime.fromisoformat(event["datetime"]).astimezone(zone).date()
        key = (event["metric_id"], day)
        events_by_metric_day[key] = events_by_metric_day.get(key, 0) + 1
    assert aggregates
    for row in aggregates:
        day = dt.datetime.fromisoformat(row["date"]).astimezone(zone).date()
        assert row["count"] == events_by_metric_day.get((row["metric_id"], day), 0)
