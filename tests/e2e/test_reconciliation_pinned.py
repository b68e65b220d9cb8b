"""A reconciliation pass's ids, read in this process against the sandbox, pinned: each test
kills mutants of ``tap_klaviyo/streams/deletes.py`` that the suite let live
(tests/MUTANTS.md). The integration tests check the same pass through target-postgres, in
a subprocess, where mutation testing cannot see which test runs which function."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter
from typing import Any

import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import timestamps, versions
from tap_klaviyo.request_plan import time_filters
from tap_klaviyo.resources import Increment
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.deletes import KEY_WINDOWS_PER_CURSOR, KeyReader
from tests.conftest import tap_catalog, tap_config
from tests.singer import TapRun, quiet_tap, run_tap, select_only
from tests.truth import emitted_keys, expected_keys, ids

PROFILES = select_only(tap_catalog(), {"profiles"})
GROUPS = select_only(tap_catalog(), {"profiles", "lists", "list_members", "flow_messages"})


def sync(
    sandbox: Sandbox,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] = PROFILES,
    **settings: Any,
) -> TapRun:
    run = run_tap(tap_config(sandbox, **settings), state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def requests_served(sandbox: Sandbox, route: str) -> int:
    """The requests the sandbox has answered on ``route`` so far."""
    counts = sandbox.requests()["counts"]
    return sum(c["count"] for c in counts if c["route"] == route)


@pytest.fixture(scope="module")
def first(sandbox: Sandbox) -> TapRun:
    """A first read of profiles: complete by itself (from where the rows begin)."""
    return sync(sandbox)


@pytest.mark.parametrize("max_workers", [1, 3])
def test_a_pass_after_a_bookmark_sends_every_id_once_then_activates(
    sandbox: Sandbox, first: TapRun, max_workers: int
) -> None:
    """The next run asked for a pass reads from its bookmark, then every profile's id in a
    schema of the key alone, each once whatever the windows the ids are cut into, all of
    the run's table version, before its ACTIVATE_VERSION; the pass then completes in the
    state, its row count the ids read."""
    assert first.state is not None
    served = requests_served(sandbox, "/api/profiles")
    run = sync(sandbox, first.state, reconcile_now=True, max_workers=max_workers)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    schemas = [m for m in lines if m["type"] == "SCHEMA"]
    assert [s["key_properties"] for s in schemas] == [["id"], ["id"]]
    assert schemas[1]["schema"] == {
        "type": "object",
        "properties": {"id": schemas[0]["schema"]["properties"]["id"]},
        "required": ["id"],
    }
    at = lines.index(schemas[1])
    sent = [m for m in lines[at:] if m["type"] == "RECORD"]
    assert {(m["stream"], type(m["time_extracted"])) for m in sent} == {("profiles", str)}
    keys = [m["record"] for m in sent]
    expected = expected_keys(sandbox, "profiles")
    assert all(list(key) == ["id"] for key in keys)
    # Every request of the pass is counted as the stream's (the run's last lines).
    counted = re.search(r"\| profiles +[\d,]+ +([\d,]+) ", run.stderr)
    assert counted is not None, run.stderr[-2000:]
    assert int(counted[1].replace(",", "")) == requests_served(sandbox, "/api/profiles") - served
    assert Counter(key["id"] for key in keys) == Counter(expected)
    versions_sent = {m["version"] for m in lines[at:] if m["type"] == "RECORD"}
    (activation,) = [m for m in lines if m["type"] == "ACTIVATE_VERSION"]
    assert versions_sent == {activation["version"]}
    assert lines.index(activation) > at + len(keys)
    assert lines[-1]["type"] == "STATE"
    assert run.state is not None
    bookmarks = run.state["bookmarks"]["profiles"]
    assert versions.RECONCILIATION not in bookmarks
    assert bookmarks[versions.ACTIVATED] == {
        "version": activation["version"],
        "rows": len(expected),
    }
    assert f"the pass read {len(expected):,} ids" in run.stderr


def test_a_pass_leaves_out_the_ids_of_rows_before_where_the_table_begins(
    sandbox: Sandbox, first: TapRun
) -> None:
    """A table loaded from a start_date holds no profile last updated before it: the ids
    pass does not send theirs either (a row of the key alone would be blank), whatever
    start_date says by the time of the pass."""
    updated = sorted(timestamps.parse(row["updated"]) for row in first.records["profiles"])
    start = updated[len(updated) // 2]
    loaded = sync(sandbox, start_date=timestamps.to_text(start))
    assert loaded.state is not None
    run = sync(sandbox, loaded.state, reconcile_now=True, start_date="2000-01-01T00:00:00Z")
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    at = max(i for i, m in enumerate(lines) if m["type"] == "SCHEMA")
    keys = {m["record"]["id"] for m in lines[at:] if m["type"] == "RECORD"}
    since = ids(sandbox, "profiles", field="updated", since=start - dt.timedelta(seconds=1))
    assert keys == since
    assert 0 < len(keys) < len(updated)


def test_each_activation_says_its_rows_and_the_previous_versions(sandbox: Sandbox) -> None:
    """A table read whole (lists, and flow_messages: parent by parent, every run), one read
    parent by parent (list_members: every list read in full during a pass, whatever its
    bookmark) and one read by its ids (profiles):
    each activation counts the rows of its version as the sandbox has them, keeps that
    count in the state, and the run's last lines compare it with the previous version's."""
    before = sync(sandbox, catalog=GROUPS)
    run = sync(sandbox, before.state, catalog=GROUPS, reconcile_now=True)
    assert before.state is not None
    assert run.state is not None
    members = expected_keys(sandbox, "list_members")
    assert emitted_keys("list_members", run.records["list_members"]) == members
    rows = {
        "lists": len(expected_keys(sandbox, "lists")),
        "list_members": len(members),
        "profiles": len(expected_keys(sandbox, "profiles")),
        "flow_messages": len(expected_keys(sandbox, "flow_messages")),  # children, every run
    }
    # The first run's versions are the first in its state: their rows in one line.
    firsts = re.search(r"Deletes: first table versions in this state .*: (.*)\.\n", before.stderr)
    assert firsts is not None, before.stderr[-3000:]
    assert sorted(firsts[1].split(", ")) == sorted(
        f"{stream} {before.state['bookmarks'][stream][versions.ACTIVATED]['rows']:,}"
        for stream in rows
    )
    for stream, count in rows.items():
        previous = before.state["bookmarks"][stream][versions.ACTIVATED]
        activated = run.state["bookmarks"][stream][versions.ACTIVATED]
        assert activated["rows"] == count, stream
        assert activated["version"] > previous["version"], stream
        assert (
            f"Deletes: {stream}: table version {activated['version']} activated with "
            f"{count:,} rows; the previous version ({previous['version']}) had "
            f"{previous['rows']:,}: at least 0 rows left out"
        ) in run.stderr
        assert versions.RECONCILIATION not in run.state["bookmarks"][stream], stream
    version = run.state["bookmarks"]["lists"][versions.ACTIVATED]["version"]
    # The read starts at the bookmark's whole second (its second is read again).
    bookmark = before.state["bookmarks"]["profiles"]["replication_key_value"]
    start = dt.datetime.fromisoformat(bookmark).replace(microsecond=0).isoformat()
    assert (
        f"profiles: incremental on updated from {start}"
        f"; a reconciliation pass (table version {version}): rows Klaviyo no longer has are "
        "marked deleted at its end\n"
    ) in run.stderr
    assert f"; table version {version} activated\n" in run.stderr  # lists' end line
    assert f"the pass read {rows['profiles']:,} ids, table version {version} activated\n" in (
        run.stderr
    )


# --- when a run makes a pass, and where it reads from (the stream's own decisions) --------

BOOKMARK = {"replication_key": "updated", "replication_key_value": "2026-11-01T00:00:00+00:00"}


def stream_of(
    sandbox: Sandbox,
    name: str,
    state: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **settings: Any,
) -> KlaviyoStream:
    """The tap's stream ``name`` in this process, its bookmarks ``state`` (read as a sync
    reads them: ``context``'s), its state flushed (nothing to write yet)."""
    stream = quiet_tap(tap_config(sandbox, **settings)).streams[name]
    assert isinstance(stream, KlaviyoStream)
    stream.stream_state.update(json.loads(json.dumps(state or {})))
    stream.write_starting_value(context)
    stream.state_manager.is_flushed = True
    return stream


def at_sync_start(stream: KlaviyoStream, moment: str) -> KlaviyoStream:
    """The stream as if its sync had started at ``moment`` (the clock a test cannot wait
    for: a start_date at the sync's very second)."""
    stream.sync_started = timestamps.parse(moment)
    return stream


RECENT = {versions.RECONCILED_AT: "2099-01-01T00:00:00+00:00"}  # never due again
IN_PROGRESS = {versions.RECONCILIATION: {"version": 1, "done": []}}


@pytest.mark.parametrize(
    ("state", "settings", "passes"),
    [
        ({}, {"reconcile_every_days": 1}, True),  # never reconciled: due
        (RECENT, {"reconcile_every_days": 1}, False),
        (RECENT, {"reconcile_every_days": 1, "reconcile_now": True}, True),
        ({}, {"reconcile_every_days": 0}, False),
        ({}, {"reconcile_every_days": 0, "reconcile_now": True}, True),
        (IN_PROGRESS, {"reconcile_every_days": 0}, False),  # passes off: none resumed
        (IN_PROGRESS, {"reconcile_every_days": 7}, True),
        ({}, {"reconcile_now": True, "end_date": "2026-01-01T00:00:00Z"}, False),
        ({}, {"reconcile_now": True, "flattening_enabled": True, "flattening_max_depth": 1}, False),
        ({}, {"reconcile_now": True, "start_date": "2099-01-01T00:00:00Z"}, False),
    ],
)
def test_a_pass_is_made_when_due_or_asked_and_the_read_can_be_complete(
    sandbox: Sandbox, state: dict[str, Any], settings: dict[str, Any], passes: bool
) -> None:
    assert stream_of(sandbox, "profiles", state, **settings).deletes.reconciles() is passes


def test_the_start_line_of_a_read_without_a_pass_names_none(sandbox: Sandbox) -> None:
    """Not due (reconciled recently): the start line ends at where the read begins."""
    bookmark = BOOKMARK["replication_key_value"]
    stream = stream_of(sandbox, "profiles", {**BOOKMARK, **RECENT}, reconcile_every_days=1)
    stream.deletes.begin()
    assert stream.deletes.reconciliation is None
    assert stream.describe_read(None).endswith(f"incremental on updated from {bookmark}")


def test_a_run_that_activates_no_version_says_it_marked_no_deletes(
    sandbox: Sandbox, first: TapRun
) -> None:
    """No pass due, no version activated: no ACTIVATE_VERSION, and the logs do not tell the
    user that rows were marked deleted (the end line, the Deletes lines, the table's notes,
    the finished line)."""
    run = sync(sandbox, first.state)
    assert '"ACTIVATE_VERSION"' not in run.stdout
    lines = [line.split(" | ")[-1] for line in run.stderr.splitlines()]

    def said(pattern: str) -> bool:
        return any(re.fullmatch(pattern, line) for line in lines)

    assert said(r"profiles: done, [\d,]+ records? in [\d.]+ s")  # no version activated
    assert not [line for line in lines if line.startswith("Deletes:")]
    assert said(r"profiles +[\d,]+ +[\d,]+ +[\d.]+ s +")  # no notes in the table's row
    assert lines[-1].endswith("; deletes marked in 0 streams")


def test_a_start_date_at_the_syncs_very_second_is_not_in_the_future(sandbox: Sandbox) -> None:
    second = "2030-01-01T00:00:00+00:00"
    stream = at_sync_start(
        stream_of(sandbox, "profiles", start_date=second, reconcile_now=True), second
    )
    assert stream.deletes.reconciles()
    assert stream.deletes.keeps_bookmark(timestamps.parse(second))


def test_only_a_reconciled_streams_bookmark_wins_over_a_later_start_date(
    sandbox: Sandbox,
) -> None:
    profiles = stream_of(sandbox, "profiles").deletes
    assert profiles.keeps_bookmark(timestamps.parse("2026-01-01T00:00:00Z"))
    assert not profiles.keeps_bookmark(timestamps.parse("2099-01-01T00:00:00Z"))
    events = stream_of(sandbox, "events").deletes
    assert not events.keeps_bookmark(timestamps.parse("2026-01-01T00:00:00Z"))


@pytest.mark.parametrize(
    ("state", "bookmarked"),
    [
        ({}, False),
        ({"replication_key_value": None}, False),
        (BOOKMARK, True),
        ({"partitions": [{"context": {"list_id": "a"}}]}, False),
        (
            {"partitions": [{"context": {"list_id": "a"}}, {"replication_key_value": "x"}]},
            True,
        ),
    ],
)
def test_a_stream_was_read_before_when_it_or_a_partition_has_a_bookmark(
    sandbox: Sandbox, state: dict[str, Any], bookmarked: bool
) -> None:
    assert stream_of(sandbox, "list_members", state).deletes.has_bookmark() is bookmarked


def test_a_bookmark_from_before_the_coverage_was_kept_is_taken_to_cover_start_date(
    sandbox: Sandbox,
) -> None:
    start = "2026-10-01T00:00:00+00:00"
    stream = stream_of(sandbox, "profiles", BOOKMARK, start_date=start)
    stream.deletes.record_coverage()
    assert stream.stream_state[versions.COVERED_FROM] == start
    assert not stream.state_manager.is_flushed
    assert stream.deletes.coverage_start() == timestamps.parse(start)


@pytest.mark.parametrize("state", [{}, {versions.COVERED_FROM: "2026-10-01T00:00:00+00:00"}])
def test_a_first_read_covers_from_its_lower_bound(sandbox: Sandbox, state: dict[str, Any]) -> None:
    """Without a start_date, from the beginning; a coverage already known is widened."""
    stream = stream_of(sandbox, "profiles", state)
    stream.deletes.record_coverage()
    assert stream.stream_state[versions.COVERED_FROM] is None
    assert not stream.state_manager.is_flushed
    assert stream.deletes.coverage_start() is None


def test_a_coverage_already_reaching_the_bookmark_leaves_the_state_as_it_is(
    sandbox: Sandbox,
) -> None:
    covered = {**BOOKMARK, versions.COVERED_FROM: "2026-10-01T00:00:00+00:00"}
    stream = stream_of(sandbox, "profiles", covered, start_date="2026-10-15T00:00:00Z")
    before = json.loads(json.dumps(stream.stream_state))
    stream.deletes.record_coverage()
    assert stream.stream_state == before
    assert stream.state_manager.is_flushed
    assert stream.deletes.coverage_start() == timestamps.parse("2026-10-01T00:00:00Z")


def test_a_child_covers_each_parents_start_not_its_own(sandbox: Sandbox) -> None:
    stream = stream_of(sandbox, "list_members", start_date="2026-10-01T00:00:00Z")
    stream.deletes.record_coverage()
    assert versions.COVERED_FROM not in stream.stream_state
    assert stream.state_manager.is_flushed


def test_during_a_pass_a_parent_not_done_is_read_from_where_the_table_begins(
    sandbox: Sandbox,
) -> None:
    """A parent the pass has read in full is read from its bookmark; the others from the
    table's coverage, which the first read of a parent widens."""
    start = "2026-10-01T00:00:00+00:00"
    done = {"context": {"list_id": "done"}, **BOOKMARK, "replication_key": "joined_group_at"}
    state = {"partitions": [done], versions.COVERED_FROM: "2026-09-01T00:00:00+00:00"}
    stream = stream_of(sandbox, "list_members", state, {"list_id": "done"}, start_date=start)
    deletes = stream.deletes
    bookmark = timestamps.parse(BOOKMARK["replication_key_value"])
    assert deletes.parent_start({"list_id": "done"}) == bookmark  # no pass: its bookmark
    deletes.reconciliation = versions.Reconciliation(1, {"done"})
    assert deletes.parent_start({"list_id": "done"}) == bookmark
    assert deletes.parent_start({"list_id": "new"}) == timestamps.parse("2026-09-01T00:00:00Z")
    assert stream.state_manager.is_flushed
    stream.stream_state.pop(versions.COVERED_FROM)
    assert deletes.parent_start({"list_id": "new"}) == timestamps.parse(start)
    assert stream.stream_state[versions.COVERED_FROM] == start
    assert not stream.state_manager.is_flushed


def key_reader(sandbox: Sandbox, filters: list[str]) -> KeyReader:
    stream = stream_of(sandbox, "profiles")
    return KeyReader(stream.client, stream.resource, filters, stream.sync_started)


@pytest.mark.parametrize("cursors", [1, 3])
def test_the_ids_are_read_in_two_windows_per_cursor_from_the_first_created(
    sandbox: Sandbox, first: TapRun, cursors: int
) -> None:
    """Windows of equal time, of whole seconds, tiling [the oldest profile's ``created``,
    the sync's start) with neither gap nor overlap: every id read once."""
    reader = key_reader(sandbox, [])
    spans = reader.spans(cursors)
    oldest = min(timestamps.parse(row["created"]) for row in first.records["profiles"])
    # Each bound floored to its second: a last window of the seconds left over, at most.
    assert cursors * KEY_WINDOWS_PER_CURSOR <= len(spans) <= cursors * KEY_WINDOWS_PER_CURSOR + 1
    assert spans[0][0] == timestamps.floor_second(oldest)
    assert spans[-1][1] == reader.end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(start == timestamps.floor_second(start) for start, _ in spans)
    served = requests_served(sandbox, "/api/profiles")
    keys = [key["id"] for span in spans for page in reader.keys(span) for key in page]
    assert Counter(keys) == Counter(expected_keys(sandbox, "profiles"))
    # Each window asks for its own range only: its pages are those its ids fill.
    page_size = reader.resource.page_size or 100
    assert requests_served(sandbox, "/api/profiles") - served <= len(spans) + len(keys) // page_size


def test_no_ids_no_windows(sandbox: Sandbox) -> None:
    never = time_filters(
        Increment("updated", lower="greater-than"), timestamps.parse("2099-01-01T00:00:00Z"), None
    )
    assert key_reader(sandbox, never).spans(3) == []


def test_a_resumed_pass_of_parents_counts_the_rows_of_the_parents_done_before(
    sandbox: Sandbox,
) -> None:
    """A pass stopped after a list was read in full resumes with that list read from its
    bookmark only: the version's row count is still every membership, not this run's."""
    members = select_only(tap_catalog(), {"list_members"})
    before = sync(sandbox, catalog=members)
    assert before.state is not None
    bookmarks = before.state["bookmarks"]["list_members"]
    done = next(p["context"]["list_id"] for p in bookmarks["partitions"] if len(p) > 1)
    read_before = len(ids(sandbox, "list-profiles", parent_id=done))
    bookmarks[versions.RECONCILIATION] = {"version": 5, "done": [done], "rows": read_before}
    run = sync(sandbox, before.state, catalog=members)
    assert run.state is not None
    assert len(run.records["list_members"]) < len(expected_keys(sandbox, "list_members"))
    assert "; resuming the reconciliation pass (table version 5): rows Klaviyo" in run.stderr
    assert run.state["bookmarks"]["list_members"][versions.ACTIVATED] == {
        "version": 5,
        "rows": len(expected_keys(sandbox, "list_members")),
    }


def test_a_passs_row_count_adds_the_rows_created_since_the_sync_started(
    sandbox: Sandbox, first: TapRun
) -> None:
    """The ids pass reads the keys created before the sync started; the rows of the normal
    read created since are in the version too, and counted with the ids."""
    assert first.state is not None
    profiles = first.records["profiles"]
    bookmarks = first.state["bookmarks"]["profiles"]
    stream = stream_of(sandbox, "profiles", bookmarks, reconcile_now=True)
    created = sorted(timestamps.parse(row["created"]) for row in profiles)
    at_sync_start(stream, timestamps.to_text(created[len(created) // 2]))
    deletes = stream.deletes
    deletes.begin()  # a pass after a bookmark: the ids are read after the normal read
    assert deletes.version is not None
    half = len(profiles) // 2
    for page in (profiles[:half], profiles[half:]):  # as the normal read's pages are written
        deletes.count_new_rows(page)
    deletes.activate(deletes.version)
    assert stream.stream_state[versions.ACTIVATED] == {
        "version": deletes.version,
        "rows": len(profiles),
    }


@pytest.mark.parametrize(
    ("state", "start_date", "ids_read"),
    [
        # start_date moved later than where the table's rows begin: the read from it is not
        # complete, the ids pass covers the rows before it.
        ({versions.COVERED_FROM: "2026-09-01T00:00:00+00:00"}, "2026-10-01T00:00:00Z", True),
        # A first read from where the rows begin is complete by itself: no ids pass.
        ({versions.COVERED_FROM: "2026-10-01T00:00:00+00:00"}, "2026-10-01T00:00:00Z", False),
    ],
)
def test_a_pass_reads_the_ids_unless_its_normal_read_is_complete(
    sandbox: Sandbox, state: dict[str, Any], start_date: str, ids_read: bool
) -> None:
    stream = stream_of(sandbox, "profiles", state, start_date=start_date, reconcile_now=True)
    deletes = stream.deletes
    deletes.begin()
    assert deletes.version is not None
    deletes.activate(deletes.version)
    assert deletes.activated.startswith("the pass read ") is ids_read


def test_the_sdks_own_records_carry_the_table_version(sandbox: Sandbox) -> None:
    """With flattening the SDK writes the records: each carries the run's version too."""
    lists = select_only(tap_catalog(), {"lists"})
    run = sync(sandbox, catalog=lists, flattening_enabled=True, flattening_max_depth=1)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    (activation,) = [m for m in lines if m["type"] == "ACTIVATE_VERSION"]
    sent = [m for m in lines if m["type"] == "RECORD"]
    assert len(sent) == len(expected_keys(sandbox, "lists"))
    assert {m.get("version") for m in sent} == {activation["version"]}
