"""Klaviyo's real tiers: a full sync at them completes, and a throttled endpoint is waited out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.conftest import SMALL, tap_catalog, tap_config
from tests.singer import run_tap, select_only
from tests.truth import emitted_keys, expected_keys

STATS = re.compile(r"Requests: \d+, retries: \d+ \(429: (\d+)\)")


@pytest.fixture
def limited_sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=5, sizes=SMALL, rate_limits=True) as running:
        yield running


def statuses(sandbox: Sandbox) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in sandbox.requests()["counts"]:
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
    return counts


def test_full_sync_at_real_tiers_waits_out_whatever_it_meets(limited_sandbox: Sandbox) -> None:
    """The budget keeps each endpoint inside its tier as the tap grants requests; a loaded
    machine may still deliver two of them in one of Klaviyo's windows. Whatever 429 that
    costs is waited out, and counted by the tap as the sandbox counts it. (How rarely that
    happens is a rate, measured by the benchmarks: fewer than 1% of requests.)"""
    config = tap_config(limited_sandbox, rate_limit_budget=True, report_timeframe_days=365)
    run = run_tap(config)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = statuses(limited_sandbox)
    (counted,) = STATS.findall(run.stderr)[-1:]
    assert int(counted) == seen.get(429, 0), seen
    assert seen[200] > 100
    for stream in ("lists_detailed", "segments_detailed", "flow_messages", "list_members"):
        records = run.records[stream]
        assert emitted_keys(stream, records) == expected_keys(limited_sandbox, stream)


def test_throttled_requests_are_waited_out() -> None:
    """429s with Retry-After (here injected on 30% of requests) delay the sync, never fail it."""
    with running_sandbox(
        seed=5, sizes=SMALL, rate_limits=False, faults=FaultPlan.parse("429=0.3", seed=3)
    ) as throttled:
        config = tap_config(throttled, rate_limit_budget=True)
        catalog = select_only(tap_catalog(), {"lists", "lists_detailed", "list_members"})
        run = run_tap(config, catalog=catalog)
        assert run.returncode == 0, run.stderr[-3000:]
        assert throttled.fault_counts()["429"] > 3
        assert "Retrying GET /api/lists" in run.stderr
        for stream in ("lists_detailed", "list_members"):
            keys = emitted_keys(stream, run.records[stream])
            assert keys == expected_keys(throttled, stream)
