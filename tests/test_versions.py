"""Table versions in the state: when a reconciliation pass is due, how one in progress is
resumed, and older state files of streams that are full tables now."""

from __future__ import annotations

import datetime as dt

from tap_klaviyo import state, versions
from tap_klaviyo.resources import RESOURCES

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
    versions.parent_done(bookmarks, "list-a")
    versions.parent_done(bookmarks, "list-a")
    resumed = versions.begin(bookmarks, 2000)  # the next run: the same pass
    assert (resumed.version, resumed.done) == (1000, {"list-a"})
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
