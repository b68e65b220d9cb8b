"""What the user sees when something is wrong: one line, the right exit code, no traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY, REVOKED_API_KEY
from tests.conftest import tap_catalog, tap_config
from tests.singer import TapRun, run_tap, select_only

RESTRICTED_KEY = "pk_" + "R" * 30 + "4321"


def error_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("tap-klaviyo: error:")]


def assert_one_line_error(run: TapRun, *words: str, code: int) -> None:
    assert run.returncode == code, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = error_lines(run)
    assert len(lines) == 1, run.stderr[-2000:]
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"api_key": None}, ["'api_key' is missing"]),
        ({"api_key": "pk_short"}, ["'api_key'", "pk_ followed by 34"]),
        ({"api_key": "AbC123"}, ["public key"]),
        ({"start_date": "last tuesday"}, ["'start_date'", "YYYY-MM-DDTHH:MM:SSZ"]),
        (
            {"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"},
            ["'end_date' must be later than 'start_date'"],
        ),
        ({"revision": "latest"}, ["'revision'", "YYYY-MM-DD"]),
        ({"base_url": "http://example.com"}, ["'base_url'", "https"]),
    ],
)
def test_bad_settings_fail_before_any_request(
    sandbox: Any, settings: dict[str, Any], words: list[str]
) -> None:
    before = sandbox.requests()["total"]
    config = {k: v for k, v in {**tap_config(sandbox), **settings}.items() if v is not None}
    run = run_tap(config)
    assert_one_line_error(run, *words, code=2)
    assert run.stdout == ""
    assert sandbox.requests()["total"] == before


def test_auth_token_is_accepted_as_an_alias(sandbox: Any) -> None:
    config = tap_config(sandbox)
    config["auth_token"] = config.pop("api_key")
    run = run_tap(config, "--test")
    assert run.returncode == 0, run.stderr[-2000:]


def test_unknown_settings_are_warned_not_fatal(sandbox: Any) -> None:
    run = run_tap(tap_config(sandbox, start_dat="2024-01-01T00:00:00Z"), "--discover")
    assert run.returncode == 0
    assert "Unknown setting 'start_dat' is ignored" in run.stderr


@pytest.mark.parametrize("option", ["--config", "--state", "--catalog"])
def test_files_that_are_not_json(tmp_path: Path, sandbox: Any, option: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    args = [option, str(broken)]
    run = run_tap(tap_config(sandbox), *args) if option != "--config" else _run_raw(args)
    assert_one_line_error(run, str(broken), "not valid JSON", code=2)


def _run_raw(args: list[str]) -> TapRun:
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo", *args], capture_output=True, text=True, check=False
    )
    return TapRun(completed.returncode, completed.stdout, completed.stderr)


def test_revoked_key_stops_with_the_invalid_or_revoked_message(sandbox: Any) -> None:
    run = run_tap(tap_config(sandbox, api_key=REVOKED_API_KEY))
    assert_one_line_error(run, "invalid or revoked", code=1)
    assert REVOKED_API_KEY not in run.stderr + run.stdout


def test_missing_scope_skips_the_stream_and_syncs_the_rest(fresh_sandbox: Any) -> None:
    scopes = ["profiles:read", "lists:read", "metrics:read", "events:read"]
    fresh_sandbox.keys.add(RESTRICTED_KEY, scopes)
    config = tap_config(fresh_sandbox, api_key=RESTRICTED_KEY)
    catalog = select_only(tap_catalog(), {"segments", "lists", "metrics"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"Skipping streams? [^:]*'segments'", run.stderr)
    assert "segments:read" in run.stderr
    assert run.records["lists"]
    assert run.records["metrics"]
    assert not run.records["segments"]

    strict = run_tap(
        tap_config(fresh_sandbox, api_key=RESTRICTED_KEY, fail_on_missing_scope=True),
        catalog=catalog,
    )
    assert_one_line_error(strict, "403", code=1)


def test_connection_test_reports_each_stream_scope(fresh_sandbox: Any) -> None:
    fresh_sandbox.keys.add(RESTRICTED_KEY, ["profiles:read", "metrics:read"])
    run = run_tap(tap_config(fresh_sandbox, api_key=RESTRICTED_KEY), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ok (profiles:read)" in run.stderr
    assert "missing scope: segments:read" in run.stderr


def test_demo_key_is_never_printed(sandbox: Any) -> None:
    run = run_tap(tap_config(sandbox), "--test")
    assert DEMO_API_KEY not in run.stdout + run.stderr
