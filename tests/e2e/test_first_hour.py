"""A new user's first hour: no silent zeros, quiet logs, no false alarms, a free ``--test``."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.resources import RESOURCES
from tests.conftest import tap_catalog, tap_config
from tests.local_server import local_server
from tests.singer import run_tap, select_only

# A few pages of everything.
SIZES = Sizes(profiles=120, events=600, lists=3, segments=2, campaigns=6, flows=3, tags=3)
NO_SCOPES = "pk_" + "N0sc0pes00" * 3 + "0000"
LISTS_ONLY = "pk_" + "L1st0nly00" * 3 + "0000"
REPORT_PATHS = {r.path for r in RESOURCES if r.report_type and r.probe_with}
PROGRESS = re.compile(r": [\d,]+ records, [\d,]+/s")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=19, sizes=SIZES, rate_limits=False, quirks=True) as running:
        running.keys.add(NO_SCOPES, [])
        running.keys.add(LISTS_ONLY, ["lists:read"])
        yield running


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("tap-klaviyo: error:")]


@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "test"])
def test_a_key_with_no_scope_is_an_error_not_an_empty_success(
    sandbox: Sandbox, args: tuple[str, ...]
) -> None:
    run = run_tap(tap_config(sandbox, api_key=NO_SCOPES), *args)
    assert run.returncode == 1, run.stderr[-2000:]
    (line,) = error_lines(run.stderr)
    assert "lacks the scopes of every selected stream" in line
    assert "events (events:read)" in line
    assert not run.records
    assert "An unhandled error occurred" not in run.stderr


def test_streams_skipped_for_scopes_end_in_one_summary_line(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox, api_key=LISTS_ONLY))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records["lists"], "the stream the key may read is synced"
    summaries = [x for x in run.stderr.splitlines() if "Streams skipped for missing scopes" in x]
    assert len(summaries) == 1
    assert "events (events:read)" in summaries[0]
    assert "lists (" not in summaries[0]


def report_posts(sandbox: Sandbox) -> int:
    counts = sandbox.requests()["counts"]
    return sum(c["count"] for c in counts if c["method"] == "POST" and c["route"] in REPORT_PATHS)


def test_connection_test_sends_no_report_post(sandbox: Sandbox) -> None:
    before, total = report_posts(sandbox), sandbox.requests()["total"]
    run = run_tap(tap_config(sandbox), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"campaign_values_reports +ok \(campaigns:read\)", run.stderr)
    assert sandbox.requests()["total"] > total, "the test sent requests"
    assert report_posts(sandbox) == before, "a report POST spends the reports' daily quota"


def test_a_future_start_date_and_an_empty_selection_are_said(sandbox: Sandbox) -> None:
    config = tap_config(sandbox, start_date="2999-01-01T00:00:00Z")
    discovered = run_tap(config, "--discover")
    assert "'start_date' (2999-01-01T00:00:00Z) is in the future" in discovered.stderr
    run = run_tap(config, catalog=select_only(json.loads(discovered.stdout), set()))
    assert run.returncode == 0
    assert "The catalog selects no stream: nothing is synced" in run.stderr


def test_a_default_sync_says_a_few_lines_per_stream(sandbox: Sandbox) -> None:
    run = run_tap(tap_config(sandbox))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stderr.splitlines()
    # Budget: a start and an end line per stream, one line per warning (vanished parents,
    # the conversion metric's namesakes), the run's first and last lines (a first run's
    # table versions in one of them); progress lines come on top, one per 10 s of a long
    # stream, and only in their own form.
    warnings = [line for line in lines if "| WARNING" in line]
    progress = [line for line in lines if PROGRESS.search(line)]
    # The run's summary: a header, a line per stream, the requests, and "finished:" last.
    summary = [line for line in lines if "| tap-klaviyo.summary" in line]
    assert len(summary) == len(RESOURCES) + 3, "\n".join(summary)
    assert "finished: ok, " in lines[-1]
    budget = 2 * len(RESOURCES) + len(warnings) + 4
    assert len(lines) - len(progress) - len(summary) <= budget, "\n".join(lines)
    for resource in RESOURCES:
        ends = [line for line in lines if f"| {resource.name}: done, " in line]
        assert len(ends) == 1, resource.name
    chatter = (
        "Starting incremental sync",
        "METRIC",
        "Skipping deselected",
        "assumed to be unsorted",
    )
    assert not [line for line in lines if any(word in line for word in chatter)]


def test_the_sdk_settings_are_no_unknown_settings(sandbox: Sandbox) -> None:
    config = tap_config(sandbox, flattening_separator="__", flattening_max_key_length=60)
    run = run_tap(config, "--discover")
    assert run.returncode == 0
    assert "Unknown setting" not in run.stderr


def test_the_demo_key_is_a_full_access_key(sandbox: Sandbox) -> None:
    run = run_tap({"api_key": DEMO_API_KEY, "base_url": sandbox.url}, "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "missing scope" not in run.stderr


# -- redirects and timeouts ---------------------------------------------------------------------

JSONAPI = {"Content-Type": "application/vnd.api+json"}
TAGS = json.dumps(
    {"data": [{"type": "tag", "id": "t1", "attributes": {"name": "vip"}}], "links": {"next": None}}
).encode()


def tags_only() -> dict:
    return select_only(tap_catalog(), {"tags"})


def test_a_redirect_to_another_host_is_refused(sandbox: Sandbox) -> None:
    with local_server(lambda method, path: (200, JSONAPI, TAGS)) as (elsewhere, elsewhere_seen):

        def redirect(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": elsewhere + path}, b""

        with local_server(redirect) as (url, seen):
            config = {"api_key": DEMO_API_KEY, "base_url": url}
            run = run_tap(config, catalog=tags_only())
    assert run.returncode == 1, run.stderr[-2000:]
    (line,) = error_lines(run.stderr)
    assert "redirects to another host" in line
    assert "Traceback" not in run.stderr
    assert seen
    assert not elsewhere_seen, "nothing is sent to the other host"
    assert not run.records


def test_a_redirect_on_our_own_host_is_followed() -> None:
    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/api/tags?"):
            return 301, {"Location": path.replace("/api/tags", "/api/tags/", 1)}, b""
        return 200, JSONAPI, TAGS

    with local_server(respond) as (url, seen):
        config = {"api_key": DEMO_API_KEY, "base_url": url}
        run = run_tap(config, catalog=tags_only())
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["tags"]] == ["t1"]
    paths = [path.split("?")[0] for _, path, _ in seen]
    assert paths == ["/api/tags", "/api/tags/", "/api/accounts"]  # the state's account last


def test_a_request_timeout_too_short_says_so() -> None:
    answered = threading.Event()

    def slow(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        answered.wait(timeout=5)  # longer than the tap waits: every attempt times out
        return 200, JSONAPI, TAGS

    with local_server(slow) as (url, _):
        config = {"api_key": DEMO_API_KEY, "base_url": url, "max_retries": 2}
        catalog = tags_only()
        run = run_tap({**config, "request_timeout": 0.2}, catalog=catalog)
        answered.set()
    assert run.returncode == 1, run.stderr[-2000:]
    (line,) = error_lines(run.stderr)
    assert "failed 2 times (last: timeout)" in line
    assert "took longer than 'request_timeout' (0.2 s): raise it" in line


def test_about_shows_the_api_key_as_required() -> None:
    about = run_tap({}, "--about", "--format", "json")
    assert about.returncode == 0, about.stderr[-2000:]
    settings = json.loads(about.stdout)["settings"]
    assert settings["required"] == ["api_key"]
    assert "auth_token" in settings["properties"]  # its alias still satisfies it
