"""Streams run at once: the scheduler, a failure stopping the others, and a STATE every 30 s
of a long stream (an injected clock, no sleeps)."""

from __future__ import annotations

import itertools
import json
import threading
import typing as t

import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo.output import SingerOutput, record_line
from tap_klaviyo.parallel import run_at_once
from tap_klaviyo.streams.base import STATE_EVERY
from tests.conftest import tap_config
from tests.singer import quiet_tap, select_only
from tests.truth import expected_keys

WAIT = 30.0  # seconds: only reached when the streams do not run at once (the test fails)


class Meeting:
    """A stand-in stream whose sync waits for the other one's to have started."""

    def __init__(self, name: str, mine: threading.Event, theirs: threading.Event) -> None:
        self.name, self.mine, self.theirs = name, mine, theirs
        self.finalized = False

    def sync(self) -> None:
        self.mine.set()
        if not self.theirs.wait(WAIT):
            raise AssertionError(f"{self.name} ran alone: the streams are not read at once")

    def finalize_state_progress_markers(self) -> None:
        self.finalized = True


class Failing:
    name = "failing"

    def sync(self) -> None:
        raise RuntimeError("boom")


class StopsWhenCancelled:
    name = "patient"

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    def sync(self) -> None:
        assert self.cancelled.wait(WAIT)
        raise RuntimeError("cancelled, as asked")


def run(streams: list[t.Any], cancelled: threading.Event, ended: dict[str, str]) -> None:
    """Run them, noting in ``ended`` how each ended (its error's text, "" if it completed)."""
    run_at_once(
        streams,
        cancelled=cancelled,
        on_end=lambda stream, error: ended.__setitem__(stream.name, str(error or "")),
    )


def test_streams_run_at_once_and_each_is_finalized() -> None:
    a, b = threading.Event(), threading.Event()
    streams = [Meeting("first", a, b), Meeting("second", b, a)]
    ended: dict[str, str] = {}
    run(streams, threading.Event(), ended)  # sequential, the first would wait for the second
    assert all(stream.finalized for stream in streams)
    assert ended == {"first": "", "second": ""}


def test_one_failing_stream_stops_the_others_and_its_error_is_raised() -> None:
    cancelled = threading.Event()
    ended: dict[str, str] = {}
    with pytest.raises(RuntimeError, match="boom"):
        run([StopsWhenCancelled(cancelled), Failing()], cancelled, ended)
    assert cancelled.is_set()
    # Each stream's end is heard, the failing one with its error (the run's summary names it).
    assert ended == {"failing": "boom", "patient": "cancelled, as asked"}


def test_a_long_stream_writes_a_state_every_30_seconds(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    tap = quiet_tap(tap_config(sandbox))
    tick = itertools.count()
    tap.clock = lambda: float(next(tick))  # a second passes at every look at the clock
    catalog = select_only(tap.catalog_dict, {"profiles"})
    for entry in catalog["streams"]:
        tap.streams[entry["tap_stream_id"]].selected = entry["tap_stream_id"] == "profiles"
    capfd.readouterr()
    tap.sync_all()
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    records = [m for m in lines if m["type"] == "RECORD"]
    assert {r["record"]["id"] for r in records} == expected_keys(sandbox, "profiles")
    # The SDK alone writes a STATE every 10,000 records; here one follows within 30 clock
    # seconds (one record each) of the bookmark moving, i.e. at every page's end or so.
    states = [m["value"] for m in lines if m["type"] == "STATE"]
    pages = -(-len(records) // 100)  # profiles come 100 a page
    assert len(records) > 3 * STATE_EVERY
    assert len(states) >= pages // 2, (len(states), len(records))
    assert all(a != b for a, b in itertools.pairwise(states))  # each says something new


def test_the_final_state_follows_every_record_even_when_it_repeats_the_last(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A STATE that repeats the last one is skipped, but not the final one when records came
    after the last: the output ends on a STATE, and nothing comes after it."""
    output = SingerOutput()
    state = {"bookmarks": {"events": {"replication_key_value": "2026-12-01T00:00:00+00:00"}}}
    output.write_state(state)
    output.write_line(record_line("events", {"id": "E1"}, "2026-12-03T00:00:00+00:00"))
    output.write_state(state)  # a repeat: skipped
    output.close(final_state=state)  # repeats the first, but a record came after that one
    output.write_line(record_line("events", {"id": "E2"}, "2026-12-03T00:00:00+00:00"))
    output.write_state(state)
    kinds = [json.loads(line)["type"] for line in capfd.readouterr().out.splitlines()]
    assert kinds == ["STATE", "RECORD", "STATE"]
