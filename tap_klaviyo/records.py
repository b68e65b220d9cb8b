"""JSON:API page -> analysis-ready rows, once per record and cheaply.

``{"id", "attributes": {...}, "relationships": {"metric": {"data": {"id"}}}}`` becomes
``{"id", **attributes, "metric_id"}``: attributes hoisted, relationship ids as
``<relationship>_id`` (to-one) or ``<singular relationship>_ids`` (to-many), links dropped.
A row that needs more than its own object (an event's metric name, a campaign's messages)
finds it in its ``Page``'s index of ``included`` objects. Every shape has one signature,
``(resource object, page) -> row``: the table names it, no stream overrides it.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from tap_klaviyo import timestamps


class Page:
    """One JSON:API document: its resource objects, and its ``included`` ones by type and id
    (indexed once per page, on first use)."""

    __slots__ = ("_index", "_names", "_referrers", "document")

    def __init__(self, document: dict[str, t.Any]) -> None:
        self.document = document
        self._index: dict[tuple[str, str], dict[str, t.Any]] | None = None
        self._referrers: dict[tuple[str, str], dict[str, t.Any]] | None = None
        self._names: dict[str, dict[str, t.Any]] = {}

    def names(self, included_type: str) -> dict[str, t.Any]:
        """The ``name`` attribute of each included object of ``included_type``, by id."""
        if included_type not in self._names:
            self._names[included_type] = {
                i["id"]: (i.get("attributes") or {}).get("name")
                for i in self.document.get("included") or ()
                if i["type"] == included_type
            }
        return self._names[included_type]

    def objects(self, included_type: str | None = None) -> list[dict[str, t.Any]]:
        """The page's ``data`` (a list, even from a single GET), or its ``included`` objects
        of ``included_type``."""
        if included_type:
            return [i for i in self.document.get("included") or () if i["type"] == included_type]
        data = self.document["data"]
        return data if isinstance(data, list) else [data]

    def included(self, kind: str, ident: str | None) -> dict[str, t.Any] | None:
        if self._index is None:
            self._index = {(i["type"], i["id"]): i for i in self.document.get("included") or ()}
        return self._index.get((kind, ident)) if ident else None

    def referrer(self, relationship: str, ident: str) -> dict[str, t.Any] | None:
        """The page's resource object whose ``relationship`` lists ``ident``: the parent of
        an included object, which need not name its parent itself."""
        if self._referrers is None:
            self._referrers = {}
            for resource in self.objects():
                for name, related in (resource.get("relationships") or {}).items():
                    data = (related or {}).get("data")
                    for item in data if isinstance(data, list) else ():
                        self._referrers[(name, item["id"])] = resource
        return self._referrers.get((relationship, ident))

    @property
    def next_url(self) -> str | None:
        return (self.document.get("links") or {}).get("next")


Row = dict[str, t.Any]
Shape = t.Callable[[dict[str, t.Any], Page | None], Row]


@functools.cache
def relationship_column(name: str, *, to_many: bool) -> str:
    """``metric`` -> ``metric_id``; ``campaign-messages`` -> ``campaign_message_ids``."""
    column = name.replace("-", "_")
    if to_many:
        return column.removesuffix("s") + "_ids"
    return column + "_id"


def to_record(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """Flatten one resource object into a row (the generic shape: it needs nothing else)."""
    record: dict[str, t.Any] = {"id": resource["id"]}
    record.update(resource.get("attributes") or {})
    for name, relationship in (resource.get("relationships") or {}).items():
        if not relationship or "data" not in relationship:
            continue  # only links: Klaviyo sends ids when the relationship is included
        data = relationship["data"]
        if isinstance(data, list):
            record[relationship_column(name, to_many=True)] = [item["id"] for item in data]
        else:
            record[relationship_column(name, to_many=False)] = data["id"] if data else None
    return record


# -- one timestamp form in every row ----------------------------------------------------------

# Where a schema's date-time fields are: column -> True (a timestamp) or the tree below it
# (an object's properties, or ``ITEMS`` for an array's items).
TimestampTree = dict[str, t.Any]
ITEMS = "[]"


def timestamp_tree(schema: dict[str, t.Any]) -> TimestampTree:
    """The date-time fields of a schema, worked out once per stream."""
    tree: TimestampTree = {}
    for name, node in (schema.get("properties") or {}).items():
        if node.get("format") == "date-time":
            tree[name] = True
        elif below := _timestamps_below(node):
            tree[name] = below
    return tree


def _timestamps_below(node: dict[str, t.Any]) -> TimestampTree | bool:
    if "items" in node:
        items = node["items"]
        inner = True if items.get("format") == "date-time" else _timestamps_below(items)
        return {ITEMS: inner} if inner else {}
    return timestamp_tree(node) if node.get("properties") else {}


def normalize_timestamps(value: t.Any, tree: TimestampTree) -> None:
    """Rewrite, in place, every timestamp ``tree`` names into the rows' one form."""
    if isinstance(value, list):
        inner = tree.get(ITEMS)
        for index, item in enumerate(value):
            if inner is True:
                value[index] = timestamps.normalize(item)
            elif inner:
                normalize_timestamps(item, inner)
        return
    if not isinstance(value, dict):
        return  # a variant the schema does not describe: left as Klaviyo sent it
    for name, inner in tree.items():
        found = value.get(name)
        if found is None:
            continue
        if inner is True:
            value[name] = timestamps.normalize(found)
        else:
            normalize_timestamps(found, inner)


# -- per-stream row shapes (beyond the generic flattening) ----------------------------------

MESSAGE_CONTENT_COLUMNS = ("subject", "preview_text", "from_email", "from_label", "body", "title")


def event_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """An event with its metric's name and attribution (see ``with_metric_and_attribution``).
    The typed decoder of event pages (``tap_klaviyo.typed_pages``) makes the same rows."""
    return with_metric_and_attribution(to_record(resource), page)


def with_metric_and_attribution(record: Row, page: Page | None) -> Row:
    """An event row's metric name and, when requested, its attribution columns."""
    record["metric_name"] = metric_name(page, record.get("metric_id"))
    ids = record.get("attribution_ids")
    if ids is not None:  # requested (``include=attributions``): columns, null where none
        record.update(attribution_columns(ids, page))
    return record


def metric_name(page: Page | None, metric_id: str | None) -> str | None:
    """An event's metric name, from the page's ``include=metric`` (null for an event whose
    metric Klaviyo cannot resolve)."""
    return page.names("metric").get(metric_id) if page and metric_id else None


def attribution_columns(ids: list[str], page: Page | None) -> Row:
    """An event's ``attributed_*`` columns and its ``attributions``, from the page's
    ``include=attributions``."""
    if not ids:  # most events: no attribution
        return dict(_UNATTRIBUTED)
    found = [attribution_row(page.included("attribution", i) if page else None, i) for i in ids]
    first = found[0] if found else {}
    columns: Row = {f"attributed_{column}": first.get(column) for column in ATTRIBUTION_COLUMNS}
    # The relationship is to-many; the columns are the first (the one Klaviyo credits),
    # and every attribution stays in ``attributions``: none is dropped.
    columns["attributions"] = found or None
    return columns


ATTRIBUTION_COLUMNS = (
    "event_id", "campaign_id", "campaign_message_id", "flow_id", "flow_message_id",
    "variation_id",
)  # fmt: skip
_UNATTRIBUTED: Row = {
    **{f"attributed_{column}": None for column in ATTRIBUTION_COLUMNS},
    "attributions": None,
}
ATTRIBUTION_RELATIONSHIPS = {
    "attributed-event": "event_id",
    "campaign": "campaign_id",
    "campaign-message": "campaign_message_id",
    "flow": "flow_id",
    "flow-message": "flow_message_id",
    "flow-message-variation": "variation_id",
}


def attribution_row(resource: dict[str, t.Any] | None, ident: str) -> Row:
    """One attribution's ids (null where it has none, or if Klaviyo did not include it)."""
    relationships = (resource or {}).get("relationships") or {}
    row: Row = {"id": ident}
    for name, column in ATTRIBUTION_RELATIONSHIPS.items():
        data = (relationships.get(name) or {}).get("data")
        row[column] = data.get("id") if data else None
    return row


def campaign_detailed_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A campaign with its messages (``include=campaign-messages``) and A/B shape."""
    record = to_record(resource)
    found = (
        page.included("campaign-message", i) if page else None
        for i in record.get("campaign_message_ids") or ()
    )
    messages = [campaign_message_row(message) for message in found if message]
    record["messages"] = messages
    record["message_count"] = len(messages)
    method = (record.get("send_strategy") or {}).get("method")
    record["is_ab_test"] = method == "ab_test_campaign" or len(messages) > 1
    return record


def campaign_message_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A campaign message with its definition's most-queried parts as columns."""
    record = to_record(resource)
    definition = record.get("definition") or {}
    content = definition.get("content") or {}
    record["channel"] = definition.get("channel")
    record["label"] = definition.get("label")
    for column in MESSAGE_CONTENT_COLUMNS:
        record[column] = content.get(column)
    return record


def omnichannel_message_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A message of revision 2026-10-15 with its name, status and send strategy as columns,
    and the channels of its variations (``include=campaign-variations``)."""
    record = to_record(resource)
    definition = record.get("definition") or {}
    record["name"] = definition.get("name")
    record["status"] = definition.get("status")
    record["send_strategy"] = (definition.get("send_options") or {}).get("send_strategy")
    variations = (
        page.included("campaign-variation", i) if page else None
        for i in record.get("campaign_variation_ids") or ()
    )
    record["channels"] = [_details(v).get("channel") for v in variations if v]
    return record


VARIATION_CONTENT_COLUMNS = ("template_id", *MESSAGE_CONTENT_COLUMNS)


def campaign_variation_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """One variation of a message (one per channel), included with its message: the
    message's and campaign's ids, the channel and the content most queried as columns."""
    record = to_record(resource)
    message = page.referrer("campaign-variations", resource["id"]) if page else None
    if message is not None:
        record["campaign_message_id"] = message["id"]
        campaign = ((message.get("relationships") or {}).get("campaign") or {}).get("data")
        record["campaign_id"] = campaign["id"] if campaign else None
    details = _details(resource)
    record["name"] = (record.get("definition") or {}).get("name")
    record["channel"] = details.get("channel")
    for column in VARIATION_CONTENT_COLUMNS:
        record[column] = details.get(column)
    return record


def _details(variation: dict[str, t.Any]) -> dict[str, t.Any]:
    definition = (variation.get("attributes") or {}).get("definition") or {}
    return definition.get("details") or {}


def flow_action_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    record = to_record(resource)
    record["action_type"] = (record.get("definition") or {}).get("type")
    return record


def flow_message_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A flow message; ``channel`` spelt as campaign messages and reports spell it (Klaviyo
    sends ``Email`` here, ``email`` there): joins on it work across tables."""
    record = to_record(resource)
    definition = record.get("definition") or {}
    channel = record.get("channel") or definition.get("channel")
    record["channel"] = channel.lower() if isinstance(channel, str) else channel
    record.setdefault("name", definition.get("name"))
    return record


def member_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A list or segment membership; the list/segment id comes from the partition."""
    attributes = resource.get("attributes") or {}
    return {
        "profile_id": resource["id"],
        "email": attributes.get("email"),
        "joined_group_at": attributes.get("joined_group_at"),
    }


def global_exclusion_row(resource: dict[str, t.Any], page: Page | None = None) -> Row:
    """A globally suppressed profile: why and since when it gets no email marketing."""
    attributes = resource.get("attributes") or {}
    marketing = ((attributes.get("subscriptions") or {}).get("email") or {}).get("marketing") or {}
    suppressions = marketing.get("suppression") or [{}]
    latest = max(suppressions, key=_suppression_time)
    return {
        "profile_id": resource["id"],
        "email": attributes.get("email"),
        "phone_number": attributes.get("phone_number"),
        "reason": latest.get("reason"),
        "timestamp": latest.get("timestamp"),
        "list_suppressions": marketing.get("list_suppressions"),
    }


def _suppression_time(suppression: dict[str, t.Any]) -> dt.datetime:
    stamp = suppression.get("timestamp")
    return timestamps.parse(stamp) if stamp else dt.datetime.min.replace(tzinfo=timestamps.UTC)
