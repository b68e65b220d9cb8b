"""Incremental syncs: bookmarks, ties at the bookmark, future-dated events, the sandbox clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from tests.conftest import BOOKMARK_ONLY, tap_catalog, tap_config
from tests.singer import run_tap, select_only

INCREMENTAL = {"events", "profiles", "list_members"}
# Small enough to read whole every run: each run a complete version (deletes are marked).
FULL_TABLES = {"lists": "lists", "segments": "segments", "campaigns": "campaigns", "flows": "flows"}
SECOND = dt.timedelta(seconds=1)


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def bookmarks(state: dict[str, Any], stream: str) -> list[str]:
    """Every bookmark of a stream: the stream's own, or one per partition."""
    entry = state["bookmarks"][stream]
    partitions = entry.get("partitions") or [entry]
    return [p["replication_key_value"] for p in partitions if "replication_key_value" in p]


@pytest.fixture
def catalog() -> dict[str, Any]:
    return select_only(tap_catalog(), INCREMENTAL | set(FULL_TABLES))


def test_second_run_emits_the_changes_and_nothing_older(
    fresh_sandbox: Any, catalog: dict[str, Any]
) -> None:
    config = tap_config(fresh_sandbox, **BOOKMARK_ONLY)
    first = run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.state
    changed = fresh_sandbox.account.advance(3600)
    second = run_tap(config, catalog=catalog, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]

    assert second.state is not None
    for stream, collection in FULL_TABLES.items():
        assert not bookmarks(second.state, stream), stream
        assert second.ids(stream) == set(fresh_sandbox.account.truth(collection)["ids"]), stream
    for stream, collection, field in [
        ("events", "events", None),
        ("profiles", "profiles", None),
    ]:
        bookmark = parse(min(bookmarks(first.state, stream)))
        truth = fresh_sandbox.account.truth
        must = set(truth(collection, since=bookmark, field=field)["ids"])
        may = set(truth(collection, since=bookmark - SECOND, field=field)["ids"])
        emitted = second.ids(stream)
        assert must, f"advance() changed no {stream}: {changed}"
        assert must <= emitted, f"{stream}: lost {len(must - emitted)} changed records"
        assert emitted <= may, f"{stream}: re-emitted {len(emitted - may)} unchanged records"


def test_ties_at_the_bookmark_are_read_again(fresh_sandbox: Any, catalog: dict[str, Any]) -> None:
    events = run_tap(tap_config(fresh_sandbox), catalog=select_only(catalog, {"events"})).records[
        "events"
    ]
    per_second = Counter(e["datetime"] for e in events)
    tied_second, ties = max(per_second.items(), key=lambda item: (item[1], item[0] < "2026"))
    assert ties >= 3, "the sandbox should have timestamp ties"
    # A run stopped in the middle of that second: its bookmark is that second.
    state = {
        "bookmarks": {
            "events": {"replication_key": "datetime", "replication_key_value": tied_second}
        }
    }
    resumed = run_tap(
        tap_config(fresh_sandbox, **BOOKMARK_ONLY),
        catalog=select_only(catalog, {"events"}),
        state=state,
    )
    expected = {e["id"] for e in events if e["datetime"] >= tied_second}
    assert resumed.ids("events") == expected


def test_bookmark_never_passes_the_sync_start(fresh_sandbox: Any, catalog: dict[str, Any]) -> None:
    started = dt.datetime.now(dt.timezone.utc)
    run = run_tap(tap_config(fresh_sandbox), catalog=select_only(catalog, {"events"}))
    future = [e for e in run.records["events"] if parse(e["datetime"]) > started + dt.timedelta(1)]
    assert future, "the sandbox should have future-dated events"
    assert run.state
    for bookmark in bookmarks(run.state, "events"):
        assert parse(bookmark) <= dt.datetime.now(dt.timezone.utc)


def test_start_and_end_date_bound_the_sync(fresh_sandbox: Any, catalog: dict[str, Any]) -> None:
    truth = fresh_sandbox.account.truth
    all_events = truth("events")["ids"]
    assert len(all_events) > 100
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)
    end = start + dt.timedelta(days=60)
    config = tap_config(
        fresh_sandbox,
        start_date=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_date=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    run = run_tap(config, catalog=select_only(catalog, {"events", "profiles"}))
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in ("events", "profiles"):
        key = "datetime" if stream == "events" else "updated"
        values = [parse(r[key]) for r in run.records[stream]]
        assert values, stream
        assert all(start <= v < end for v in values)
    expected = set(truth("events", since=start - SECOND, until=end - SECOND)["ids"])
    assert run.ids("events") == expected
