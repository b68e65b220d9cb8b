"""Faults the tap must ride through, and the clear error when it cannot.

Every transient kind the sandbox injects is retried with backoff and counted; a kind that
never stops ends in one line on stderr (after a final STATE), never a traceback; pages that
are empty but go on are followed; a next link that repeats stops the run instead of looping;
and a key revoked mid-run stops with the revoked-key message after the last safe STATE.
(The full sync through a mix of every kind is in test_properties.py.)
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.faults import KINDS, FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.budget import Budget
from tap_klaviyo.client import MAX_RETRY_WAIT, MAX_THROTTLED, KlaviyoClient
from tap_klaviyo.errors import KlaviyoAPIError, PermissionDeniedError
from tap_klaviyo.resources import S
from tests.conftest import SMALL, tap_catalog, tap_config
from tests.fault_plans import EveryOther
from tests.local_server import local_server
from tests.singer import TapRun, parse_messages, run_tap, run_tap_cli, select_only, start_tap
from tests.truth import assert_none_lost, emitted_keys, expected_keys

# A few pages of each kind of read: windowed (events, profiles), single-page and multi-page
# collections. (Every stream, fan-outs included, goes through a fault mix in test_properties.)
STREAMS = {"events", "profiles", "lists", "tags", "templates"}
# Faults that alter a collection page (only a paginated page with records past it can be
# made short): each is drawn by every other request instead of at random.
PAGE_FAULTS = ("emptynext", "shortnext")
# An injected timeout costs the tap a whole request_timeout: fewer of them.
PROBABILITY = dict.fromkeys(KINDS, 0.2) | {"timeout": 0.1}
# Two workers: still parallel windows, but ~50 requests rather than ~300 (the windows grow
# with the workers), so each kind costs seconds, not tens; a fault is handled per request.
FAST = {"max_retries": 10, "max_workers": 2}
# An injected ``timeout`` answers after 3 s; the tap gives up on it after 1 s. The other kinds
# keep a request_timeout no healthy response outlasts, however loaded the machine.
SERVER_TIMEOUT = 3.0


def request_timeout(kind: str) -> float:
    return 1 if kind == "timeout" else 60


STATS = re.compile(r"Requests: (\d+), retries: (\d+) \(429: (\d+)\)")
RETRY = re.compile(r"Retrying (GET|POST) (\S+) after ([\d.]+) s \(retry \d+\): (.+)$")
ERROR_PREFIX = "tap-klaviyo: error:"


@pytest.fixture(scope="module")
def faulty() -> Iterator[Sandbox]:
    """One sandbox for the module; each test sets its own fault plan."""
    with running_sandbox(seed=21, sizes=SMALL, rate_limits=False, faults=FaultPlan({})) as running:
        yield running


@pytest.fixture(scope="module")
def catalog(faulty: Sandbox) -> dict[str, Any]:
    faulty.state.faults = FaultPlan({})
    return tap_catalog()


def use_faults(sandbox: Sandbox, spec: str, seed: int) -> FaultPlan:
    plan = FaultPlan.parse(spec, seed=seed, timeout_seconds=SERVER_TIMEOUT)
    sandbox.state.faults = plan
    return plan


def stats(run: TapRun) -> tuple[int, int, int]:
    """The tap's own count of requests, retries and 429s (its last INFO line)."""
    found = STATS.findall(run.stderr)
    assert found, run.stderr[-2000:]
    requests_made, retries, throttled = found[-1]
    return int(requests_made), int(retries), int(throttled)


def error_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def assert_ground_truth(sandbox: Sandbox, run: TapRun, streams: set[str]) -> None:
    for stream in sorted(streams):
        emitted = emitted_keys(stream, run.records[stream])
        expected = expected_keys(sandbox, stream)
        assert expected, f"the sandbox has no {stream}: the test would prove nothing"
        lost, extra = expected - emitted, emitted - expected
        assert not lost, f"{stream}: {len(lost)} of {len(expected)} records lost"
        assert not extra, f"{stream}: {len(extra)} records the sandbox does not have"


# --- each kind on its own: retried, backed off, counted --------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_fault_kind_is_ridden_through(
    faulty: Sandbox, catalog: dict[str, Any], kind: str
) -> None:
    plan: FaultPlan
    if kind in PAGE_FAULTS:  # they apply to some pages only: drawn at random, maybe to none
        plan = faulty.state.faults = EveryOther(kind)
    else:
        plan = use_faults(faulty, f"{kind}={PROBABILITY[kind]}", seed=KINDS.index(kind) + 1)
    config = tap_config(faulty, request_timeout=request_timeout(kind), **FAST)
    run = run_tap(config, catalog=select_only(catalog, STREAMS))
    injected = plan.counts()[kind]
    faulty.state.faults = FaultPlan({})

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert injected > 0, f"no {kind} was injected: the test would prove nothing"
    assert_ground_truth(faulty, run, STREAMS)

    _, retries, throttled = stats(run)
    if kind in PAGE_FAULTS:
        # Not an error: an empty (or short) page whose next link goes on is simply followed
        # (the ground truth above proves nothing was lost). No retry is owed to it; one may
        # still come from the shared sandbox's earlier faults, so none is counted here.
        return
    # Every injected fault cost exactly one retry, and the tap counted it. Counted by cause:
    # on a loaded machine a healthy response may also outlast request_timeout, a retry owed
    # to the machine, not to the fault; only an injected timeout has such a twin.
    waits = [match for line in run.stderr.splitlines() if (match := RETRY.search(line))]
    assert len(waits) == retries  # the tap counted every retry it logged
    timeouts = [match for match in waits if match.group(4) == "timeout"]
    caused = [match for match in waits if match.group(4) != "timeout"]
    if kind == "timeout":
        assert not caused, run.stderr[-3000:]
        caused = timeouts
        assert len(caused) >= injected, run.stderr[-3000:]  # and more if the machine was slow
    else:
        assert len(caused) == injected, run.stderr[-3000:]
    assert throttled == (injected if kind == "429" else 0)
    for match in caused:
        wait = float(match.group(3))
        if kind == "429":
            assert wait >= 1.0  # the sandbox's Retry-After: 1, honoured (then any budget wait)
        else:
            # Exponential backoff with jitter: from 0.25-0.5 s, doubling, capped at 30 s.
            assert 0.2 <= wait <= 30.0, match.group(0)
    if kind != "429":
        assert min(float(match.group(3)) for match in caused) <= 0.5  # first retries are quick


# --- retries exhausted: one clear line -------------------------------------------------------


# 429 is waited out many more times than failures are retried: see the client-level test.
@pytest.mark.parametrize(
    "kind", [kind for kind in KINDS if kind not in ("emptynext", "shortnext", "429")]
)
def test_a_fault_that_never_clears_ends_in_one_line(
    faulty: Sandbox, catalog: dict[str, Any], kind: str
) -> None:
    use_faults(faulty, f"{kind}=1.0", seed=1)
    config = tap_config(faulty, request_timeout=request_timeout(kind), max_retries=2)
    run = run_tap(config, catalog=select_only(catalog, {"tags"}))
    faulty.state.faults = FaultPlan({})

    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = error_lines(run)
    assert len(lines) == 1, run.stderr[-3000:]
    assert re.search(r"GET /api/tags failed 2 times \(last: [^)]+\)", lines[0]), lines[0]
    assert "Re-run" in lines[0]
    # The bookmarks so far are handed over before stopping.
    assert json.loads(run.stdout.splitlines()[-1])["type"] == "STATE"
    if kind == "html403":
        # The CDN's HTML challenge is not a missing scope: no skip, no "permission" advice.
        assert "Skipping stream" not in run.stderr
        assert "scope" not in lines[0]
        assert "403" in lines[0]


def test_connection_refused_is_retried_then_named(catalog: dict[str, Any]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nobody listens there
    config = {"api_key": DEMO_API_KEY, "base_url": f"http://127.0.0.1:{port}", "max_retries": 2}
    run = run_tap(config, catalog=select_only(catalog, {"tags"}))
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = error_lines(run)
    assert len(lines) == 1, run.stderr[-3000:]
    assert f"failed 2 times (last: connection refused by 127.0.0.1:{port})" in lines[0]
    assert len([line for line in run.stderr.splitlines() if RETRY.search(line)]) == 1


# --- empty pages that go on ------------------------------------------------------------------


@pytest.mark.parametrize("start_date", [None, "2020-01-01T00:00:00Z"])
def test_empty_pages_with_a_next_link_are_followed(
    faulty: Sandbox, catalog: dict[str, Any], start_date: str | None
) -> None:
    """Deterministic: the first page of every read (and the probe for the earliest record
    of events and profiles) is empty with a next link. Nothing may be lost."""
    plan = EveryOther("emptynext")
    faulty.state.faults = plan
    settings: dict[str, Any] = {"start_date": start_date} if start_date else {}
    run = run_tap(tap_config(faulty, **settings), catalog=select_only(catalog, STREAMS))
    faulty.state.faults = FaultPlan({})
    assert run.returncode == 0, run.stderr[-3000:]
    assert_ground_truth(faulty, run, STREAMS)
    assert plan.counts()["emptynext"] >= 10


# --- 429: Retry-After honoured, capped, counted (client level) -------------------------------


JSONAPI = {"Content-Type": "application/vnd.api+json"}
HTML = {"Content-Type": "text/html"}
EMPTY_PAGE = json.dumps({"data": [], "links": {"next": None}}).encode()


def fixed(status: int, headers: dict[str, str], body: bytes) -> Callable[..., Any]:
    return lambda method, path: (status, headers, body)


def make_client(url: str, **options: Any) -> KlaviyoClient:
    return KlaviyoClient(
        api_key=DEMO_API_KEY,
        base_url=url,
        revision="2026-07-15",
        user_agent="tap-klaviyo-tests",
        timeout=options.pop("timeout", 60),  # no healthy answer outlasts it, however loaded
        max_retries=options.pop("max_retries", 3),
        budget=Budget(enabled=False),
        # Waits are recorded, not slept: what the client waits is asserted, not the clock.
        sleep=options.pop("sleep", lambda seconds: None),
    )


def throttled_once(retry_after: str) -> Callable[[str, str], tuple[int, dict[str, str], bytes]]:
    calls = {"n": 0}

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        if calls["n"] == 1:
            body = {"errors": [{"status": 429, "code": "throttled", "detail": "Slow down."}]}
            return 429, {**JSONAPI, "Retry-After": retry_after}, json.dumps(body).encode()
        return 200, JSONAPI, EMPTY_PAGE

    return respond


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    with local_server(throttled_once("2")) as (url, seen):
        client = make_client(url, sleep=waits.append)
        assert client.get("/api/tags", tier=S) == json.loads(EMPTY_PAGE)
    assert len(seen) == 2
    assert waits == [2.0]  # Retry-After: 2, waited once before the one retry
    assert (client.stats.retries, client.stats.throttled) == (1, 1)


def test_retry_after_is_capped() -> None:
    waits: list[float] = []
    with local_server(throttled_once("86400")) as (url, seen):
        client = make_client(url, sleep=waits.append)
        client.get("/api/tags", tier=S)
    assert len(seen) == 2
    assert waits == [MAX_RETRY_WAIT] == [120.0]
    assert client.stats.throttled == 1


def test_the_real_sleep_is_the_default() -> None:
    """Tests inject their sleep; a client built as the tap builds it really waits."""
    client = KlaviyoClient(
        api_key=DEMO_API_KEY, base_url="http://127.0.0.1:1", revision="2026-07-15", user_agent="t"
    )
    assert client._sleep is time.sleep


def test_throttling_that_never_clears_ends_in_an_error() -> None:
    waits: list[float] = []
    body = json.dumps({"errors": [{"status": 429, "code": "throttled"}]}).encode()
    with local_server(fixed(429, {**JSONAPI, "Retry-After": "1"}, body)) as (url, seen):
        client = make_client(url, max_retries=2, sleep=waits.append)
        error = rf"GET /api/tags failed {MAX_THROTTLED} times \(last: 429\)"
        with pytest.raises(KlaviyoAPIError, match=error):
            client.get("/api/tags", tier=S)
    # 429s are waited out up to MAX_THROTTLED times (not max_retries), then the run stops.
    assert len(seen) == MAX_THROTTLED == 30
    assert waits == [1.0] * (MAX_THROTTLED - 1)
    assert client.stats.throttled == MAX_THROTTLED


# --- what is and is not a permission problem -------------------------------------------------


CDN_400 = b"<html><head><title>400 Bad Request</title></head><body>cloudflare</body></html>"
CHALLENGE = b"<!DOCTYPE html><html><title>Just a moment...</title></html>"
DENIED = json.dumps(
    {
        "errors": [
            {
                "status": 403,
                "code": "permission_denied",
                "detail": "Missing scopes: segments:read.",
            }
        ]
    }
).encode()


def test_html_400_from_the_cdn_is_an_api_error_not_a_permission_problem() -> None:
    with (
        local_server(fixed(400, HTML, CDN_400)) as (url, seen),
        pytest.raises(KlaviyoAPIError) as raised,
    ):
        make_client(url).get("/api/segments", tier=S)
    assert not isinstance(raised.value, PermissionDeniedError)
    assert "400" in str(raised.value)
    assert "/api/segments" in str(raised.value)
    assert len(seen) == 1  # a 400 is not retried


def test_html_403_from_the_cdn_is_retried_not_a_permission_problem() -> None:
    with (
        local_server(fixed(403, HTML, CHALLENGE)) as (url, seen),
        pytest.raises(KlaviyoAPIError) as raised,
    ):
        make_client(url, max_retries=2).get("/api/segments", tier=S)
    assert not isinstance(raised.value, PermissionDeniedError)
    assert "403" in str(raised.value)
    assert "scope" not in str(raised.value)
    assert len(seen) == 2


def test_only_a_json_permission_denied_is_a_missing_scope() -> None:
    with (
        local_server(fixed(403, JSONAPI, DENIED)) as (url, seen),
        pytest.raises(PermissionDeniedError) as raised,
    ):
        make_client(url).get("/api/segments", tier=S)
    assert "segments:read" in str(raised.value)
    assert len(seen) == 1


# --- a next link that repeats: stop, never loop ----------------------------------------------

TAG = {
    "type": "tag",
    "id": "tag-1",
    "attributes": {"name": "vip"},
    "relationships": {"tag-group": {"data": {"type": "tag-group", "id": "group-1"}}},
}


def looping_pages(cycle: list[str]) -> Callable[[str, str], tuple[int, dict[str, str], bytes]]:
    """Page 1 links to cycle[0], cycle[i] to cycle[i + 1], the last back to cycle[0]."""
    base = {"url": ""}

    def respond(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        cursor = re.search(r"page%5Bcursor%5D=(\w+)|page\[cursor\]=(\w+)", path)
        current = next(filter(None, cursor.groups())) if cursor else None
        following = cycle[0] if current is None else cycle[(cycle.index(current) + 1) % len(cycle)]
        document = {
            "data": [{**TAG, "id": f"tag-{current or 'first'}"}],
            "links": {"next": f"{base['url']}/api/tags?page%5Bcursor%5D={following}"},
        }
        return 200, JSONAPI, json.dumps(document).encode()

    respond.base = base  # type: ignore[attr-defined]
    return respond


@pytest.mark.parametrize("cycle", [["A"], ["A", "B"], ["A", "B", "C"]])
def test_a_repeating_next_link_stops_with_an_error(cycle: list[str]) -> None:
    respond = looping_pages(cycle)
    with local_server(respond) as (url, seen):
        respond.base["url"] = url  # type: ignore[attr-defined]
        pages = make_client(url).paginate("/api/tags", tier=S)
        with pytest.raises(KlaviyoAPIError, match="same next page twice"):
            list(itertools.islice(pages, 50))
    assert len(seen) == len(cycle) + 1  # page 1 and the cycle once: its repeat is not fetched


def test_a_repeating_next_link_stops_the_tap_with_one_line(
    catalog: dict[str, Any],
) -> None:
    respond = looping_pages(["A", "B"])
    with local_server(respond) as (url, seen):
        respond.base["url"] = url  # type: ignore[attr-defined]
        config = {"api_key": DEMO_API_KEY, "base_url": url}
        run = run_tap_cli(config, catalog=select_only(catalog, {"tags"}), timeout=60)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = error_lines(run)
    assert len(lines) == 1
    assert "same next page twice for /api/tags" in lines[0]
    assert len(seen) == 3
    assert json.loads(run.stdout.splitlines()[-1])["type"] == "STATE"


# --- 401 in the middle of a run --------------------------------------------------------------

MIDRUN_KEY = "pk_" + "Midrun401" + "x" * 21 + "7Q2z"
MIDRUN_STREAMS = {"campaigns", "events", "list_members", "lists", "profiles"}


def test_key_revoked_mid_run_stops_after_the_last_safe_state(catalog: dict[str, Any]) -> None:
    assert len(MIDRUN_KEY) == 37
    with running_sandbox(seed=23, sizes=SMALL, rate_limits=False, latency_ms=120) as sandbox:
        sandbox.keys.add(MIDRUN_KEY, ["campaigns:read", "events:read", "lists:read",
                                      "profiles:read"])  # fmt: skip
        selection = select_only(catalog, MIDRUN_STREAMS)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps(tap_config(sandbox, api_key=MIDRUN_KEY, max_workers=4)))
            catalog_file = Path(tmp) / "catalog.json"
            catalog_file.write_text(json.dumps(selection))
            tap, tap_stderr = start_tap(config, catalog_file)
            lines: list[bytes] = []
            assert tap.stdout is not None
            for line in tap.stdout:
                lines.append(line)
                if b'"type":"RECORD","stream":"events"' in line:
                    sandbox.keys.revoke(MIDRUN_KEY)  # revoked while events are synced
                    break
            lines.extend(tap.stdout.readlines())
            code = tap.wait(timeout=120)
            stderr = tap_stderr()
        stdout = b"".join(lines).decode()
        first = TapRun(code, stdout, stderr)
        parse_messages(stdout, first)  # every line is a whole Singer message

        assert code == 1, stderr[-3000:]
        assert "Traceback" not in stderr
        errors = [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]
        assert len(errors) == 1, stderr[-3000:]
        assert "invalid or revoked" in errors[0]
        assert MIDRUN_KEY not in stdout + stderr
        kinds = [json.loads(line)["type"] for line in stdout.splitlines()]
        assert "RECORD" in kinds
        assert kinds[-1] == "STATE", "the last safe STATE must follow the last RECORD"
        total = sum(len(expected_keys(sandbox, stream)) for stream in MIDRUN_STREAMS)
        emitted = sum(len(first.records[stream]) for stream in MIDRUN_STREAMS)
        assert emitted < total, "the key was revoked too late to test anything"

        # A good key resumes from that state, and nothing is missing.
        second = run_tap(tap_config(sandbox), catalog=selection, state=first.state)
        assert second.returncode == 0, second.stderr[-3000:]
        assert_none_lost(sandbox, MIDRUN_STREAMS, [first, second], across="the revocation")
