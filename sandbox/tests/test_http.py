"""The sandbox over real HTTP: auth, revisions, parameters, pagination, limits, faults, admin."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY, REVOKED_API_KEY, AccountLike, throttled
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.endpoints import XS
from klaviyo_sandbox.faults import KINDS, FaultPlan
from klaviyo_sandbox.limits import RateLimiter
from klaviyo_sandbox.model import NotFound, Page, Query
from klaviyo_sandbox.server import Sandbox, build_account, running_sandbox

REVISION = "2026-07-15"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}",
    "revision": REVISION,
    "Accept": "application/vnd.api+json",
}
RESTRICTED_KEY = "pk_restrictedlistsonly000000000000000"
EMAIL = "filter=equals(messages.channel,'email')"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def get(sandbox: Sandbox, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return requests.get(sandbox.url + path, headers=HEADERS if headers is None else headers, **kw)


def error_of(response: requests.Response) -> dict[str, Any]:
    """The one error of a JSON:API error response; every error but a 404 has a source."""
    assert response.headers["Content-Type"].startswith("application/vnd.api+json")
    (error,) = response.json()["errors"]
    assert {"id", "status", "code", "title", "detail"} <= set(error)
    assert ("source" in error) == (response.status_code != 404)
    assert error["status"] == response.status_code
    return error


def assert_not_found(response: requests.Response, path: str) -> None:
    """Klaviyo's 404: the request path in the detail, no source."""
    assert response.status_code == 404, response.text
    error = error_of(response)
    assert UUID.fullmatch(error.pop("id"))
    assert error == {
        "status": 404,
        "code": "not_found",
        "title": "Not found",
        "detail": f"The path {path} could not be found",
    }


def truth(sandbox: Sandbox, collection: str, **params: str) -> dict[str, Any]:
    response = requests.get(f"{sandbox.url}/__sandbox/truth/{collection}", params=params)
    response.raise_for_status()
    return response.json()


def first_id(sandbox: Sandbox, path: str) -> str:
    response = get(sandbox, path)
    response.raise_for_status()
    return response.json()["data"][0]["id"]


def follow(sandbox: Sandbox, path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every resource of a collection, following ``links.next`` verbatim; and the URLs."""
    url: str | None = sandbox.url + path
    resources: list[dict[str, Any]] = []
    urls: list[str] = []
    while url:
        urls.append(url)
        response = requests.get(url, headers=HEADERS)
        assert response.status_code == 200, response.text
        body = response.json()
        resources += body["data"]
        url = body["links"]["next"]
    return resources, urls


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, f"Basic {DEMO_API_KEY}", DEMO_API_KEY, "Klaviyo-API-Key", "klaviyo-api-key x"],
)
def test_missing_or_wrong_scheme_is_not_authenticated(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {"revision": REVISION}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = get(sandbox, "/api/lists", headers)
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "not_authenticated"
    assert error["detail"] == "Missing or invalid authorization scheme. Please use Klaviyo-API-Key."


@pytest.mark.parametrize("key", ["pk_" + "x" * 34, REVOKED_API_KEY, "nonsense"])
def test_unknown_or_revoked_key_fails(sandbox: Sandbox, key: str) -> None:
    response = get(sandbox, "/api/lists", {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_demo_and_revoked_keys_are_well_formed() -> None:
    for key in (DEMO_API_KEY, REVOKED_API_KEY):
        assert len(key) == 37
        assert key.startswith("pk_")
        assert key[3:].isalnum()


def test_private_key_as_bearer_gets_the_cdn_html_page(quirky_sandbox: Sandbox) -> None:
    response = get(
        quirky_sandbox, "/api/lists", {**HEADERS, "Authorization": f"Bearer {DEMO_API_KEY}"}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")


def test_scopes_and_revocation(keyed_sandbox: Sandbox) -> None:
    admin = keyed_sandbox.url + "/__sandbox"
    added = requests.post(f"{admin}/keys", json={"key": RESTRICTED_KEY, "scopes": ["lists:read"]})
    assert added.status_code == 201
    assert RESTRICTED_KEY not in added.text
    restricted = {**HEADERS, "Authorization": f"Klaviyo-API-Key {RESTRICTED_KEY}"}
    assert get(keyed_sandbox, "/api/lists", restricted).status_code == 200
    denied = get(keyed_sandbox, "/api/profiles", restricted)
    assert denied.status_code == 403
    assert error_of(denied)["code"] == "permission_denied"
    list_id = first_id(keyed_sandbox, "/api/lists")
    # Related collections need both scopes (lists:read AND profiles:read).
    assert get(keyed_sandbox, f"/api/lists/{list_id}/profiles", restricted).status_code == 403

    assert requests.post(f"{admin}/revoke", json={"key": RESTRICTED_KEY}).status_code == 200
    revoked = get(keyed_sandbox, "/api/lists", restricted)
    assert revoked.status_code == 401
    assert error_of(revoked)["code"] == "authentication_failed"


def test_admin_rejects_malformed_keys(keyed_sandbox: Sandbox) -> None:
    admin = keyed_sandbox.url + "/__sandbox"
    assert requests.post(f"{admin}/keys", json={"key": "pk_short", "scopes": []}).status_code == 400
    bad_scope = {"key": RESTRICTED_KEY, "scopes": ["lists:everything"]}
    assert requests.post(f"{admin}/keys", json=bad_scope).status_code == 400


# --- revisions ----------------------------------------------------------------------------


def test_revision_is_required(sandbox: Sandbox) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "revision"}
    response = get(sandbox, "/api/lists", headers)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": "revision"}


@pytest.mark.parametrize("revision", ["2026-07-16", "banana", "2026-10-16", "2026-07-15.beta"])
def test_unknown_revision_is_invalid(sandbox: Sandbox, revision: str) -> None:
    response = get(sandbox, "/api/lists", {**HEADERS, "revision": revision})
    assert response.status_code == 400
    assert "Invalid revision" in error_of(response)["detail"]


@pytest.mark.parametrize("revision", ["2022-10-17", "2023-08-15.pre", "2024-10-15"])
def test_retired_revision_is_gone(sandbox: Sandbox, revision: str) -> None:
    response = get(sandbox, "/api/lists", {**HEADERS, "revision": revision})
    assert response.status_code == 410
    assert error_of(response)["code"] == "gone"


@pytest.mark.parametrize("revision", ["2025-01-15", "2026-04-15", "2026-07-15.pre"])
def test_supported_revisions(sandbox: Sandbox, revision: str) -> None:
    assert get(sandbox, "/api/lists", {**HEADERS, "revision": revision}).status_code == 200


# --- routes and methods -------------------------------------------------------------------


def test_both_path_forms(sandbox: Sandbox) -> None:
    plain, slashed = get(sandbox, "/api/lists"), get(sandbox, "/api/lists/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json()["data"] == slashed.json()["data"]
    list_id = plain.json()["data"][0]["id"]
    assert get(sandbox, f"/api/lists/{list_id}/").status_code == 200


def test_wrong_methods(sandbox: Sandbox) -> None:
    posted = requests.post(sandbox.url + "/api/lists", headers=HEADERS, json={})
    assert posted.status_code == 405
    assert posted.headers["Allow"] == "GET"
    assert error_of(posted)["code"] == "method_not_allowed"
    report = get(sandbox, "/api/metric-aggregates")
    assert report.status_code == 405
    assert report.headers["Allow"] == "POST"
    assert requests.head(sandbox.url + "/api/lists", headers=HEADERS).status_code == 405
    assert requests.delete(sandbox.url + "/api/lists", headers=HEADERS).status_code == 405


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/lists/XyZ123/nothing-here"])
def test_unknown_route_is_a_jsonapi_404(sandbox: Sandbox, path: str) -> None:
    assert_not_found(get(sandbox, path), path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/lists/XyZ123",
        "/api/lists/XyZ123/",
        "/api/profiles/01AAAAAAAAAAAAAAAAAAAAAAAA",
        "/api/lists/XyZ123/profiles",
        "/api/segments/XyZ123/profiles",
    ],
)
def test_unknown_id_is_404(sandbox: Sandbox, path: str) -> None:
    assert_not_found(get(sandbox, path), path)


class Vanishing:
    """The real account, except that ``gone`` ids were deleted after being listed.

    The data layer raises NotFound for such parents; this stand-in raises it on
    demand, so the HTTP layer's answer is tested whatever the data layer generates.
    """

    def __init__(self, account: AccountLike) -> None:
        self.account = account
        self.gone: set[str] = set()

    def _check(self, id: object) -> None:
        if id in self.gone:
            raise NotFound(f"A resource with id {id} does not exist.")

    def query(self, q: Query) -> Page:
        self._check(q.parent_id)
        return self.account.query(q)

    def get(
        self,
        collection: str,
        id: str,
        additional_fields: frozenset[str] = frozenset(),
        include: frozenset[str] = frozenset(),
    ) -> Page:
        self._check(id)
        return self.account.get(collection, id, additional_fields, include)

    def report(self, report_type: str, attributes: dict) -> dict:
        self._check(attributes.get("metric_id"))
        return self.account.report(report_type, attributes)

    def advance(self, seconds: float, move_clock: float = 0) -> dict:
        return self.account.advance(seconds, move_clock=move_clock)

    def delete(self, collection: str, id: str) -> dict[str, list[str]]:
        return self.account.delete(collection, id)

    def truth(
        self,
        collection: str,
        parent_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        field: str | None = None,
    ) -> dict:
        return self.account.truth(collection, parent_id, since, until, field)

    def summary(self) -> dict:
        return self.account.summary()


@pytest.fixture(scope="module")
def vanishing() -> Iterator[tuple[Sandbox, Vanishing]]:
    account = Vanishing(build_account(seed=3, sizes=Sizes(profiles=40, events=200, lists=3)))
    with running_sandbox(account, rate_limits=False) as running:
        yield running, account


def _aggregate(metric_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": metric_id,
                "measurements": ["count"],
                "filter": [
                    "greater-or-equal(datetime,2026-06-01T00:00:00)",
                    "less-than(datetime,2026-06-08T00:00:00)",
                ],
            },
        }
    }


def test_vanished_parents_are_404(vanishing: tuple[Sandbox, Vanishing]) -> None:
    """Listed, then deleted before the detail request: every such path is Klaviyo's 404."""
    sandbox, account = vanishing
    list_id = first_id(sandbox, "/api/lists")
    segment_id = first_id(sandbox, "/api/segments")
    action_id = first_id(sandbox, f"/api/flows/{first_id(sandbox, '/api/flows')}/flow-actions")
    metric_id = first_id(sandbox, "/api/metrics")
    paths = [
        f"/api/lists/{list_id}",
        f"/api/lists/{list_id}/profiles",
        f"/api/segments/{segment_id}",
        f"/api/segments/{segment_id}/profiles",
        f"/api/flow-actions/{action_id}/flow-messages",
    ]
    assert all(get(sandbox, path).status_code == 200 for path in paths)
    assert _post(sandbox, "/api/metric-aggregates", _aggregate(metric_id)).status_code == 200
    account.gone |= {list_id, segment_id, action_id, metric_id}
    for path in paths:
        assert_not_found(get(sandbox, path), path)
    response = _post(sandbox, "/api/metric-aggregates", _aggregate(metric_id))
    assert_not_found(response, "/api/metric-aggregates")


# --- responses ----------------------------------------------------------------------------


def test_collection_envelope_and_links(sandbox: Sandbox) -> None:
    response = get(sandbox, "/api/profiles")
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    body = response.json()
    assert set(body) == {"data", "links"}
    assert body["links"]["self"] == sandbox.url + "/api/profiles"
    assert body["links"]["prev"] is None
    assert len(body["data"]) == 20  # profiles' default page size
    for profile in body["data"]:
        assert profile["links"] == {"self": f"{sandbox.url}/api/profiles/{profile['id']}/"}


def test_single_get(sandbox: Sandbox) -> None:
    profile_id = first_id(sandbox, "/api/profiles")
    body = get(sandbox, f"/api/profiles/{profile_id}").json()
    assert body["data"]["id"] == profile_id
    assert body["data"]["links"]["self"] == f"{sandbox.url}/api/profiles/{profile_id}/"
    assert body["links"] == {"self": f"{sandbox.url}/api/profiles/{profile_id}"}


def test_include_adds_included(sandbox: Sandbox) -> None:
    body = get(sandbox, "/api/events?include=metric,profile&page[size]=5").json()
    assert "included" in body
    assert {item["type"] for item in body["included"]} <= {"metric", "profile"}
    assert "included" not in get(sandbox, "/api/events?page[size]=5").json()


def test_sparse_fieldsets(sandbox: Sandbox) -> None:
    body = get(sandbox, "/api/profiles?fields[profile]=email,location.city&page[size]=5").json()
    for profile in body["data"]:
        attributes = profile["attributes"]
        assert set(attributes) <= {"email", "location"}
        assert set(attributes.get("location") or {}) <= {"city"}


# --- query parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/lists?foo=bar", "foo"),
        ("/api/lists?page[size]=11", "page[size]"),
        ("/api/profiles?page[size]=0", "page[size]"),
        ("/api/profiles?page[size]=101", "page[size]"),
        ("/api/events?page[size]=1001", "page[size]"),
        ("/api/events?page[size]=ten", "page[size]"),
        ("/api/metrics?page[size]=10", "page[size]"),  # metrics: fixed 200 per page
        ("/api/lists?sort=email", "sort"),
        ("/api/events?sort=-created", "sort"),
        ("/api/profiles?include=lists", "include"),  # only /api/profiles/{id} has it
        ("/api/profiles?additional-fields[profile]=everything", "additional-fields[profile]"),
        ("/api/lists?additional-fields[list]=profile_count", "additional-fields[list]"),
        ("/api/lists?fields[campaign]=name", "fields[campaign]"),
        ("/api/lists?sort=name&sort=id", "sort"),
    ],
)
def test_invalid_parameters(sandbox: Sandbox, path: str, parameter: str) -> None:
    response = get(sandbox, path)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": parameter}


@pytest.mark.parametrize(
    "path",
    [
        "/api/lists?sort=-updated",
        "/api/profiles?page[size]=100&sort=updated",
        "/api/events?page[size]=1000&sort=-datetime",
        "/api/profiles?additional-fields[profile]=subscriptions,predictive_analytics",
        f"/api/campaigns?{EMAIL}&sort=-updated_at&include=tags",
    ],
)
def test_valid_parameters(sandbox: Sandbox, path: str) -> None:
    assert get(sandbox, path).status_code == 200


def test_page_size_is_honoured(sandbox: Sandbox) -> None:
    assert len(get(sandbox, "/api/profiles?page[size]=7").json()["data"]) == 7
    assert len(get(sandbox, "/api/events?page[size]=250").json()["data"]) == 250


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/profiles?filter=greater-than(updated,2020-01-01T00:00:00Z)",
        "/api/profiles?filter=less-than(created,2030-01-01T00:00:00%2B00:00)",  # "+" encoded
        "/api/profiles?filter=any(email,['a@example.com','b@example.com'])",
        "/api/events?filter=greater-or-equal(datetime,2020-01-01T00:00:00Z),has(profile)",
        "/api/events?filter=and(greater-or-equal(timestamp,1577836800),less-than(timestamp,1900000000))",
        "/api/flows?filter=equals(archived,true)",
        f"/api/campaigns?filter=and({EMAIL.removeprefix('filter=')},equals(archived,false))",
        "/api/segments?filter=equals(is_active,true)",
        '/api/tags?filter=starts-with(name,"VIP")',
    ],
)
def test_allowed_filters(sandbox: Sandbox, path: str) -> None:
    response = get(sandbox, path)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/profiles?filter=greater-or-equal(updated,2020-01-01T00:00:00Z)",  # gt/lt only
        "/api/profiles?filter=greater-than(updated,'2020-01-01T00:00:00Z')",  # quoted datetime
        "/api/profiles?filter=equals(first_name,'Ada')",  # not a filterable field
        "/api/profiles?filter=equals(email,ada@example.com)",  # unquoted string
        "/api/profiles?filter=sorta(email,'a')",  # unknown operator
        "/api/profiles?filter=equals(email,'a'",  # malformed
        "/api/lists?filter=greater-or-equal(updated,2020-01-01T00:00:00Z)",
        "/api/campaigns?filter=equals(messages.channel,'fax')",
        "/api/campaigns?filter=equals(messages.channel,email)",
        "/api/events?filter=greater-than(timestamp,'1577836800')",
        "/api/events?filter=or(has(profile),has(metric))",
        "/api/metrics?filter=equals(name,'Placed Order')",
    ],
)
def test_denied_filters(sandbox: Sandbox, path: str) -> None:
    response = get(sandbox, path)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["detail"].startswith("Invalid filter provided.")
    assert error["source"] == {"parameter": "filter"}


def test_campaigns_need_a_channel_filter(sandbox: Sandbox) -> None:
    response = get(sandbox, "/api/campaigns")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    for channel in ("email", "sms", "mobile_push"):
        url = f"/api/campaigns?filter=equals(messages.channel,'{channel}')"
        assert get(sandbox, url).status_code == 200


# --- pagination ---------------------------------------------------------------------------


def test_following_next_covers_the_truth(sandbox: Sandbox) -> None:
    profiles, urls = follow(sandbox, "/api/profiles?page[size]=100")
    ids = [profile["id"] for profile in profiles]
    assert len(urls) > 1
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(truth(sandbox, "profiles")["ids"])


def test_following_next_of_a_related_collection(sandbox: Sandbox) -> None:
    list_id = first_id(sandbox, "/api/lists")
    members, _ = follow(sandbox, f"/api/lists/{list_id}/profiles?page[size]=10")
    expected = truth(sandbox, "list-profiles", parent_id=list_id)
    assert sorted(member["id"] for member in members) == sorted(expected["ids"])


def test_a_coupons_codes_are_those_the_coupon_filter_lists(sandbox: Sandbox) -> None:
    """``/api/coupons/{id}/coupon-codes``, page by page, lists what filtering the codes by
    that coupon lists, and what the account holds for it."""
    coupons, _ = follow(sandbox, "/api/coupons")
    assert len(coupons) > 1
    for coupon in coupons:
        codes, _ = follow(sandbox, f"/api/coupons/{coupon['id']}/coupon-codes?page[size]=2")
        filtered, _ = follow(sandbox, f"/api/coupon-codes?filter=any(coupon.id,['{coupon['id']}'])")
        expected = truth(sandbox, "coupon-coupon-codes", parent_id=coupon["id"])["ids"]
        assert expected
        assert [code["id"] for code in codes] == [code["id"] for code in filtered] == expected
        assert {code["relationships"]["coupon"]["data"]["id"] for code in codes} == {coupon["id"]}
    assert_not_found(
        get(sandbox, "/api/coupons/NOPE/coupon-codes"), "/api/coupons/NOPE/coupon-codes"
    )


def test_following_next_with_a_filter_and_sort(sandbox: Sandbox) -> None:
    since = "2020-01-01T00:00:00Z"
    path = f"/api/events?filter=greater-or-equal(datetime,{since})&sort=datetime&page[size]=300"
    events, _ = follow(sandbox, path)
    expected = truth(sandbox, "events", since=since, field="datetime")
    assert sorted(event["id"] for event in events) == sorted(expected["ids"])
    # Sorted by instant to the second (a second's fractions may come in any order), whatever
    # form each timestamp is written in.
    seconds = [_second(event["attributes"]["datetime"]) for event in events]
    assert seconds == sorted(seconds)


def _second(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone.utc).replace(microsecond=0)


def test_next_link_carries_every_parameter(sandbox: Sandbox) -> None:
    path = (
        "/api/profiles?filter=greater-than(updated,2020-01-01T00:00:00Z)&sort=-updated"
        "&page[size]=3&additional-fields[profile]=subscriptions&fields[profile]=email,updated"
    )
    first = get(sandbox, path).json()
    next_url = first["links"]["next"]
    parts = urlsplit(next_url)
    assert f"{parts.scheme}://{parts.netloc}" == sandbox.url  # absolute, from the Host
    assert "page%5Bcursor%5D=" in parts.query
    query = dict(parse_qsl(parts.query))
    original = dict(parse_qsl(urlsplit(path).query))
    assert {k: v for k, v in query.items() if k != "page[cursor]"} == original
    second = requests.get(next_url, headers=HEADERS).json()
    assert {p["id"] for p in second["data"]}.isdisjoint({p["id"] for p in first["data"]})


def test_last_page_has_null_next(sandbox: Sandbox) -> None:
    _, urls = follow(sandbox, "/api/lists")
    last = requests.get(urls[-1], headers=HEADERS).json()
    assert last["links"]["next"] is None


def test_tampered_cursor_is_invalid(sandbox: Sandbox) -> None:
    next_url = get(sandbox, "/api/profiles?page[size]=5").json()["links"]["next"]
    cursor = dict(parse_qsl(urlsplit(next_url).query))["page[cursor]"]
    body, _, signature = cursor.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{flipped}.{signature}", "garbage", f"{body}.", ""):
        response = get(sandbox, "/api/profiles", params={"page[cursor]": bad})
        assert response.status_code == 400
        assert error_of(response)["detail"] == "Invalid cursor provided."
    # A good cursor of another endpoint is no cursor here.
    elsewhere = get(sandbox, "/api/events", params={"page[cursor]": cursor})
    assert error_of(elsewhere)["detail"] == "Invalid cursor provided."


# --- reports ------------------------------------------------------------------------------


def _post(sandbox: Sandbox, path: str, body: Any) -> requests.Response:
    return requests.post(sandbox.url + path, headers=HEADERS, json=body)


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"type": "flow-values-report", "attributes": {}}},
        {"data": {"type": "metric-aggregate"}},
        {"data": []},
        [],
    ],
)
def test_malformed_report_bodies(sandbox: Sandbox, body: Any) -> None:
    response = _post(sandbox, "/api/metric-aggregates", body)
    assert response.status_code == 400
    assert error_of(response)["source"] == {"pointer": "/data/"}


def test_report_body_must_be_json(sandbox: Sandbox) -> None:
    response = requests.post(sandbox.url + "/api/metric-aggregates", headers=HEADERS, data=b"{")
    assert response.status_code == 400


def _placed_order(sandbox: Sandbox) -> str:
    metrics = get(sandbox, "/api/metrics").json()["data"]
    return next(m["id"] for m in metrics if m["attributes"]["name"] == "Placed Order")


def _values_report(kind: str, statistics: Any, metric_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": f"{kind}-values-report",
            "attributes": {
                "statistics": statistics,
                "timeframe": {"key": "last_30_days"},
                "conversion_metric_id": metric_id,
            },
        }
    }


def test_report_round_trip(sandbox: Sandbox) -> None:
    body = _values_report("campaign", ["opens", "recipients"], _placed_order(sandbox))
    response = _post(sandbox, "/api/campaign-values-reports", body)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["data"]["type"] == "campaign-values-report"
    assert document["links"] == {"self": sandbox.url + "/api/campaign-values-reports"}


@pytest.mark.parametrize("kind", ["campaign", "flow"])
def test_unknown_statistics_are_one_error_each(sandbox: Sandbox, kind: str) -> None:
    statistics = ["opens", "opnes", "recipients", "revenue", 7]
    body = _values_report(kind, statistics, _placed_order(sandbox))
    response = _post(sandbox, f"/api/{kind}-values-reports", body)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert all(UUID.fullmatch(error.pop("id")) for error in errors)
    assert errors == [
        {
            "status": 400,
            "code": "invalid",
            "title": "Invalid input.",
            "detail": f"'{value}' is not a valid choice for statistics.",
            "source": {"pointer": f"/data/attributes/statistics/{index}"},
        }
        for index, value in [(1, "opnes"), (3, "revenue"), (4, 7)]
    ]


def test_report_attribute_errors_point_into_the_body(sandbox: Sandbox) -> None:
    body = _values_report("flow", ["opens"], "")
    error = error_of(_post(sandbox, "/api/flow-values-reports", body))
    assert error["code"] == "invalid"
    assert error["source"] == {"pointer": "/data/attributes/conversion_metric_id"}


# --- rate limits --------------------------------------------------------------------------


class ManualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ``opened + 60 - now`` is 60.00000000000001 here when ``now == opened``: the reading
# that once gave ``RateLimit-Reset: 61``.
ROUNDING_TRAP = 4.4


def _clocked(sandbox: Sandbox, now: float = ROUNDING_TRAP) -> ManualClock:
    clock = ManualClock(now)
    sandbox.state.limiter = RateLimiter(clock)
    return clock


def test_ratelimit_reset_never_exceeds_the_window() -> None:
    assert (ROUNDING_TRAP + 60.0) - ROUNDING_TRAP > 60  # the trap is real
    clock = ManualClock(ROUNDING_TRAP)
    limiter = RateLimiter(clock)
    assert limiter.hit("a", "op", XS).headers["RateLimit-Reset"] == "60"
    clock.now += 0.25
    assert limiter.hit("a", "op", XS).retry_after == 1  # the burst window, not 2
    clock.now += 59.5
    assert limiter.hit("a", "op", XS).headers["RateLimit-Reset"] == "1"


def test_retry_after_counts_the_steady_window_in_whole_seconds() -> None:
    clock = ManualClock(1000.0)  # whole seconds add up exactly from here
    limiter = RateLimiter(clock)
    for _ in range(XS.steady):  # one a second uses up the minute's 15
        assert not limiter.hit("a", "op", XS).throttled
        clock.now += 1.0
    assert limiter.hit("a", "op", XS).retry_after == 60 - XS.steady


def test_ratelimit_headers_on_every_response(limited_sandbox: Sandbox) -> None:
    _clocked(limited_sandbox)
    first, second = get(limited_sandbox, "/api/lists"), get(limited_sandbox, "/api/lists")
    assert first.headers["RateLimit-Limit"] == "750"
    assert (
        int(second.headers["RateLimit-Remaining"]) == int(first.headers["RateLimit-Remaining"]) - 1
    )
    assert first.headers["RateLimit-Reset"] == second.headers["RateLimit-Reset"] == "60"
    invalid = get(limited_sandbox, "/api/lists?sort=nope")
    assert invalid.status_code == 400
    assert "RateLimit-Limit" in invalid.headers
    assert get(limited_sandbox, "/api/flows").headers["RateLimit-Limit"] == "60"


def test_extra_small_tier_is_throttled(limited_sandbox: Sandbox) -> None:
    _clocked(limited_sandbox)
    list_id = first_id(limited_sandbox, "/api/lists")
    path = f"/api/lists/{list_id}?additional-fields[list]=profile_count"
    first, second = get(limited_sandbox, path), get(limited_sandbox, path)
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "15"  # XS: 1/s, 15/m
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "1"
    assert not any(name.lower().startswith("ratelimit") for name in second.headers)
    (error,) = second.json()["errors"]
    assert error["code"] == "throttled"
    assert error["title"] == "Request was throttled."
    assert error["detail"].startswith("Request was throttled. Expected available in ")
    assert error["links"]["type"].startswith("https://developers.klaviyo.com/")
    assert error["meta"] == {}
    # The same route without profile_count is another (L tier) bucket.
    assert get(limited_sandbox, f"/api/lists/{list_id}").status_code == 200
    assert requests.post(limited_sandbox.url + "/__sandbox/reset-limits").status_code == 200
    assert get(limited_sandbox, path).status_code == 200
    counts = requests.get(limited_sandbox.url + "/__sandbox/requests").json()["counts"]
    assert {"method": "GET", "route": "/api/lists/{id}", "status": 429, "count": 1} in counts


def test_throttle_clears_after_retry_after(limited_sandbox: Sandbox) -> None:
    clock = _clocked(limited_sandbox, 1000.0)  # halves add up exactly from here
    assert get(limited_sandbox, "/api/accounts").status_code == 200
    refused = get(limited_sandbox, "/api/accounts")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    clock.now += 0.5
    assert get(limited_sandbox, "/api/accounts").status_code == 429  # not a moment early
    clock.now += 0.5
    assert get(limited_sandbox, "/api/accounts").status_code == 200


def test_a_429_never_carries_ratelimit_headers(limited_sandbox: Sandbox) -> None:
    """Neither the limiter's nor an injected 429 (whose request the limiter never saw)."""
    error = throttled(2)
    error.headers.update({"RateLimit-Limit": "15", "RateLimit-Remaining": "0"})
    built = error.response()
    assert built.headers["Retry-After"] == "2"
    assert not any(name.lower().startswith("ratelimit") for name in built.headers)
    limited_sandbox.state.faults = FaultPlan({"429": 1.0})
    response = get(limited_sandbox, "/api/lists")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert not any(name.lower().startswith("ratelimit") for name in response.headers)


# --- faults -------------------------------------------------------------------------------


def _fault(sandbox: Sandbox, kind: str) -> None:
    sandbox.state.faults = FaultPlan({kind: 1.0}, timeout_seconds=5)


def _fault_counts(sandbox: Sandbox) -> dict[str, int]:
    return requests.get(sandbox.url + "/__sandbox/faults").json()["injected"]


@pytest.mark.parametrize("kind", ["500", "503", "504"])
def test_server_error_faults(faulty_sandbox: Sandbox, kind: str) -> None:
    _fault(faulty_sandbox, kind)
    response = get(faulty_sandbox, "/api/lists")
    assert response.status_code == int(kind)
    assert error_of(response)["status"] == int(kind)


@pytest.mark.parametrize("kind", ["502", "524"])
def test_cdn_error_faults(faulty_sandbox: Sandbox, kind: str) -> None:
    _fault(faulty_sandbox, kind)
    response = get(faulty_sandbox, "/api/lists")
    assert response.status_code == int(kind)
    assert response.headers["Content-Type"].startswith("text/html")


def test_throttle_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "429")
    response = get(faulty_sandbox, "/api/lists")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert error_of(response)["code"] == "throttled"


def test_html403_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "html403")
    response = get(faulty_sandbox, "/api/lists")
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["cf-mitigated"] == "challenge"


def test_reset_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "reset")
    with pytest.raises(requests.ConnectionError):
        get(faulty_sandbox, "/api/lists")


def test_timeout_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "timeout")
    with pytest.raises(requests.ReadTimeout):
        get(faulty_sandbox, "/api/lists", timeout=0.3)


def test_badjson_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "badjson")
    response = get(faulty_sandbox, "/api/lists")
    assert response.status_code == 200
    with pytest.raises(ValueError):  # noqa: PT011 - requests' JSONDecodeError is a ValueError
        response.json()


def test_truncate_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(faulty_sandbox, "/api/lists")


def test_emptynext_fault(faulty_sandbox: Sandbox) -> None:
    _fault(faulty_sandbox, "emptynext")
    body = get(faulty_sandbox, "/api/profiles?page[size]=10").json()
    assert body["data"] == []
    next_url = body["links"]["next"]
    assert next_url
    faulty_sandbox.state.faults = FaultPlan({})
    # The onward page starts where the empty one should have: nothing is lost.
    resumed = requests.get(next_url, headers=HEADERS).json()["data"]
    first = get(faulty_sandbox, "/api/profiles?page[size]=10").json()["data"]
    assert [p["id"] for p in resumed] == [p["id"] for p in first]


def test_faults_are_counted_and_spare_admin_routes(faulty_sandbox: Sandbox) -> None:
    before = _fault_counts(faulty_sandbox)
    assert set(before) == set(KINDS)
    _fault(faulty_sandbox, "500")
    assert get(faulty_sandbox, "/api/lists").status_code == 500
    assert requests.get(faulty_sandbox.url + "/__sandbox/health").status_code == 200
    assert requests.get(faulty_sandbox.url + "/__sandbox/summary").status_code == 200
    assert _fault_counts(faulty_sandbox)["500"] == 1  # a fresh plan counts from zero


def test_fault_plan_mixes_kinds_by_probability() -> None:
    plan = FaultPlan.parse("500=0.1,429=0.2,reset=0.05", seed=42)
    draws = [plan.draw() for _ in range(20_000)]
    assert 0.08 < draws.count("500") / len(draws) < 0.12
    assert 0.18 < draws.count("429") / len(draws) < 0.22
    assert 0.04 < draws.count("reset") / len(draws) < 0.06
    again = FaultPlan.parse("500=0.1,429=0.2,reset=0.05", seed=42)
    assert [again.draw() for _ in range(20_000)] == draws


@pytest.mark.parametrize("spec", ["500=2", "teapot=0.1", "500", "500=x", "500=0.6,503=0.6"])
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - FaultSpecError is a ValueError
        FaultPlan.parse(spec)


# --- admin and the request log ------------------------------------------------------------


def test_admin_routes(keyed_sandbox: Sandbox) -> None:
    admin = keyed_sandbox.url + "/__sandbox"
    assert requests.get(f"{admin}/health").json()["status"] == "ok"
    assert requests.get(f"{admin}/summary").status_code == 200
    profiles = requests.get(f"{admin}/truth/profiles").json()
    assert profiles["count"] == len(profiles["ids"]) > 0
    advanced = requests.post(f"{admin}/advance", params={"seconds": "3600"})
    assert advanced.status_code == 200
    assert requests.post(f"{admin}/reset-limits").status_code == 200
    assert requests.get(f"{admin}/faults").json() == {"plan": {}, "injected": {}}


def test_request_log(keyed_sandbox: Sandbox) -> None:
    get(keyed_sandbox, "/api/lists")
    get(keyed_sandbox, "/api/lists?sort=nope")
    requests.get(keyed_sandbox.url + "/__sandbox/health")  # admin requests are not logged
    log = requests.get(keyed_sandbox.url + "/__sandbox/requests").json()
    assert {(r["method"], r["path"], r["status"]) for r in log["requests"]} == {
        ("GET", "/api/lists", 200),
        ("GET", "/api/lists", 400),
    }
    assert all(r["key"] == "…" + DEMO_API_KEY[-4:] for r in log["requests"])
    assert DEMO_API_KEY not in str(log)
    assert {c["method"] for c in log["counts"]} == {"GET"}
    assert log["total"] == 2 == len(log["requests"])
