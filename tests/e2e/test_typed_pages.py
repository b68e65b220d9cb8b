"""The typed decoder of event pages makes exactly the rows the generic path makes.

- Every events page the quirky sandbox serves over HTTP, with attributions on and off: the
  RECORD lines of the typed rows, one block per page (``streams.window_blocks``), parse to the same
  messages as the generic rows' lines, window and deselected columns applied alike (and so
  does the block of a page read generically), and the typed decoder read (nearly) every page
  itself (the quirks are all types it expects).
- Pages the types do not expect (an unknown attribute or relationship, another shape, line
  breaks between tokens, not JSON) go the generic way, where unknown fields land in
  ``extra_attributes``.
- The typed attributes and relationships cover the events schema: a column added to the
  schema but not to the types would be dropped from typed rows.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import orjson
import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import records, timestamps, typed_pages
from tap_klaviyo.records import Page, event_row, normalize_timestamps, timestamp_tree
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.window_blocks import window_block
from tests.conftest import tap_config
from tests.singer import quiet_tap
from tests.truth import expected_keys

START = "2000-01-01T00:00:00Z"


def events_stream(sandbox: Sandbox, **settings: t.Any) -> KlaviyoStream:
    stream = quiet_tap(tap_config(sandbox, start_date=START, **settings)).streams["events"]
    assert isinstance(stream, KlaviyoStream)
    return stream


def raw_pages(stream: KlaviyoStream) -> list[bytes]:
    """Every events page the sandbox serves for the stream's own request, as bytes."""
    bodies: list[bytes] = []
    params = stream.plan.params(None)
    # A decoder that keeps the body and declines it: the pages are parsed the generic way.
    for _ in stream.client.paginate(
        "/api/events", params, tier=stream.plan.tier, decode=bodies.append
    ):
        pass
    return bodies


Window = tuple[dt.datetime, dt.datetime | None]


def messages(lines: t.Iterable[t.Any]) -> list[dict[str, t.Any]]:
    """The RECORD messages of finished lines (the tap's own path: never rows)."""
    parsed = []
    for line in lines:
        assert isinstance(line, bytes | memoryview), "a row, not a finished RECORD line"
        parsed.append(orjson.loads(line))
    for message in parsed:
        message.pop("time_extracted")
    return parsed


def lines_of(stream: KlaviyoStream, page: Page) -> list[dict[str, t.Any]]:
    """The RECORD messages of a page's generic rows, whatever their time."""
    return messages(stream.record_lines(stream.rows(page, None, None)))


def generic_lines(stream: KlaviyoStream, page: Page, window: Window) -> tuple[list, list]:
    moments: list[dt.datetime] = []
    return messages(stream.record_lines(stream.rows(page, *window, moments))), moments


def block_lines(stream: KlaviyoStream, page: Page, window: Window) -> tuple[list, list]:
    typed = window_block(stream, page, window)
    assert typed is not None
    block, moments = typed
    lines = block.lines.splitlines(keepends=True)
    assert len(lines) == block.count
    return messages(lines), moments


def windows_of(body: bytes) -> list[Window]:
    """The whole range, and a window cutting the page in thirds (rows on both sides)."""
    events = orjson.loads(body)["data"]
    stamps = sorted(timestamps.parse(event["attributes"]["datetime"]) for event in events)
    third = len(stamps) // 3
    whole = (dt.datetime(2000, 1, 1, tzinfo=timestamps.UTC), None)
    return [whole, (stamps[third], stamps[2 * third])]


@pytest.mark.parametrize(
    ("attributions", "deselected"),
    [(True, ()), (False, ()), (True, ("uuid", "attributions"))],
    ids=["attributions", "no-attributions", "deselected"],
)
def test_typed_rows_equal_generic_rows_on_every_page(
    quirky_sandbox: Sandbox, attributions: bool, deselected: tuple[str, ...]
) -> None:
    stream = events_stream(quirky_sandbox, event_attributions=attributions)
    for column in deselected:
        stream.mask[("properties", column)] = False
    assert stream.decode is typed_pages.decode_events
    bodies = raw_pages(stream)
    typed = 0
    for body in bodies:
        document = typed_pages.decode_events(body)
        if document is not None:
            typed += 1
            for window in windows_of(body):
                expected = generic_lines(stream, Page(orjson.loads(body)), window)
                assert block_lines(stream, Page(document), window) == expected
                # A page the typed decoder declined: its generic rows, in one block too.
                assert block_lines(stream, Page(orjson.loads(body)), window) == expected
    events = {event["id"] for body in bodies for event in orjson.loads(body)["data"]}
    assert events == expected_keys(quirky_sandbox, "events")
    assert typed >= 0.9 * len(bodies), f"typed decoding read {typed} of {len(bodies)} pages"


EVENT: dict[str, t.Any] = {
    "type": "event",
    "id": "E1",
    "attributes": {
        "timestamp": 1.5,
        "event_properties": {"$value": 9.99, "nested": {"a": [1, "é", None]}},
        "datetime": "2025-12-22T19:40:38.25-05:00",
        "uuid": None,
    },
    "relationships": {
        "metric": {"data": None, "links": {"self": "x"}},
        "profile": {"data": {"type": "profile", "id": "P1"}},
        "attributions": {"data": [{"type": "attribution", "id": "A1"}, {"type": "attribution",
                                                                         "id": "A2"}]},
    },
}  # fmt: skip
ATTRIBUTION = {
    "type": "attribution",
    "id": "A1",
    "relationships": {
        "campaign": {"data": {"type": "campaign", "id": "C1"}},
        "flow": {"data": None},
    },
}


def page_of(event: dict[str, t.Any], **document: t.Any) -> bytes:
    return orjson.dumps({"data": [event], "included": [ATTRIBUTION], "links": {}, **document})


def variant(**changes: t.Any) -> dict[str, t.Any]:
    """The event above with attributes or relationships replaced (None: removed)."""
    event = json.loads(json.dumps(EVENT))
    for path, value in changes.items():
        part, name = path.split("__")
        if value is None:
            event[part].pop(name, None)
        else:
            event[part][name] = value
    return event


@pytest.mark.parametrize(
    "event",
    [
        EVENT,
        variant(relationships__metric={"data": {"type": "metric", "id": "M1"}}),
        variant(relationships__metric={"links": {"self": "x"}}),
        variant(relationships__profile=None, relationships__attributions=None),
        variant(relationships__attributions={"data": []}),
        variant(attributes__uuid=None, attributes__event_properties=None),
        variant(attributes__datetime="2025-12-23 00:40:38Z"),
    ],
    ids=["base", "metric", "links-only", "no-relationships", "no-attributions", "fewer",
         "spaced"],
)  # fmt: skip
def test_typed_event_rows_equal_generic_ones(event: dict[str, t.Any]) -> None:
    body = page_of(event)
    document = typed_pages.decode_events(body)
    assert document is not None
    typed = typed_pages.EVENT_PAGES.shape(document["data"][0], Page(document))
    generic = event_row(orjson.loads(body)["data"][0], Page(orjson.loads(body)))
    normalize_timestamps(generic, timestamp_tree(load_schema("events")))
    assert orjson.loads(orjson.dumps(typed, default=_raw)) == generic


def _raw(value: t.Any) -> t.Any:
    return orjson.Fragment(bytes(value))


@pytest.mark.parametrize(
    "body",
    [
        page_of(variant(attributes__new_field=1)),
        page_of(variant(relationships__session={"data": {"type": "session", "id": "S"}})),
        page_of(variant(relationships__metric={"data": [{"type": "metric", "id": "M"}]})),
        page_of(variant(relationships__attributions={"data": None})),
        page_of(variant(attributes__event_properties=None), data=[{"id": "E", "attributes": None}]),
        json.dumps({"data": [EVENT]}, indent=1).encode(),
        b"<html>not json</html>",
    ],
    ids=["unknown-attribute", "unknown-relationship", "to-one-as-list", "to-many-null",
         "null-attributes", "line-breaks", "not-json"],
)  # fmt: skip
def test_unexpected_pages_take_the_generic_path(body: bytes) -> None:
    assert typed_pages.decode_events(body) is None


def test_typed_events_cover_the_schema() -> None:
    # ``extra_attributes`` holds what the types do not know: such a page is read generically.
    derived = {"metric_name", "attributions", "extra_attributes"} | {
        f"attributed_{column}" for column in records.ATTRIBUTION_COLUMNS
    }
    typed = {"id", *typed_pages.ATTRIBUTES, "attribution_ids"} | {
        column for _, column in typed_pages.TO_ONE
    }
    assert typed | derived == set(load_schema("events")["properties"])


def test_the_typed_event_row_normalizes_every_timestamp_column() -> None:
    # ``event_row`` normalizes ``datetime``: a date-time column added to the schema would not be.
    assert timestamp_tree(load_schema("events")) == {"datetime": True}
