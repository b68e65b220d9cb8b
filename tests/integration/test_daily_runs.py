"""A week of daily runs into PostgreSQL: tap | target-postgres once a (sandbox) day.

Between runs the sandbox's clock moves a day (``advance(3600, move_clock=86400)``): new and changed
records, deletes, and events that arrive late, dated up to 20 days back. The tap runs with
the sandbox's clock (``tests.clocked_tap``). After each run the live rows
(``_sdc_deleted_at IS NULL``) of events, profiles, lists and list_members equal the
sandbox's truth exactly, but for the late events the design may still owe (each named): those
no read has covered since they arrived, as the states say each run read; and the test
checks the promise itself: a late event is there after the next run when it came at most a
day late, and once its range was read a second time when it came at most
``late_events_days`` late.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import late_events, timestamps
from tests.conftest import tap_config, target_config
from tests.singer import run_tap, select_only
from tests.truth import expected_keys

pytestmark = pytest.mark.postgres

TARGET = shutil.which("target-postgres", path=str(Path(sys.executable).parent))
STREAMS = ("events", "profiles", "lists", "list_members")
KEYS = {"list_members": ("list_id", "profile_id")}
DAY = dt.timedelta(days=1)
WEEK = 7
# A quiet account: an hour's worth of the sandbox's activity a day (360 new events, a fifth
# as many late ones, 30 new profiles, deletes).
ACTIVITY = 3600
LOOKBACK = DAY  # the tap's defaults: lookback_window a day, late_events_days 7
LATE_DAYS = 7
SIZES = Sizes(profiles=200, events=1500, lists=4, segments=2, campaigns=4, flows=2, templates=4)


@dataclass(frozen=True)
class Run:
    """One daily run: when it started, and the events' state before and after it."""

    started: dt.datetime
    before: dict[str, Any]
    after: dict[str, Any]

    def covered(self, moment: dt.datetime) -> bool:
        """Whether this run read events dated ``moment``: its trailing read from the
        bookmark less the lookback, or its second read of [read_again_to before, after)."""
        bookmark = self.before.get("replication_key_value")
        if bookmark is None or moment >= timestamps.parse(bookmark) - LOOKBACK:
            return True
        start, end = late_events.reached(self.before), late_events.reached(self.after)
        return start is not None and end is not None and start <= moment < end


@pytest.fixture
def week(postgres: Any, tmp_path: Path) -> Iterator[tuple[Sandbox, str, Path]]:
    assert TARGET, "target-postgres is not installed in the test environment"
    schema = f"klaviyo_week_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    # Quirks on whatever KLAVIYO_SANDBOX_QUIRKS says: late events are one of them.
    with running_sandbox(seed=53, sizes=SIZES, rate_limits=False, quirks=True) as sandbox:
        # Every run a complete version of profiles and members: deletes are marked daily.
        # Predictions off: profiles in the L tier (the M tier's 150 a minute is slow here).
        config = tap_config(sandbox, reconcile_every_days=1, profile_predictive_analytics=False)
        discovered = run_tap(config, "--discover")
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        catalog = select_only(json.loads(discovered.stdout), set(STREAMS))
        (tmp_path / "tap.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        (tmp_path / "target.json").write_text(
            json.dumps(target_config(schema, validate_records=True))
        )
        try:
            yield sandbox, schema, tmp_path
        finally:
            postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def daily_run(tmp: Path, sandbox: Sandbox, state: dict[str, Any], day: int) -> dict[str, Any]:
    """tap (on the sandbox's clock) | target-postgres: the STATE the target confirmed."""
    (tmp / "state.json").write_text(json.dumps(state))
    offset = str(sandbox.account.clock_offset)  # type: ignore[attr-defined]
    argv = [sys.executable, "-m", "tests.clocked_tap", offset, "--config", str(tmp / "tap.json"),
            "--catalog", str(tmp / "catalog.json")]  # fmt: skip
    if state:
        argv += ["--state", str(tmp / "state.json")]
    with (tmp / f"tap-{day}.log").open("wb") as log:
        tap = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
        target = subprocess.run(
            [TARGET or "target-postgres", "--config", str(tmp / "target.json")],
            stdin=tap.stdout,
            capture_output=True,
            check=False,
        )
        tap_code = tap.wait(timeout=120)
    tap_log = (tmp / f"tap-{day}.log").read_text()[-3000:]
    # The target first: when it stops early, the tap only sees its stdout closed (exit 3).
    assert target.returncode == 0, (
        f"day {day}: target-postgres exited {target.returncode}:\n"
        f"{target.stderr.decode()[-3000:]}\n--- the tap's log:\n{tap_log}"
    )
    assert tap_code == 0, f"day {day}: the tap exited {tap_code}:\n{tap_log}"
    return dict(json.loads(target.stdout.splitlines()[-1]))


def table(postgres: Any, schema: str, stream: str) -> tuple[set[Any], set[Any], int]:
    """The stream's live keys, its marked ones, and its row count."""
    columns = ", ".join(f'"{c}"' for c in KEYS.get(stream, ("id",)))
    found = postgres.execute(
        f'SELECT {columns}, _sdc_deleted_at IS NULL FROM "{schema}"."{stream}"'
    ).fetchall()
    key = (lambda row: tuple(row[:-1])) if stream in KEYS else (lambda row: row[0])
    live = {key(row) for row in found if row[-1]}
    return live, {key(row) for row in found if not row[-1]}, len(found)


def test_a_week_of_daily_runs_matches_the_truth(
    week: tuple[Sandbox, str, Path], postgres: Any
) -> None:
    sandbox, schema, tmp = week
    account: Any = sandbox.account
    state: dict[str, Any] = {}
    runs: list[Run] = []
    owed_by_day, beyond_by_day = [], []
    for day in range(WEEK + 1):
        if day:
            changes = account.advance(ACTIVITY, move_clock=86400)
            assert changes["late_events"], "the sandbox's day brought no late event"
        started = account.now()
        before = dict(state.get("bookmarks", {}).get("events", {}))
        state = daily_run(tmp, sandbox, state, day)
        runs.append(Run(started, before, state["bookmarks"]["events"]))

        # Every stream: no row twice, no live row marked, the live rows exactly the truth.
        late: dict[str, Any] = account.late_events
        owed = {
            event_id
            for event_id, event in late.items()
            if not any(
                run.covered(timestamps.parse(event.datetime))
                for run in runs
                if run.started >= timestamps.parse(event.arrived)
            )
        }
        for stream in STREAMS:
            live, marked, rows = table(postgres, schema, stream)
            assert rows == len(live | marked), f"day {day}: {stream} has a key twice"
            truth = expected_keys(sandbox, stream)
            assert not marked & truth, f"day {day}: {stream} rows marked deleted yet live"
            expected = truth - owed if stream == "events" else truth
            assert live == expected, (
                f"day {day}: {stream}: missing {sorted(expected - live)[:10]}, "
                f"extra {sorted(live - expected)[:10]}"
            )

        # The promise: what the design may still owe, and what came later than it covers.
        window = dt.timedelta(days=LATE_DAYS)
        beyond = set()
        for event_id in owed:
            event = late[event_id]
            dated, arrived = timestamps.parse(event.datetime), timestamps.parse(event.arrived)
            assert arrived - dated > DAY, f"day {day}: {event_id} came <= a day late: {event}"
            if arrived - dated > window:
                beyond.add(event_id)
            else:  # its second read has not come yet
                assert started < dated + window + DAY, f"day {day}: {event_id} ({event}) lost"
        owed_by_day.append(sorted(owed - beyond))
        beyond_by_day.append(sorted(beyond))

    # What the week brought: every kind of lateness, and what is owed at its end (named).
    lateness = [timestamps.parse(e.arrived) - timestamps.parse(e.datetime) for e in late.values()]
    assert any(gap <= DAY for gap in lateness)
    assert any(DAY < gap <= dt.timedelta(days=LATE_DAYS) for gap in lateness)
    assert any(gap > dt.timedelta(days=LATE_DAYS) for gap in lateness)
    print(
        f"late events: {len(late)}; still owed after the last run: {len(owed_by_day[-1])} "
        f"{owed_by_day[-1]}; later than {LATE_DAYS} days (never read): {len(beyond_by_day[-1])} "
        f"{beyond_by_day[-1]}"
    )
    assert owed_by_day[-1], "the last run should still owe the week's 2-7 day late events"
    assert beyond_by_day[-1], "events over 7 days late are beyond the promise"
