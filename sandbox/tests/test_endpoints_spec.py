"""The sandbox against Klaviyo's OpenAPI specs: the operation table, then every response.

They read the specs' facts at the repository's top (derived from Klaviyo's specs by
``scripts/derive_spec_facts.py``: the specs' own shape, without their prose): the stable
``spec/klaviyo-2026-07-15.json`` for the 2026-07-15 operations, the beta
``spec/klaviyo-2026-07-15.pre.json`` for revision 2026-10-15's campaign operations (the
beta's campaign endpoints, which Klaviyo released in 2026-10-15).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from klaviyo_sandbox.app import DEMO_API_KEY, allowed_parameters
from klaviyo_sandbox.data import STATISTICS, Sizes
from klaviyo_sandbox.endpoints import BY_ID, OMNICHANNEL_OPERATIONS, OPERATIONS, Operation, Tier
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox

SPECS = Path(__file__).resolve().parents[2] / "spec"


@dataclass(frozen=True)
class Spec:
    """One spec's facts, and the revision the sandbox serves its operations under."""

    name: str
    revision: str

    @property
    def uri(self) -> str:
        return f"urn:klaviyo:openapi:{self.name}"


STABLE = Spec("2026-07-15", "2026-07-15")
BETA = Spec("2026-07-15.pre", "2026-10-15")


@functools.cache
def facts(spec: Spec) -> dict[str, Any]:
    return orjson.loads((SPECS / f"klaviyo-{spec.name}.json").read_bytes())


@dataclass(frozen=True)
class Case:
    """An operation of the sandbox and the spec it answers to."""

    spec: Spec
    op: Operation


CASES = [Case(STABLE, op) for op in OPERATIONS] + [Case(BETA, op) for op in OMNICHANNEL_OPERATIONS]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The stable spec's facts."""
    return facts(STABLE)


def _spec_op(spec: dict[str, Any], op: Operation) -> dict[str, Any]:
    return spec["paths"][op.path][op.method.lower()]


def _case_op(case: Case) -> dict[str, Any]:
    return _spec_op(facts(case.spec), case.op)


def _parameters(spec_op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec_op["parameters"] if p["in"] == "query"}


def _enum(parameter: dict[str, Any]) -> set[str]:
    schema = parameter["schema"]
    return set(schema.get("items", schema).get("enum", []))


def _rate(tier: Tier) -> dict[str, str]:
    rate = {"burst": f"{tier.burst}/s", "steady": f"{tier.steady}/m"}
    if tier.daily is not None:
        rate["daily"] = f"{tier.daily}/d"
    return rate


OPS = pytest.mark.parametrize("case", CASES, ids=[case.op.operation_id for case in CASES])


@OPS
def test_identity_scopes_and_tier(case: Case) -> None:
    spec_op, op = _case_op(case), case.op
    assert spec_op["operationId"] == op.operation_id
    assert set(spec_op["x-klaviyo-scopes"]) == set(op.scopes)
    assert spec_op["x-klaviyo-ratelimit"] == _rate(op.tier)


@OPS
def test_query_parameters(case: Case) -> None:
    """The sandbox takes exactly the spec's query parameters (others are 400s)."""
    assert set(_parameters(_case_op(case))) == allowed_parameters(case.op)


@OPS
def test_page_sizes(case: Case) -> None:
    spec_op, op = _case_op(case), case.op
    parameters = _parameters(spec_op)
    assert ("page[cursor]" in parameters) == (op.page_size is not None)
    if "page[size]" in parameters:
        schema = parameters["page[size]"]["schema"]
        assert op.page_size is not None
        assert op.page_size.adjustable
        assert (op.page_size.default, op.page_size.maximum) == (
            schema["default"],
            schema["maximum"],
        )
        assert schema["minimum"] == 1
    elif op.page_size is not None:
        assert not op.page_size.adjustable
        fixed = spec_op.get("x-page-size-fixed")
        assert fixed is not None, "a fixed page size must be documented"
        assert op.page_size.default == op.page_size.maximum == fixed


@OPS
def test_sorts_includes_additional_fields_fieldsets(case: Case) -> None:
    op = case.op
    parameters = _parameters(_case_op(case))
    sorts = _enum(parameters["sort"]) if "sort" in parameters else set()
    assert sorts == {s for name in op.sorts for s in (name, f"-{name}")}
    includes = _enum(parameters["include"]) if "include" in parameters else set()
    assert includes == set(op.includes)
    additional = {
        name[len("additional-fields[") : -1]: _enum(p)
        for name, p in parameters.items()
        if name.startswith("additional-fields[")
    }
    assert additional == {kind: set(values) for kind, values in op.additional_fields.items()}
    fieldsets = {name[len("fields[") : -1] for name in parameters if name.startswith("fields[")}
    assert fieldsets == set(op.fieldsets)


KINDS = {
    "string": "string",
    "date-time": "datetime",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
}


@OPS
def test_filters(case: Case) -> None:
    op = case.op
    spec_filters = _case_op(case).get("x-klaviyo-filters") or {}
    assert set(spec_filters) == set(op.filters)
    for name, rule in spec_filters.items():
        mine = op.filters[name]
        operators = rule["operators"]
        value = rule.get("value", {})
        kind = KINDS[value.get("format", value.get("type", ""))] if value else "none"
        assert mine.kind == kind, name
        if kind == "none":
            assert mine.single == set(operators["none"]), name
            continue
        assert mine.single == set(operators.get("single", [])), name
        assert mine.list == set(operators.get("list", [])), name
        assert mine.enum == set(value.get("enum", [])), name


@OPS
def test_tier_drops(case: Case) -> None:
    """The lower tiers that the operation's description documents."""
    op = case.op
    documented = set()
    for drop in _case_op(case).get("x-klaviyo-ratelimit-drops") or []:
        parameter, value, burst, steady = (
            drop["parameter"],
            drop["value"],
            drop["burst"],
            drop["steady"],
        )
        # The description says include=list for the `lists` include value.
        plural = value if parameter != "include" or value in op.includes else f"{value}s"
        documented.add((parameter, plural, int(burst), int(steady)))
    mine = {(d.parameter, d.value, d.tier.burst, d.tier.steady) for d in op.tier_drops}
    assert mine == documented


# --- conformance: every response body validates against the operation's schema --------------


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: ``nullable: true`` becomes a null alternative, and
    ``oneOf`` reads as ``anyOf``: Klaviyo's ``oneOf``s have no discriminator and some
    alternatives coincide (email, SMS and push ``send_options`` are all
    ``{use_smart_sending}``), so a real response may match several of them."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        "anyOf" if key == "oneOf" else key: _openapi_to_json_schema(value)
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


def _with_metricless_events(components: dict[str, Any]) -> dict[str, Any]:
    """Since 2026-07-15 ``GET /api/events`` also returns events whose metric cannot be
    resolved (the SDK's changelog; exclude them with ``has(metric)``), with a null metric
    relationship that the spec's schema does not yet allow: the one deliberate bend."""
    metric = components["schemas"]["EventResponseObjectResource"]["properties"]
    data = metric["relationships"]["properties"]["metric"]["properties"]
    data["data"] = {**data["data"], "nullable": True}
    return components


@functools.cache
def registry(spec: Spec) -> Registry:
    components = copy.deepcopy(facts(spec)["components"])
    if spec == STABLE:
        components = _with_metricless_events(components)
    contents = {"components": _openapi_to_json_schema(components)}
    resource = Resource.from_contents(contents, default_specification=DRAFT202012)
    return Registry().with_resource(spec.uri, resource)


def _validator(case: Case) -> Draft202012Validator:
    response = _case_op(case)["responses"]["200"]
    ref = response["content"]["application/vnd.api+json"]["schema"]["$ref"]
    return Draft202012Validator({"$ref": f"{case.spec.uri}{ref}"}, registry=registry(case.spec))


def _without_null_links(body: dict[str, Any]) -> dict[str, Any]:
    """The spec types ``links.next``/``prev`` as optional strings; real responses (and the
    sandbox, API digest section 9) send ``null`` on the edges, which means "absent"."""
    links = body.get("links")
    if isinstance(links, dict):
        body = {**body, "links": {k: v for k, v in links.items() if v is not None}}
    return body


def _requests_for(op: Operation, ids: dict[str, str]) -> Iterator[tuple[str, str, Any]]:
    """(method, path and query, JSON body) examples exercising each operation."""
    path = op.path.replace("{id}", ids.get(op.operation_id, ""))
    if op.kind == "report":
        yield "POST", path, REPORT_BODIES[op.collection](ids)
        return
    if op.operation_id == "get_coupon_codes":  # a coupon or profile filter is required
        yield "GET", f"{path}?filter=equals(coupon.id,['{ids['coupon']}'])&include=coupon", None
        return
    if op.operation_id == "get_campaigns":
        for channel in ("email", "sms", "mobile_push"):
            yield "GET", f"{path}?filter=equals(messages.channel,'{channel}')", None
        yield (
            "GET",
            f"{path}?filter=equals(messages.channel,'email')&include=campaign-messages,tags",
            None,
        )
        return
    yield "GET", path, None
    if op.operation_id == "get_events":  # the newest events: conversions with attributions
        yield "GET", f"{path}?sort=-datetime&page[size]=1000&include=attributions,metric", None
    extras = [
        f"additional-fields[{kind}]={','.join(sorted(v))}"
        for kind, v in op.additional_fields.items()
    ]
    if op.includes:
        extras.append(f"include={','.join(sorted(op.includes))}")
    if extras:
        yield "GET", f"{path}?{'&'.join(extras)}", None


FORM_GROUPS = ["form_id", "form_version_id"]
REPORT_BODIES = {
    "form-values-report": lambda ids: {
        "data": {
            "type": "form-values-report",
            "attributes": {
                "statistics": ["viewed_form", "submits", "submit_rate"],
                "timeframe": {"key": "last_30_days"},
                "group_by": FORM_GROUPS,
            },
        }
    },
    "form-series-report": lambda ids: {
        "data": {
            "type": "form-series-report",
            "attributes": {
                "statistics": ["viewed_form_uniques", "closed_form", "submit_rate"],
                "timeframe": {"key": "last_30_days"},
                "interval": "daily",
                "group_by": FORM_GROUPS,
            },
        }
    },
    "segment-values-report": lambda ids: {
        "data": {
            "type": "segment-values-report",
            "attributes": {
                "statistics": ["total_members", "members_added"],
                "timeframe": {"key": "last_30_days"},
            },
        }
    },
    "campaign-values-report": lambda ids: {
        "data": {
            "type": "campaign-values-report",
            "attributes": {
                "statistics": ["opens", "open_rate", "recipients"],
                "timeframe": {"key": "last_30_days"},
                "conversion_metric_id": ids["placed_order"],
            },
        }
    },
    "flow-values-report": lambda ids: {
        "data": {
            "type": "flow-values-report",
            "attributes": {
                "statistics": ["opens", "clicks"],
                "timeframe": {"key": "last_30_days"},
                "conversion_metric_id": ids["placed_order"],
            },
        }
    },
    "flow-series-report": lambda ids: {
        "data": {
            "type": "flow-series-report",
            "attributes": {
                "statistics": ["recipients", "conversions", "open_rate"],
                "timeframe": {"key": "last_30_days"},
                "interval": "daily",
                "conversion_metric_id": ids["placed_order"],
            },
        }
    },
    "segment-series-report": lambda ids: {
        "data": {
            "type": "segment-series-report",
            "attributes": {
                "statistics": ["members_added", "total_members"],
                "timeframe": {"key": "last_30_days"},
                "interval": "daily",
            },
        }
    },
    "metric-aggregate": lambda ids: {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": ids["placed_order"],
                "measurements": ["count", "sum_value"],
                "interval": "day",
                "filter": [
                    "greater-or-equal(datetime,2026-06-01T00:00:00)",
                    "less-than(datetime,2026-06-08T00:00:00)",
                ],
            },
        }
    },
}


HEADERS = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": STABLE.revision}


def _headers(spec: Spec) -> dict[str, str]:
    return {**HEADERS, "revision": spec.revision}


def _first(sandbox: Sandbox, path: str, spec: Spec = STABLE) -> list[dict[str, Any]]:
    response = requests.get(sandbox.url + path, headers=_headers(spec))
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture(scope="module")
def ids(sandbox: Sandbox) -> dict[str, str]:
    """An existing id for every operation that takes one, found through the API."""
    profile = _first(sandbox, "/api/profiles")[0]["id"]
    list_id = _first(sandbox, "/api/lists")[0]["id"]
    segment = _first(sandbox, "/api/segments")[0]["id"]
    campaign = _first(sandbox, "/api/campaigns?filter=equals(messages.channel,'email')")[0]["id"]
    flow = _first(sandbox, "/api/flows")[0]["id"]
    action = _first(sandbox, f"/api/flows/{flow}/flow-actions")[0]["id"]
    metrics = _first(sandbox, "/api/metrics")
    form = _first(sandbox, "/api/forms")[0]["id"]
    coupon = _first(sandbox, "/api/coupons")[0]["id"]
    object_type = _first(sandbox, "/api/object-types")[0]["id"]
    campaign_beta = _first(sandbox, "/api/campaigns", BETA)[0]["id"]
    message_beta = _first(sandbox, "/api/campaign-messages", BETA)[0]["id"]
    return {
        "get_campaign_beta": campaign_beta,
        "get_campaign_audiences_for_campaign_beta": campaign_beta,
        "get_campaign_message_beta": message_beta,
        "get_variations_for_campaign_message_beta": message_beta,
        "get_versions_for_form": form,
        "get_records_for_object_type": object_type,
        "coupon": coupon,
        "get_coupon_codes_for_coupon": coupon,
        "get_profile": profile,
        "get_list": list_id,
        "get_profiles_for_list": list_id,
        "get_segment": segment,
        "get_profiles_for_segment": segment,
        "get_campaign": campaign,
        "get_messages_for_campaign": campaign,
        "get_flow": flow,
        "get_actions_for_flow": flow,
        "get_flow_action_messages": action,
        "placed_order": next(m["id"] for m in metrics if m["attributes"]["name"] == "Placed Order"),
    }


def _explain(error: ValidationError) -> str:
    """The deepest reason, not "is not valid under any of the given schemas"."""
    reasons = [error, best_match(error.context)] if error.context else [error]
    return " / ".join(
        f"{'/'.join(map(str, reason.absolute_path))}: {reason.message[:200]}" for reason in reasons
    )


@OPS
def test_responses_conform_to_the_spec(sandbox: Sandbox, ids: dict[str, str], case: Case) -> None:
    """Every response body of the operation validates against its 200 schema in the spec."""
    validator = _validator(case)
    headers = _headers(case.spec)
    for method, path, body in _requests_for(case.op, ids):
        response = requests.request(method, sandbox.url + path, headers=headers, json=body)
        assert response.status_code == 200, f"{method} {path}: {response.text[:500]}"
        document = response.json()
        assert document["data"], f"{method} {path}: nothing to check"
        problems = [
            _explain(error) for error in validator.iter_errors(_without_null_links(document))
        ]
        assert not problems, f"{method} {path}:\n" + "\n".join(problems[:20])
        if path.endswith("include=attributions,metric"):
            included = {i["type"] for i in document.get("included", ())}
            assert "attribution" in included, f"{method} {path}: no attribution to check"


# --- conformance: error bodies against the spec's ``4XX`` response ------------------------


def _error_validator(op: Operation) -> Any:
    """The validator of the operation's ``4XX`` body (``#/components/responses/ClientError``)."""
    ref = _spec_op(facts(STABLE), op)["responses"]["4XX"]["$ref"]
    schema = f"{ref}/content/application~1vnd.api+json/schema"
    return Draft202012Validator({"$ref": f"{STABLE.uri}{schema}"}, registry=registry(STABLE))


def _bad_statistics(ids: dict[str, str]) -> dict[str, Any]:
    body = REPORT_BODIES["campaign-values-report"](ids)
    body["data"]["attributes"]["statistics"] = ["opens", "opnes", "revenue"]
    return body


@dataclass(frozen=True)
class ErrorCase:
    """A request answered with a 4XX, and the operation whose ``4XX`` schema applies."""

    operation_id: str
    method: str
    path: str
    status: int
    count: int = 1  # errors in the body
    body: Callable[[dict[str, str]], Any] | None = None


ERROR_CASES = [
    ErrorCase("get_list", "GET", "/api/lists/XyZ123", 404),
    ErrorCase("get_profiles_for_list", "GET", "/api/lists/XyZ123/profiles", 404),
    ErrorCase("get_lists", "GET", "/api/lists/XyZ123/nothing-here", 404),
    ErrorCase("get_lists", "GET", "/api/lists?sort=nope", 400),
    ErrorCase("get_events", "GET", "/api/events?include=attribution", 400),
    ErrorCase("query_campaign_values", "POST", "/api/campaign-values-reports", 400, 2,
              _bad_statistics),
    # Klaviyo lists coupon codes only for given coupons or profiles.
    ErrorCase("get_coupon_codes", "GET", "/api/coupon-codes", 400),
    ErrorCase("get_versions_for_form", "GET", "/api/forms/XyZ123/form-versions", 404),
]  # fmt: skip


@pytest.mark.parametrize("case", ERROR_CASES, ids=[f"{c.status}-{c.path}" for c in ERROR_CASES])
def test_error_bodies_conform_to_the_spec(
    sandbox: Sandbox, ids: dict[str, str], case: ErrorCase
) -> None:
    validator = _error_validator(BY_ID[case.operation_id])
    body = case.body(ids) if case.body else None
    response = requests.request(case.method, sandbox.url + case.path, headers=HEADERS, json=body)
    assert response.status_code == case.status, response.text
    document = response.json()
    assert len(document["errors"]) == case.count
    problems = [_explain(error) for error in validator.iter_errors(document)]
    assert not problems, f"{case.method} {case.path}:\n" + "\n".join(problems)


def test_throttled_body_conforms_to_the_spec() -> None:
    validator = _error_validator(BY_ID["get_lists"])
    tiny = Sizes(profiles=20, events=50, lists=2, segments=1, campaigns=2, flows=1)
    faults = FaultPlan({"429": 1.0})
    with running_sandbox(sizes=tiny, rate_limits=False, faults=faults) as throttling:
        response = requests.get(throttling.url + "/api/lists", headers=HEADERS)
    assert response.status_code == 429
    problems = [_explain(error) for error in validator.iter_errors(response.json())]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/api/campaign-values-reports", "/api/flow-values-reports"])
def test_report_statistics_are_the_specs(spec: dict[str, Any], path: str) -> None:
    """The statistics the sandbox accepts are exactly the spec's enum (others are 400s)."""
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/vnd.api+json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
    document = spec["components"]["schemas"][name]["properties"]["data"]
    resource = spec["components"]["schemas"][document["$ref"].rsplit("/", 1)[-1]]
    attributes = resource["properties"]["attributes"]
    assert set(attributes["properties"]["statistics"]["items"]["enum"]) == STATISTICS
