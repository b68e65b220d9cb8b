"""Late events: the ranges a run reads again (planning), and the second read against the
sandbox: what it reads, that a stop midway resumes from its saved point, and that it never
moves the bookmark."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from types import GeneratorType
from typing import Any

import orjson
import pytest

from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo import late_events, timestamps
from tap_klaviyo.late_events import READ_AGAIN_TO, second_read
from tap_klaviyo.output import RecordBlock
from tap_klaviyo.streams.windows import WindowedStream
from tests.conftest import SMALL, tap_config
from tests.singer import quiet_tap, run_tap, select_only

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 7, 20, 12, 0, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)


def text(moment: dt.datetime) -> str:
    return timestamps.to_text(moment)


# --- planning --------------------------------------------------------------------------------


def test_a_first_run_reads_nothing_twice() -> None:
    """Everything is read once, the last 7 days too recently: their second read comes later."""
    assert second_read({}, NOW, 7) is None


def test_a_state_without_a_second_read_starts_it_a_window_before_the_bookmark() -> None:
    bookmark = NOW - dt.timedelta(hours=20)
    span = second_read({"replication_key_value": text(bookmark)}, NOW, 7)
    assert span == (bookmark - 7 * DAY, NOW - 7 * DAY)


def test_the_second_read_resumes_where_it_stopped_and_ends_n_days_back() -> None:
    stopped = NOW - 9 * DAY
    bookmarks = {"replication_key_value": text(NOW - DAY), READ_AGAIN_TO: text(stopped)}
    assert second_read(bookmarks, NOW, 7) == (stopped, NOW - 7 * DAY)
    assert second_read(bookmarks, NOW, 3) == (stopped, NOW - 3 * DAY)  # a shorter window
    assert second_read(bookmarks, NOW, 10) is None  # a longer one: nothing is that old yet
    assert second_read(bookmarks, NOW, 0) is None  # switched off


def test_the_second_read_never_starts_before_start_date() -> None:
    bookmarks = {READ_AGAIN_TO: text(NOW - 30 * DAY)}
    start_date = NOW - 8 * DAY
    assert second_read(bookmarks, NOW, 7, start_date) == (start_date, NOW - 7 * DAY)
    assert second_read(bookmarks, NOW, 7, NOW - 2 * DAY) is None


def test_whole_seconds_and_a_point_that_never_goes_back() -> None:
    started = NOW + dt.timedelta(microseconds=654321)
    span = second_read({READ_AGAIN_TO: text(NOW - 8 * DAY)}, started, 7)
    assert span == (NOW - 8 * DAY, NOW - 7 * DAY)
    bookmarks: dict[str, Any] = {}
    assert late_events.advance(bookmarks, started)  # its second: a resume reads its ties
    assert not late_events.advance(bookmarks, NOW - DAY)
    assert not late_events.advance(bookmarks, NOW - DAY)
    assert bookmarks[READ_AGAIN_TO] == text(NOW)


# --- against the sandbox ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def account() -> Any:
    with running_sandbox(seed=61, sizes=SMALL, rate_limits=False) as running:
        yield running


def test_a_stopped_second_read_resumes_from_its_point_and_the_bookmark_stays(
    account: Sandbox,
) -> None:
    """The second read of 500 days of events (several windows), stopped once its first
    window is written (as a kill would be: the state covers what was written), then resumed
    by a new run."""
    started = dt.datetime.now(UTC).replace(microsecond=0)
    bookmark = text(started - dt.timedelta(hours=1))
    since = started - 500 * DAY
    state = {"replication_key": "datetime", "replication_key_value": bookmark,
             READ_AGAIN_TO: text(since)}  # fmt: skip
    config = tap_config(account, max_workers=2, max_buffered_pages=1, lookback_window=0)
    stream = quiet_tap(config).streams["events"]
    assert isinstance(stream, WindowedStream)
    stream.stream_state.update(state)
    stream.write_starting_value(None)
    end = stream.sync_started - 7 * DAY

    read: Iterator[Any] = stream.read(None)  # RECORD lines, as the windows finish them
    emitted: list[dict[str, Any]] = []
    for item in read:  # a page's block of lines, or one line
        lines = item.lines.splitlines() if isinstance(item, RecordBlock) else [bytes(item)]
        emitted += [orjson.loads(line)["record"] for line in lines]
        point = late_events.reached(stream.stream_state)
        if point is not None and point > since:
            break  # stopped midway through the second read
    assert isinstance(read, GeneratorType)
    read.close()
    point = late_events.reached(stream.stream_state)
    assert point is not None
    assert since < point < end, (since, point, end)
    assert stream.stream_state["replication_key_value"] >= bookmark, "the bookmark went back"
    again = {e["id"] for e in emitted if timestamps.parse(e["datetime"]) < end}
    assert again, "the second read wrote nothing before it stopped"

    # The resumed run reads the range from the saved point on; no STATE ever holds a
    # bookmark before the one it started from, nor a second-read point before the saved one.
    discovered = run_tap(config, "--discover")
    catalog = select_only(json.loads(discovered.stdout), {"events"})
    saved = {key: stream.stream_state[key] for key in state}
    resumed = run_tap(config, catalog=catalog, state={"bookmarks": {"events": saved}})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    later = [e for e in resumed.records["events"] if timestamps.parse(e["datetime"]) < end]
    assert all(timestamps.parse(e["datetime"]) >= point for e in later)
    second = dt.timedelta(seconds=1)
    truth = account.account.truth("events", since=since - second, until=end - second)["ids"]
    assert again | {e["id"] for e in later} == set(truth), "an event of the range was missed"
    for value in resumed.states:
        events = value["bookmarks"]["events"]
        assert events["replication_key_value"] >= bookmark
        assert timestamps.parse(events[READ_AGAIN_TO]) >= point
    final = resumed.state["bookmarks"]["events"]  # type: ignore[index]
    assert timestamps.parse(final[READ_AGAIN_TO]) >= end
    assert "second read of" in resumed.stderr
