"""Event pages decoded by type (msgspec): the hot path of the largest stream.

An events backfill is millions of records, and most of each is ``event_properties``, which
the tap never reads. Decoded as ``msgspec.Raw`` it is neither parsed into Python objects nor
encoded again: its bytes are copied into the RECORD line as Klaviyo sent them. The rest of
each row is what ``records.event_row`` makes of the same event (a test compares the two on
every variant the sandbox serves).

A page with anything the types do not expect (an attribute or relationship the schema does
not know, a relationship of another shape) is parsed the generic way instead, so an unknown
field lands in the row's ``extra_attributes`` and nothing is lost; so is a page with line
breaks between its tokens, which a raw value would carry into a RECORD line.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from tap_klaviyo import records
from tap_klaviyo.records import Page, Row


@dataclass(frozen=True)
class TypedPages:
    """An endpoint's typed page decoder (None: parse this page generically) and the row
    shape of its typed objects."""

    decode: t.Callable[[bytes], dict[str, t.Any] | None]
    shape: t.Callable[[t.Any, Page | None], Row]


class Ref(Struct):
    id: str


class ToOne(Struct):
    data: Ref | UnsetType | None = UNSET


class ToMany(Struct):
    data: list[Ref] | UnsetType = UNSET


class EventAttributes(Struct, forbid_unknown_fields=True):
    timestamp: t.Any = UNSET
    event_properties: Raw | UnsetType = UNSET
    datetime: t.Any = UNSET
    uuid: t.Any = UNSET


class EventRelationships(Struct, forbid_unknown_fields=True):
    metric: ToOne | UnsetType | None = UNSET
    profile: ToOne | UnsetType | None = UNSET
    attributions: ToMany | UnsetType | None = UNSET


class Event(Struct):
    id: str
    attributes: EventAttributes = msgspec.field(default_factory=EventAttributes)
    relationships: EventRelationships = msgspec.field(default_factory=EventRelationships)


class EventsDocument(Struct):
    data: list[Event]
    included: list[dict[str, t.Any]] = msgspec.field(default_factory=list)
    links: dict[str, t.Any] | None = None


ATTRIBUTES = tuple(EventAttributes.__struct_fields__)
TO_ONE = (("metric", "metric_id"), ("profile", "profile_id"))
_decoder = msgspec.json.Decoder(EventsDocument)


def decode_events(body: bytes) -> dict[str, t.Any] | None:
    """An events page as a document of typed events; None if it must be parsed generically."""
    if b"\n" in body or b"\r" in body:
        return None
    try:
        document = _decoder.decode(body)
    except msgspec.DecodeError:  # unexpected types (ValidationError), or not JSON at all
        return None
    return {"data": document.data, "included": document.included, "links": document.links}


def event_row(event: Event, page: Page | None = None) -> Row:
    """``records.event_row`` of a typed event: the same columns, present in the same cases."""
    attributes, relationships = event.attributes, event.relationships
    row: Row = {"id": event.id}
    for name in ATTRIBUTES:
        value = getattr(attributes, name)
        if value is not UNSET:
            row[name] = value
    for name, column in TO_ONE:
        one = getattr(relationships, name)
        if one and one.data is not UNSET:
            row[column] = one.data.id if one.data else None
    many = relationships.attributions
    if many and many.data is not UNSET:
        row["attribution_ids"] = [ref.id for ref in many.data]
    return records.with_metric_and_attribution(row, page)


EVENT_PAGES = TypedPages(decode_events, event_row)
