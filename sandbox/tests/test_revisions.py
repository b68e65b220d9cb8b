"""The sandbox's revision 2026-10-15 campaign operations against the beta spec
(``beta-2026-07-15.pre.json``, whose campaign endpoints Klaviyo released in 2026-10-15), as
sandbox/tests/test_endpoints_spec.py checks the 2026-07-15 ones against the stable spec; and
how each revision answers the other's requests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from klaviyo_sandbox.app import DEMO_API_KEY, allowed_parameters
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.endpoints import OMNICHANNEL_OPERATIONS, Operation
from klaviyo_sandbox.server import Sandbox, running_sandbox

# The beta spec's facts (scripts/derive_spec_facts.py), at the repository's top.
BETA_PATH = Path(__file__).resolve().parents[2] / "spec/klaviyo-2026-07-15.pre.json"
BETA_URI = "urn:klaviyo:openapi:2026-07-15.pre"
KINDS = {"string": "string", "date-time": "datetime", "number": "number", "boolean": "boolean"}
OPS = pytest.mark.parametrize(
    "op", OMNICHANNEL_OPERATIONS, ids=[op.operation_id for op in OMNICHANNEL_OPERATIONS]
)
KEY = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}"}


@pytest.fixture(scope="module")
def beta() -> dict[str, Any]:
    return orjson.loads(BETA_PATH.read_bytes())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sizes = Sizes(profiles=30, events=100, lists=2, segments=2, campaigns=12, flows=1)
    with running_sandbox(seed=3, sizes=sizes, rate_limits=False) as running:
        yield running


def spec_op(beta: dict[str, Any], op: Operation) -> dict[str, Any]:
    return beta["paths"][op.path][op.method.lower()]


def query_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}


def enum(parameter: dict[str, Any]) -> set[str]:
    schema = parameter["schema"]
    return set(schema.get("items", schema).get("enum", []))


# --- the operation table -------------------------------------------------------------------


@OPS
def test_identity_scopes_tier_and_parameters(beta: dict[str, Any], op: Operation) -> None:
    operation = spec_op(beta, op)
    assert operation["operationId"] == op.operation_id
    assert set(operation["x-klaviyo-scopes"]) == set(op.scopes)
    assert operation["x-klaviyo-ratelimit"] == {
        "burst": f"{op.tier.burst}/s",
        "steady": f"{op.tier.steady}/m",
    }
    parameters = query_parameters(operation)
    assert set(parameters) == allowed_parameters(op)
    if "page[size]" in parameters:
        schema = parameters["page[size]"]["schema"]
        assert op.page_size is not None
        assert op.page_size.default == schema["default"]
        assert op.page_size.maximum == schema["maximum"]
    sorts = enum(parameters["sort"]) if "sort" in parameters else set()
    assert sorts == {s for name in op.sorts for s in (name, f"-{name}")}
    assert (enum(parameters["include"]) if "include" in parameters else set()) == op.includes
    fieldsets = {name[len("fields[") : -1] for name in parameters if name.startswith("fields[")}
    assert fieldsets == op.fieldsets


@OPS
def test_filters(beta: dict[str, Any], op: Operation) -> None:
    documented = spec_op(beta, op).get("x-klaviyo-filters", {})
    assert set(documented) == set(op.filters)
    for name, rule in documented.items():
        mine = op.filters[name]
        value = rule["value"]
        assert mine.kind == KINDS[value.get("format", value["type"])], name
        assert mine.single == set(rule["operators"].get("single", [])), name
        assert mine.list == set(rule["operators"].get("list", [])), name


# --- responses against the beta spec's schemas ---------------------------------------------


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: ``nullable`` as a null alternative, ``oneOf`` as ``anyOf``
    (the variation details' alternatives have no discriminator)."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        "anyOf" if key == "oneOf" else key: openapi_to_json_schema(value)
        for key, value in node.items()
    }
    if converted.pop("nullable", False) is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture(scope="module")
def registry(beta: dict[str, Any]) -> Registry:
    contents = {"components": openapi_to_json_schema(copy.deepcopy(beta["components"]))}
    resource = Resource.from_contents(contents, default_specification=DRAFT202012)
    return Registry().with_resource(BETA_URI, resource)


def get(sandbox: Sandbox, path: str, revision: str) -> requests.Response:
    return requests.get(sandbox.url + path, headers={**KEY, "revision": revision}, timeout=10)


@OPS
def test_responses_conform_to_the_beta_spec(
    beta: dict[str, Any], registry: Registry, sandbox: Sandbox, op: Operation
) -> None:
    parents = {
        "/api/campaigns/{id}": get(sandbox, "/api/campaigns", "2026-10-15"),
        "/api/campaign-messages/{id}": get(sandbox, "/api/campaign-messages", "2026-10-15"),
    }
    path = op.path
    for prefix, listing in parents.items():
        path = path.replace(prefix, prefix.replace("{id}", listing.json()["data"][0]["id"]))
    query = f"?include={','.join(sorted(op.includes))}" if op.includes else ""
    response = get(sandbox, path + query, "2026-10-15")
    assert response.status_code == 200, response.text[:500]
    document = response.json()
    assert document["data"]
    ref = spec_op(beta, op)["responses"]["200"]["content"]["application/vnd.api+json"]["schema"]
    validator = Draft202012Validator({"$ref": f"{BETA_URI}{ref['$ref']}"}, registry=registry)
    links = {k: v for k, v in document.get("links", {}).items() if v is not None}
    problems = [e.message[:200] for e in validator.iter_errors({**document, "links": links})]
    assert not problems, problems[:10]


# --- each revision answers the other's requests as Klaviyo does -----------------------------


def test_the_2026_07_15_channel_filter_is_a_400_under_2026_10_15(sandbox: Sandbox) -> None:
    response = get(sandbox, "/api/campaigns?filter=equals(messages.channel,'email')", "2026-10-15")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": "filter"}
    assert "messages.channel" in error["detail"]


@pytest.mark.parametrize(
    ("path", "revision"),
    [
        ("/api/campaign-messages", "2026-07-15"),
        ("/api/campaign-messages", "2026-04-15"),
        ("/api/campaigns/x/campaign-audiences", "2026-07-15"),
    ],
)
def test_a_path_a_revision_does_not_have_is_a_404(
    sandbox: Sandbox, path: str, revision: str
) -> None:
    response = get(sandbox, path, revision)
    assert response.status_code == 404
    assert response.json()["errors"][0]["detail"] == "No valid revisions found for method."


def test_both_revisions_serve_the_same_campaigns(sandbox: Sandbox) -> None:
    old = set()
    for channel in ("email", "sms", "mobile_push"):
        for archived in ("true", "false"):
            query = f"equals(messages.channel,'{channel}'),equals(archived,{archived})"
            old |= {c["id"] for c in get(sandbox, f"/api/campaigns?filter={query}", "2026-07-15")
                    .json()["data"]}  # fmt: skip
    new = set()
    for archived in ("true", "false"):
        page = get(sandbox, f"/api/campaigns?filter=equals(archived,{archived})", "2026-10-15")
        new |= {c["id"] for c in page.json()["data"]}
    assert old == new == set(sandbox.account.truth("campaigns")["ids"])
