"""What the warehouse depends on, pinned (issue 28): each test fails when the behaviour breaks.

Each was checked by planting the bug it names and seeing it fail (tests/MUTANTS.md lists them):

- no ACTIVATE_VERSION after a read that did not finish (a revoked key, a server error after
  the retries, a signal, a closed stdout), judged on the messages the target receives;
- list members are bookmarked per list: a signal in the middle of the members and a resume
  (no reconciliation due) lose nothing and read again only the lists not finished; a page
  of members (one block) moves its list's bookmark where its rows one by one would;
- the report quota's count in the final STATE of a run stopped by a signal equals the report
  requests Klaviyo received;
- a short page that is not the last (``shortnext``) is followed, nothing lost;
- no bookmark of an incremental stream goes past the sync's start, with future-dated
  members, suppressions and metric aggregates in the account.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import timestamps
from tap_klaviyo.errors import OutputClosedError
from tap_klaviyo.output import RecordBlock
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.children import ChildBlock
from tests.conftest import BOOKMARK_ONLY, SMALL, tap_config
from tests.integration.test_kill_resume import blocked_writing_stdout, poll_until
from tests.singer import TapRun, parse_messages, quiet_tap, run_tap, select_only
from tests.truth import REPORT_STREAMS, data, emitted_keys, expected_keys

STREAMS = {"campaigns", "events", "list_members", "lists", "profiles"}
MEMBER_STREAMS = {"lists", "list_members", "segments", "segment_members"}
NEVER_RECONCILE = {"reconcile_every_days": 0}


def discover(sandbox: Sandbox, streams: set[str]) -> dict[str, Any]:
    run = run_tap(tap_config(sandbox), "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    return select_only(json.loads(run.stdout), streams)


@dataclass
class Stopped:
    """A run stopped by ``act`` once ``when`` holds for a line the target received."""

    run: TapRun
    # Per stream: each table version activated, with the keys of the records of that version
    # the target had received when the ACTIVATE_VERSION came.
    activated: dict[str, list[tuple[int, set[Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def run_and_stop(  # noqa: PLR0917
    sandbox: Sandbox,
    catalog: dict[str, Any],
    config: dict[str, Any],
    when: Callable[[dict[str, Any], dict[str, int]], bool],
    act: Callable[[subprocess.Popen[bytes]], None],
    state: dict[str, Any] | None = None,
) -> Stopped:
    """Run the tap; as the target (this test) receives the message for which ``when(message,
    records so far per stream)`` first holds, ``act`` on the tap; read everything it writes
    until it ends."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "tap_klaviyo"]
        for name, content in (("config", config), ("catalog", catalog), ("state", state)):
            if content is not None:
                (Path(tmp) / f"{name}.json").write_text(json.dumps(content))
                argv += [f"--{name}", str(Path(tmp) / f"{name}.json")]
        with (Path(tmp) / "stderr").open("w+b") as stderr:
            tap = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
            assert tap.stdout is not None
            lines: list[bytes] = []
            counts: dict[str, int] = defaultdict(int)
            acted = False
            for line in tap.stdout:
                lines.append(line)
                message = json.loads(line)
                if message["type"] == "RECORD":
                    counts[message["stream"]] += 1
                if not acted and when(message, counts):
                    act(tap)
                    acted = True
                    if tap.stdout.closed:  # the target is gone: it receives nothing more
                        break
            code = tap.wait(timeout=120)
            stderr.seek(0)
            errors = stderr.read().decode()
    assert acted, "the run ended before the moment to stop it: the test proves nothing"
    stdout = b"".join(lines).decode()
    stopped = Stopped(TapRun(code, stdout, errors))
    parse_messages(stdout, stopped.run)
    versioned: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for text in stdout.splitlines():
        message = json.loads(text)
        if message["type"] == "RECORD" and "version" in message:
            versioned[message["stream"], message["version"]].append(message["record"])
        elif message["type"] == "ACTIVATE_VERSION":
            stream, version = message["stream"], message["version"]
            received = emitted_keys(stream, versioned[stream, version])
            stopped.activated[stream].append((version, received))
    return stopped


# --- no table version activated after a read that did not finish ------------------------------

MIDRUN_KEY = "pk_" + "Pinned401" + "x" * 21 + "7Q2z"


class ServerErrorsFrom(FaultPlan):
    """Every API request fails with a 500 once ``start`` is set."""

    def __init__(self) -> None:
        super().__init__({})
        self.failing = False

    def draw(self) -> str | None:
        return "500" if self.failing else None


def revoke_key(sandbox: Sandbox) -> Callable[[subprocess.Popen[bytes]], None]:
    return lambda tap: sandbox.keys.revoke(MIDRUN_KEY)


def fail_from_now(plan: ServerErrorsFrom) -> Callable[[subprocess.Popen[bytes]], None]:
    def act(tap: subprocess.Popen[bytes]) -> None:
        plan.failing = True

    return act


def close_stdout(tap: subprocess.Popen[bytes]) -> None:
    """What a target that exits midway does: its end of the pipe closes."""
    assert tap.stdout is not None
    tap.stdout.close()


def first_event(message: dict[str, Any], counts: dict[str, int]) -> bool:
    return counts["events"] == 1


@pytest.mark.parametrize(
    "stop", ["a revoked key", "a server error after retries", "SIGTERM", "a closed stdout"]
)
def test_no_table_version_is_activated_after_a_read_that_did_not_finish(stop: str) -> None:
    """Every ACTIVATE_VERSION the target receives comes after the records of a version holding
    every row Klaviyo has; a stream stopped midway (or never started) activates nothing, else
    the target marks the rows it did not get deleted. A closed stdout: the target stops
    reading at the first event and closes its end; the tap stops (exit 3), and what it
    received before obeys the same rule."""
    with running_sandbox(seed=29, sizes=SMALL, rate_limits=False, latency_ms=80) as sandbox:
        catalog = discover(sandbox, STREAMS)
        config = tap_config(sandbox, max_workers=4, max_retries=1)
        if stop == "a revoked key":
            sandbox.keys.add(MIDRUN_KEY, ["campaigns:read", "events:read", "lists:read",
                                          "profiles:read"])  # fmt: skip
            config["api_key"] = MIDRUN_KEY
            act = revoke_key(sandbox)
        elif stop == "a server error after retries":
            plan = ServerErrorsFrom()
            sandbox.state.faults = plan
            act = fail_from_now(plan)
        elif stop == "SIGTERM":

            def act(tap: subprocess.Popen[bytes]) -> None:
                tap.send_signal(signal.SIGTERM)

        else:
            act = close_stdout

        stopped = run_and_stop(sandbox, catalog, config, first_event, act)
        sandbox.state.faults = None

        assert stopped.run.returncode != 0, stopped.run.stderr[-3000:]
        if stop == "a closed stdout":
            assert stopped.run.returncode == OutputClosedError.exit_code, stopped.run.stderr
            assert "tap-klaviyo: stopped: stdout was closed" in stopped.run.stderr
        unfinished = {
            stream
            for stream in STREAMS
            if emitted_keys(stream, stopped.run.records[stream]) != expected_keys(sandbox, stream)
        }
        assert unfinished, "every read finished: the test proves nothing"
        for stream, versions in stopped.activated.items():
            for version, got in versions:
                missing = expected_keys(sandbox, stream) - got
                assert not missing, (
                    f"{stream}: table version {version} activated with {len(missing)} rows "
                    f"missing (after {len(got)} records): the target marks them deleted"
                )
        assert not unfinished & set(stopped.activated), stopped.activated


# --- member bookmarks per list and per segment --------------------------------------------


@pytest.mark.parametrize("members", ["list_members", "segment_members"])
def test_each_list_and_segment_keeps_its_own_member_bookmark_across_a_signal(
    members: str,
) -> None:
    """SIGTERM in the middle of the members, then a resume with no reconciliation due: every
    member arrives, and the resume reads again only the groups the first run did not finish.
    The signal comes while the tap is blocked writing to a full pipe (this reader stops
    reading a quarter of the way in), so it always lands before the last member, however
    slow the machine."""
    sizes = Sizes(
        profiles=900, events=10, lists=6, segments=6, campaigns=1, flows=1, templates=1, tags=1
    )
    with running_sandbox(seed=31, sizes=sizes, rate_limits=False, latency_ms=40) as sandbox:
        catalog = discover(sandbox, {members})
        config = tap_config(sandbox, max_workers=2, **NEVER_RECONCILE, **BOOKMARK_ONLY)
        truth = expected_keys(sandbox, members)
        assert len(truth) > 400, "too few members to stop in their middle"

        def a_quarter_in(message: dict[str, Any], counts: dict[str, int]) -> bool:
            return counts[members] == len(truth) // 4

        def stop_while_blocked(tap: subprocess.Popen[bytes]) -> None:
            poll_until(lambda: blocked_writing_stdout(tap.pid), "the tap blocked on a full pipe")
            tap.send_signal(signal.SIGTERM)

        first = run_and_stop(sandbox, catalog, config, a_quarter_in, stop_while_blocked).run
        assert first.returncode == 128 + signal.SIGTERM, first.stderr[-3000:]
        resumed = run_tap(config, catalog=catalog, state=first.state)
        assert resumed.returncode == 0, resumed.stderr[-3000:]

        before = emitted_keys(members, first.records[members])
        after = emitted_keys(members, resumed.records[members])
        assert before < truth, "the signal came after every member: the test proves nothing"
        lost = truth - before - after
        assert not lost, f"{members}: {len(lost)} of {len(truth)} members lost across the signal"
        # A group finished before the signal is read again from its own bookmark: at most its
        # boundary row comes again (the bookmark's ties), not its members.
        group_key = "list_id" if members == "list_members" else "segment_id"
        finished = {group for group, _ in truth} - {group for group, _ in truth - before}
        assert finished, "no group was finished before the signal: the test proves nothing"
        last_joined: defaultdict[str, str] = defaultdict(str)
        for row in first.records[members]:
            group = row[group_key]
            last_joined[group] = max(last_joined[group], row["joined_group_at"])
        again = [
            row
            for row in resumed.records[members]
            if row[group_key] in finished and row["joined_group_at"] < last_joined[row[group_key]]
        ]
        assert len(again) <= len(finished), f"{len(again)} members of finished groups read again"


def test_a_page_of_members_moves_its_groups_bookmark_where_its_rows_one_by_one_would(
    sandbox: Sandbox,
) -> None:
    """A list's page of members is written as one block: its bookmark goes to the page's
    latest ``joined_group_at`` that is not future-dated, never back, and is the list's own."""
    stream = quiet_tap(tap_config(sandbox)).streams["list_members"]
    assert isinstance(stream, KlaviyoStream)
    started = stream.sync_started
    ours, other = {"list_id": "L1"}, {"list_id": "L2"}

    def page(parent: dict[str, str], *seconds: int) -> ChildBlock:
        moments = [started + dt.timedelta(seconds=s) for s in seconds]
        return ChildBlock(RecordBlock(b"", len(moments)), parent, moments)

    def bookmark(parent: dict[str, str]) -> Any:
        return stream.get_context_state(parent).get("replication_key_value")

    def at(seconds: int) -> str:
        return timestamps.to_text(started + dt.timedelta(seconds=seconds))

    stream.on_record_for_state(page(ours, -30, 5, -10), None)  # 5 s: future-dated
    assert bookmark(ours) == at(-10)
    stream.on_record_for_state(page(ours, -20, 3600), None)  # below it, and future-dated
    assert bookmark(ours) == at(-10)
    stream.on_record_for_state(page(other, -40), None)
    assert (bookmark(ours), bookmark(other)) == (at(-10), at(-40))
    stream.on_record_for_state(page(ours, -5, -1, -3), None)
    assert (bookmark(ours), bookmark(other)) == (at(-1), at(-40))


# --- the report quota kept at each request ----------------------------------------------------


def test_the_quota_in_the_state_of_a_stopped_run_counts_every_report_request_sent() -> None:
    """A run stopped by SIGTERM as its second report request reaches the sandbox: its final
    STATE counts every report request that arrived, so the next run cannot exceed 225."""
    with running_sandbox(seed=37, sizes=SMALL, rate_limits=False, latency_ms=40) as sandbox:
        catalog = discover(sandbox, set(REPORT_STREAMS))
        config = tap_config(sandbox, report_timeframe_days=365, max_workers=1)

        class SignalAtTheSecondReport(FaultPlan):
            """Counts the report requests as they arrive; SIGTERM as the second one does."""

            def __init__(self) -> None:
                super().__init__({})
                self.tap: subprocess.Popen[bytes] | None = None
                self.reports = 0

            def arrived(self, method: str, path: str) -> None:
                if method == "POST" and "-reports" in path:
                    with self._lock:
                        self.reports += 1
                        if self.reports == 2 and self.tap is not None:
                            self.tap.send_signal(signal.SIGTERM)

        plan = SignalAtTheSecondReport()
        sandbox.state.faults = plan

        def started(message: dict[str, Any], counts: dict[str, int]) -> bool:
            return message["type"] == "SCHEMA"

        def arm(tap: subprocess.Popen[bytes]) -> None:
            plan.tap = tap

        stopped = run_and_stop(sandbox, catalog, config, started, arm).run
        sandbox.state.faults = None
        assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
        arrived = plan.reports
        assert arrived >= 2, "the run ended before its second report request"
        assert stopped.state is not None
        # Every request that reached Klaviyo is counted. A request is counted when it is
        # granted, before it is sent: one the stop cut off before it arrived (at most one
        # per report stream still reading) is counted too, which errs on the safe side.
        used = stopped.state["report_quota"]["used"]
        assert arrived <= used <= arrived + in_flight(stopped.stderr), stopped.state["report_quota"]


def in_flight(stderr: str) -> int:
    """The report streams the run had started and not finished when it stopped (each has at
    most one report request in flight)."""
    started = {s for s in REPORT_STREAMS if f"{s}: " in stderr and "Report requests" in stderr}
    done = {s for s in REPORT_STREAMS if f"{s}: done" in stderr}
    return len(started - done)


# --- short pages that are not the last ----------------------------------------------------


def test_a_short_page_with_a_next_link_is_followed_without_loss() -> None:
    streams = {"profiles", "events", "list_members", "campaigns", "lists"}
    with running_sandbox(seed=41, sizes=SMALL, rate_limits=False) as sandbox:
        catalog = discover(sandbox, streams)
        # Every page that has records after it comes short (non-empty, its next link going
        # on): how many there are does not hang on which thread's request came first.
        plan = FaultPlan({"shortnext": 1.0})
        sandbox.state.faults = plan
        run = run_tap(tap_config(sandbox), catalog=catalog)
        sandbox.state.faults = None
        assert run.returncode == 0, run.stderr[-3000:]
        assert plan.counts()["shortnext"] >= 5, "no short page served: the test proves nothing"
        for stream in sorted(streams):
            lost = expected_keys(sandbox, stream) - emitted_keys(stream, run.records[stream])
            assert not lost, f"{stream}: {len(lost)} records lost after short pages"


# --- no bookmark past the sync's start ------------------------------------------------------


def bookmarks(state: dict[str, Any], stream: str) -> list[str]:
    """Every bookmark value of a stream's state: its own and its partitions'."""
    entry = state["bookmarks"].get(stream, {})
    values = [entry.get("replication_key_value")]
    values += [partition.get("replication_key_value") for partition in entry.get("partitions", [])]
    return [value for value in values if value is not None]


# Each incremental stream of which Klaviyo keeps future-dated rows (the sandbox's quirks), by
# its replication key: members imported with a wrong clock, suppressions too, and aggregates
# answered one day past a range ending now (counting the future-dated events).
FUTURE_DATED = {
    "list_members": "joined_group_at",
    "segment_members": "joined_group_at",
    "global_exclusions": "timestamp",
    "metric_aggregates": "date",
}


def test_no_bookmark_moves_past_the_sync_start(quirky_sandbox: Sandbox) -> None:
    """Future-dated rows are emitted, but no bookmark (a stream's own, a list's, a segment's,
    a metric's) goes past the sync's start, or every row dated until then would be skipped."""
    streams = set(FUTURE_DATED)
    catalog = discover(quirky_sandbox, streams)
    started = data(quirky_sandbox).now()
    run = run_tap(tap_config(quirky_sandbox), catalog=catalog)
    ended = data(quirky_sandbox).now()
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.state is not None
    ahead: dict[str, list[str]] = {}
    for stream, key in sorted(FUTURE_DATED.items()):
        # Dated after the sync's start (days after it, but for an aggregate of a run that
        # crossed midnight: after the run's end, then).
        future = [r for r in run.records[stream] if parse(r[key]) > started]
        assert future, f"{stream}: no future-dated row: the test proves nothing"
        if stream != "metric_aggregates":  # rows of numbers, checked by day elsewhere
            lost = expected_keys(quirky_sandbox, stream) - emitted_keys(stream, run.records[stream])
            assert not lost, f"{stream}: {len(lost)} rows lost"
        assert bookmarks(run.state, stream), f"{stream}: no bookmark: the test proves nothing"
        if late := [value for value in bookmarks(run.state, stream) if parse(value) > ended]:
            ahead[stream] = late
    assert not ahead, f"bookmarks past the sync's start: {ahead}"


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
