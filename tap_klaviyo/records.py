"""JSON:API resource object -> analysis-ready row, once per record and cheaply.

``{"id", "attributes": {...}, "relationships": {"metric": {"data": {"id"}}}}`` becomes
``{"id", **attributes, "metric_id"}``: attributes hoisted, relationship ids as
``<relationship>_id`` (to-one) or ``<singular relationship>_ids`` (to-many), links dropped.
"""

from __future__ import annotations

import functools
import typing as t


@functools.cache
def relationship_column(name: str, *, to_many: bool) -> str:
    """``metric`` -> ``metric_id``; ``campaign-messages`` -> ``campaign_message_ids``."""
    column = name.replace("-", "_")
    if to_many:
        return column.removesuffix("s") + "_ids"
    return column + "_id"


def to_record(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    """Flatten one resource object into a row."""
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


def index_included(document: dict[str, t.Any]) -> dict[tuple[str, str], dict[str, t.Any]]:
    """The ``included`` objects of a page, by (type, id)."""
    return {(item["type"], item["id"]): item for item in document.get("included") or ()}


# -- per-stream row shapes (beyond the generic flattening) ----------------------------------

MESSAGE_CONTENT_COLUMNS = ("subject", "preview_text", "from_email", "from_label", "body", "title")


def campaign_message_row(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    """A campaign message with its definition's most-queried parts as columns."""
    record = to_record(resource)
    definition = record.get("definition") or {}
    content = definition.get("content") or {}
    record["channel"] = definition.get("channel")
    record["label"] = definition.get("label")
    for column in MESSAGE_CONTENT_COLUMNS:
        record[column] = content.get(column)
    return record


def flow_action_row(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    record = to_record(resource)
    record["action_type"] = (record.get("definition") or {}).get("type")
    return record


def flow_message_row(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    record = to_record(resource)
    definition = record.get("definition") or {}
    record.setdefault("channel", definition.get("channel"))
    record.setdefault("name", definition.get("name"))
    return record


def member_row(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    """A list or segment membership; the list/segment id comes from the partition."""
    attributes = resource.get("attributes") or {}
    return {
        "profile_id": resource["id"],
        "email": attributes.get("email"),
        "joined_group_at": attributes.get("joined_group_at"),
    }


def global_exclusion_row(resource: dict[str, t.Any]) -> dict[str, t.Any]:
    """A globally suppressed profile: why and since when it gets no email marketing."""
    attributes = resource.get("attributes") or {}
    marketing = ((attributes.get("subscriptions") or {}).get("email") or {}).get("marketing") or {}
    suppressions = marketing.get("suppression") or [{}]
    latest = max(suppressions, key=lambda item: item.get("timestamp") or "")
    return {
        "profile_id": resource["id"],
        "email": attributes.get("email"),
        "phone_number": attributes.get("phone_number"),
        "reason": latest.get("reason"),
        "timestamp": latest.get("timestamp"),
        "list_suppressions": marketing.get("list_suppressions"),
    }
