"""Event pages decoded by type (msgspec): the hot path of the largest stream.

An events backfill is millions of records, and most of each is ``event_properties``, which
the tap never reads. Decoded as ``msgspec.Raw`` it is neither parsed into Python objects nor
encoded again: its bytes are copied into the RECORD line as Klaviyo sent them. Each event
becomes an ``EventRecord`` (a struct, not a dict): the columns ``records.event_row`` makes of
the same event, present in the same cases (a test compares the two on every page the quirky
sandbox serves), encoded into RECORD lines a page at a time (``tap_klaviyo.record_blocks``).

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

from tap_klaviyo import records, timestamps
from tap_klaviyo.records import Page, Row


@dataclass(frozen=True)
class TypedPages:
    """An endpoint's typed page decoder (None: parse this page generically) and the typed rows
    of a page's objects (a page at a time: what every row looks up is found once per page),
    timestamps in the rows' one form."""

    decode: t.Callable[[bytes], dict[str, t.Any] | None]
    rows: t.Callable[[list[t.Any], Page], t.Sequence[Struct]]

    def shape(self, resource: t.Any, page: Page | None = None) -> Row:
        """The typed row as a dict: the generic path's row of the same object."""
        return as_dict(self.rows([resource], page or Page({"data": []}))[0])


def as_dict(row: Struct) -> Row:
    """A typed row's columns as a dict, without the ones it does not have (``UNSET``)."""
    return {
        name: value for name in row.__struct_fields__ if (value := getattr(row, name)) is not UNSET
    }


class Ref(Struct, gc=False):
    id: str


class ToOne(Struct, gc=False):
    data: Ref | UnsetType | None = UNSET


class ToMany(Struct, gc=False):
    data: list[Ref] | UnsetType = UNSET


class EventAttributes(Struct, forbid_unknown_fields=True, gc=False):
    timestamp: t.Any = UNSET
    event_properties: Raw | UnsetType = UNSET
    datetime: t.Any = UNSET
    uuid: t.Any = UNSET


class EventRelationships(Struct, forbid_unknown_fields=True, gc=False):
    metric: ToOne | UnsetType | None = UNSET
    profile: ToOne | UnsetType | None = UNSET
    attributions: ToMany | UnsetType | None = UNSET


class Event(Struct, gc=False):
    id: str
    attributes: EventAttributes = msgspec.field(default_factory=EventAttributes)
    relationships: EventRelationships = msgspec.field(default_factory=EventRelationships)


class EventsDocument(Struct):
    data: list[Event]
    included: list[dict[str, t.Any]] = msgspec.field(default_factory=list)
    links: dict[str, t.Any] | None = None


class EventRecord(Struct, gc=False):
    """An event's row: ``UNSET`` columns are the ones the generic row does not have."""

    id: str
    timestamp: t.Any = UNSET
    event_properties: Raw | UnsetType = UNSET
    datetime: t.Any = UNSET
    uuid: t.Any = UNSET
    metric_id: t.Any = UNSET
    profile_id: t.Any = UNSET
    attribution_ids: t.Any = UNSET
    metric_name: t.Any = None
    # ``records.attribution_columns``, in its order
    attributed_event_id: t.Any = UNSET
    attributed_campaign_id: t.Any = UNSET
    attributed_campaign_message_id: t.Any = UNSET
    attributed_flow_id: t.Any = UNSET
    attributed_flow_message_id: t.Any = UNSET
    attributed_variation_id: t.Any = UNSET
    attributions: t.Any = UNSET


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


def _to_one(relationship: ToOne | UnsetType | None) -> t.Any:
    """A to-one relationship's column: its id, null, or ``UNSET`` (only links: no column)."""
    if not relationship or relationship.data is UNSET:
        return UNSET
    return relationship.data.id if relationship.data else None


# The attribution columns of an event whose attributions were not requested (no columns) or
# came empty (null columns), in ``EventRecord``'s order.
_NOT_REQUESTED = (UNSET,) * len(records.attribution_columns([], None))
_UNATTRIBUTED = tuple(records.attribution_columns([], None).values())


def event_rows(events: list[t.Any], page: Page) -> list[EventRecord]:
    """``records.event_row`` of each typed event, as structs."""
    names = page.names("metric")
    normalize = timestamps.normalize
    rows = []
    for event in events:
        attributes, relationships = event.attributes, event.relationships
        metric_id = _to_one(relationships.metric)
        many = relationships.attributions
        ids: t.Any = UNSET
        attribution: tuple[t.Any, ...] = _NOT_REQUESTED
        if many and many.data is not UNSET:
            ids = [ref.id for ref in many.data]
            attribution = (
                tuple(records.attribution_columns(ids, page).values()) if ids else _UNATTRIBUTED
            )
        rows.append(
            EventRecord(
                event.id,
                attributes.timestamp,
                attributes.event_properties,
                normalize(attributes.datetime),
                attributes.uuid,
                metric_id,
                _to_one(relationships.profile),
                ids,
                names.get(metric_id) if metric_id else None,
                *attribution,
            )
        )
    return rows


EVENT_PAGES = TypedPages(decode_events, event_rows)
