"""Events' and profiles' windowed reads, run in this process against the sandbox, pinned:
each test kills mutants of ``tap_klaviyo/streams/windows.py`` that the suite let live
(tests/MUTANTS.md). The end-to-end tests read the same way in a subprocess, where mutation
testing cannot see which test runs which function."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import late_events, timestamps
from tap_klaviyo.output import RecordBlock
from tap_klaviyo.streams.windows import Density, Frontier, WindowedStream, WindowPage
from tests.conftest import tap_config
from tests.singer import quiet_tap
from tests.truth import expected_keys

KEYS = {"events": "datetime", "profiles": "updated"}
PAST_WINDOW = re.compile(r"([\d,]+) records? past the window's end")


def windowed(sandbox: Sandbox, name: str, **settings: Any) -> WindowedStream:
    stream = quiet_tap(tap_config(sandbox, **settings)).streams[name]
    assert isinstance(stream, WindowedStream)
    return stream


def records_of(written: Any) -> list[dict[str, Any]]:
    """The records of what a windowed read hands the SDK: a page's block of RECORD lines
    (``output.RecordBlock``), one line, or a row the SDK writes itself (stream maps,
    flattening)."""
    if isinstance(written, dict):
        return [written]
    lines = bytes(written.lines if isinstance(written, RecordBlock) else written).splitlines()
    return [orjson.loads(line)["record"] for line in lines]


def read_all(stream: WindowedStream, state: dict[str, Any] | None = None) -> list[dict]:
    """The stream's read from ``state`` as the SDK runs it: every record it writes."""
    stream.stream_state.update(state or {})
    stream.write_starting_value(None)
    return [record for written in stream.get_records(None) for record in records_of(written)]


@pytest.mark.parametrize("name", ["events", "profiles"])
@pytest.mark.parametrize("start_date", [None, "2000-01-01T00:00:00Z"])
def test_a_read_emits_each_record_once_and_bookmarks_the_highest_before_the_sync(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, name: str, start_date: str | None
) -> None:
    """Without a start_date the read begins at the account's first record (one request
    finds it); with one years before, at it. Either way every record comes once, the
    future-dated ones too, and the bookmark is the highest value at or before the sync's
    start, as a sequential read's would be. The first page is cut at its last record's
    second: only that second's records are left to the next window, not the page's."""
    settings = {"start_date": start_date} if start_date else {}
    stream = windowed(sandbox, name, max_workers=3, late_events_days=0, **settings)
    before = sandbox.requests()["total"]
    with caplog.at_level(logging.INFO):
        records = read_all(stream)
    left = [int(n.replace(",", "")) for n in PAST_WINDOW.findall(" ".join(caplog.messages))]
    assert sum(left) < stream.page_size // 4, caplog.messages[-1]
    # Each request is counted for the stream (the run's cost lines), the first one's too.
    assert stream.client.stats.by_stream[name] == sandbox.requests()["total"] - before
    past = assert_each_record_once_and_the_bookmark(sandbox, stream, name, records)
    if start_date is None:  # no range known before the read: no share of it to tell
        assert stream.progress_detail() == f"time range written up to {timestamps.to_text(past)}"


@pytest.mark.parametrize("name", ["events", "profiles"])
def test_a_read_the_sdk_writes_itself_emits_each_record_once_and_the_same_bookmark(
    sandbox: Sandbox, name: str
) -> None:
    """With flattening the SDK writes each row itself: the windows hand it rows, not lines,
    and every record still comes once, with the bookmark at the highest value before the
    sync's start."""
    stream = windowed(
        sandbox, name, late_events_days=0, flattening_enabled=True, flattening_max_depth=1
    )
    assert stream.writer.plan is None, "the tap writes the lines: the test proves nothing"
    records = read_all(stream)
    assert_each_record_once_and_the_bookmark(sandbox, stream, name, records)


def test_a_start_date_in_the_future_reads_only_what_is_dated_from_it(sandbox: Sandbox) -> None:
    """Half a day after the sync's start: only the future-dated events from there on (one
    window to the end), nothing at or before the sync's start, so no bookmark's progress."""
    probe = windowed(sandbox, "events")
    start = timestamps.floor_second(probe.sync_started + dt.timedelta(hours=12))
    stream = windowed(sandbox, "events", late_events_days=0, start_date=timestamps.to_text(start))
    ids = {record["id"] for record in read_all(stream)}
    assert ids, "no event dated after the start_date: the test proves nothing"
    assert ids == in_range(sandbox, start, start + 400 * late_events.DAY)
    assert stream.progress_detail() == ""


def test_a_first_page_that_would_reach_past_the_sync_start_ends_at_it(
    sandbox: Sandbox,
) -> None:
    """The first page is asked for up to the sync's start: the future-dated tail reads what
    lies past it. Pages two records longer than the events from the start_date to the sync's
    start would otherwise reach into the tail's range (up to their last record's second),
    and the records there would come twice."""
    stream = windowed(sandbox, "events", late_events_days=0)
    start = timestamps.floor_second(stream.sync_started - dt.timedelta(days=7))
    since_start = in_range(sandbox, start, start + 800 * late_events.DAY)
    before = len(in_range(sandbox, start, stream.sync_started))
    assert 0 < before < len(since_start) - 2, "too few future-dated events: proves nothing"
    stream = windowed(sandbox, "events", late_events_days=0, start_date=timestamps.to_text(start))
    stream.resource = dataclasses.replace(stream.resource, page_size=before + 2)
    stream.plan = dataclasses.replace(stream.plan, resource=stream.resource)
    ids = [record["id"] for record in read_all(stream)]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert set(ids) == since_start


class FirstPageEmptyWithNext(FaultPlan):
    """The first API request answers an empty page whose next link goes on."""

    def draw(self) -> str | None:
        with self._lock:
            first = not getattr(self, "drawn", False)
            self.drawn = True
        return "emptynext" if first else None


def test_an_empty_first_page_with_a_next_link_reads_the_range_as_one_window(
    sandbox: Sandbox,
) -> None:
    """An empty first page says nothing of the data's density: the range is read as one
    window following every link, then the future-dated tail; every event once."""
    stream = windowed(sandbox, "events", late_events_days=0, start_date="2000-01-01T00:00:00Z")
    plan = FirstPageEmptyWithNext({})
    sandbox.state.faults = plan
    try:
        ids = [record["id"] for record in read_all(stream)]
    finally:
        sandbox.state.faults = None
    assert plan.counts().get("emptynext") == 1, "no empty first page: the test proves nothing"
    assert len(ids) == len(set(ids)), "an event came twice"
    assert set(ids) == expected_keys(sandbox, "events")


def in_range(sandbox: Sandbox, start: dt.datetime, end: dt.datetime) -> set[str]:
    """The events dated in [start, end), whole seconds (the truth's range is (since, until])."""
    second = dt.timedelta(seconds=1)
    return set(sandbox.account.truth("events", since=start - second, until=end - second)["ids"])


def test_a_window_reads_its_range_and_teaches_the_density(sandbox: Sandbox) -> None:
    """One window's task: its pages carry its index and exactly its range's records; once
    done, the density learned from it sizes the windows after it."""
    stream = windowed(sandbox, "events", late_events_days=0)
    stream.write_starting_value(None)
    end = timestamps.floor_second(stream.sync_started - 100 * late_events.DAY)
    start = end - 400 * late_events.DAY
    density = Density(0, 0)
    frontier = Frontier(stream.sync_started)
    frontier.open((start, start))  # an earlier window: this one's index is 1
    pages = list(stream.window_task(None, frontier, (start, end), density)())
    assert pages[-1] == WindowPage(1), "a window ends on its done mark"
    assert {page.window for page in pages} == {1}
    records = [r for page in pages[:-1] for block in page.records or () for r in records_of(block)]
    assert records, "no event in the window: the test proves nothing"
    assert {record["id"] for record in records} == in_range(sandbox, start, end)
    keys = [key for page in pages[:-1] for key in page.keys]
    assert keys == [timestamps.parse(record["datetime"]) for record in records]
    per_second = len(records) / (1 + (end - start).total_seconds())
    assert density.span_for(1000).total_seconds() == pytest.approx(1000 / per_second)
    # Without a density to teach (a window of a read cut differently), it reads the same.
    again = list(stream.window_task(None, frontier, (start, end), None)())
    assert sum(len(records_of(b)) for page in again for b in page.records or ()) == len(records)


def second_read_state(stream: WindowedStream, days_back: int) -> tuple[dict, dt.datetime]:
    point = timestamps.floor_second(stream.sync_started - days_back * late_events.DAY)
    bookmark = stream.sync_started - dt.timedelta(hours=1)
    state = {
        "replication_key": "datetime",
        "replication_key_value": timestamps.to_text(bookmark),
        late_events.READ_AGAIN_TO: timestamps.to_text(point),
    }
    return state, point


@pytest.mark.parametrize("start_date_days_back", [None, 60])
def test_the_second_read_reads_its_range_once_says_so_and_keeps_its_point(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, start_date_days_back: int | None
) -> None:
    """A run with a second read due (its point saved 120 days back, events 7 days late):
    it reads [point, 7 days ago), or from start_date when that is later, each event once;
    its line says the range and how many it wrote; the point ends 7 days back."""
    settings: dict[str, Any] = {"late_events_days": 7, "lookback_window": 0}
    probe = windowed(sandbox, "events")
    if start_date_days_back is not None:
        start_date = probe.sync_started - start_date_days_back * late_events.DAY
        settings["start_date"] = timestamps.to_text(timestamps.floor_second(start_date))
    stream = windowed(sandbox, "events", max_workers=2, **settings)
    state, point = second_read_state(stream, 120)
    if start_date_days_back is not None:
        point = timestamps.parse(settings["start_date"])
    end = timestamps.floor_second(stream.sync_started - 7 * late_events.DAY)
    with caplog.at_level(logging.INFO):
        records = read_all(stream, state)
    again = [r["id"] for r in records if point <= timestamps.parse(r["datetime"]) < end]
    assert again, "no event in the second read's range: the test proves nothing"
    assert len(again) == len(set(again)), "an event came twice"
    assert set(again) == in_range(sandbox, point, end)
    line = (
        f"Stream 'events': second read of {timestamps.to_text(point)} to "
        f"{timestamps.to_text(end)} (events up to 7 days late): {len(again):,} records."
    )
    assert line in caplog.messages
    assert stream.stream_state[late_events.READ_AGAIN_TO] == timestamps.to_text(end)


def test_a_read_with_an_end_date_or_without_late_arrivals_reads_nothing_twice(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A bounded backfill (end_date) and profiles (no late arrivals) make no second read
    and keep no point of one."""
    events = windowed(sandbox, "events", late_events_days=7, end_date="2030-01-01T00:00:00Z")
    state, _ = second_read_state(events, 120)
    profiles = windowed(sandbox, "profiles", late_events_days=7)
    with caplog.at_level(logging.INFO):
        read_all(events, state)
        read_all(profiles)
    assert not [message for message in caplog.messages if "second read" in message]
    assert events.stream_state[late_events.READ_AGAIN_TO] == state[late_events.READ_AGAIN_TO]
    assert late_events.READ_AGAIN_TO not in profiles.stream_state


@pytest.mark.parametrize("days", [0, 1])
def test_the_second_read_point_follows_late_events_days(sandbox: Sandbox, days: int) -> None:
    """A first run keeps the point ``late_events_days`` before the sync's start (none when
    there is no second read)."""
    stream = windowed(sandbox, "events", late_events_days=days, start_date="2026-11-01T00:00:00Z")
    read_all(stream)
    point = stream.stream_state.get(late_events.READ_AGAIN_TO)
    if days == 0:
        assert point is None
    else:
        end = timestamps.floor_second(stream.sync_started - days * late_events.DAY)
        assert point == timestamps.to_text(end)


@pytest.fixture(scope="module")
def many_profiles() -> Iterator[Sandbox]:
    """Enough profiles that one cursor's windows hold several pages each."""
    sizes = Sizes(
        profiles=3000, events=10, lists=1, segments=1, campaigns=1, flows=1, templates=1, tags=1
    )
    with running_sandbox(seed=53, sizes=sizes, rate_limits=False) as running:
        yield running


def test_the_bookmark_follows_each_page_written_and_the_line_says_how_far(
    many_profiles: Sandbox,
) -> None:
    """With one cursor, a STATE taken while a record is written covers every page but the
    one before that record's own (no more than two pages behind, however long the window:
    the page just written joins the bookmark once the next one is asked for); the progress
    line says how far the time range is written."""
    stream = windowed(many_profiles, "profiles", max_workers=1, start_date="2020-01-01T00:00:00Z")
    behind = 2 * stream.page_size
    stream.write_starting_value(None)
    values: list[dt.datetime] = []
    shares: list[int] = []
    for block in stream.get_records(None):  # a page at a time
        before = len(values)
        values += [timestamps.parse(record["updated"]) for record in records_of(block)]
        if len(values) // 500 > before // 500:  # the line mid-read: its share is of its range
            shares.append(share_said(stream.progress_detail(), stream.sync_started))
        # A bookmark keeps whole seconds (its second is read again).
        written = timestamps.floor_second(values[-1 - behind]) if len(values) > behind else None
        if written is not None and written <= stream.sync_started:
            bookmark = stream.stream_state.get("replication_key_value")
            assert bookmark is not None
            assert timestamps.parse(bookmark) >= written
    assert len(values) > 5 * behind, "too few pages to lag behind: the test proves nothing"
    assert any(0 < share < 100 for share in shares), shares
    start = timestamps.parse("2020-01-01T00:00:00Z")
    reached = timestamps.parse(stream.stream_state["replication_key_value"])
    done = (reached - start) / (stream.sync_started - start)
    assert stream.progress_detail() == (
        f"time range written up to {timestamps.to_text(reached)} ({done:.0%} of the time "
        f"range since {timestamps.to_text(start)})"
    )


def test_the_line_says_the_share_of_a_range_under_a_second_long(sandbox: Sandbox) -> None:
    """A read that starts less than a second before the sync's start still says its share
    of the range once a record of it is written (as a read's frontier holds it)."""
    stream = windowed(sandbox, "events")
    start = stream.sync_started - dt.timedelta(milliseconds=500)
    frontier = Frontier(stream.sync_started)
    window = frontier.open((start, stream.sync_started))
    frontier.written(window, [start + dt.timedelta(milliseconds=250)])
    stream._range = (start, frontier)
    assert share_said(stream.progress_detail(), stream.sync_started) == 50


PROGRESS = re.compile(r"time range written up to (\S+) \((\d+)% of the time range since (\S+)\)")


def share_said(line: str, sync_started: dt.datetime) -> int:
    """The share of the time range a progress line says is written, checked against the
    instants it names."""
    match = PROGRESS.fullmatch(line)
    assert match, line
    reached, start = timestamps.parse(match[1]), timestamps.parse(match[3])
    assert match[2] == f"{(reached - start) / (sync_started - start) * 100:.0f}", line
    return int(match[2])


def test_a_lookback_never_moves_the_bookmark_back(sandbox: Sandbox) -> None:
    """The lookback reads 600 days behind the bookmark again (pages of them): no STATE of
    the read holds a bookmark before the one it started from."""
    stream = windowed(sandbox, "events", late_events_days=0, lookback_window=600 * 86400)
    state, _ = second_read_state(stream, 0)
    bookmark = timestamps.floor_second(stream.sync_started - 2 * late_events.DAY)
    state["replication_key_value"] = timestamps.to_text(bookmark)
    stream.stream_state.update(state)
    stream.write_starting_value(None)
    before = 0
    for written in stream.get_records(None):
        for record in records_of(written):
            before += timestamps.parse(record["datetime"]) < bookmark
        assert timestamps.parse(stream.stream_state["replication_key_value"]) >= bookmark
    assert before > 2 * stream.page_size, "the lookback read too little: it proves nothing"


def test_an_account_without_events_reads_none_and_keeps_no_bookmark() -> None:
    """Where the data begins is unknown without a first event: nothing is read."""
    empty = Sizes(profiles=5, events=0, lists=1, segments=1, campaigns=1, flows=1, tags=1)
    with running_sandbox(seed=3, sizes=empty, rate_limits=False) as sandbox:
        stream = windowed(sandbox, "events")
        assert stream.earliest_record(None) is None
        assert read_all(stream) == []
        assert stream.stream_state.get("replication_key_value") is None


def assert_each_record_once_and_the_bookmark(
    sandbox: Sandbox, stream: WindowedStream, name: str, records: list[dict[str, Any]]
) -> dt.datetime:
    """Every record of the account once, and the bookmark at the highest value before the
    sync's start (returned)."""
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "a record came twice"
    assert set(ids) == expected_keys(sandbox, name)
    moments = [timestamps.parse(record[KEYS[name]]) for record in records]
    past = max(moment for moment in moments if moment <= stream.sync_started)
    assert stream.stream_state["replication_key_value"] == timestamps.to_text(past)
    return past
