"""Events' and profiles' parallel windows, against the sandbox.

- The windows tile [start, sync start) without gap or overlap, then a future-dated tail.
- A start_date years before the account's first event still gives enough windows to keep
  every worker busy (the first page's density is measured over its records, not from the
  start_date), and the sync emits exactly the sandbox's events.
- Pages are written as they arrive, out of window order, yet the final bookmark is the
  highest value emitted at or before the sync's start, as a sequential read's would be.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import timestamps
from tap_klaviyo.streams.windows import WINDOWS_PER_CURSOR, Frontier, WindowedStream
from tests.conftest import tap_catalog, tap_config
from tests.singer import quiet_tap, run_tap, select_only

DISTANT = "2000-01-01T00:00:00Z"


def windows_of(sandbox: Sandbox, name: str, **settings: Any) -> tuple[WindowedStream, list]:
    stream = quiet_tap(tap_config(sandbox, **settings)).streams[name]
    assert isinstance(stream, WindowedStream)
    stream.write_starting_value(None)  # what the SDK does first: start_date
    frontier = Frontier(stream.sync_started)
    for _ in stream.window_tasks(None, frontier, stream.lower_bound(None), stream.upper_bound()):
        pass  # each task opens its window in the frontier, in time order
    return stream, frontier._windows


@pytest.mark.parametrize("name", ["events", "profiles"])
def test_windows_tile_the_range_and_keep_every_worker_busy(sandbox: Sandbox, name: str) -> None:
    stream, windows = windows_of(sandbox, name, start_date=DISTANT, max_workers=3)
    assert stream.plan.workers == 3, "events' and profiles' tiers could use more than 3 cursors"
    start = dt.datetime.fromisoformat(DISTANT.replace("Z", "+00:00"))
    assert windows[0][0] == start
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end == next_start, "windows must neither overlap nor leave a gap"
    assert windows[-2][1] == stream.sync_started
    assert windows[-1] == (stream.sync_started, None), "the future-dated tail comes last"
    # The first window runs from the start_date to the first page's last record; the data
    # after it is cut for every cursor, however sparse the first page made it look.
    assert len(windows) - 2 >= WINDOWS_PER_CURSOR * stream.plan.workers


def test_a_distant_start_date_syncs_every_event_with_the_right_bookmark(
    sandbox: Sandbox,
) -> None:
    config = tap_config(sandbox, start_date=DISTANT, max_workers=4, max_buffered_pages=3)
    before_sync = dt.datetime.now(dt.timezone.utc)
    run = run_tap(config, catalog=select_only(tap_catalog(), {"events"}))
    assert run.returncode == 0, run.stderr[-3000:]
    emitted = [record["id"] for record in run.records["events"]]
    truth = sandbox.account.truth("events")["ids"]
    assert len(emitted) == len(truth), "each event once"
    assert set(emitted) == set(truth)

    # The sandbox's future-dated events lie a day or more ahead: none is before the sync.
    moments = [timestamps.parse(r["datetime"]) for r in run.records["events"]]
    past = [moment for moment in moments if moment <= before_sync]
    assert run.state is not None
    bookmark = run.state["bookmarks"]["events"]["replication_key_value"]
    assert bookmark == timestamps.to_text(max(past))
