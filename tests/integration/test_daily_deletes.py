"""Daily runs a warehouse can trust: deletes mark only what Klaviyo no longer has.

tap | target-postgres against a small sandbox of the test's own, checked against its ground
truth:

- ``start_date`` moved later, then into the future, with the state kept, on runs whose
  reconciliation pass is due: no live row is ever marked deleted; the pass reads from where
  the table's rows begin (the state's ``covered_from``), not from today's start_date.
- a flow deleted in Klaviyo (the sandbox's admin, as a user deletes it): its messages are
  marked in the next run, every other message stays live.

And the bookkeeping behind it, unit by unit: ``covered_from``, ``reconcile_now``, and the
end line's count of the rows a version leaves out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import state, timestamps, versions
from tap_klaviyo.resources import RESOURCES
from tests.conftest import tap_config, target_config
from tests.integration.test_deletes import RECONCILED, TARGET, aged, contents, rows, sync
from tests.singer import run_tap, select_only
from tests.truth import data, expected_keys, ids

TINY = Sizes(
    profiles=300, events=300, lists=3, segments=2, campaigns=4, flows=3, templates=6, tags=3
)
FLOWS = {"flows", "flow_actions", "flow_messages"}
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def daily(postgres: Any, tmp_path: Path) -> Iterator[tuple[Sandbox, str]]:
    """A sandbox of the test's own, the tap's catalog (``select`` chooses its streams), and
    a schema to load."""
    assert TARGET, "target-postgres is not installed in the test environment"
    schema = f"klaviyo_daily_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    with running_sandbox(seed=31, sizes=TINY, rate_limits=False) as sandbox:
        discovered = run_tap(tap_config(sandbox), "--discover")
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        (tmp_path / "discovered.json").write_text(discovered.stdout)
        (tmp_path / "target.json").write_text(json.dumps(target_config(schema)))
        try:
            yield sandbox, schema
        finally:
            postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def select(tmp: Path, streams: set[str]) -> None:
    discovered = json.loads((tmp / "discovered.json").read_text())
    (tmp / "catalog.json").write_text(json.dumps(select_only(discovered, streams)))


def configure(tmp: Path, sandbox: Sandbox, **settings: Any) -> None:
    (tmp / "tap.json").write_text(json.dumps(tap_config(sandbox, **settings)))


def days_ago(days: int) -> str:
    return timestamps.to_text(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days))


@pytest.mark.postgres
def test_a_later_or_future_start_date_never_marks_a_live_row(
    daily: tuple[Sandbox, str], postgres: Any, tmp_path: Path
) -> None:
    sandbox, schema = daily
    select(tmp_path, set(RECONCILED))
    earliest = days_ago(1000)  # before the account's data
    configure(tmp_path, sandbox, start_date=earliest)
    first = sync(tmp_path, sandbox, None, 0)
    assert first.confirmed_state is not None
    stored = {stream: set(contents(postgres, schema, stream)) for stream in RECONCILED}
    changes = sandbox.account.advance(3600)
    later = days_ago(180)
    updated_before = expected_keys(sandbox, "profiles") - ids(
        sandbox, "profiles", since=timestamps.parse(later)
    )
    assert updated_before, "no live profile was last updated before the new start_date"

    # start_date moved later, the state kept, a pass due: exactly what Klaviyo deleted.
    configure(tmp_path, sandbox, start_date=later)
    second = sync(tmp_path, sandbox, aged(first.confirmed_state), 1)
    for stream in RECONCILED:
        live = expected_keys(sandbox, stream)
        assert rows(postgres, schema, stream, deleted=True) == stored[stream] - live, stream
        assert rows(postgres, schema, stream, deleted=False) == live, stream
    assert rows(postgres, schema, "profiles", deleted=True) == set(changes["deleted"]["profiles"])
    assert second.confirmed_state is not None
    for stream in RECONCILED:
        bookmarks = second.confirmed_state["bookmarks"][stream]
        assert versions.RECONCILED_AT in bookmarks, stream
        covered = (True, timestamps.floor_second(timestamps.parse(earliest)))
        assert versions.covered_from(bookmarks) == covered, stream

    # start_date in the future, a pass due again: nothing read, nothing marked.
    marked = {stream: rows(postgres, schema, stream, deleted=True) for stream in RECONCILED}
    sandbox.account.advance(3600)
    configure(tmp_path, sandbox, start_date=days_ago(-400))
    third = sync(tmp_path, sandbox, aged(second.confirmed_state), 2)
    for stream in RECONCILED:
        assert third.records[stream] == 0, stream
        assert rows(postgres, schema, stream, deleted=True) == marked[stream], stream
    log = (tmp_path / "tap-2.log").read_text()
    assert "no reconciliation pass with 'start_date' in the future" in log


@pytest.mark.postgres
def test_the_messages_of_a_deleted_flow_are_marked(
    daily: tuple[Sandbox, str], postgres: Any, tmp_path: Path
) -> None:
    sandbox, schema = daily
    select(tmp_path, FLOWS)
    configure(tmp_path, sandbox)
    first = sync(tmp_path, sandbox, None, 0)
    assert first.confirmed_state is not None
    messages = expected_keys(sandbox, "flow_messages")
    assert rows(postgres, schema, "flow_messages", deleted=False) == messages
    # The flow with the most messages, deleted as a user deletes it.
    flow = max(
        ids(sandbox, "flows"),
        key=lambda f: sum(
            len(ids(sandbox, "flow-messages", parent_id=a))
            for a in ids(sandbox, "flow-actions", parent_id=f)
        ),
    )
    gone = sandbox.account.delete("flows", flow)
    assert gone["flow-messages"], "the deleted flow had no messages"

    second = sync(tmp_path, sandbox, first.confirmed_state, 1)
    assert second.tap_code == 0
    assert rows(postgres, schema, "flow_messages", deleted=True) == set(gone["flow-messages"])
    assert rows(postgres, schema, "flow_messages", deleted=False) == messages - set(
        gone["flow-messages"]
    )
    assert rows(postgres, schema, "flow_actions", deleted=True) == set(gone["flow-actions"])
    assert rows(postgres, schema, "flows", deleted=True) == {flow}
    # One spelling of the channel across tables: what Klaviyo sent ("Email"), lowercased.
    loaded = postgres.execute(f'SELECT DISTINCT channel FROM "{schema}".flow_messages').fetchall()
    sent = {item.attributes["channel"] for item in data(sandbox).catalog.flow_messages.items}
    assert {row[0] for row in loaded} == {channel.lower() for channel in sent}
    # The end line says what the version leaves out: here exactly the deleted messages.
    log = (tmp_path / "tap-1.log").read_text()
    left = len(messages) - len(gone["flow-messages"])
    line = next(line for line in log.splitlines() if "Deletes: flow_messages: " in line)
    assert f"activated with {left:,} rows; the previous version" in line, line
    assert f"had {len(messages):,}: at least {len(gone['flow-messages']):,} rows left" in line


# -- the bookkeeping ---------------------------------------------------------------------------


def test_covered_from_only_ever_reaches_back() -> None:
    bookmarks: dict[str, Any] = {}
    assert versions.covered_from(bookmarks) == (False, None)  # an older state: unknown
    june, january = NOW.replace(month=6), NOW.replace(month=1)
    assert versions.cover(bookmarks, june)
    assert versions.covered_from(bookmarks) == (True, june)
    assert not versions.cover(bookmarks, NOW)  # a later start_date narrows nothing
    assert versions.covered_from(bookmarks) == (True, june)
    assert versions.cover(bookmarks, january)  # an earlier one widens it
    assert versions.covered_from(bookmarks) == (True, january)
    assert versions.cover(bookmarks, None)  # a read from the beginning
    assert bookmarks[versions.COVERED_FROM] is None
    assert versions.covered_from(bookmarks) == (True, None)
    assert not versions.cover(bookmarks, january)
    assert versions.covered_from({versions.COVERED_FROM: "not a date"}) == (False, None)


def test_reconcile_now_makes_the_pass_due_whatever_the_interval() -> None:
    recent = {versions.RECONCILED_AT: (NOW - dt.timedelta(hours=1)).isoformat()}
    assert not versions.is_due(recent, NOW, 7)
    assert versions.is_due(recent, NOW, 7, asked=True)
    assert versions.is_due(recent, NOW, 0, asked=True)  # passes off, one asked for


def test_what_an_activation_leaves_out_is_said_as_it_is_known() -> None:
    bookmarks: dict[str, Any] = {}
    assert versions.activated(bookmarks, 1000, 50) == ""  # a first: nothing to compare
    assert bookmarks[versions.ACTIVATED] == {"version": 1000, "rows": 50}
    second = versions.activated(bookmarks, 2000, 47)
    assert "the previous version (1000) had 50: at least 3 rows left out" in second
    third = versions.activated(bookmarks, 3000, 60)
    assert "at least 0 rows left out" in third
    assert bookmarks[versions.ACTIVATED] == {"version": 3000, "rows": 60}


def test_reconcile_now_starts_a_pass_the_state_says_is_not_due(fresh_sandbox: Sandbox) -> None:
    catalog = select_only(
        json.loads(run_tap(tap_config(fresh_sandbox), "--discover").stdout), {"profiles"}
    )
    first = run_tap(tap_config(fresh_sandbox), catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.state is not None
    assert versions.RECONCILED_AT in first.state["bookmarks"]["profiles"]
    plain = run_tap(tap_config(fresh_sandbox), catalog=catalog, state=first.state)
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert '"type":"ACTIVATE_VERSION"' not in plain.stdout.replace(" ", "")
    asked = run_tap(
        tap_config(fresh_sandbox, reconcile_now=True), catalog=catalog, state=first.state
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    activations = [
        json.loads(line) for line in asked.stdout.splitlines() if "ACTIVATE_VERSION" in line
    ]
    assert [m["stream"] for m in activations] == ["profiles"]
    # Every profile Klaviyo has is in the version: its records, then the ids of the pass.
    versioned = {
        json.loads(line)["record"]["id"]
        for line in asked.stdout.splitlines()
        if '"RECORD"' in line and json.loads(line)["stream"] == "profiles"
    }
    assert versioned == expected_keys(fresh_sandbox, "profiles")


def test_a_pass_begun_by_an_older_tap_says_its_rows_were_not_counted() -> None:
    bookmarks: dict[str, Any] = {
        versions.RECONCILIATION: {"version": 1000, "done": ["list-a"]},
        versions.ACTIVATED: {"version": 500, "rows": 9},
    }
    versions.parent_done(bookmarks, "list-b", 4)
    assert versions.pass_rows(bookmarks) is None  # list-a's rows are unknown
    assert "not counted" in versions.activated(bookmarks, 1000, None)
    assert versions.ACTIVATED not in bookmarks  # the next one has nothing to compare with


def test_an_older_state_keeps_its_account_and_coverage_not_flow_message_bookmarks() -> None:
    keys = {resource.name: resource.replication_key for resource in RESOURCES}
    profiles = {
        "replication_key": "updated",
        "replication_key_value": "2026-11-30T00:00:00+00:00",
        versions.COVERED_FROM: None,
        versions.ACTIVATED: {"version": 1000, "rows": 12},
    }
    old = {
        "account_id": "AbC123",
        "bookmarks": {
            "profiles": profiles,
            "flow_messages": {
                "partitions": [
                    {
                        "context": {"flow_action_id": "9"},
                        "replication_key": "updated",
                        "replication_key_value": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        },
    }
    migrated, warnings = state.migrate(old, keys)
    assert not warnings
    assert migrated["account_id"] == "AbC123"
    assert migrated["bookmarks"]["profiles"] == profiles
    assert migrated["bookmarks"]["flow_messages"] == {}  # read whole every run now
