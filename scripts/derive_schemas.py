#!/usr/bin/env python3
"""Derive every stream's JSON Schema (``schemas/<stream>.json``) from Klaviyo's OpenAPI spec.

Usage::

    derive_schemas.py [SPEC_JSON [OUT_DIR]] [--beta BETA_SPEC_JSON]

``SPEC_JSON`` defaults to the repository's facts file ``spec/klaviyo-2026-07-15.json`` (derived
from Klaviyo's OpenAPI spec by ``scripts/derive_spec_facts.py``; Klaviyo's full spec reads the
same), ``OUT_DIR`` to the repository's ``schemas/``. With ``--beta`` (the beta spec
``2026-07-15.pre``, whose campaign endpoints Klaviyo released in revision 2026-10-15, or its
facts file ``spec/klaviyo-2026-07-15.pre.json``), the streams whose shape differs in 2026-10-15
go to ``OUT_DIR/2026-10-15/``. Re-run it when the pinned API revision changes;
``tests/unit/test_schemas.py`` checks that the committed files are exactly its output.

Record shape the schemas describe (the tap's JSON:API -> row mapping):

- ``id`` (non-null string) plus every key of ``attributes`` hoisted to the top level;
- one column per relationship: to-one ``<name>_id``, to-many ``<singular name>_ids``;
- ``type``, ``links`` and ``relationships`` are not part of the row;
- everything but the keys is nullable, because real Klaviyo data has nulls almost everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_FACTS = REPO_ROOT / "spec" / "klaviyo-2026-07-15.json"
MEDIA_TYPE = "application/vnd.api+json"
SCALAR_TYPES = ("boolean", "integer", "number", "string")
# Formats Singer targets act on; others (uri, email...) would only reject real-world values.
KEPT_FORMATS = ("date", "date-time")
# Integers whose name says "money or measured value" become numbers: Klaviyo sends floats there.
VALUE_WORDS = ("amount", "clv", "cost", "price", "revenue", "spend", "value")


# --- small schema builders -------------------------------------------------------------------


def type_of(*types: str, nullable: bool = True) -> str | list[str]:
    """A JSON Schema ``type``: sorted, ``null`` last, a bare string when there is one type."""
    ordered = sorted(set(types) - {"null"})
    if nullable:
        ordered.append("null")
    return ordered[0] if len(ordered) == 1 else ordered


def scalar(kind: str, *, nullable: bool = True, fmt: str | None = None) -> JSON:
    column: JSON = {"type": type_of(kind, nullable=nullable)}
    if fmt:
        column["format"] = fmt
    return column


def string(*, nullable: bool = True) -> JSON:
    return scalar("string", nullable=nullable)


def datetime(*, nullable: bool = True) -> JSON:
    return scalar("string", nullable=nullable, fmt="date-time")


def open_object(*, nullable: bool = True) -> JSON:
    """An object whose inner keys are free-form (custom properties, definitions...)."""
    return {"type": type_of("object", nullable=nullable), "additionalProperties": True}


def spelled_out_object(properties: Mapping[str, JSON], *, nullable: bool = True) -> JSON:
    """An object spelled out field by field; still open, Klaviyo adds keys between revisions."""
    return {
        "type": type_of("object", nullable=nullable),
        "properties": dict(sorted(properties.items())),
        "additionalProperties": True,
    }


def array_of(items: JSON, *, nullable: bool = True) -> JSON:
    return {"type": type_of("array", nullable=nullable), "items": items}


def stream_schema(columns: Mapping[str, JSON], keys: Iterable[str] = ("id",)) -> JSON:
    """The top-level Singer schema: ``id`` (or the first key) first, then alphabetical; with
    ``extra_attributes``, where the tap keeps the fields a record has that no schema lists
    (Klaviyo adds attributes between spec releases)."""
    columns = {**columns, "extra_attributes": open_object()}
    keys = list(keys)
    first = [key for key in keys if key in columns]
    rest = sorted(name for name in columns if name not in first)
    return {
        "type": "object",
        "properties": {name: columns[name] for name in first + rest},
        "required": keys,
        "additionalProperties": True,
    }


# --- reading the spec ------------------------------------------------------------------------


def resolve(spec: JSON, node: JSON) -> JSON:
    """Follow ``$ref`` chains (local ``#/components/...`` references only)."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def flatten(spec: JSON, node: JSON) -> JSON:
    """Resolve a node and merge its ``allOf`` parts (the spec uses it for additional-fields)."""
    node = resolve(spec, node)
    if "allOf" not in node:
        return node
    parts = [flatten(spec, part) for part in node["allOf"]]
    siblings = {key: value for key, value in node.items() if key != "allOf"}  # e.g. nullable
    if len(parts) == 1:
        return {**parts[0], **siblings}
    merged: dict[str, JSON] = {}
    for part in parts:
        for name, prop in part.get("properties", {}).items():
            both = name in merged and name in ("attributes", "relationships")
            merged[name] = _merge_objects(spec, merged[name], prop) if both else prop
    return {**siblings, "type": "object", "properties": merged}


def _merge_objects(spec: JSON, first: JSON, second: JSON) -> JSON:
    a, b = flatten(spec, first), flatten(spec, second)
    return {"type": "object", "properties": {**a.get("properties", {}), **b.get("properties", {})}}


# An event's attribution (``include=attributions``): the ids of each attribution object,
# the first as columns (see ``records.event_row``), all of them in ``attributions``.
ATTRIBUTION_IDS = ("event_id", "campaign_id", "campaign_message_id", "flow_id",
                   "flow_message_id", "variation_id")  # fmt: skip
ATTRIBUTED: dict[str, JSON] = {
    **{f"attributed_{name}": string() for name in ATTRIBUTION_IDS},
    "attributions": array_of(
        spelled_out_object(
            {"id": string(), **{name: string() for name in ATTRIBUTION_IDS}}, nullable=False
        )
    ),
}


def resource_object(spec: JSON, path: str) -> JSON:
    """The resource object in the 200 response of ``GET path`` (a collection's item)."""
    response = spec["paths"][path]["get"]["responses"]["200"]
    document = flatten(spec, response["content"][MEDIA_TYPE]["schema"])
    data = flatten(spec, document["properties"]["data"])
    if data.get("type") == "array":
        data = flatten(spec, data["items"])
    return data


def attributes_of(spec: JSON, resource: JSON) -> dict[str, JSON]:
    return dict(flatten(spec, resource["properties"]["attributes"]).get("properties", {}))


def relationships_of(spec: JSON, resource: JSON) -> dict[str, bool]:
    """Relationship name -> True when it is to-many (``data`` is an array)."""
    node = resource["properties"].get("relationships")
    if node is None:
        return {}
    out: dict[str, bool] = {}
    for name, rel in flatten(spec, node).get("properties", {}).items():
        data = flatten(spec, flatten(spec, rel)["properties"]["data"])
        out[name] = data.get("type") == "array"
    return out


def relationship_column(name: str, to_many: bool) -> str:
    """``tag-group`` -> ``tag_group_id``; ``campaign-messages`` -> ``campaign_message_ids``."""
    base = name.replace("-", "_")
    if to_many:
        return base.removesuffix("s") + "_ids"
    return base + "_id"


def has_path(spec: JSON, node: JSON, path: Iterable[str]) -> bool:
    """Whether some ``oneOf``/``anyOf`` variant of ``node`` declares the dotted ``path``."""
    path = list(path)
    node = flatten(spec, node)
    if not path:
        return True
    variants = node.get("oneOf", []) + node.get("anyOf", [])
    if variants:
        return any(has_path(spec, variant, path) for variant in variants)
    child = node.get("properties", {}).get(path[0])
    return child is not None and has_path(spec, child, path[1:])


def request_enum(spec: JSON, path: str, attribute: str) -> list[str]:
    """The item enum of an array attribute in a POST body (e.g. report ``statistics``)."""
    body = spec["paths"][path]["post"]["requestBody"]["content"][MEDIA_TYPE]["schema"]
    data = flatten(spec, flatten(spec, body)["properties"]["data"])
    attributes = flatten(spec, data["properties"]["attributes"])
    items = flatten(spec, attributes["properties"][attribute]["items"])
    return list(items["enum"])


# --- spec schema -> column ---------------------------------------------------------------------


def to_column(spec: JSON, node: JSON, *, name: str, spell_out: bool, nullable: bool = True) -> JSON:
    """Convert one spec schema into a Singer column (no ``$ref``, no ``required``, no enums).

    Enums are dropped on purpose: Klaviyo adds values (campaign statuses, channels) between
    revisions and a strict schema would reject them.
    """
    node = flatten(spec, node)
    nullable = nullable or bool(node.get("nullable"))
    variants = node.get("oneOf", []) + node.get("anyOf", [])
    if variants:
        return _union(spec, variants, name=name, spell_out=spell_out, nullable=nullable)
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties")
        if spell_out and props:
            inner = {
                key: to_column(spec, prop, name=key, spell_out=True) for key, prop in props.items()
            }
            return spelled_out_object(inner, nullable=nullable)
        return open_object(nullable=nullable)
    if kind == "array":
        items = to_column(spec, node["items"], name=name, spell_out=spell_out, nullable=False)
        return array_of(items, nullable=nullable)
    if kind in SCALAR_TYPES:
        if kind == "integer" and any(word in name.lower() for word in VALUE_WORDS):
            kind = "number"
        fmt = node.get("format")
        return scalar(kind, nullable=nullable, fmt=fmt if fmt in KEPT_FORMATS else None)
    raise ValueError(f"{name}: no rule for spec schema {json.dumps(node)[:200]}")


def _union(spec: JSON, variants: list[JSON], *, name: str, spell_out: bool, nullable: bool) -> JSON:
    """``oneOf``/``anyOf`` -> the union of the variants' types; object variants -> open object."""
    columns = [
        to_column(spec, variant, name=name, spell_out=spell_out, nullable=False)
        for variant in variants
    ]
    types: set[str] = set()
    for column in columns:
        kinds = column["type"]
        types.update([kinds] if isinstance(kinds, str) else kinds)
    if "integer" in types and "number" in types:
        types.discard("integer")  # every integer is a number
    if "array" in types:
        raise ValueError(f"{name}: union with an array variant needs a rule")
    if "object" in types:
        return {"type": type_of(*types, nullable=nullable), "additionalProperties": True}
    union: JSON = {"type": type_of(*types, nullable=nullable)}
    formats = {column.get("format") for column in columns}
    if len(formats) == 1 and None not in formats:
        union["format"] = formats.pop()
    return union


# --- the streams -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceStream:
    """A stream whose rows are the resource objects of one GET operation."""

    name: str
    path: str
    # Object attributes spelled out field by field (analysts query them); others stay open.
    spelled_out: frozenset[str] = frozenset()
    # Attributes the spec types as plain strings but documents as ISO 8601 datetimes.
    datetimes: frozenset[str] = frozenset()
    # Columns copied out of a (polymorphic) attribute: column -> path inside ``attributes``.
    hoisted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Columns the tap adds itself (parent ids, names of included objects, snapshot times).
    extra: Mapping[str, JSON] = field(default_factory=dict)


DEFINITION = ("definition",)
CONTENT = ("definition", "content")

RESOURCE_STREAMS: tuple[ResourceStream, ...] = (
    ResourceStream(
        "profiles",
        "/api/profiles",
        spelled_out=frozenset({"location", "subscriptions", "predictive_analytics"}),
        # Live profiles carry these, absent from the spec (API-DIGEST §10).
        extra={"anonymous_id": string(), "whatsapp_bsuid": string()},
    ),
    ResourceStream("lists", "/api/lists"),
    ResourceStream("segments", "/api/segments"),
    # ``channel``: the campaign pass (email, sms, mobile_push) the row was read in.
    ResourceStream("campaigns", "/api/campaigns", extra={"channel": string()}),
    ResourceStream("flows", "/api/flows"),
    ResourceStream("metrics", "/api/metrics", datetimes=frozenset({"created", "updated"})),
    ResourceStream("events", "/api/events", extra={"metric_name": string(), **ATTRIBUTED}),
    ResourceStream("templates", "/api/templates"),
    ResourceStream("tags", "/api/tags"),
    ResourceStream(
        "campaign_messages",
        "/api/campaigns/{id}/campaign-messages",
        # ``archived``: whether the message's campaign is archived (the pass it was read in).
        extra={"archived": scalar("boolean")},
        hoisted={
            "channel": (*DEFINITION, "channel"),
            "label": (*DEFINITION, "label"),
            "subject": (*CONTENT, "subject"),
            "preview_text": (*CONTENT, "preview_text"),
            "from_email": (*CONTENT, "from_email"),
            "from_label": (*CONTENT, "from_label"),
            "body": (*CONTENT, "body"),
            "title": (*CONTENT, "title"),
        },
    ),
    ResourceStream(
        "flow_actions",
        "/api/flows/{id}/flow-actions",
        hoisted={"action_type": (*DEFINITION, "type")},
        # ``archived``: whether the action's flow is archived (the pass it was read in).
        extra={"archived": scalar("boolean")},
    ),
    ResourceStream(
        "flow_messages",
        "/api/flow-actions/{id}/flow-messages",
        hoisted={"name": (*DEFINITION, "name")},
        # ``channel`` is a spec attribute; ``flow_id`` comes from the parent flow action.
        extra={"flow_id": string(), "channel": string()},
    ),
    ResourceStream("accounts", "/api/accounts", spelled_out=frozenset({"contact_information"})),
    ResourceStream(
        "lists_detailed",
        "/api/lists/{id}",
        extra={"snapshot_at": datetime(nullable=False)},
    ),
    ResourceStream(
        "segments_detailed",
        "/api/segments/{id}",
        extra={"snapshot_at": datetime(nullable=False)},
    ),
    # The storefront.
    ResourceStream("forms", "/api/forms"),
    ResourceStream("form_versions", "/api/forms/{id}/form-versions"),
    ResourceStream("coupons", "/api/coupons"),
    ResourceStream("coupon_codes", "/api/coupon-codes"),
    ResourceStream("catalog_items", "/api/catalog-items"),
    ResourceStream("catalog_variants", "/api/catalog-variants"),
    ResourceStream("catalog_categories", "/api/catalog-categories"),
    ResourceStream("reviews", "/api/reviews"),
    ResourceStream("push_tokens", "/api/push-tokens"),
    ResourceStream("tag_groups", "/api/tag-groups"),
    ResourceStream("custom_object_types", "/api/object-types"),
    # ``object_type_id``: the type whose records the row was read in.
    ResourceStream(
        "custom_object_records",
        "/api/object-types/{id}/object-records",
        extra={"object_type_id": string(nullable=False)},
    ),
)


# Revision 2026-10-15's campaign model, derived from the beta spec.
OMNICHANNEL_REVISION = "2026-10-15"
VARIATION_DETAILS = (*DEFINITION, "details")
VARIATION_CONTENT = (
    "template_id", "subject", "preview_text", "from_email", "from_label", "body", "title"
)  # fmt: skip
OMNICHANNEL_STREAMS: tuple[ResourceStream, ...] = (
    ResourceStream(
        "campaigns",
        "/api/campaigns",
        spelled_out=frozenset({"definition"}),
        # ``archived``: the pass it was read in (archived or not), as in 2026-07-15.
        extra={"archived": scalar("boolean")},
    ),
    ResourceStream(
        "campaign_messages",
        "/api/campaign-messages",
        spelled_out=frozenset({"definition"}),
        hoisted={
            "name": (*DEFINITION, "name"),
            "status": (*DEFINITION, "status"),
            "send_strategy": (*DEFINITION, "send_options", "send_strategy"),
        },
        # ``channels``: those of the message's variations (from ``include=campaign-variations``).
        extra={"channels": array_of(string(nullable=False))},
    ),
    ResourceStream(
        "campaign_audiences",
        "/api/campaigns/{id}/campaign-audiences",
        spelled_out=frozenset({"definition"}),
    ),
    ResourceStream(
        "campaign_variations",
        "/api/campaign-messages/{id}/campaign-variations",
        hoisted={
            "name": (*DEFINITION, "name"),
            "channel": (*VARIATION_DETAILS, "channel"),
            **{column: (*VARIATION_DETAILS, column) for column in VARIATION_CONTENT},
        },
        # ``campaign_id``: the campaign of the message the variation was included with.
        extra={"campaign_id": string()},
    ),
)


def derive_omnichannel(beta: JSON) -> dict[str, JSON]:
    """The schemas of revision 2026-10-15's campaign streams, keyed by stream name."""
    return {
        stream.name: stream_schema(resource_columns(beta, stream)) for stream in OMNICHANNEL_STREAMS
    }


def resource_columns(spec: JSON, stream: ResourceStream) -> dict[str, JSON]:
    """The columns of one resource-shaped stream, checked for name clashes."""
    resource = resource_object(spec, stream.path)
    attributes = attributes_of(spec, resource)
    columns: dict[str, JSON] = {"id": string(nullable=False)}
    for name, node in attributes.items():
        column = to_column(spec, node, name=name, spell_out=name in stream.spelled_out)
        if name in stream.datetimes:
            column = datetime()
        _add(columns, name, column, stream.name)
    for rel, to_many in relationships_of(spec, resource).items():
        column = array_of(string(nullable=False)) if to_many else string()
        _add(columns, relationship_column(rel, to_many), column, stream.name)
    for name, path in stream.hoisted.items():
        if path[0] not in attributes or not has_path(spec, attributes[path[0]], path[1:]):
            raise ValueError(f"{stream.name}.{name}: spec has no attributes.{'.'.join(path)}")
        _add(columns, name, string(), stream.name)
    for name, column in stream.extra.items():
        _add(columns, name, column, stream.name)
    return columns


def _add(columns: dict[str, JSON], name: str, column: JSON, stream: str) -> None:
    """Add a column; the same name twice is fine only if both agree on its schema."""
    if name in columns and columns[name] != column:
        raise ValueError(f"{stream}.{name}: two different definitions {columns[name]} / {column}")
    columns[name] = column


def campaigns_detailed(campaigns: JSON, campaign_messages: JSON) -> JSON:
    """Campaigns with their messages embedded (each shaped like a campaign_messages row)."""
    message = {**campaign_messages, "required": ["id"]}
    columns = {
        **campaigns["properties"],
        "messages": array_of(message, nullable=False),
        "message_count": scalar("integer", nullable=False),
        "is_ab_test": scalar("boolean", nullable=False),
    }
    return stream_schema(columns)


def members(group_key: str) -> JSON:
    """List or segment membership: one row per (group, profile)."""
    columns = {
        group_key: string(nullable=False),
        "profile_id": string(nullable=False),
        "joined_group_at": datetime(),
        "email": string(),
    }
    return stream_schema(columns, keys=(group_key, "profile_id"))


def global_exclusions() -> JSON:
    """Globally suppressed profiles (from ``subscriptions.email.marketing``)."""
    list_suppression = spelled_out_object(
        {"list_id": string(), "reason": string(), "timestamp": datetime()}, nullable=False
    )
    columns = {
        "profile_id": string(nullable=False),
        "email": string(),
        "phone_number": string(),
        "reason": string(),  # HARD_BOUNCE, INVALID_EMAIL, SPAM_COMPLAINT, UNSUBSCRIBE, ...
        "timestamp": datetime(),
        "list_suppressions": array_of(list_suppression),
    }
    return stream_schema(columns, keys=("profile_id",))


def values_report(spec: JSON, path: str, owner: str, message: str) -> JSON:
    """A campaign/flow values report: one row per grouping, one column per statistic."""
    columns: dict[str, JSON] = {
        owner: string(nullable=False),
        message: string(nullable=False),
        "send_channel": string(nullable=False),
        "timeframe_key": string(),
        "timeframe_start": datetime(nullable=False),
        "timeframe_end": datetime(nullable=False),
        "timezone": string(),  # the days' timezone (IANA name)
        "conversion_metric_id": string(),
        "extracted_at": datetime(nullable=False),
    }
    for statistic in request_enum(spec, path, "statistics"):
        _add(columns, statistic, scalar("number"), path)
    keys = (owner, message, "send_channel", "timeframe_start", "timeframe_end")
    return stream_schema(columns, keys=keys)


def grouped_values_report(spec: JSON, path: str, groupings: Iterable[str]) -> JSON:
    """A form or segment values report: one row per grouping over the run's timeframe."""
    keys = (*groupings, "timeframe_start", "timeframe_end")
    columns: dict[str, JSON] = {
        **{name: string(nullable=False) for name in groupings},
        "timeframe_key": string(),
        "timeframe_start": datetime(nullable=False),
        "timeframe_end": datetime(nullable=False),
        "timezone": string(),
        "extracted_at": datetime(nullable=False),
    }
    for statistic in request_enum(spec, path, "statistics"):
        _add(columns, statistic, scalar("number"), path)
    return stream_schema(columns, keys=keys)


def series_report(
    spec: JSON, path: str, groupings: Mapping[str, JSON], extra: Mapping[str, JSON]
) -> JSON:
    """A series report: one row per grouping per day (a date in ``timezone``)."""
    columns: dict[str, JSON] = {
        **groupings,
        **extra,
        "date": scalar("string", nullable=False, fmt="date"),
        "timezone": string(nullable=False),
        "extracted_at": datetime(nullable=False),
    }
    for statistic in request_enum(spec, path, "statistics"):
        _add(columns, statistic, scalar("number"), path)
    return stream_schema(columns, keys=(*groupings, "date"))


FLOW_SERIES_GROUPINGS = {
    "flow_id": string(nullable=False),
    "flow_message_id": string(nullable=False),
    "send_channel": string(nullable=False),
}


FORM_GROUPINGS = ("form_id", "form_version_id")


def metric_aggregates() -> JSON:
    """Daily totals per metric (``POST /api/metric-aggregates``, interval day), in
    ``timezone``: ``date`` is the instant its day starts there."""
    columns = {
        "metric_id": string(nullable=False),
        "metric_name": string(),
        "date": datetime(nullable=False),
        "timezone": string(),
        "count": scalar("number"),
        "unique": scalar("number"),
        "sum_value": scalar("number"),
    }
    return stream_schema(columns, keys=("metric_id", "date"))


def derive_all(spec: JSON) -> dict[str, JSON]:
    """Every stream's schema, keyed by stream name."""
    schemas = {
        stream.name: stream_schema(resource_columns(spec, stream)) for stream in RESOURCE_STREAMS
    }
    schemas["campaigns_detailed"] = campaigns_detailed(
        schemas["campaigns"], schemas["campaign_messages"]
    )
    hand_written: dict[str, Callable[[], JSON]] = {
        "list_members": lambda: members("list_id"),
        "segment_members": lambda: members("segment_id"),
        "global_exclusions": global_exclusions,
        "campaign_values_reports": lambda: values_report(
            spec, "/api/campaign-values-reports", "campaign_id", "campaign_message_id"
        ),
        "flow_values_reports": lambda: values_report(
            spec, "/api/flow-values-reports", "flow_id", "flow_message_id"
        ),
        "flow_series_reports": lambda: series_report(
            spec,
            "/api/flow-series-reports",
            FLOW_SERIES_GROUPINGS,
            {"conversion_metric_id": string()},
        ),
        "segment_series_reports": lambda: series_report(
            spec, "/api/segment-series-reports", {"segment_id": string(nullable=False)}, {}
        ),
        "metric_aggregates": metric_aggregates,
        "form_values_reports": lambda: grouped_values_report(
            spec, "/api/form-values-reports", FORM_GROUPINGS
        ),
        "form_series_reports": lambda: series_report(
            spec,
            "/api/form-series-reports",
            {name: string(nullable=False) for name in FORM_GROUPINGS},
            {},
        ),
        "segment_values_reports": lambda: grouped_values_report(
            spec, "/api/segment-values-reports", ("segment_id",)
        ),
    }
    for name, build in hand_written.items():
        schemas[name] = build()
    return dict(sorted(schemas.items()))


def render(schema: JSON) -> str:
    """Indent-2 JSON, with lists of scalars (types, keys) kept on one line for reading."""
    return _render(schema, 0) + "\n"


def _render(value: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        lines = [f"{inner}{json.dumps(k)}: {_render(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        lines = [inner + _render(item, depth + 1) for item in value]
        return "[\n" + ",\n".join(lines) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "spec",
        type=Path,
        nargs="?",
        default=SPEC_FACTS,
        help="default: spec/klaviyo-2026-07-15.json",
    )
    parser.add_argument(
        "out_dir", type=Path, nargs="?", default=REPO_ROOT / "schemas", help="where to write"
    )
    parser.add_argument(
        "--beta", type=Path, help="the beta spec 2026-07-15.pre, for revision 2026-10-15"
    )
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"error: no spec facts file at {args.spec}", file=sys.stderr)
        return 2
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    write(derive_all(spec), args.out_dir)
    if args.beta:
        beta = json.loads(args.beta.read_text(encoding="utf-8"))
        write(derive_omnichannel(beta), args.out_dir / OMNICHANNEL_REVISION)
    return 0


def write(schemas: Mapping[str, JSON], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (out_dir / f"{name}.json").write_text(render(schema), encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
