"""Table versions: when a reconciliation pass is due, how one in progress is resumed, older
state files of streams that are full tables now, and where the tap writes ACTIVATE_VERSION
(after the last record of a complete read, never after a partial one)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from tap_klaviyo import state, versions
from tap_klaviyo.resources import RESOURCES
from tests.conftest import tap_catalog, tap_config
from tests.singer import run_tap, select_only

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)
KEYS = {resource.name: resource.replication_key for resource in RESOURCES}


def test_a_pass_is_due_every_so_many_days_and_never_with_zero() -> None:
    assert versions.is_due({}, NOW, 7)  # never reconciled
    recent = {versions.RECONCILED_AT: (NOW - dt.timedelta(days=6, hours=23)).isoformat()}
    old = {versions.RECONCILED_AT: (NOW - dt.timedelta(days=7)).isoformat()}
    assert not versions.is_due(recent, NOW, 7)
    assert versions.is_due(old, NOW, 7)
    assert not versions.is_due(old, NOW, 0)
    assert versions.is_due({versions.RECONCILED_AT: "not a date"}, NOW, 7)


def test_a_pass_in_progress_is_resumed_with_its_version_until_complete() -> None:
    bookmarks: dict = {"replication_key": "joined_group_at"}
    started = versions.begin(bookmarks, 1000)
    assert (started.version, started.done) == (1000, set())
    versions.parent_done(bookmarks, "list-a", 3)
    versions.parent_done(bookmarks, "list-a", 3)  # counted once
    resumed = versions.begin(bookmarks, 2000)  # the next run: the same pass
    assert (resumed.version, resumed.done) == (1000, {"list-a"})
    assert versions.pass_rows(bookmarks) == 3
    versions.complete(bookmarks, NOW)
    assert versions.in_progress(bookmarks) is None
    assert not versions.is_due(bookmarks, NOW, 7)
    assert versions.begin(bookmarks, 3000).version == 3000
    assert versions.in_progress({versions.RECONCILIATION: {"version": "x"}}) is None


def test_the_state_keeps_a_pass_and_drops_bookmarks_of_streams_now_read_whole() -> None:
    pending = {"version": 1000, "done": ["list-a"]}
    old = {
        "bookmarks": {
            "campaigns": {
                "partitions": [
                    {
                        "context": {"channel": "email", "archived": False},
                        "replication_key": "updated_at",
                        "replication_key_value": "2026-01-01T00:00:00+00:00",
                    }
                ]
            },
            "lists": {
                "replication_key": "updated",
                "replication_key_value": "2026-01-01T00:00:00Z",
            },
            "list_members": {"partitions": [], versions.RECONCILIATION: pending},
            "profiles": {
                "replication_key": "updated",
                "replication_key_value": "2026-01-01T00:00:00Z",
                versions.RECONCILED_AT: "2026-11-30T00:00:00+00:00",
            },
        }
    }
    migrated, warnings = state.migrate(old, KEYS)
    assert not warnings
    bookmarks = migrated["bookmarks"]
    assert bookmarks["campaigns"] == {}
    assert bookmarks["lists"] == {}
    assert bookmarks["list_members"][versions.RECONCILIATION] == pending
    assert bookmarks["profiles"][versions.RECONCILED_AT] == "2026-11-30T00:00:00+00:00"


# --- what the tap writes ---------------------------------------------------------------------

LISTS_ONLY_KEY = "pk_" + "ListsOnly" + "x" * 21 + "9Vw4"


def messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def activations(lines: list[dict[str, Any]]) -> dict[str, int]:
    return {m["stream"]: m["version"] for m in lines if m["type"] == "ACTIVATE_VERSION"}


def test_a_complete_read_is_activated_after_its_last_record(fresh_sandbox: Any) -> None:
    config = tap_config(fresh_sandbox)
    catalog = select_only(tap_catalog(), {"lists", "campaigns", "profiles"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = messages(run.stdout)
    activated = activations(lines)
    # The first run of profiles reads from start_date: complete, so it is a version too.
    assert set(activated) == {"lists", "campaigns", "profiles"}
    for stream, version in activated.items():
        records = [
            i for i, m in enumerate(lines) if m["type"] == "RECORD" and m["stream"] == stream
        ]
        at = next(
            i
            for i, m in enumerate(lines)
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        )
        assert records, stream
        assert at > records[-1], f"{stream}: ACTIVATE_VERSION before its last record"
        assert {lines[i]["version"] for i in records} == {version}, stream

    off = run_tap(tap_config(fresh_sandbox, activate_versions=False), catalog=catalog)
    assert off.returncode == 0, off.stderr[-2000:]
    lines = messages(off.stdout)
    assert not activations(lines)
    assert not any("version" in m for m in lines if m["type"] == "RECORD")


def test_a_read_skipped_for_a_scope_is_never_activated(fresh_sandbox: Any) -> None:
    fresh_sandbox.keys.add(LISTS_ONLY_KEY, ["lists:read"])
    config = tap_config(fresh_sandbox, api_key=LISTS_ONLY_KEY)
    catalog = select_only(tap_catalog(), {"lists", "list_members", "profiles"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"Skipping streams? [^:]*'list_members'", run.stderr)
    assert set(activations(messages(run.stdout))) == {"lists"}
    assert run.state is not None
    for stream in ("list_members", "profiles"):
        assert versions.RECONCILED_AT not in run.state["bookmarks"].get(stream, {}), stream
