"""Boundaries and drift, and bad input (beyond tests/e2e/test_errors.py).

- Ties on the replication key and records equal to a ``greater-than`` bound served again;
  future-dated events; late-arriving events and ``lookback_window``; a start_date the API
  cannot be asked about; older state formats (migrated and honoured, not crashed).
- Unknown new fields, a field whose type varies, property values as arrays, a 1 MB
  ``event_properties``: passed through or left out, never a crash, one warning per field.
- Catalog and state files that are malformed or name unknown streams: one line naming the
  problem and a non-zero exit (no traceback), or a warning and a sync that goes on.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data._events import NewEvent
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.tap import TapKlaviyo
from tests.conftest import BOOKMARK_ONLY, SMALL, tap_catalog, tap_config
from tests.singer import TapRun, quiet_tap, run_tap, select_only

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)
README = Path(__file__).resolve().parents[2] / "README.md"


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def record_form(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def one_line_error(run: TapRun) -> str:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = [line for line in run.stderr.splitlines() if line.startswith("tap-klaviyo: error:")]
    assert len(lines) == 1, run.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def account() -> Iterator[Sandbox]:
    """A sandbox of this module's own (its clock is advanced, late events are added)."""
    # Quirks on whatever KLAVIYO_SANDBOX_QUIRKS says: the repeated bounds are one of them.
    with running_sandbox(seed=41, sizes=SMALL, rate_limits=False, quirks=True) as running:
        yield running


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return tap_catalog()


@pytest.fixture(scope="module")
def first_sync(account: Sandbox, catalog: dict[str, Any]) -> TapRun:
    """events and profiles, from scratch, before anything in this module changes the account."""
    run = run_tap(tap_config(account), catalog=select_only(catalog, {"events", "profiles"}))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def ids_since(account: Sandbox, collection: str, moment: dt.datetime) -> set[str]:
    """Ids whose timeline field is at or after ``moment`` (whole seconds)."""
    return set(account.account.truth(collection, since=moment - SECOND)["ids"])


# --- ties and a greater-than bound served again ----------------------------------------------


def served_again(account: Sandbox, second: str) -> bool:
    """Does the sandbox serve profiles exactly at ``greater-than(updated, second)`` again?"""
    bound = parse(second).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = requests.get(
        f"{account.url}/api/profiles",
        params={"filter": f"greater-than(updated,{bound})", "sort": "updated", "page[size]": "100"},
        headers={"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2026-07-15"},
        timeout=10,
    )
    response.raise_for_status()
    return any(p["attributes"]["updated"] == second for p in response.json()["data"])


def test_ties_at_the_bookmark_and_repeated_bound_records(
    account: Sandbox, catalog: dict[str, Any], first_sync: TapRun
) -> None:
    """Profiles are read with ``greater-than`` one second early. Resuming at a second that many
    profiles share reads them all again; resuming one second after a shared second, where the
    API serves the bound's records again (a real Klaviyo quirk), must not emit those."""
    profiles = first_sync.records["profiles"]
    per_second = Counter(p["updated"] for p in profiles)
    ties = sorted((s for s, n in per_second.items() if n >= 2), key=lambda s: -per_second[s])
    assert ties, "the sandbox should have profiles sharing an updated second"
    repeated = [s for s in ties[:40] if served_again(account, s)]
    assert repeated, "the sandbox should serve some greater-than bounds' records again"
    selection = select_only(catalog, {"profiles"})
    # No reconciliation pass (a state without one is due): its ids are not the subject.
    config = tap_config(account, reconcile_every_days=0)

    for bookmark in (ties[0], record_form(parse(repeated[0]) + SECOND)):
        state = {
            "bookmarks": {
                "profiles": {"replication_key": "updated", "replication_key_value": bookmark}
            }
        }
        run = run_tap(config, catalog=selection, state=state)
        assert run.returncode == 0, run.stderr[-3000:]
        emitted = [p["id"] for p in run.records["profiles"]]
        expected = {p["id"] for p in profiles if p["updated"] >= bookmark}
        assert len(emitted) == len(set(emitted)), "a profile was emitted twice in one run"
        assert set(emitted) == expected, (bookmark, len(set(emitted)), len(expected))


# --- future-dated events ---------------------------------------------------------------------


def test_future_dated_events_are_emitted_and_never_bookmarked(
    account: Sandbox, catalog: dict[str, Any], first_sync: TapRun
) -> None:
    now = dt.datetime.now(UTC)
    events = first_sync.records["events"]
    future = {e["id"] for e in events if parse(e["datetime"]) > now}
    assert future, "the sandbox should have future-dated events"
    bookmark = first_sync.state["bookmarks"]["events"]["replication_key_value"]  # type: ignore[index]
    assert parse(bookmark) <= now
    # The next run reads them again (they are still ahead), and only what is new besides.
    run = run_tap(
        tap_config(account, **BOOKMARK_ONLY),
        catalog=select_only(catalog, {"events"}),
        state={"bookmarks": {"events": first_sync.state["bookmarks"]["events"]}},  # type: ignore[index]
    )
    assert run.returncode == 0, run.stderr[-3000:]
    emitted = {e["id"] for e in run.records["events"]}
    assert future <= emitted
    assert emitted == ids_since(account, "events", parse(bookmark))
    assert parse(run.state["bookmarks"]["events"]["replication_key_value"]) <= dt.datetime.now(UTC)  # type: ignore[index]


# --- late-arriving events: lookback_window ---------------------------------------------------


def add_late_event(account: Sandbox, when: dt.datetime) -> str:
    """An event that reaches the account now, stamped ``when`` (in the past)."""
    events = account.account.events  # type: ignore[attr-defined]
    index = events.total
    stamp = int(when.timestamp())
    events.overlay.events[index] = NewEvent(stamp, 0, 0)
    bisect.insort(events.overlay.keys, (stamp, index))
    return str(events.id(index))


def test_lookback_window_reads_late_events_again(
    account: Sandbox, catalog: dict[str, Any], first_sync: TapRun
) -> None:
    assert "`lookback_window`" in README.read_text(encoding="utf-8"), "undocumented setting"
    state = {"bookmarks": {"events": first_sync.state["bookmarks"]["events"]}}  # type: ignore[index]
    bookmark = parse(state["bookmarks"]["events"]["replication_key_value"])
    late = add_late_event(account, bookmark - dt.timedelta(minutes=10))
    assert late in account.account.truth("events")["ids"]
    selection = select_only(catalog, {"events"})

    plain = run_tap(tap_config(account, **BOOKMARK_ONLY), catalog=selection, state=state)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert late not in plain.ids("events"), "without a lookback, a late event is not re-read"

    looking_back = run_tap(
        tap_config(account, lookback_window=3600, late_events_days=0),
        catalog=selection,
        state=state,
    )
    assert looking_back.returncode == 0, looking_back.stderr[-3000:]
    emitted = looking_back.ids("events")
    assert late in emitted
    assert emitted == ids_since(account, "events", bookmark - dt.timedelta(seconds=3600))
    new_bookmark = looking_back.state["bookmarks"]["events"]["replication_key_value"]  # type: ignore[index]
    assert parse(new_bookmark) >= bookmark, "a lookback must never move the bookmark back"


def test_lookback_window_must_not_be_negative(account: Sandbox) -> None:
    run = run_tap(tap_config(account, lookback_window=-60))
    assert run.returncode == 2
    assert "'lookback_window'" in one_line_error(run)


# --- older state formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "bare",
        "since",
        "field",
        "epoch",
    ],
)
def test_older_state_formats_are_migrated_and_honoured(
    account: Sandbox, catalog: dict[str, Any], first_sync: TapRun, entry: str
) -> None:
    datetimes = sorted(e["datetime"] for e in first_sync.records["events"])
    moment = parse(datetimes[len(datetimes) // 2])  # half the events are older
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    bookmark: Any = {
        "bare": iso,  # {"bookmarks": {"events": "2024-…"}}
        "since": {"since": iso},  # singer-io tap-klaviyo
        "field": {"datetime": iso},  # the field name as key
        "epoch": {"since": int(moment.timestamp())},
    }[entry]
    state = {"bookmarks": {"events": bookmark}}
    config = tap_config(account, **BOOKMARK_ONLY)
    run = run_tap(config, catalog=select_only(catalog, {"events"}), state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    emitted = run.ids("events")
    assert emitted == ids_since(account, "events", moment)
    assert len(emitted) < len(first_sync.records["events"])
    assert run.state["bookmarks"]["events"]["replication_key"] == "datetime"  # type: ignore[index]


# --- bad state files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        [],
        "events",
        5,
        {"bookmarks": []},
        {"bookmarks": "events"},
        {"bookmarks": {"campaigns": {"partitions": "email"}}},
        {"bookmarks": {"campaigns": {"partitions": [5]}}},
        {
            "bookmarks": {
                "events": {"replication_key": "datetime", "replication_key_value": "not a date"}
            }
        },
    ],
    ids=[
        "a list",
        "a string",
        "a number",
        "bookmarks a list",
        "bookmarks a string",
        "partitions a string",
        "partitions of numbers",
        "unreadable bookmark value",
    ],
)
def test_malformed_state_is_one_line_or_a_warning(
    account: Sandbox, catalog: dict[str, Any], state: Any
) -> None:
    run = run_tap(
        tap_config(account), catalog=select_only(catalog, {"campaigns", "events"}), state=state
    )
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    if run.returncode == 0:
        # Acceptable too: the unreadable part is named in a warning and ignored.
        assert "WARNING" in run.stderr
        assert any("state" in line.lower() for line in run.stderr.splitlines() if "WARNING" in line)
    else:
        assert run.returncode == 2, run.stderr[-3000:]
        assert "state" in one_line_error(run).lower()


def test_state_for_unknown_streams_is_warned_and_ignored(
    account: Sandbox, catalog: dict[str, Any]
) -> None:
    state = {
        "bookmarks": {
            "ghost_stream": {"replication_key_value": "2024-01-01T00:00:00+00:00"},
            "tags": {},
        }
    }
    run = run_tap(tap_config(account), catalog=select_only(catalog, {"tags"}), state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ghost_stream" in run.stderr
    assert run.records["tags"]


# --- bad catalog files -----------------------------------------------------------------------


def broken_entry(catalog: dict[str, Any], **changes: Any) -> dict[str, Any]:
    tags = next(
        e for e in select_only(catalog, {"tags"})["streams"] if e["tap_stream_id"] == "tags"
    )
    return {"streams": [{**tags, **changes}]}


@pytest.mark.parametrize(
    "case",
    [
        "a list",
        "streams an object",
        "entry without tap_stream_id",
        "schema a string",
        "metadata a number",
        "metadata without breadcrumb",
    ],
)
def test_malformed_catalog_is_one_line(
    account: Sandbox, catalog: dict[str, Any], tmp_path: Path, case: str
) -> None:
    content: Any = {
        "a list": [],
        "streams an object": {"streams": {"tags": {}}},
        "entry without tap_stream_id": {"streams": [{"stream": "tags"}]},
        "schema a string": broken_entry(catalog, schema="object"),
        "metadata a number": broken_entry(catalog, metadata=5),
        "metadata without breadcrumb": broken_entry(
            catalog, metadata=[{"metadata": {"selected": True}}]
        ),
    }[case]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(content))
    run = run_tap(tap_config(account), "--catalog", str(path))
    line = one_line_error(run)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "catalog" in line
    assert run.records == {}


def test_catalog_naming_unknown_streams_warns_and_syncs_the_rest(
    account: Sandbox, catalog: dict[str, Any]
) -> None:
    selection = select_only(catalog, {"tags"})
    ghost = json.loads(json.dumps(selection["streams"][0]))
    ghost["tap_stream_id"] = ghost["stream"] = "ghost_stream"
    for metadata in ghost["metadata"]:
        if metadata["breadcrumb"] == []:
            metadata["metadata"]["selected"] = True
    selection["streams"].append(ghost)
    run = run_tap(tap_config(account), catalog=selection)
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "ghost_stream" in line]
    assert warnings
    assert all("warning" in line.lower() for line in warnings)
    assert run.records["tags"]
    assert "ghost_stream" not in run.records


# --- bad dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"end_date": "next year"}, "'end_date'"),
        ({"end_date": "2024-02-30T00:00:00Z"}, "'end_date'"),
        ({"start_date": "2024-13-01T00:00:00Z"}, "'start_date'"),
        ({"start_date": 20240101}, "'start_date'"),
        (
            {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"},
            "'end_date' must be later than 'start_date'",
        ),
        (
            {"start_date": "2024-01-01T00:00:00+05:00", "end_date": "2023-12-31T18:00:00Z"},
            "'end_date' must be later than 'start_date'",
        ),
    ],
    ids=["end words", "end Feb 30", "start month 13", "start a number", "end = start", "offsets"],
)
def test_bad_dates_fail_before_any_request(
    account: Sandbox, settings: dict[str, Any], words: str
) -> None:
    before = account.requests()["total"]
    run = run_tap(tap_config(account, **settings))
    assert run.returncode == 2, run.stderr[-3000:]
    assert words in one_line_error(run)
    assert run.stdout == ""
    assert account.requests()["total"] == before


@pytest.mark.parametrize("start_date", ["0999-12-31T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_very_early_start_date_is_refused_or_synced(
    account: Sandbox, catalog: dict[str, Any], start_date: str
) -> None:
    """ "Everything since year 1" is a common way to say "all history": either the setting is
    refused up front with one line naming it, or the sync works; never an API error."""
    run = run_tap(
        tap_config(account, start_date=start_date),
        catalog=select_only(catalog, {"events", "lists"}),
    )
    if run.returncode == 2:
        assert "'start_date'" in one_line_error(run)
        return
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records["events"]
    assert run.records["lists"]


# --- drift: unknown fields, varying types, very large records --------------------------------


@pytest.fixture
def tap() -> TapKlaviyo:
    return quiet_tap({"api_key": DEMO_API_KEY, "base_url": "http://127.0.0.1:9"})


def written(tap: TapKlaviyo, capsysbinary: pytest.CaptureFixture[bytes]) -> list[dict[str, Any]]:
    tap.output.flush()
    lines = capsysbinary.readouterr().out.splitlines()
    return [json.loads(line) for line in lines]


def field_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return [m for m in messages if "brand_new" in m or "also_new" in m]


def test_unknown_fields_land_in_extra_attributes_named_in_one_line(
    tap: TapKlaviyo, capsysbinary: pytest.CaptureFixture[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stream = tap.streams["events"]
    assert isinstance(stream, KlaviyoStream)
    for number in range(1000):
        stream.write_record(
            {
                "id": f"E{number}",
                "datetime": "2024-01-01T00:00:00+00:00",
                "event_properties": {"$value": number},
                "brand_new": number,
                **({"also_new": {"nested": True}} if number % 4 == 0 else {}),
            }
        )
    stream.writer.log_extra_attributes()  # what the stream's end does
    messages = written(tap, capsysbinary)
    assert len(messages) == 1000
    assert all(m["type"] == "RECORD" and m["stream"] == "events" for m in messages)
    records = [m["record"] for m in messages]
    assert all("brand_new" not in r and "also_new" not in r for r in records)
    assert [r["extra_attributes"]["brand_new"] for r in records] == list(range(1000))
    assert [r["extra_attributes"].get("also_new") for r in records] == [
        {"nested": True} if n % 4 == 0 else None for n in range(1000)
    ]
    assert [r["event_properties"]["$value"] for r in records] == list(range(1000))
    assert stream.schema["properties"]["extra_attributes"]["type"] == ["object", "null"]
    warnings = field_warnings(caplog)
    assert len(warnings) == 1, warnings  # one line per run, not one per record or field
    assert "also_new (250 records)" in warnings[0]
    assert "brand_new (1,000 records)" in warnings[0]


def test_unknown_fields_with_flattening_never_crash_nor_warn_per_record(
    capsysbinary: pytest.CaptureFixture[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """With stream maps or flattening on, records take singer-sdk's path."""
    caplog.set_level(logging.WARNING)
    tap = quiet_tap(
        {
            "api_key": DEMO_API_KEY,
            "base_url": "http://127.0.0.1:9",
            "flattening_enabled": True,
            "flattening_max_depth": 1,
        }
    )
    stream = tap.streams["profiles"]
    assert isinstance(stream, KlaviyoStream)
    for number in range(300):
        stream.write_record(
            {"id": f"P{number}", "updated": "2024-01-01T00:00:00+00:00", "brand_new": number}
        )
    messages = [m for m in written(tap, capsysbinary) if m["type"] == "RECORD"]
    assert len(messages) == 300
    assert len(field_warnings(caplog)) <= 1


def test_a_field_whose_type_varies_is_passed_through(
    tap: TapKlaviyo, capsysbinary: pytest.CaptureFixture[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stream = tap.streams["profiles"]
    assert isinstance(stream, KlaviyoStream)
    variants: list[Any] = ["40.7128", 40.7128, -74, None, "", "n/a"]
    for number, latitude in enumerate(variants):
        stream.write_record(
            {
                "id": f"P{number}",
                "updated": "2024-01-01T00:00:00+00:00",
                "location": {"latitude": latitude, "longitude": str(latitude)},
                "properties": {"sizes": ["S", "M"], "score": [1, 2.5, None], "nested": [{"a": 1}]},
            }
        )
    records = [m["record"] for m in written(tap, capsysbinary)]
    assert [r["location"]["latitude"] for r in records] == variants
    assert all(r["properties"]["sizes"] == ["S", "M"] for r in records)
    assert all(r["properties"]["nested"] == [{"a": 1}] for r in records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_one_megabyte_event_passes_through_intact(
    tap: TapKlaviyo, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    stream = tap.streams["events"]
    assert isinstance(stream, KlaviyoStream)
    properties = {
        "$value": 12.5,
        "body": "é" * 300_000 + "x" * 400_000,
        "items": [{"sku": f"SKU-{n}", "qty": n} for n in range(5000)],
        "deep": {"a": {"b": {"c": ["d"] * 1000}}},
    }
    assert len(json.dumps(properties).encode()) > 1_000_000
    expected = json.loads(json.dumps(properties))
    stream.write_record(
        {"id": "BIG", "datetime": "2024-01-01T00:00:00+00:00", "event_properties": properties}
    )
    stream.write_record({"id": "AFTER", "datetime": "2024-01-01T00:00:01+00:00"})
    messages = written(tap, capsysbinary)
    assert [m["record"]["id"] for m in messages] == ["BIG", "AFTER"]
    assert messages[0]["record"]["event_properties"] == expected
