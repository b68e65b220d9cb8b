"""The first hour, round two: each message a new user meets says what happened, on one line.

A closed stdout (the target exited, ``| head``), an unreachable ``base_url``, a bad report
statistic, a restricted key's ``--test``, and the summary every run ends on.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.config_checks import report_statistic_names
from tap_klaviyo.errors import OutputClosedError
from tap_klaviyo.resources import RESOURCES
from tests.conftest import tap_config
from tests.singer import run_tap
from tests.unit.test_schemas import SPEC_PATH

SIZES = Sizes(profiles=120, events=600, lists=3, segments=2, campaigns=6, flows=3, tags=3)
# Every scope but flows:read, segments:read, campaigns:read, tags:read, templates:read.
RESTRICTED = "pk_" + "R3str1cted" * 3 + "0000"
RESTRICTED_SCOPES = {"accounts:read", "events:read", "lists:read", "metrics:read", "profiles:read"}
# segments:read without profiles:read: segment_members needs both (its second scope).
SEGMENTS_NO_PROFILES = "pk_" + "S3gm0nly00" * 3 + "0000"
# The values reports' scopes, but not metrics:read: no conversion metric, so no report.
REPORTS_NO_METRICS = "pk_" + "N0m3tr1cs0" * 3 + "0000"
STREAM_LINE = re.compile(r"\| (\w+) +(ok \(|missing scope: )")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=23, sizes=SIZES, rate_limits=False) as running:
        running.keys.add(RESTRICTED, sorted(RESTRICTED_SCOPES))
        running.keys.add(SEGMENTS_NO_PROFILES, ["segments:read"])
        running.keys.add(REPORTS_NO_METRICS, ["campaigns:read", "flows:read"])
        yield running


def tap_lines(stderr: str) -> list[str]:
    """The lines the tap itself printed as ``tap-klaviyo: <label>: ...``."""
    return [line for line in stderr.splitlines() if line.startswith("tap-klaviyo: ")]


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def config_file(tmp: Path, config: dict) -> str:
    path = tmp / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


# -- a closed stdout ----------------------------------------------------------------------------


def test_a_stdout_closed_from_the_start_stops_the_tap_at_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The reader is gone before the first line: one line says so, exit 3 (not an API
    failure's 1), no stream blamed, and no stream starts (each writes its SCHEMA first)."""
    read, write = os.pipe()
    os.close(read)
    try:
        tap = subprocess.run(
            [
                sys.executable,
                "-m",
                "tap_klaviyo",
                "--config",
                config_file(tmp_path, tap_config(sandbox)),
            ],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert tap.returncode == OutputClosedError.exit_code == 3, tap.stderr[-2000:]
    (line,) = tap_lines(tap.stderr)
    assert line.startswith("tap-klaviyo: stopped: stdout was closed"), line
    no_traceback(tap.stderr)
    assert "failed" not in tap.stderr
    started = [name for name in (r.name for r in RESOURCES) if f"| {name}: " in tap.stderr]
    assert started == [], "no stream starts once stdout is closed"


def test_a_target_that_exits_midway_is_named_not_a_stream(sandbox: Sandbox, tmp_path: Path) -> None:
    """``tap-klaviyo | head -n 5``: the reader takes five lines and exits."""
    config = config_file(tmp_path, tap_config(sandbox))
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_klaviyo", "--config", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tap.stdout is not None
    head = [tap.stdout.readline() for _ in range(5)]
    tap.stdout.close()  # what `head` does once it has its lines
    stderr = tap.communicate(timeout=120)[1].decode()
    assert all(json.loads(line)["type"] for line in head)
    assert tap.returncode == 3, stderr[-2000:]
    (line,) = tap_lines(stderr)
    assert "stdout was closed" in line
    no_traceback(stderr)
    assert not re.search(r"Stream '\w+' failed", stderr)
    assert "finished:" not in stderr, "one line says it: no summary of a run cut short"


# -- an unreachable base_url, a bad statistic -------------------------------------------------


def test_an_unreachable_base_url_is_named_with_the_real_retry_delay() -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{bound.getsockname()[1]}"
        run = run_tap({**tap_config_for(f"http://{host}"), "max_retries": 2})
    assert run.returncode == 1, run.stderr[-2000:]
    (line,) = tap_lines(run.stderr)
    assert line.startswith("tap-klaviyo: error: GET /api/accounts failed 2 times"), line
    assert f"connection refused by {host}" in line
    assert f"nothing answers at http://{host}: check 'base_url'" in line
    no_traceback(run.stderr)
    (retry,) = [x for x in run.stderr.splitlines() if "Retrying GET /api/accounts" in x]
    waited = re.search(r"after ([\d.]+) s \(retry 1\): connection refused by ", retry)
    assert waited, retry
    # The delay logged is the one waited, budget included: the accounts endpoint (XS tier)
    # grants one request per 2 s, whatever the backoff's 0.25-0.5 s.
    assert float(waited.group(1)) >= 1.9, retry


def tap_config_for(base_url: str) -> dict:
    return {"api_key": "pk_" + "Unr3achab1" * 3 + "0000", "base_url": base_url}


@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_a_bad_report_statistic_stops_before_any_request(
    sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    before = sandbox.requests()["total"]
    run = run_tap(tap_config(sandbox, report_statistics=["open_rate", "openrate"]), *args)
    assert run.returncode == 2, run.stderr[-2000:]
    (line,) = tap_lines(run.stderr)
    assert line.startswith("tap-klaviyo: error: Setting 'report_statistics' must be a list"), line
    assert "'openrate' is not one; did you mean 'open_rate'?" in line
    no_traceback(run.stderr)
    assert sandbox.requests()["total"] == before, "the check comes before any request"
    assert not run.records


def test_the_allowed_statistics_are_the_specs() -> None:
    spec = json.loads(SPEC_PATH.read_text())
    schemas = spec["components"]["schemas"]
    for name in ("CampaignValuesRequestDTOResourceObject", "FlowValuesRequestDTOResourceObject"):
        statistics = schemas[name]["properties"]["attributes"]["properties"]["statistics"]
        assert set(statistics["items"]["enum"]) == report_statistic_names(), name


# -- a restricted key ---------------------------------------------------------------------------


def stream_results(stderr: str) -> dict[str, str]:
    """``--test``'s verdict per stream: "ok" or "missing"."""
    found = {}
    for line in stderr.splitlines():
        if match := STREAM_LINE.search(line):
            found[match.group(1)] = "ok" if match.group(2).startswith("ok") else "missing"
    return found


def test_a_restricted_keys_test_says_ok_only_for_streams_that_would_sync(
    sandbox: Sandbox,
) -> None:
    run = run_tap(tap_config(sandbox, api_key=RESTRICTED), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    expected = {
        r.name: "ok" if set(r.scopes) <= RESTRICTED_SCOPES else "missing" for r in RESOURCES
    }
    assert stream_results(run.stderr) == expected
    # --test says it stream by stream; no sync-time skip warnings on top.
    assert "Skipping stream" not in run.stderr
    no_traceback(run.stderr)


def test_a_child_stream_checks_its_second_scope(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox, api_key=SEGMENTS_NO_PROFILES), "--test")
    results = stream_results(run.stderr)
    assert results["segments"] == "ok"
    assert results["segments_detailed"] == "ok"
    assert results["segment_members"] == "missing", "it needs profiles:read too"
    (line,) = [x for x in run.stderr.splitlines() if "| segment_members " in x]
    assert line.endswith("missing scope: profiles:read"), line


def test_a_values_report_without_its_conversion_metric_is_not_ok(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox, api_key=REPORTS_NO_METRICS), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("campaign_values_reports", "flow_values_reports"):
        (line,) = [x for x in run.stderr.splitlines() if f"| {name} " in x]
        assert "| WARNING" in line, line
        assert line.endswith(
            "would be skipped: conversion metric: not chosen, the key lacks the scope metrics:read"
        ), line
    assert stream_results(run.stderr)["campaigns"] == "ok"


# The scopes a skip warning says the key lacks ("lacks the scope a + b (...)").
LACKS = re.compile(r"(?<=lacks the scope )([^ (]+(?: \+ [^ (]+)*)")


def lacks(line: str, scope: str) -> bool:
    return any(scope in found.split(" + ") for found in LACKS.findall(line))


def test_a_restricted_sync_warns_once_per_scope_and_sums_up(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox, api_key=RESTRICTED))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stderr.splitlines()
    lacking = {scope for r in RESOURCES for scope in r.scopes} - RESTRICTED_SCOPES
    for scope in lacking:
        if all(set(r.scopes) - RESTRICTED_SCOPES - {scope} for r in RESOURCES if scope in r.scopes):
            continue  # each stream needing it lacks another scope too, warned about first
        warnings = [x for x in lines if "| WARNING" in x and lacks(x, scope)]
        assert len(warnings) == 1, (scope, warnings)
        needing = sorted(r.name for r in RESOURCES if scope in r.scopes)
        assert all(f"'{name}'" in warnings[0] for name in needing), warnings[0]
    skipped = {r.name for r in RESOURCES if not set(r.scopes) <= RESTRICTED_SCOPES}
    for name in skipped:
        ends = [x for x in lines if f"| {name}: skipped: the API key lacks the scope" in x]
        assert len(ends) == 1, name
        assert f"| {name}: done" not in run.stderr
    summary = summary_rows(run.stderr)
    for name in skipped:
        assert "skipped: the API key lacks the scope" in summary[name][3], summary[name]
    synced = {r.name for r in RESOURCES} - skipped
    for name in synced:
        assert int(summary[name][0].replace(",", "")) == len(run.records[name]), name
    assert no_duplicate_lines(run.stderr)


# -- the summary --------------------------------------------------------------------------------

SUMMARY_ROW = re.compile(r"\| (\w+) +([\d,]+) +([\d,]+) +([\d.]+) s {2}(.*)$")


def summary_rows(stderr: str) -> dict[str, tuple[str, str, str, str]]:
    rows = {}
    for line in stderr.splitlines():
        if "| tap-klaviyo.summary" in line and (match := SUMMARY_ROW.search(line)):
            rows[match.group(1)] = (match.group(2), match.group(3), match.group(4), match.group(5))
    return rows


def no_duplicate_lines(stderr: str) -> bool:
    """No message twice (the timestamp and logger aside)."""
    messages = [line.split(" | ", 3)[-1] for line in stderr.splitlines() if " | " in line]
    return len(messages) == len(set(messages))


def test_a_run_ends_on_its_summary(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stderr.splitlines()
    rows = summary_rows(run.stderr)
    assert set(rows) == {r.name for r in RESOURCES}
    for name, (records, requests, _, notes) in rows.items():
        assert int(records.replace(",", "")) == len(run.records[name]), name
        assert int(requests.replace(",", "")) >= 1, name
        assert not notes.startswith(("skipped", "failed", "stopped")), (name, notes)
    total_requests = sum(int(row[1].replace(",", "")) for row in rows.values())
    stats = re.search(r"Requests: (\d+), retries: (\d+)", run.stderr)
    assert stats
    assert int(stats.group(1)) == total_requests
    total = sum(len(records) for records in run.records.values())
    streams = len(RESOURCES)
    assert f"| finished: ok, {total:,} records from {streams} of {streams} streams in " in lines[-1]
    assert "; 0 skipped; deletes marked in " in lines[-1]
    # Counts read as counts: integers, and "1 record", never "1 records".
    assert not re.search(r"\b1 records\b", run.stderr)
    assert not re.search(r"\d\.0 records", run.stderr)
    assert no_duplicate_lines(run.stderr)
