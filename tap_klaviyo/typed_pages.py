"""Event, profile and member pages decoded by type (msgspec): the hot path of the largest
streams.

An events backfill is millions of records, and most of each is ``event_properties``, which
the tap never reads. Decoded as ``msgspec.Raw`` it is neither parsed into Python objects nor
encoded again: its bytes are copied into the RECORD line as Klaviyo sent them. Each event
becomes an ``EventRecord`` (a struct, not a dict): the columns ``records.event_row`` makes of
the same event, present in the same cases (a test compares the two on every page the quirky
sandbox serves), encoded into RECORD lines a page at a time (``streams.window_blocks``).

A profile is the same: its ``properties`` and ``location`` (no timestamp in either) stay raw,
and a ``ProfileRecord`` holds the columns ``records.to_record`` makes of it. Its
``subscriptions`` and ``predictive_analytics`` hold timestamps, so they are decoded and
normalized as the generic rows are (``records.normalize_timestamps``, by the schema's tree).
With ``profile_properties_as_columns`` the properties are needed as a dict: such a stream
reads its pages generically (``KlaviyoStream.decode``).

A list's or a segment's member is ``records.member_row`` (its ``joined_group_at`` normalized
as it is decoded), and its group's id, which the fan-out fills in from the member's parent
(``streams.children``).

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
from tap_klaviyo.records import Page, Row, TimestampTree
from tap_klaviyo.schemas import load_schema


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
    """A typed row as the dict its RECORD line holds: its columns, without the ones it does
    not have (``UNSET``), raw and nested values as plain ones."""
    as_json: Row = msgspec.json.decode(_encoder.encode(row))
    return as_json


_encoder = msgspec.json.Encoder(enc_hook=str)  # a ``Stamp`` (see below) as its text


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


class Stamp(str):
    """A timestamp in the rows' one form (``timestamps.normalize``), made as it is decoded: a
    typed row holds no timestamp left to normalize, and none is looked for in a walk."""

    __slots__ = ()


def _decode_other(kind: type[t.Any], value: t.Any) -> t.Any:
    """``Stamp``s (msgspec's hook for the types it does not know); anything else at a
    timestamp's place (not a text) fails the page's types: it is read generically."""
    return Stamp(timestamps.normalize(value)) if isinstance(value, str) else value


def page_decoder(document_type: type[t.Any]) -> t.Callable[[bytes], dict[str, t.Any] | None]:
    """A page's decoder into ``document_type`` (data, included, links): None for a page that
    must be parsed generically."""
    decoder = msgspec.json.Decoder(document_type, dec_hook=_decode_other)

    def decode(body: bytes) -> dict[str, t.Any] | None:
        if b"\n" in body or b"\r" in body:
            return None
        try:
            document = decoder.decode(body)
        except msgspec.DecodeError:  # unexpected types (ValidationError), or not JSON at all
            return None
        return {"data": document.data, "included": document.included, "links": document.links}

    return decode


decode_events = page_decoder(EventsDocument)


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


# -- profiles ---------------------------------------------------------------------------------


def _fields_of(node: dict[str, t.Any], tree: TimestampTree) -> list[tuple[str, t.Any, t.Any]]:
    """A schema object's properties as struct fields: ``UNSET`` where Klaviyo left one out."""
    return [(name, _type_of(name, inner, tree.get(name)), UNSET) for name, inner in node.items()]


def _type_of(name: str, node: dict[str, t.Any], inner: TimestampTree | bool | None) -> t.Any:
    """A schema node's type: a ``Stamp`` where the schema says date-time, a struct (or a
    list of them) where timestamps lie below, raw JSON for other objects and arrays (passed
    through as Klaviyo sent them), any value else."""
    if inner is True:
        return Stamp | None | UnsetType
    if inner and records.ITEMS in inner:
        items = _type_of(name, node["items"], inner[records.ITEMS])
        return list[items] | None | UnsetType  # type: ignore[valid-type]
    if inner:
        nested = msgspec.defstruct(
            name, _fields_of(node["properties"], inner), forbid_unknown_fields=True, gc=False
        )
        return nested | None | UnsetType
    kinds = node.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    return Raw | UnsetType if kinds & {"object", "array"} else t.Any


class ProfileRelationships(Struct, forbid_unknown_fields=True, gc=False, rename="kebab"):
    lists: ToMany | UnsetType | None = UNSET
    segments: ToMany | UnsetType | None = UNSET
    push_tokens: ToMany | UnsetType | None = UNSET
    conversations: ToMany | UnsetType | None = UNSET


# Each relationship's column, as ``records.to_record`` names it, in ``ProfileRecord``'s order.
TO_MANY = tuple(
    (name, records.relationship_column(name, to_many=True))
    for name in ProfileRelationships.__struct_encode_fields__
)
PROFILE_SCHEMA = load_schema("profiles")["properties"]
PROFILE_TIMESTAMPS = records.timestamp_tree({"properties": PROFILE_SCHEMA})
# The schema's columns that are attributes: not the id, not a relationship's, not the one
# for fields the schema does not list (``streams.writing.EXTRA_ATTRIBUTES``, which imports
# this module through the resources).
NOT_ATTRIBUTES = {"id", "extra_attributes", *(column for _, column in TO_MANY)}
PROFILE_ATTRIBUTES = [name for name in PROFILE_SCHEMA if name not in NOT_ATTRIBUTES]
ProfileAttributes = msgspec.defstruct(
    "ProfileAttributes",
    _fields_of({name: PROFILE_SCHEMA[name] for name in PROFILE_ATTRIBUTES}, PROFILE_TIMESTAMPS),
    forbid_unknown_fields=True,
    gc=False,
)


class Profile(Struct, gc=False):
    id: str
    attributes: ProfileAttributes = msgspec.field(default_factory=ProfileAttributes)  # type: ignore[valid-type]
    relationships: ProfileRelationships = msgspec.field(default_factory=ProfileRelationships)


class ProfilesDocument(Struct):
    data: list[Profile]
    included: list[dict[str, t.Any]] = msgspec.field(default_factory=list)
    links: dict[str, t.Any] | None = None


ProfileRecord = msgspec.defstruct(
    "ProfileRecord",
    [
        ("id", str),
        *((name, t.Any, UNSET) for name in PROFILE_ATTRIBUTES),
        *((column, t.Any, UNSET) for _, column in TO_MANY),
    ],
    gc=False,
)
"""A profile's row: its id, its attributes, its relationships' ids (``UNSET``: no column)."""


def profile_rows(profiles: list[t.Any], page: Page) -> list[Struct]:
    """``records.to_record`` of each typed profile (its timestamps normalized when decoded),
    as structs."""
    astuple = msgspec.structs.astuple
    rows = []
    for profile in profiles:
        ids = (
            [ref.id for ref in many.data] if many and many.data is not UNSET else UNSET
            for many in astuple(profile.relationships)
        )
        rows.append(ProfileRecord(profile.id, *astuple(profile.attributes), *ids))
    return rows


PROFILE_PAGES = TypedPages(page_decoder(ProfilesDocument), profile_rows)


# -- list and segment members -----------------------------------------------------------------


class MemberAttributes(Struct, forbid_unknown_fields=True, gc=False):
    email: t.Any = None
    joined_group_at: Stamp | None = None


class Member(Struct, gc=False):
    id: str
    attributes: MemberAttributes = msgspec.field(default_factory=MemberAttributes)


class MembersDocument(Struct):
    data: list[Member]
    included: list[dict[str, t.Any]] = msgspec.field(default_factory=list)
    links: dict[str, t.Any] | None = None


def member_pages(parent_key: str) -> TypedPages:
    """A list's or a segment's member pages: ``records.member_row`` of each member, as
    structs, with a column for the group's id (``parent_key``), which the fan-out fills from
    the member's parent (``streams.children``)."""
    record = msgspec.defstruct(
        "MemberRecord",
        [
            ("profile_id", str),
            ("email", t.Any),
            ("joined_group_at", t.Any),
            (parent_key, t.Any, UNSET),
        ],
        gc=False,
    )

    def member_rows(members: list[t.Any], page: Page) -> list[Struct]:
        return [
            record(member.id, member.attributes.email, member.attributes.joined_group_at)
            for member in members
        ]

    return TypedPages(page_decoder(MembersDocument), member_rows)
