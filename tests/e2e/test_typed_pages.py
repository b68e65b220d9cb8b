"""The typed decoder of event pages makes exactly the rows the generic path makes.

- Every events page the quirky sandbox serves over HTTP, with attributions on and off: the
  RECORD lines of the typed rows parse to the same records as the generic rows' lines, and
  the typed decoder read (nearly) every page itself (the quirks are all types it expects).
- Pages the types do not expect (an unknown attribute or relationship, another shape, line
  breaks between tokens, not JSON) go the generic way, where unknown fields land in
  ``extra_attributes``.
- The typed attributes and relationships cover the events schema: a column added to the
  schema but not to the types would be dropped from typed rows.
"""

from __future__ import annotations

import json
import typing as t

import orjson
import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import records, typed_pages
from tap_klaviyo.records import Page, event_row
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.streams.base import KlaviyoStream
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


def lines_of(stream: KlaviyoStream, page: Page) -> list[dict[str, t.Any]]:
    messages = []
    for line in stream.record_lines(stream.rows(page, None, None)):
        assert isinstance(line, memoryview)  # the tap's own path: finished RECORD lines
        message = orjson.loads(line)
        message.pop("time_extracted")
        messages.append(message)
    return messages


@pytest.mark.parametrize("attributions", [True, False], ids=["attributions", "no-attributions"])
def test_typed_rows_equal_generic_rows_on_every_page(
    quirky_sandbox: Sandbox, attributions: bool
) -> None:
    stream = events_stream(quirky_sandbox, event_attributions=attributions)
    assert stream.decode is typed_pages.decode_events
    bodies = raw_pages(stream)
    typed = 0
    for body in bodies:
        document = typed_pages.decode_events(body)
        if document is not None:
            typed += 1
            assert lines_of(stream, Page(document)) == lines_of(stream, Page(orjson.loads(body)))
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
    typed = typed_pages.event_row(document["data"][0], Page(document))
    generic = event_row(orjson.loads(body)["data"][0], Page(orjson.loads(body)))
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
