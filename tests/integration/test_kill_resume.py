"""Kill and resume.

- SIGKILL at random moments (some during the parallel time windows of events and profiles,
  some during the list members fan-out) and at moments when several streams are provably
  mid-read at once (each has written records and has records it never wrote yet), each time
  resuming from the last STATE that target-postgres confirmed, with account activity in
  between: in the end every sandbox record is in PostgreSQL exactly once by primary key, with
  its latest values. Zero lost.
- SIGTERM and SIGINT: the tap stops with 128+signum after a final safe STATE, every line it
  wrote is a whole Singer message, and resuming from that STATE loses nothing; also when the
  target is not reading at that moment (the pipe is full).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.conftest import SMALL, tap_config, target_config
from tests.singer import TapRun, parse_messages, run_tap, select_only, start_tap
from tests.truth import assert_none_lost, data, emitted_keys, expected_keys, vanished, was_deleted

TARGET = shutil.which("target-postgres", path=str(Path(sys.executable).parent))
STREAMS = {"campaigns", "events", "list_members", "lists", "profiles"}
KEY_COLUMNS = {"list_members": ("list_id", "profile_id")}
# Enough pages that events and profiles are read as many windows in parallel, and slow
# enough (latency per request) that a run lasts several seconds.
SIZES = Sizes(
    profiles=1200, events=10000, lists=6, segments=2, campaigns=24, flows=2, templates=2, tags=2
)
LATENCY_MS = 20
MIN_KILLS = 6  # the issue asks for at least 5
MIN_KILLS_WITH_STREAMS_AT_ONCE = 2


def discover(sandbox: Sandbox) -> dict[str, Any]:
    run = run_tap(tap_config(sandbox), "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    return select_only(json.loads(run.stdout), STREAMS)


# --- SIGKILL, resume from what the target confirmed ------------------------------------------


@dataclass
class Trigger:
    """When to kill: after ``records`` RECORD lines of ``stream``, as the sandbox receives
    its ``requests``-th API request of the run (a moment unrelated to what the tap wrote), or
    at the first moment ``mid_read`` streams are mid-read at once."""

    stream: str | None = None
    records: int = 0
    requests: int | None = None
    mid_read: int = 0

    def describe(self) -> str:
        if self.mid_read:
            return f"with {self.mid_read} streams mid-read"
        if self.requests is not None:
            return f"at API request {self.requests}"
        return f"after {self.records} {self.stream} records"


class KillAtRequest(FaultPlan):
    """No faults: counts the API requests and runs ``kill`` as the ``at``-th one arrives."""

    def __init__(self, at: int, kill: Callable[[], None]) -> None:
        super().__init__({})
        self.at, self.kill, self.seen = at, kill, 0

    def draw(self) -> str | None:
        with self._lock:
            self.seen += 1
            if self.seen == self.at:
                self.kill()
        return None


@dataclass
class Cycle:
    """One tap | target run and what it did."""

    trigger: Trigger | None
    killed: bool = False
    records: Counter[str] = field(default_factory=Counter)
    keys: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    partial_line: bool = False
    tap_code: int | None = None
    target_code: int | None = None
    confirmed_state: dict[str, Any] | None = None
    # Streams that had written records and still had records never written by any run when
    # this one was killed: they were mid-read.
    mid_read: list[str] = field(default_factory=list)


def record_key(stream: str, record: dict[str, Any]) -> Any:
    return next(iter(emitted_keys(stream, [record])))


def mid_read(written: Counter[str], unread: dict[str, set[Any]]) -> list[str]:
    """The streams that wrote records in this run and have records no run wrote yet."""
    return sorted(stream for stream in written if unread[stream])


def pipe_once(
    tmp: Path,
    sandbox: Sandbox,
    state: dict[str, Any] | None,
    trigger: Trigger | None,
    number: int,
    *,
    unread: dict[str, set[Any]],
) -> Cycle:
    """``tap [--state] | (this process, counting) | target-postgres``; kill per ``trigger``."""
    cycle = Cycle(trigger)
    argv = [sys.executable, "-m", "tap_klaviyo", "--config", str(tmp / "tap.json"),
            "--catalog", str(tmp / "catalog.json")]  # fmt: skip
    if state is not None:
        (tmp / f"state-{number}.json").write_text(json.dumps(state))
        argv += ["--state", str(tmp / f"state-{number}.json")]
    assert TARGET
    with (
        (tmp / f"target-{number}.log").open("wb") as target_log,
        (tmp / f"tap-{number}.log").open("wb") as tap_log,
    ):
        target = subprocess.Popen(
            [TARGET, "--config", str(tmp / "target.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=target_log,
        )
        tap = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=tap_log)
        if trigger is not None and trigger.requests is not None:

            def kill_now() -> None:
                if tap.poll() is None:
                    tap.send_signal(signal.SIGKILL)
                    cycle.killed = True

            sandbox.state.faults = KillAtRequest(trigger.requests, kill_now)
        try:
            return tee_and_kill(tap, target, trigger, cycle, unread)
        finally:
            sandbox.state.faults = None


def tee_and_kill(
    tap: subprocess.Popen[bytes],
    target: subprocess.Popen[bytes],
    trigger: Trigger | None,
    cycle: Cycle,
    unread: dict[str, set[Any]],
) -> Cycle:
    """Copy the tap's stdout to the target, counting records; kill the tap per ``trigger``.
    ``unread`` holds each stream's keys that no run wrote yet (this one removes them)."""
    confirmed: list[bytes] = []
    reader = threading.Thread(
        target=lambda: confirmed.extend(target.stdout.readlines()),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    assert tap.stdout is not None
    assert target.stdin is not None
    seen = Counter[str]()
    for line in tap.stdout:
        target.stdin.write(line)  # exactly what the tap wrote, a cut-off last line included
        if not line.endswith(b"\n"):
            cycle.partial_line = True
            break
        if line.startswith(b'{"type":"RECORD"'):
            message = json.loads(line)
            stream, record = message["stream"], message["record"]
            key = record_key(stream, record)
            cycle.records[stream] += 1
            cycle.keys[stream].append(key)
            unread[stream].discard(key)
            seen[stream] += 1
            if trigger is not None and not cycle.killed and kill_now(trigger, seen, unread):
                tap.send_signal(signal.SIGKILL)  # what the tap already wrote still flows
                cycle.killed = True
    target.stdin.close()
    cycle.tap_code = tap.wait(timeout=300)
    cycle.target_code = target.wait(timeout=300)
    reader.join(timeout=30)
    tap.stdout.close()
    target.stdout.close()  # type: ignore[union-attr]
    states = [json.loads(line) for line in confirmed if line.strip()]
    cycle.confirmed_state = states[-1] if states else None
    if cycle.killed:  # what was still in the pipe has reached the target by now
        cycle.mid_read = mid_read(seen, unread)
    return cycle


def kill_now(trigger: Trigger, seen: Counter[str], unread: dict[str, set[Any]]) -> bool:
    if trigger.mid_read:
        return len(mid_read(seen, unread)) >= trigger.mid_read
    return bool(trigger.stream) and seen[trigger.stream or ""] >= trigger.records


def plan_triggers(rng: random.Random) -> list[Trigger]:
    """Kills while several streams are mid-read at once (the first two runs, when every
    stream has much to read), at a random API request early in a run (whatever the tap is
    doing then: a full sync makes about 160), and at random points inside the parallel time
    windows of events and profiles and the list members fan-out; each count is reachable in
    what the previous kills left to read."""
    return [
        Trigger(mid_read=2),
        Trigger(mid_read=2),
        Trigger(requests=rng.randint(10, 60)),
        Trigger("events", rng.randint(400, 3200)),
        Trigger("events", rng.randint(400, 3200)),
        Trigger("events", rng.randint(200, 2000)),
        Trigger("list_members", rng.randint(50, 800)),
        Trigger("profiles", rng.randint(50, 500)),
        Trigger("profiles", rng.randint(50, 450)),
        Trigger(requests=rng.randint(5, 40)),
    ]


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_and_resume_loses_nothing(
    postgres: Any, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    assert TARGET, "target-postgres is not installed in the test environment"
    schema = f"klaviyo_kill_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    rng = random.Random(20261128)
    with running_sandbox(seed=43, sizes=SIZES, rate_limits=False, latency_ms=LATENCY_MS) as sandbox:
        (tmp_path / "tap.json").write_text(json.dumps(tap_config(sandbox, max_workers=6)))
        (tmp_path / "catalog.json").write_text(json.dumps(discover(sandbox)))
        (tmp_path / "target.json").write_text(json.dumps(target_config(schema)))
        try:
            cycles: list[Cycle] = []
            state: dict[str, Any] | None = None
            triggers = plan_triggers(rng)
            advanced_after = 2  # account activity between runs: later values must win
            written: dict[str, set[Any]] = defaultdict(set)  # every key any run wrote
            while sum(c.killed for c in cycles) < MIN_KILLS and triggers:
                unread = {s: expected_keys(sandbox, s) - written[s] for s in STREAMS}
                cycle = pipe_once(
                    tmp_path, sandbox, state, triggers.pop(0), len(cycles), unread=unread
                )
                for stream, keys in cycle.keys.items():
                    written[stream].update(keys)
                cycles.append(cycle)
                assert cycle.target_code == 0 or cycle.partial_line, (
                    tmp_path / f"target-{len(cycles) - 1}.log"
                ).read_text()[-3000:]
                if not cycle.killed:
                    assert cycle.tap_code == 0, (
                        tmp_path / f"tap-{len(cycles) - 1}.log"
                    ).read_text()[-3000:]
                state = cycle.confirmed_state or state
                if len(cycles) == advanced_after:
                    sandbox.account.advance(900)
            unread = {s: expected_keys(sandbox, s) - written[s] for s in STREAMS}
            final = pipe_once(tmp_path, sandbox, state, None, len(cycles), unread=unread)
            cycles.append(final)
            assert final.tap_code == 0, (tmp_path / f"tap-{len(cycles) - 1}.log").read_text()[
                -3000:
            ]
            assert final.target_code == 0

            summary = summarize(cycles, sandbox, postgres, schema)
            record_property("kill_resume", json.dumps(summary))
            print("\nKILL/RESUME:", json.dumps(summary, indent=2))

            assert summary["kills"] >= MIN_KILLS
            assert summary["kills_during_parallel_reads"] >= 3
            assert summary["kills_with_streams_mid_read_at_once"] >= MIN_KILLS_WITH_STREAMS_AT_ONCE
            for stream in sorted(STREAMS):
                check_table(postgres, schema, stream, sandbox)
            check_latest_values(postgres, schema, sandbox)
        finally:
            postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def summarize(cycles: list[Cycle], sandbox: Sandbox, postgres: Any, schema: str) -> dict[str, Any]:
    emitted = Counter[str]()
    distinct: dict[str, set[Any]] = defaultdict(set)
    for cycle in cycles:
        emitted.update(cycle.records)
        for stream, keys in cycle.keys.items():
            distinct[stream].update(keys)
    lost = {
        stream: len(expected_keys(sandbox, stream) - distinct[stream]) for stream in sorted(STREAMS)
    }
    rows = {
        stream: postgres.execute(f'SELECT count(*) FROM "{schema}"."{stream}"').fetchone()[0]
        for stream in sorted(STREAMS)
    }
    return {
        "runs": len(cycles),
        "kills": sum(c.killed for c in cycles),
        "resumes": len(cycles) - 1,
        "kill_points": [c.trigger.describe() for c in cycles if c.killed and c.trigger],
        "kills_during_parallel_reads": sum(
            c.killed and c.trigger is not None and c.trigger.stream is not None for c in cycles
        ),
        "streams_mid_read_at_each_kill": [c.mid_read for c in cycles if c.killed],
        "kills_with_streams_mid_read_at_once": sum(len(c.mid_read) >= 2 for c in cycles),
        "runs_with_a_cut_off_last_line": sum(c.partial_line for c in cycles),
        "target_exit_codes": [c.target_code for c in cycles],
        "runs_without_a_confirmed_state": sum(c.confirmed_state is None for c in cycles),
        "records_emitted": dict(emitted),
        "duplicates_emitted": {s: emitted[s] - len(distinct[s]) for s in sorted(STREAMS)},
        "duplicates_emitted_total": sum(emitted[s] - len(distinct[s]) for s in STREAMS),
        "lost_in_stream": lost,
        "rows_in_postgres": rows,
    }


def check_table(postgres: Any, schema: str, stream: str, sandbox: Sandbox) -> None:
    """Every sandbox row once, not marked deleted; other rows only those the sandbox deleted
    (marked or not yet: profiles and members are marked by the next reconciliation)."""
    expected = expected_keys(sandbox, stream)
    columns = KEY_COLUMNS.get(stream, ("id",))
    keys = ", ".join(f'"{c}"' for c in columns)
    total, distinct = postgres.execute(
        f'SELECT count(*), count(DISTINCT ({keys})) FROM "{schema}"."{stream}"'
    ).fetchone()
    assert total == distinct, f"{stream}: {total - distinct} duplicate keys in PostgreSQL"
    rows = postgres.execute(
        f'SELECT {keys} FROM "{schema}"."{stream}" WHERE _sdc_deleted_at IS NULL'
    ).fetchall()
    live = {tuple(row) if len(columns) > 1 else row[0] for row in rows}
    assert not expected - live, f"{stream}: {len(expected - live)} records lost or marked deleted"
    rows = postgres.execute(f'SELECT {keys} FROM "{schema}"."{stream}"').fetchall()
    stored = {tuple(row) if len(columns) > 1 else row[0] for row in rows}
    lacking = {key for key in stored - expected if not was_deleted(sandbox, stream, key)}
    assert not lacking, f"{stream}: {len(lacking)} rows the sandbox never deleted nor has"


def as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def check_latest_values(postgres: Any, schema: str, sandbox: Sandbox) -> None:
    """Every profile, campaign and list holds the sandbox's current ``updated`` value."""
    for stream, collection, column in (
        ("profiles", "profiles", "updated"),
        ("campaigns", "campaigns", "updated_at"),
        ("lists", "lists", "updated"),
    ):
        rows = postgres.execute(f'SELECT id, "{column}" FROM "{schema}"."{stream}"').fetchall()
        assert rows
        stale = []
        # Listed but deleted before any detail read, or deleted by the sandbox's clock.
        gone = vanished(sandbox, collection) | data(sandbox).deleted[collection]
        for ident, stored in rows:
            if ident in gone:
                continue
            current = sandbox.account.get(collection, ident).data[0]["attributes"][column]
            if as_utc(stored) != as_utc(current):
                stale.append((ident, stored, current))
        assert not stale, f"{stream}: {len(stale)} rows hold an older value, e.g. {stale[:3]}"


# --- SIGTERM / SIGINT ------------------------------------------------------------------------


# The events page size is 1000: a signal after this many has events' parallel windows
# under way, with most of the sync still ahead.
EVENTS_BEFORE_SIGNAL = 1001
# The number of write(2) on the architectures the suite runs on (/proc/<pid>/syscall).
WRITE_SYSCALL = {"x86_64": "1", "aarch64": "64"}


def blocked_writing_stdout(pid: int) -> bool:
    """Whether a thread of ``pid`` sleeps in write(1, ...): a blocking write to a pipe sleeps
    only while the pipe is full, and the tap is the only writer of its stdout."""
    number = WRITE_SYSCALL[platform.machine()]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            call = (task / "syscall").read_text().split()
        except OSError:  # the thread has just ended
            continue
        if call[:2] == [number, "0x1"]:
            return True
    return False


def poll_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait for a state of another process, which has no event to wait on; never a fixed
    delay: it returns as soon as ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def stop_with(
    sandbox: Sandbox, catalog: dict[str, Any], signum: int, *, stall: bool, tmp: Path
) -> TapRun:
    """Start a sync, send ``signum`` once events are well under way; with ``stall``, the
    reader stops reading at the first event (a slow target) and the signal comes once the
    pipe is full and the tap is blocked writing."""
    (tmp / "config.json").write_text(json.dumps(tap_config(sandbox, max_workers=4)))
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    tap, tap_stderr = start_tap(tmp / "config.json", tmp / "catalog.json")
    chunks: list[bytes] = []
    under_way, resume = threading.Event(), threading.Event()

    def read() -> None:
        assert tap.stdout is not None
        events = 0
        for line in tap.stdout:
            chunks.append(line)
            if b'"type":"RECORD","stream":"events"' in line:
                events += 1
                if stall and events == 1:
                    under_way.set()
                    resume.wait()
                if events == EVENTS_BEFORE_SIGNAL:
                    under_way.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert under_way.wait(timeout=60), "events never got under way"
    if stall:
        # Nobody reads: the tap writes until the pipe is full, then blocks in write().
        poll_until(lambda: blocked_writing_stdout(tap.pid), "the tap blocked on a full pipe")
    tap.send_signal(signum)
    resume.set()
    code = tap.wait(timeout=60)
    reader.join(timeout=30)
    return TapRun(code, b"".join(chunks).decode(), tap_stderr())


@pytest.mark.parametrize(
    ("signum", "stall"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM while the pipe is full"],
)
def test_a_signal_stops_with_a_final_safe_state(tmp_path: Path, signum: int, stall: bool) -> None:
    with running_sandbox(seed=47, sizes=SMALL, rate_limits=False, latency_ms=100) as sandbox:
        catalog = discover(sandbox)
        run = stop_with(sandbox, catalog, signum, stall=stall, tmp=tmp_path)

        assert run.returncode == 128 + signum, run.stderr[-3000:]
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        assert run.stdout.endswith("\n"), "the last line was cut off"
        broken = []
        for number, line in enumerate(run.stdout.splitlines()):
            try:
                json.loads(line)
            except ValueError:
                broken.append(f"line {number}: {line[:160]}…{line[-60:]}")
        assert not broken, f"{len(broken)} lines are not whole Singer messages: {broken[:2]}"
        parse_messages(run.stdout, run)
        for stream in STREAMS:
            keys = [record_key(stream, record) for record in run.records[stream]]
            assert len(keys) == len(set(keys)), f"{stream}: records written twice"
        kinds = [json.loads(line)["type"] for line in run.stdout.splitlines()]
        assert kinds[-1] == "STATE", kinds[-5:]
        total = sum(len(expected_keys(sandbox, stream)) for stream in STREAMS)
        assert sum(len(run.records[s]) for s in STREAMS) < total, "stopped too late to test"

        resumed = run_tap(tap_config(sandbox), catalog=catalog, state=run.state)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert_none_lost(sandbox, STREAMS, [run, resumed], across="the signal")
