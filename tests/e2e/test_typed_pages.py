"""The typed decoders of event, profile and member pages make exactly the rows the generic
path makes.

- Every events, profiles and list and segment members page the quirky sandbox serves over
  HTTP (attributions on and off, predictions on and off): the RECORD lines of the typed rows,
  one block per page (``streams.window_blocks``), parse to the same messages as the generic
  rows' lines, window, deselected columns and a member's group id applied alike (and so does
  the block of a page read generically), every key is in them, and the typed decoder read
  (nearly) every page itself (the quirks are all types it expects).
- With profile property columns, profiles are read generically (the columns come out of
  ``properties``), still one block per page.
- Pages the types do not expect (an unknown attribute or relationship, another shape, line
  breaks between tokens, not JSON) go the generic way, where unknown fields land in
  ``extra_attributes``.
- The typed attributes and relationships cover the schemas: a column added to a schema but
  not to the types would be dropped from typed rows.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import orjson
import pytest

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import records, timestamps, typed_pages
from tap_klaviyo.errors import NotFoundError
from tap_klaviyo.records import Page, event_row, normalize_timestamps, timestamp_tree
from tap_klaviyo.request_plan import Context
from tap_klaviyo.resources import RESOURCE_BY_NAME
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.children import Children
from tap_klaviyo.streams.window_blocks import window_block
from tests.conftest import tap_config
from tests.singer import quiet_tap
from tests.truth import emitted_keys, expected_keys

START = "2000-01-01T00:00:00Z"


def tap_stream(sandbox: Sandbox, name: str = "events", **settings: t.Any) -> KlaviyoStream:
    stream = quiet_tap(tap_config(sandbox, start_date=START, **settings)).streams[name]
    assert isinstance(stream, KlaviyoStream)
    return stream


def raw_pages(stream: KlaviyoStream, parent: Context | None = None) -> list[bytes]:
    """Every page the sandbox serves for the stream's own request (a child's: of ``parent``),
    as bytes."""
    bodies: list[bytes] = []
    path, params = stream.plan.path(parent), stream.plan.params(parent)
    # A decoder that keeps the body and declines it: the pages are parsed the generic way.
    for _ in stream.client.paginate(path, params, tier=stream.plan.tier, decode=bodies.append):
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


def generic_lines(
    stream: KlaviyoStream, page: Page, window: Window, parent: Context | None = None
) -> tuple[list, list]:
    """The generic rows' lines, as the fan-out writes a child's (its parent's columns added)."""
    moments: list[dt.datetime] = []
    rows = stream.rows(page, *window, moments)
    for row in rows:
        for column, value in (parent or {}).items():
            row.setdefault(column, value)
    return messages(stream.record_lines(rows)), moments


def block_lines(
    stream: KlaviyoStream, page: Page, window: Window, parent: Context | None = None
) -> tuple[list, list]:
    typed = window_block(stream, page, window, parent)
    assert typed is not None
    block, moments = typed
    lines = block.lines.splitlines(keepends=True)
    assert len(lines) == block.count
    return messages(lines), moments


def windows_of(body: bytes, key: str) -> list[Window]:
    """A window cutting the page in thirds (rows on both sides), then the whole range."""
    objects = orjson.loads(body)["data"]
    stamps = sorted(timestamps.parse(o["attributes"][key]) for o in objects)
    third = len(stamps) // 3
    whole = (dt.datetime(2000, 1, 1, tzinfo=timestamps.UTC), None)
    return [(stamps[third], stamps[2 * third]), whole] if stamps else [whole]


def assert_typed_blocks_equal_generic_lines(
    sandbox: Sandbox, stream: KlaviyoStream, deselected: tuple[str, ...]
) -> None:
    """On every page of the stream: the typed block's lines are the generic rows' lines."""
    for column in deselected:
        stream.mask[("properties", column)] = False
    typed_path = stream.resource.typed
    assert typed_path is not None
    assert stream.decode is typed_path.decode
    mode = stream.mode
    parents: list[Context | None] = [*mode.parents] if isinstance(mode, Children) else [None]
    pages: list[tuple[Context | None, bytes]] = []
    for parent in parents:
        try:
            pages += [(parent, body) for body in raw_pages(stream, parent)]
        except NotFoundError:
            continue  # a group deleted since it was listed (a quirk): the tap skips it too
    typed, written = 0, []
    for parent, body in pages:
        document = stream.decode(body)
        if document is not None:
            typed += 1
            for window in windows_of(body, stream.resource.replication_key or ""):
                expected = generic_lines(stream, Page(orjson.loads(body)), window, parent)
                assert block_lines(stream, Page(document), window, parent) == expected
                # A page the typed decoder declined: its generic rows, in one block too.
                assert block_lines(stream, Page(orjson.loads(body)), window, parent) == expected
            written += expected[0]  # the last window: the whole range
    records = [message["record"] for message in written]
    assert emitted_keys(stream.name, records) == expected_keys(sandbox, stream.name)
    assert typed >= 0.9 * len(pages), f"typed decoding read {typed} of {len(pages)} pages"


@pytest.mark.parametrize(
    ("attributions", "deselected"),
    [(True, ()), (False, ()), (True, ("uuid", "attributions"))],
    ids=["attributions", "no-attributions", "deselected"],
)
def test_typed_rows_equal_generic_rows_on_every_page(
    quirky_sandbox: Sandbox, attributions: bool, deselected: tuple[str, ...]
) -> None:
    stream = tap_stream(quirky_sandbox, event_attributions=attributions)
    assert stream.decode is typed_pages.decode_events
    assert_typed_blocks_equal_generic_lines(quirky_sandbox, stream, deselected)


@pytest.mark.parametrize(
    ("predictions", "deselected"),
    [(True, ()), (False, ()), (True, ("properties", "subscriptions", "email", "list_ids"))],
    ids=["predictions", "no-predictions", "deselected"],
)
def test_typed_profile_rows_equal_generic_rows_on_every_page(
    quirky_sandbox: Sandbox, predictions: bool, deselected: tuple[str, ...]
) -> None:
    stream = tap_stream(quirky_sandbox, "profiles", profile_predictive_analytics=predictions)
    assert_typed_blocks_equal_generic_lines(quirky_sandbox, stream, deselected)


@pytest.mark.parametrize(
    ("members", "deselected"),
    [("list_members", ()), ("segment_members", ()), ("list_members", ("email",))],
    ids=["list", "segment", "deselected"],
)
def test_typed_member_rows_equal_generic_rows_on_every_page(
    quirky_sandbox: Sandbox, members: str, deselected: tuple[str, ...]
) -> None:
    stream = tap_stream(quirky_sandbox, members)
    assert_typed_blocks_equal_generic_lines(quirky_sandbox, stream, deselected)


def test_profiles_with_property_columns_are_read_generically(quirky_sandbox: Sandbox) -> None:
    stream = tap_stream(
        quirky_sandbox,
        "profiles",
        profile_properties_as_columns=True,
        profile_properties_sample=20,
    )
    columns = (
        {c.name for c in stream.property_columns.columns} if stream.property_columns else set()
    )
    assert columns, "the sample found no property: the test would prove nothing"
    assert stream.decode is None  # the columns come out of ``properties`` as a dict
    for body in raw_pages(stream):
        for window in windows_of(body, "updated"):
            expected, moments = generic_lines(stream, Page(orjson.loads(body)), window)
            assert block_lines(stream, Page(orjson.loads(body)), window) == (expected, moments)
            assert all(columns <= message["record"].keys() for message in expected)


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


# -- profiles ---------------------------------------------------------------------------------

PROFILE: dict[str, t.Any] = {
    "type": "profile",
    "id": "P1",
    "attributes": {
        "email": "a@example.com",
        "created": "2024-12-06 13:10:12Z",
        "updated": "2025-04-18T11:17:51.5+02:00",
        "last_event_date": None,
        "location": {"city": "Denver", "latitude": "39.8041"},
        "properties": {"$source": "API", "nested": {"a": [1, "é", None]}},
        "subscriptions": {
            "email": {"marketing": {"consent_timestamp": "2025-01-01T00:00:00Z",
                                    "suppression": [{"timestamp": "2025-01-02 03:04:05Z"}]}},
            "sms": None,
        },
        "predictive_analytics": {"expected_date_of_next_order": "2027-03-24T21:16:00.450Z"},
    },
    "relationships": {
        "lists": {"data": [{"type": "list", "id": "L1"}, {"type": "list", "id": "L2"}]},
        "segments": {"links": {"self": "x"}},
        "push-tokens": {"data": []},
    },
    "links": {"self": "x"},
}  # fmt: skip


def profile_page(profile: dict[str, t.Any], **document: t.Any) -> bytes:
    return orjson.dumps({"data": [profile], "links": {"next": None}, **document})


def profile_variant(**changes: t.Any) -> dict[str, t.Any]:
    """The profile above with attributes or relationships replaced (None: removed)."""
    profile = json.loads(json.dumps(PROFILE))
    for path, value in changes.items():
        part, name = path.split("__")
        if value is None:
            profile[part].pop(name, None)
        else:
            profile[part][name.replace("_", "-")] = value
    return profile


@pytest.mark.parametrize(
    "profile",
    [
        PROFILE,
        profile_variant(attributes__location=None, attributes__subscriptions=None),
        profile_variant(attributes__properties=None, relationships__lists=None),
        {**PROFILE, "attributes": {**PROFILE["attributes"], "properties": None, "email": None}},
        {"type": "profile", "id": "P2"},
    ],
    ids=["base", "fewer", "no-lists", "nulls", "bare"],
)
def test_typed_profile_rows_equal_generic_ones(profile: dict[str, t.Any]) -> None:
    body = profile_page(profile)
    document = typed_pages.PROFILE_PAGES.decode(body)
    assert document is not None
    typed = typed_pages.PROFILE_PAGES.shape(document["data"][0], Page(document))
    generic = records.to_record(orjson.loads(body)["data"][0])
    normalize_timestamps(generic, timestamp_tree(load_schema("profiles")))
    assert orjson.loads(orjson.dumps(typed, default=_raw)) == generic


@pytest.mark.parametrize(
    "body",
    [
        profile_page(profile_variant(attributes__new_field=1)),
        profile_page(profile_variant(relationships__tags={"data": []})),
        profile_page(profile_variant(relationships__lists={"data": None})),
        profile_page(profile_variant(relationships__lists={"data": {"type": "list", "id": "L"}})),
        json.dumps({"data": [PROFILE]}, indent=1).encode(),
    ],
    ids=["unknown-attribute", "unknown-relationship", "to-many-null", "to-one", "line-breaks"],
)
def test_unexpected_profile_pages_take_the_generic_path(body: bytes) -> None:
    assert typed_pages.PROFILE_PAGES.decode(body) is None


def test_typed_profiles_cover_the_schema() -> None:
    typed = set(typed_pages.ProfileRecord.__struct_fields__) | {"extra_attributes"}
    assert typed == set(load_schema("profiles")["properties"])


# -- list and segment members -----------------------------------------------------------------

MEMBER: dict[str, t.Any] = {
    "type": "profile",
    "id": "P1",
    "attributes": {"email": "a@example.com", "joined_group_at": "2025-04-18T11:17:51.5+02:00"},
    "relationships": {"lists": {"links": {"self": "x"}}},
    "links": {"self": "x"},
}
LIST_MEMBER_PAGES = RESOURCE_BY_NAME["list_members"].typed


@pytest.mark.parametrize(
    "member",
    [
        MEMBER,
        {**MEMBER, "attributes": {"email": None, "joined_group_at": "2025-04-18 09:17:51Z"}},
        {**MEMBER, "attributes": {"joined_group_at": None}},
        {"type": "profile", "id": "P2"},
    ],
    ids=["base", "spaced", "fewer", "bare"],
)
def test_typed_member_rows_equal_generic_ones(member: dict[str, t.Any]) -> None:
    assert LIST_MEMBER_PAGES is not None
    body = profile_page(member)
    document = LIST_MEMBER_PAGES.decode(body)
    assert document is not None
    typed = LIST_MEMBER_PAGES.shape(document["data"][0], Page(document))
    generic = records.member_row(orjson.loads(body)["data"][0])
    normalize_timestamps(generic, timestamp_tree(load_schema("list_members")))
    assert typed == generic


@pytest.mark.parametrize(
    "body",
    [
        profile_page({**MEMBER, "attributes": {**MEMBER["attributes"], "phone_number": "+1"}}),
        profile_page({**MEMBER, "attributes": None}),
        profile_page({**MEMBER, "attributes": {"joined_group_at": 1.5}}),
        json.dumps({"data": [MEMBER]}, indent=1).encode(),
    ],
    ids=["unknown-attribute", "null-attributes", "number-for-a-timestamp", "line-breaks"],
)
def test_unexpected_member_pages_take_the_generic_path(body: bytes) -> None:
    assert LIST_MEMBER_PAGES is not None
    assert LIST_MEMBER_PAGES.decode(body) is None


@pytest.mark.parametrize("members", ["list_members", "segment_members"])
def test_typed_members_cover_the_schema(members: str) -> None:
    # The group's id included: the fan-out fills it in (a column the row lacks would fail).
    typed = RESOURCE_BY_NAME[members].typed
    assert typed is not None
    document = typed.decode(profile_page(MEMBER))
    assert document is not None
    row = typed.rows(document["data"], Page(document))[0]
    assert {*row.__struct_fields__, "extra_attributes"} == set(load_schema(members)["properties"])
