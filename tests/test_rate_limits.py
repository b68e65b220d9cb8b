"""Klaviyo's real tiers: a full sync stays inside them, and a throttled endpoint is waited out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tap_klaviyo.sandbox.app import DEMO_API_KEY
from tap_klaviyo.sandbox.server import Sandbox, running_sandbox
from tests.conftest import SMALL, tap_config
from tests.singer import run_tap, select_only
from tests.truth import emitted_keys, expected_keys


@pytest.fixture
def limited_sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=5, sizes=SMALL, rate_limits=True) as running:
        yield running


def statuses(sandbox: Sandbox) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in sandbox.requests()["counts"]:
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
    return counts


def test_full_sync_at_real_tiers_is_never_throttled(limited_sandbox: Sandbox) -> None:
    run = run_tap(tap_config(limited_sandbox, report_timeframe_days=365))
    assert run.returncode == 0, run.stderr[-3000:]
    seen = statuses(limited_sandbox)
    assert seen.get(429, 0) == 0, seen
    assert seen[200] > 100
    for stream in ("lists_detailed", "segments_detailed", "flow_messages", "list_members"):
        records = run.records[stream]
        assert emitted_keys(stream, records) == expected_keys(limited_sandbox, stream)


def test_a_throttled_endpoint_is_waited_out(limited_sandbox: Sandbox) -> None:
    """Another client spends the XS window of /api/lists/{id}; the tap waits, then finishes."""
    config = tap_config(limited_sandbox)
    list_id = next(iter(expected_keys(limited_sandbox, "lists")))
    headers = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2026-07-15"}
    url = f"{limited_sandbox.url}/api/lists/{list_id}"
    spent = [
        requests.get(url, params={"additional-fields[list]": "profile_count"}, headers=headers)
        for _ in range(3)
    ]
    assert 429 in {response.status_code for response in spent}
    catalog: dict[str, Any] = select_only(_discover(config), {"lists_detailed"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Retrying GET /api/lists/{id}" in run.stderr
    assert emitted_keys("lists_detailed", run.records["lists_detailed"]) == expected_keys(
        limited_sandbox, "lists"
    )


def _discover(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(run_tap(config, "--discover").stdout)
