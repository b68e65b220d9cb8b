"""The stream schemas in ``schemas/``: valid, complete against Klaviyo's spec, never drifting.

The spec-based checks read the spec's facts (``spec/klaviyo-2026-07-15.json``, Klaviyo's OpenAPI
document without its prose). They walk it on their own rather than through
``scripts/derive_schemas.py``, so a bug there cannot hide itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from scripts import derive_schemas

JSON = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schemas"
SPEC_PATH = REPO_ROOT / "spec" / "klaviyo-2026-07-15.json"
MEDIA_TYPE = "application/vnd.api+json"

# Resource-shaped streams: the GET operation whose 200 response object the rows mirror.
RESOURCE_STREAMS = {
    "profiles": "/api/profiles",
    "lists": "/api/lists",
    "segments": "/api/segments",
    "campaigns": "/api/campaigns",
    "flows": "/api/flows",
    "metrics": "/api/metrics",
    "events": "/api/events",
    "templates": "/api/templates",
    "tags": "/api/tags",
    "campaign_messages": "/api/campaigns/{id}/campaign-messages",
    "flow_actions": "/api/flows/{id}/flow-actions",
    "flow_messages": "/api/flow-actions/{id}/flow-messages",
    "lists_detailed": "/api/lists/{id}",
    "segments_detailed": "/api/segments/{id}",
    "campaigns_detailed": "/api/campaigns",
    "accounts": "/api/accounts",
    "forms": "/api/forms",
    "form_versions": "/api/forms/{id}/form-versions",
    "coupons": "/api/coupons",
    "coupon_codes": "/api/coupon-codes",
    "catalog_items": "/api/catalog-items",
    "catalog_variants": "/api/catalog-variants",
    "catalog_categories": "/api/catalog-categories",
    "reviews": "/api/reviews",
    "push_tokens": "/api/push-tokens",
    "tag_groups": "/api/tag-groups",
    "custom_object_types": "/api/object-types",
    "custom_object_records": "/api/object-types/{id}/object-records",
}
# Columns the tap adds beyond attributes and relationship ids.
EXTRA_COLUMNS = {
    "events": {"metric_name"},
    "campaign_messages": {
        "campaign_id",
        "channel",
        "label",
        "subject",
        "preview_text",
        "from_email",
        "from_label",
        "body",
        "title",
    },
    "flow_actions": {"flow_id", "action_type"},
    "flow_messages": {"flow_action_id", "flow_id", "channel", "name"},
    "lists_detailed": {"profile_count", "snapshot_at"},
    "segments_detailed": {"profile_count", "snapshot_at"},
    "campaigns_detailed": {"messages", "message_count", "is_ab_test"},
    "custom_object_records": {"object_type_id"},
}
# Every stream and its key fields (``required`` in its schema).
KEYS = {
    **dict.fromkeys(RESOURCE_STREAMS, ("id",)),
    "list_members": ("list_id", "profile_id"),
    "segment_members": ("segment_id", "profile_id"),
    "global_exclusions": ("profile_id",),
    "campaign_values_reports": (
        "campaign_id",
        "campaign_message_id",
        "send_channel",
        "timeframe_start",
        "timeframe_end",
    ),
    "flow_values_reports": (
        "flow_id",
        "flow_message_id",
        "send_channel",
        "timeframe_start",
        "timeframe_end",
    ),
    "flow_series_reports": ("flow_id", "flow_message_id", "send_channel", "date"),
    "segment_series_reports": ("segment_id", "date"),
    "metric_aggregates": ("metric_id", "date"),
    "form_values_reports": ("form_id", "form_version_id", "timeframe_start", "timeframe_end"),
    "form_series_reports": ("form_id", "form_version_id", "date"),
    "segment_values_reports": ("segment_id", "timeframe_start", "timeframe_end"),
}
REPORTS = {
    "campaign_values_reports": "/api/campaign-values-reports",
    "flow_values_reports": "/api/flow-values-reports",
    "flow_series_reports": "/api/flow-series-reports",
    "segment_series_reports": "/api/segment-series-reports",
    "form_values_reports": "/api/form-values-reports",
    "form_series_reports": "/api/form-series-reports",
    "segment_values_reports": "/api/segment-values-reports",
}
OPEN_OBJECT = {"type": ["object", "null"], "additionalProperties": True}


def load_schema(stream: str) -> JSON:
    schema: JSON = json.loads((SCHEMA_DIR / f"{stream}.json").read_text(encoding="utf-8"))
    return schema


def types_of(column: JSON) -> set[str]:
    kinds = column.get("type", [])
    return {kinds} if isinstance(kinds, str) else set(kinds)


def walk(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every (json-path, dict) inside a schema."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def validator(stream: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(stream), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


# --- the spec, walked independently of the generator ---------------------------------------


@pytest.fixture(scope="module")
def spec() -> JSON:
    document: JSON = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return document


def deref(spec: JSON, node: JSON) -> JSON:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def props(spec: JSON, node: JSON) -> dict[str, JSON]:
    """Properties of an object schema, ``allOf`` parts merged (profiles' additional fields)."""
    node = deref(spec, node)
    merged = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        for name, value in props(spec, part).items():
            both = name in merged and name in ("attributes", "relationships")
            merged[name] = (
                {"properties": {**props(spec, merged[name]), **props(spec, value)}}
                if both
                else value
            )
    return merged


def response_object(spec: JSON, path: str) -> dict[str, JSON]:
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"][MEDIA_TYPE]["schema"]
    data = deref(spec, props(spec, schema)["data"])
    return props(spec, data.get("items", data))


def relationship_columns(spec: JSON, resource: dict[str, JSON]) -> dict[str, bool]:
    """Expected column -> to-many, by the naming rule (dashes to underscores, drop one 's')."""
    out = {}
    for name, rel in props(spec, resource.get("relationships", {})).items():
        to_many = deref(spec, props(spec, rel)["data"]).get("type") == "array"
        base = name.replace("-", "_")
        out[base.removesuffix("s") + "_ids" if to_many else base + "_id"] = to_many
    return out


# --- every file --------------------------------------------------------------------------------


def test_one_schema_file_per_stream() -> None:
    assert {path.stem for path in SCHEMA_DIR.glob("*.json")} == set(KEYS)


@pytest.mark.parametrize("stream", sorted(KEYS))
def test_schema_is_valid_singer_schema(stream: str) -> None:
    schema = load_schema(stream)
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert schema["required"] == list(KEYS[stream])
    for key in KEYS[stream]:
        assert types_of(schema["properties"][key]) == {"string"}, key
    names = list(schema["properties"])
    assert names == names[: len(KEYS[stream])] + sorted(names[len(KEYS[stream]) :])
    assert not [where for where, node in walk(schema) if "$ref" in node]
    # Below the top, only rows embedded in another row (campaigns_detailed.messages) keep a key.
    nested = {
        where: node["required"] for where, node in walk(schema) if where and "required" in node
    }
    assert nested in ({}, {"/properties/messages/items": ["id"]})


@pytest.mark.parametrize("stream", sorted(EXTRA_COLUMNS))
def test_extra_columns_are_present(stream: str) -> None:
    assert EXTRA_COLUMNS[stream] <= set(load_schema(stream)["properties"])


def test_hoisted_and_added_columns_types() -> None:
    messages = load_schema("campaign_messages")["properties"]
    for name in EXTRA_COLUMNS["campaign_messages"]:
        assert messages[name] == {"type": ["string", "null"]}, name
    assert load_schema("flow_actions")["properties"]["action_type"] == {"type": ["string", "null"]}
    for stream in ("lists_detailed", "segments_detailed"):
        columns = load_schema(stream)["properties"]
        assert columns["profile_count"] == {"type": ["integer", "null"]}
        assert columns["snapshot_at"] == {"type": "string", "format": "date-time"}
    detailed = load_schema("campaigns_detailed")["properties"]
    assert set(load_schema("campaigns")["properties"]) < set(detailed)
    assert detailed["messages"]["items"]["properties"] == messages


def test_open_and_spelled_out_objects() -> None:
    profiles = load_schema("profiles")["properties"]
    assert profiles["properties"] == OPEN_OBJECT
    assert load_schema("events")["properties"]["event_properties"] == OPEN_OBJECT
    for stream in ("segments", "flow_actions", "flow_messages", "campaign_messages"):
        assert load_schema(stream)["properties"]["definition"] == OPEN_OBJECT, stream
    location = profiles["location"]["properties"]
    assert (
        location["latitude"]["type"]
        == location["longitude"]["type"]
        == [
            "number",
            "string",
            "null",
        ]
    )
    email = profiles["subscriptions"]["properties"]["email"]["properties"]
    marketing = email["marketing"]["properties"]
    assert set(marketing["suppression"]["items"]["properties"]) == {"reason", "timestamp"}
    assert set(marketing["list_suppressions"]["items"]["properties"]) == {
        "list_id",
        "reason",
        "timestamp",
    }
    assert "open_tracking" in email
    channels = set(profiles["subscriptions"]["properties"])
    assert channels == {"email", "sms", "mobile_push", "whatsapp"}
    assert "churn_probability" in profiles["predictive_analytics"]["properties"]


# --- against the spec ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", sorted(RESOURCE_STREAMS))
def test_every_spec_attribute_is_a_nullable_column(spec: JSON, stream: str) -> None:
    columns = load_schema(stream)["properties"]
    resource = response_object(spec, RESOURCE_STREAMS[stream])
    attributes = props(spec, resource["attributes"])
    assert attributes, stream
    for name in attributes:
        assert name in columns, f"{stream}: attribute {name} missing"
        assert "null" in types_of(columns[name]), f"{stream}.{name} must be nullable"


@pytest.mark.parametrize("stream", sorted(RESOURCE_STREAMS))
def test_every_relationship_is_an_id_column(spec: JSON, stream: str) -> None:
    columns = load_schema(stream)["properties"]
    resource = response_object(spec, RESOURCE_STREAMS[stream])
    for name, to_many in relationship_columns(spec, resource).items():
        if to_many:
            assert columns.get(name) == {"type": ["array", "null"], "items": {"type": "string"}}
        else:
            assert columns.get(name) == {"type": ["string", "null"]}, name


@pytest.mark.parametrize("stream", sorted(REPORTS))
def test_report_has_one_column_per_statistic(spec: JSON, stream: str) -> None:
    body = spec["paths"][REPORTS[stream]]["post"]["requestBody"]["content"][MEDIA_TYPE]
    data = props(spec, body["schema"])["data"]
    statistics = props(spec, props(spec, data)["attributes"])["statistics"]
    columns = load_schema(stream)["properties"]
    for statistic in deref(spec, statistics["items"])["enum"]:
        assert columns.get(statistic) == {"type": ["number", "null"]}, statistic


def test_generator_reproduces_the_committed_schemas(tmp_path: Path) -> None:
    assert derive_schemas.main([str(SPEC_PATH), str(tmp_path)]) == 0
    generated = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.glob("*.json")}
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}
    assert generated.keys() == committed.keys()
    drifted = sorted(name for name in committed if generated[name] != committed[name])
    assert not drifted, f"re-run scripts/derive_schemas.py: {drifted} differ"


# --- real-world records ------------------------------------------------------------------------


@pytest.mark.parametrize("latitude", ["48.8566", 48.8566, None])
def test_profile_location_accepts_string_or_number(latitude: object) -> None:
    record = {
        "id": "01GDDKASAP8TKDDA2GRZDSVP4H",
        "email": "ada@example.com",
        "location": {"latitude": latitude, "longitude": "2.3522", "ip": "203.0.113.9"},
        "properties": {"favourite_colours": ["red", "green"], "vip": True, "score": 4.5},
        "subscriptions": {
            "email": {
                "marketing": {
                    "can_receive_email_marketing": False,
                    "consent": "UNSUBSCRIBED",
                    "suppression": [
                        {"reason": "HARD_BOUNCE", "timestamp": "2024-05-01T10:00:00+00:00"}
                    ],
                    "list_suppressions": [],
                }
            }
        },
        "list_ids": None,
        "created": None,
    }
    validator("profiles").validate(record)


def test_event_accepts_float_value() -> None:
    record = {
        "id": "4vRpBT5dyaD",
        "timestamp": 1714557600,
        "datetime": "2024-05-01T10:00:00+00:00",
        "event_properties": {"$value": 19.99, "Items": [{"price": 9.5}], "Discount": None},
        "metric_id": "RESQ6t",
        "metric_name": "Placed Order",
        "profile_id": "01GDDKASAP8TKDDA2GRZDSVP4H",
        "attribution_ids": [],
    }
    validator("events").validate(record)


def test_keys_may_not_be_null() -> None:
    assert not validator("profiles").is_valid({"id": None})
    assert not validator("list_members").is_valid({"list_id": "Y6nRLr"})
    assert validator("list_members").is_valid(
        {"list_id": "Y6nRLr", "profile_id": "01GDDKASAP8TKDDA2GRZDSVP4H", "email": None}
    )
