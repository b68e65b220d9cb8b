"""What real accounts send and our tidy sandbox did not: every variant arrives, nothing is
dropped or blanked silently. Each test reads a sandbox with its quirks on, over HTTP, and
holds the tap's output against what the sandbox served or its ground truth."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import timestamps
from tests.conftest import tap_config
from tests.singer import TapRun, run_tap
from tests.truth import ids

# Collection -> (stream, its parent key): the fan-outs a vanished parent can break.
FANOUTS = {
    "lists": [("lists_detailed", "id"), ("list_members", "list_id")],
    "segments": [("segments_detailed", "id"), ("segment_members", "segment_id")],
    "flow-actions": [("flow_messages", "flow_action_id")],
    "metrics": [("metric_aggregates", "metric_id")],
}


@pytest.fixture
def quirky(quirky_sandbox: Sandbox) -> Sandbox:
    return quirky_sandbox


def served(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    """Every resource object the sandbox serves at ``path``, as it serves them."""
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2026-07-15"}
    url: str | None = sandbox.url + path
    objects: list[dict[str, Any]] = []
    while url:
        page = requests.get(url, headers=headers, timeout=30).json()
        objects += page["data"]
        url = page["links"].get("next")
    return objects


def placed_order_metrics(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """Metric id -> integration, of every metric named "Placed Order"."""
    return {
        metric["id"]: metric["attributes"]["integration"]
        for metric in served(sandbox, "/api/metrics")
        if metric["attributes"]["name"] == "Placed Order"
    }


# -- timestamps in every form ----------------------------------------------------------------

# Stream -> (its endpoint with the largest page, the timestamps checked).
TIMESTAMPED = {
    "events": ("/api/events?page[size]=1000", ("datetime",)),
    "profiles": ("/api/profiles?page[size]=100", ("created", "updated")),
    "lists": ("/api/lists", ("created", "updated")),
}


@pytest.mark.parametrize("stream", sorted(TIMESTAMPED))
def test_every_served_timestamp_arrives_in_one_form(
    quirky: Sandbox, quirky_full_sync: TapRun, stream: str
) -> None:
    path, fields = TIMESTAMPED[stream]
    raw = served(quirky, path)
    rows = {row["id"]: row for row in quirky_full_sync.records[stream]}
    assert set(rows) == {obj["id"] for obj in raw}, "every record the sandbox served arrives"
    forms = set()
    for obj in raw:
        for field in fields:
            sent = obj["attributes"][field]
            if sent is None:
                continue
            forms.add(_form(sent))
            assert rows[obj["id"]][field] == timestamps.to_text(timestamps.parse(sent))
    # The sandbox really sent the variety (where there are enough timestamps to show every
    # form): otherwise this test would prove nothing.
    assert len(forms) >= 2, forms
    if len(raw) * len(fields) >= 100:
        assert {"Z", "offset", "space", "fraction", "+00:00"} <= forms, forms


def _form(text: str) -> str:
    if " " in text:
        return "space"
    if "." in text:
        return "fraction"
    if text.endswith("Z"):
        return "Z"
    return "+00:00" if text.endswith("+00:00") else "offset"


def test_no_event_is_lost_to_its_timestamp_form(quirky: Sandbox, quirky_full_sync: TapRun) -> None:
    emitted = [row["id"] for row in quirky_full_sync.records["events"]]
    assert len(emitted) == len(set(emitted)) == quirky.account.truth("events")["count"]


# -- a parent deleted between its listing and its own request ---------------------------------


def test_a_vanished_parent_skips_itself_alone(quirky: Sandbox, quirky_full_sync: TapRun) -> None:
    vanished = quirky.account.vanished  # type: ignore[attr-defined]
    for collection, streams in FANOUTS.items():
        (gone,) = vanished[collection]
        listed = ids(quirky, collection) if collection != "flow-actions" else _flow_actions(quirky)
        assert gone in listed, f"the vanished {collection} is listed"
        for stream, key in streams:
            parents = {row[key] for row in quirky_full_sync.records[stream]}
            expected = {p for p in listed - {gone} if _has_rows(quirky, stream, p)}
            assert parents == expected, stream
            warnings = [
                line
                for line in quirky_full_sync.stderr.splitlines()
                if f"Stream '{stream}': skipping" in line
            ]
            assert len(warnings) == 1, (stream, warnings)
            assert gone in warnings[0]
            assert _bookmark(quirky_full_sync, stream, key, gone) is None


def _flow_actions(sandbox: Sandbox) -> set[str]:
    return {a for f in ids(sandbox, "flows") for a in ids(sandbox, "flow-actions", parent_id=f)}


# Fan-out stream -> the collection of its rows per parent, where a parent may have none.
CHILD_ROWS = {
    "list_members": "list-profiles",
    "segment_members": "segment-profiles",
    "flow_messages": "flow-messages",
}


def _has_rows(sandbox: Sandbox, stream: str, parent: str) -> bool:
    child = CHILD_ROWS.get(stream)
    return child is None or bool(ids(sandbox, child, parent_id=parent))


def _bookmark(run: TapRun, stream: str, key: str, parent: str) -> Any:
    assert run.state is not None
    partitions = run.state["bookmarks"].get(stream, {}).get("partitions", [])
    entry: dict[str, Any] = next((p for p in partitions if p["context"].get(key) == parent), {})
    return entry.get("replication_key_value")


def test_streams_after_a_vanished_parent_still_run(quirky_full_sync: TapRun) -> None:
    # metric_aggregates (a fan-out over metrics) is the last stream: it ran, and so did all.
    assert quirky_full_sync.records["metric_aggregates"]
    assert quirky_full_sync.records["flow_values_reports"]


# -- two metrics of one name --------------------------------------------------------------------


def test_the_conversion_metric_is_chosen_deterministically(
    quirky: Sandbox, quirky_full_sync: TapRun
) -> None:
    placed = [
        m for m in served(quirky, "/api/metrics") if m["attributes"]["name"] == "Placed Order"
    ]
    assert len(placed) == 2, "the sandbox has a duplicate 'Placed Order'"
    integration = {m["id"]: m["attributes"]["integration"] for m in placed}
    (store,) = [i for i, value in integration.items() if value.get("key") != "api"]
    reports = (
        quirky_full_sync.records["campaign_values_reports"]
        + quirky_full_sync.records["flow_values_reports"]
    )
    assert reports
    assert {row["conversion_metric_id"] for row in reports} == {store}
    warnings = [
        line for line in quirky_full_sync.stderr.splitlines() if "chosen of 2 metrics" in line
    ]
    assert len(warnings) == 1, warnings  # once per run, not once per report
    assert all(metric_id in warnings[0] for metric_id in integration)
    assert "conversion_metric_id" in warnings[0]


def test_connection_test_prints_the_choice(quirky: Sandbox) -> None:
    run = run_tap(tap_config(quirky), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if "conversion metric 'Placed Order'" in line]
    assert lines
    assert "chosen of 2 metrics" in lines[0]


def test_a_pinned_conversion_metric_is_used_as_given(quirky: Sandbox) -> None:
    placed = [
        m for m in served(quirky, "/api/metrics") if m["attributes"]["name"] == "Placed Order"
    ]
    api = next(m["id"] for m in placed if m["attributes"]["integration"].get("key") == "api")
    config = tap_config(quirky, conversion_metric_id=api)
    run = run_tap(config, "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"conversion metric: {api} (set by 'conversion_metric_id')" in run.stderr
    assert "chosen of 2 metrics" not in run.stderr


# -- events whose metric cannot be resolved ------------------------------------------------------


def test_events_without_a_metric_are_kept(quirky: Sandbox, quirky_full_sync: TapRun) -> None:
    raw = served(quirky, "/api/events?page[size]=1000")
    orphans = {e["id"] for e in raw if e["relationships"]["metric"]["data"] is None}
    assert orphans, "the sandbox serves events without a metric"
    rows = {row["id"]: row for row in quirky_full_sync.records["events"]}
    for event_id in orphans:
        assert rows[event_id]["metric_id"] is None
        assert rows[event_id]["metric_name"] is None
        assert rows[event_id]["profile_id"]
