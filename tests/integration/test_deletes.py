"""Deletes reach the warehouse: tap | target-postgres against a sandbox whose clock deletes
profiles, campaigns, flows, lists, segments and templates and removes members from lists and
segments (its ground truth says which).

- Small tables are a complete version every run: the rows Klaviyo deleted carry
  ``_sdc_deleted_at`` after the next run, every other row is intact.
- Profiles and members stay incremental: a run that is not a reconciliation run marks
  nothing; the run past ``reconcile_every_days`` marks exactly the deleted and removed rows.
- A run killed during the reconciliation pass marks nothing; its resume finishes the pass
  with the same table version, marking exactly what it must.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import versions
from tests.conftest import SMALL, tap_catalog, tap_config, target_config
from tests.integration.test_kill_resume import Cycle, pipe_once
from tests.singer import select_only
from tests.truth import expected_keys

pytestmark = pytest.mark.postgres

TARGET = shutil.which("target-postgres", path=str(Path(sys.executable).parent))
SMALL_TABLES = {
    "campaigns": "campaigns",
    "flows": "flows",
    "lists": "lists",
    "segments": "segments",
    "templates": "templates",
}
RECONCILED = ("profiles", "list_members", "segment_members")
STREAMS = {*SMALL_TABLES, *RECONCILED, "tags", "metrics", "flow_actions", "campaign_messages"}
KEYS = {"list_members": ("list_id", "profile_id"), "segment_members": ("segment_id", "profile_id")}
GROUP = {
    "list_members": ("lists", "list-profiles"),
    "segment_members": ("segments", "segment-profiles"),
}


@pytest.fixture
def pipeline(postgres: Any, tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    """A sandbox of the test's own, the tap's config and catalog, and a schema to load."""
    assert TARGET, "target-postgres is not installed in the test environment"
    schema = f"klaviyo_deletes_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    # A little latency, as a real API has; the kills come after a count of records read, so
    # they land mid-pass however fast the run.
    with running_sandbox(seed=29, sizes=SMALL, rate_limits=False, latency_ms=10) as sandbox:
        config = tap_config(sandbox)
        catalog = select_only(tap_catalog(), STREAMS)
        (tmp_path / "tap.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        (tmp_path / "target.json").write_text(json.dumps(target_config(schema)))
        try:
            yield sandbox, schema
        finally:
            postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sync(tmp: Path, sandbox: Sandbox, state: dict | None, number: int) -> Cycle:
    """tap | target-postgres, to the end: the STATE the target confirmed."""
    cycle = pipe_once(tmp, sandbox, state, None, number, unread=defaultdict(set))
    log = (tmp / f"tap-{number}.log").read_text()
    assert cycle.target_code == 0, (tmp / f"target-{number}.log").read_text()[-3000:]
    assert cycle.tap_code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    return cycle


def sync_killed(
    tmp: Path, state: dict, stream: str, records: int
) -> tuple[dict[str, Any], set[str]]:
    """tap | target-postgres, the tap killed (SIGKILL) right after its ``records``-th RECORD
    of ``stream``: the target gets every line up to there and confirms the last STATE. Also
    the streams whose ACTIVATE_VERSION the target got (it may precede the STATE saying so)."""
    (tmp / "state-killed.json").write_text(json.dumps(state))
    assert TARGET
    target = subprocess.Popen(
        [TARGET, "--config", str(tmp / "target.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_klaviyo", "--config", str(tmp / "tap.json"),
         "--catalog", str(tmp / "catalog.json"), "--state", str(tmp / "state-killed.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert tap.stdout is not None
    assert target.stdin is not None
    assert target.stdout is not None
    marker, seen = f'{{"type":"RECORD","stream":"{stream}"'.encode(), 0
    activated: set[str] = set()
    for line in tap.stdout:
        target.stdin.write(line)
        seen += line.startswith(marker)
        if line.startswith(b'{"type":"ACTIVATE_VERSION"'):
            activated.add(json.loads(line)["stream"])
        if seen == records:
            tap.kill()
            break
    target.stdin.close()
    assert seen == records, f"the run ended after {seen} {stream} records"
    tap.wait(timeout=60)
    confirmed = target.stdout.read().splitlines()
    assert target.wait(timeout=300) == 0
    return json.loads(confirmed[-1]), activated


def aged(state: dict[str, Any], days: int = 8) -> dict[str, Any]:
    """The state with the last reconciliation ``days`` ago: the next run is past it."""
    state = json.loads(json.dumps(state))
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    for stream in RECONCILED:
        state["bookmarks"][stream][versions.RECONCILED_AT] = when.isoformat()
    return state


def key_of(stream: str, row: tuple) -> Any:
    return row if stream in KEYS else row[0]


def rows(postgres: Any, schema: str, stream: str, *, deleted: bool) -> set[Any]:
    """The keys of the stream's rows, deleted (``_sdc_deleted_at`` set) or not."""
    columns = ", ".join(f'"{c}"' for c in KEYS.get(stream, ("id",)))
    where = "IS NOT NULL" if deleted else "IS NULL"
    found = postgres.execute(
        f'SELECT {columns} FROM "{schema}"."{stream}" WHERE _sdc_deleted_at {where}'
    ).fetchall()
    return {key_of(stream, tuple(row)) for row in found}


def contents(postgres: Any, schema: str, stream: str) -> dict[Any, tuple]:
    """Every row's data columns (not the loader's ``_sdc_*``), by key."""
    names = [
        row[0]
        for row in postgres.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s AND column_name NOT LIKE '\\_sdc\\_%%' ORDER BY column_name",
            (schema, stream),
        )
    ]
    keys = KEYS.get(stream, ("id",))
    quoted = ", ".join(f'"{n}"' for n in names)
    found = postgres.execute(f'SELECT {quoted} FROM "{schema}"."{stream}"').fetchall()
    at = [names.index(k) for k in keys]
    return {key_of(stream, tuple(row[i] for i in at)): tuple(map(str, row)) for row in found}


def gone_members(changes: dict[str, Any], stream: str, pair: tuple[str, str]) -> bool:
    """Whether the sandbox's advance says why membership ``pair`` is gone."""
    group, profile = pair
    parents, collection = GROUP[stream]
    deleted, removed = changes["deleted"], changes["removed"][collection]
    return (
        profile in deleted["profiles"]
        or group in deleted[parents]
        or profile in removed.get(group, ())
    )


def test_deleted_rows_are_marked_exactly(pipeline: tuple[Sandbox, str], postgres: Any,
                                         tmp_path: Path) -> None:  # fmt: skip
    sandbox, schema = pipeline
    first = sync(tmp_path, sandbox, None, 0)
    for stream in STREAMS:
        assert not rows(postgres, schema, stream, deleted=True), stream
    loaded = {stream: rows(postgres, schema, stream, deleted=False) for stream in STREAMS}
    changes = sandbox.account.advance(3600)
    deleted = changes["deleted"]

    # The next day's run: the small tables are complete versions, the others incremental.
    assert first.confirmed_state is not None
    second = sync(tmp_path, sandbox, first.confirmed_state, 1)
    for stream, collection in SMALL_TABLES.items():
        assert deleted[collection], f"the sandbox deleted no {collection}"
        assert rows(postgres, schema, stream, deleted=True) == set(deleted[collection]), stream
        assert rows(postgres, schema, stream, deleted=False) == expected_keys(sandbox, stream)
    for stream in RECONCILED:  # not a reconciliation run: nothing marked
        assert not rows(postgres, schema, stream, deleted=True), stream
    assert loaded["profiles"] & set(deleted["profiles"]), "no synced profile was deleted"
    before = {stream: contents(postgres, schema, stream) for stream in RECONCILED}

    # Past reconcile_every_days: exactly the deleted profiles and memberships gone are marked.
    assert second.confirmed_state is not None
    third = sync(tmp_path, sandbox, aged(second.confirmed_state), 2)
    assert rows(postgres, schema, "profiles", deleted=True) == set(deleted["profiles"])
    for stream in ("list_members", "segment_members"):
        marked = rows(postgres, schema, stream, deleted=True)
        stored = set(before[stream])
        assert marked == stored - expected_keys(sandbox, stream), stream
        assert marked, f"{stream}: no membership was removed"
        assert all(gone_members(changes, stream, pair) for pair in marked), stream
        removed = {
            (group, profile)
            for group, profiles in changes["removed"][GROUP[stream][1]].items()
            for profile in profiles
        }
        assert removed & stored <= marked, stream
    for stream in RECONCILED:
        assert rows(postgres, schema, stream, deleted=False) == expected_keys(sandbox, stream)
        after = contents(postgres, schema, stream)
        assert after == before[stream], f"{stream}: a row's data changed in the pass"
    assert third.confirmed_state is not None
    state = third.confirmed_state["bookmarks"]
    for stream in RECONCILED:
        assert versions.RECONCILIATION not in state[stream], stream
        assert versions.RECONCILED_AT in state[stream], stream


@pytest.mark.parametrize(
    "stream",
    ["list_members", "profiles"],
    ids=["amid the lists read in full", "amid the profiles' ids"],
)
def test_a_kill_during_the_reconciliation_pass_then_a_resume(
    pipeline: tuple[Sandbox, str], postgres: Any, tmp_path: Path, stream: str
) -> None:
    sandbox, schema = pipeline
    first = sync(tmp_path, sandbox, None, 0)
    assert first.confirmed_state is not None
    changes = sandbox.account.advance(3600)
    before = {name: contents(postgres, schema, name) for name in RECONCILED}
    # Members are all read in the pass; profiles' ids come after the few dozen profiles
    # changed since the first run: half of either is inside the pass.
    halfway = len(expected_keys(sandbox, stream)) // 2
    confirmed, activated = sync_killed(tmp_path, aged(first.confirmed_state), stream, halfway)
    state = confirmed["bookmarks"]
    pending = {name: versions.in_progress(state[name]) for name in RECONCILED}
    passing = pending[stream]
    assert passing is not None, "the state does not say the pass is in progress"
    if stream == "list_members":
        assert passing.done, "no list was complete before the kill"
    for name in RECONCILED:
        marked = rows(postgres, schema, name, deleted=True)
        if name in activated:  # complete, its STATE not confirmed yet: exactly the gone
            assert marked == set(before[name]) - expected_keys(sandbox, name), name
        elif pending[name] is not None:  # not activated: nothing marked yet
            assert not marked, name

    resumed = sync(tmp_path, sandbox, confirmed, 2)
    assert resumed.confirmed_state is not None
    log = (tmp_path / "tap-2.log").read_text()
    resuming = f"resuming the reconciliation pass (table version {passing.version})"
    assert any(f"| {stream}: " in line and resuming in line for line in log.splitlines())
    for name in RECONCILED:
        stored, live = set(before[name]), expected_keys(sandbox, name)
        assert rows(postgres, schema, name, deleted=True) == stored - live, name
        assert rows(postgres, schema, name, deleted=False) == live, name
        assert versions.RECONCILIATION not in resumed.confirmed_state["bookmarks"][name]
    # Every row the pass found carries its version, whichever run read it.
    found = postgres.execute(
        f'SELECT DISTINCT _sdc_table_version FROM "{schema}"."{stream}" '
        "WHERE _sdc_deleted_at IS NULL"
    ).fetchall()
    assert found == [(passing.version,)]
    assert rows(postgres, schema, "profiles", deleted=True) == set(changes["deleted"]["profiles"])


def test_hard_delete_removes_exactly_the_deleted_rows(
    pipeline: tuple[Sandbox, str], postgres: Any, tmp_path: Path
) -> None:
    """With target-postgres' ``hard_delete`` the rows go: the ids of the profiles pass are in
    the table before the ACTIVATE_VERSION deletes anything, so no live row is lost, and none
    is left holding its id alone."""
    sandbox, schema = pipeline
    (tmp_path / "target.json").write_text(
        json.dumps({**target_config(schema), "hard_delete": True})
    )
    first = sync(tmp_path, sandbox, None, 0)
    assert first.confirmed_state is not None
    sandbox.account.advance(3600)
    second = sync(tmp_path, sandbox, aged(first.confirmed_state), 1)
    assert second.confirmed_state is not None
    for stream in (*RECONCILED, *SMALL_TABLES):
        assert not rows(postgres, schema, stream, deleted=True), stream
        assert rows(postgres, schema, stream, deleted=False) == expected_keys(sandbox, stream)
    blank = postgres.execute(
        f'SELECT count(*) FROM "{schema}".profiles WHERE email IS NULL AND created IS NULL'
    ).fetchone()[0]
    assert blank == 0, "profiles holding their id alone"
