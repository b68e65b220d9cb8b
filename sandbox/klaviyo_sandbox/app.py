"""The sandbox's HTTP layer: an aiohttp application that answers like Klaviyo's API.

Per ``/api/`` request, in order: injected latency, a fault draw, authentication
(``Klaviyo-API-Key``), the rate limiter, the ``revision`` header, the key's scopes,
the query parameters (filter, sort, page, fields, include, additional-fields), then
the data layer (``Account``). The admin routes under ``/__sandbox/`` skip all of it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import orjson
from aiohttp import web

from klaviyo_sandbox.data._reports import STATISTICS
from klaviyo_sandbox.endpoints import ALL_OPERATIONS, Operation, campaign_model, tier_for
from klaviyo_sandbox.faults import (
    BODY_FAULTS,
    CDN_ERROR_PAGE,
    CDN_TITLES,
    HTML_CHALLENGE,
    NOT_JSON,
    FaultPlan,
)
from klaviyo_sandbox.filters import parse_filter
from klaviyo_sandbox.limits import Decision, RateLimiter
from klaviyo_sandbox.model import Condition, InvalidQuery, NotFound, Page, Query

JSONAPI = "application/vnd.api+json"
REVISION = "2026-07-15"

# --- keys -------------------------------------------------------------------------------

# Private keys are "pk_" + 34 alphanumerics (API digest section 5).
DEMO_API_KEY = "pk_sandbox2026demo0000000000000000000"
"""Full-access key every sandbox accepts (documented; it guards nothing real)."""
REVOKED_API_KEY = "pk_sandbox2026revoked0000000000000000"
"""A well-formed key that was revoked: 401 ``authentication_failed``, like any unknown key."""

ALL_SCOPES = frozenset(
    [f"{name}:{mode}" for name in (
        "campaigns", "catalogs", "conversations", "coupon-codes", "coupons",
        "custom-objects", "events", "flows", "forms", "images", "lists", "metrics",
        "profiles", "push-tokens", "reviews", "segments", "subscriptions", "tags",
        "templates", "tracking-settings", "web-feeds", "webhooks",
    ) for mode in ("read", "write")]
    + ["accounts:read", "data-privacy:write"]
)  # fmt: skip
PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9]{34}")
ACCOUNT = "sandbox"  # one account per app: all its keys share one quota, as at Klaviyo


class KeyRing:
    """The private keys of the sandbox account and their scopes."""

    def __init__(self) -> None:
        self._scopes: dict[str, frozenset[str]] = {DEMO_API_KEY: ALL_SCOPES}

    def add(self, key: str, scopes: Iterable[str]) -> None:
        """Add a restricted (custom) key; raises ValueError on a malformed key or scope."""
        if not PRIVATE_KEY.fullmatch(key):
            raise ValueError("a private key is 'pk_' followed by 34 letters or digits")
        granted = frozenset(scopes)
        unknown = granted - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
        self._scopes[key] = granted

    def revoke(self, key: str) -> None:
        """From now on the key gets 401 ``authentication_failed`` (revoked mid-run)."""
        self._scopes.pop(key, None)

    def scopes(self, key: str) -> frozenset[str] | None:
        """The key's scopes, or None for an unknown or revoked key."""
        return self._scopes.get(key)


def fingerprint(key: str) -> str:
    """What the request log keeps of a key: never the key itself."""
    return f"…{key[-4:]}" if key else ""


# --- revisions (API digest section 1) -----------------------------------------------------

GA_REVISIONS = frozenset(
    {
        "2022-10-17",
        "2023-01-24", "2023-02-22", "2023-06-15", "2023-07-15", "2023-08-15",
        "2023-09-15", "2023-10-15", "2023-12-15",
        "2024-02-15", "2024-05-15", "2024-06-15", "2024-07-15", "2024-10-15",
        "2025-01-15", "2025-04-15", "2025-07-15", "2025-10-15",
        "2026-01-15", "2026-04-15", "2026-07-15", "2026-10-15",
    }
)  # fmt: skip
BETA_REVISIONS = frozenset(
    {
        "2023-08-15.pre", "2025-01-15.pre", "2025-04-15.pre", "2025-07-15.pre",
        "2026-01-15.pre", "2026-04-15.pre", "2026-07-15.pre",
    }
)  # fmt: skip
KNOWN_REVISIONS = GA_REVISIONS | BETA_REVISIONS
RETIRED_YEARS = ("2022-", "2023-", "2024-")  # retired as of October 2026

# --- errors -------------------------------------------------------------------------------

TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found",
    405: "Method not allowed.",
    410: "Gone.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}
RATE_LIMIT_DOCS = (
    "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
)


class ApiError(Exception):
    """An error response in Klaviyo's JSON:API shape.

    ``source`` is ``{"parameter": ...}`` when a query parameter is named, else
    ``{"pointer": ...}``; ``pointer=None`` leaves ``source`` out (Klaviyo's 404s).
    ``more`` are further errors of the same response (one per bad value).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        parameter: str | None = None,
        pointer: str | None = "/data/",
        headers: Mapping[str, str] | None = None,
        more: Sequence[ApiError] = (),
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or TITLES.get(status, "Error.")
        self.parameter = parameter
        self.pointer = pointer
        self.headers = dict(headers or {})
        self.more = tuple(more)

    def error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        if self.parameter:
            error["source"] = {"parameter": self.parameter}
        elif self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        if self.status == 429:
            error["links"] = {"type": RATE_LIMIT_DOCS}
            error["meta"] = {}
        return error

    def response(self) -> web.Response:
        errors = [self.error_object(), *(other.error_object() for other in self.more)]
        return _json({"errors": errors}, self.status, self._response_headers())

    def _response_headers(self) -> dict[str, str]:
        if self.status != 429:
            return self.headers
        # A 429 carries Retry-After only: RateLimit-* describe a window that just said no.
        return {k: v for k, v in self.headers.items() if not k.lower().startswith("ratelimit")}


def _invalid(detail: str, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid", detail, parameter=parameter)


def not_found(path: str) -> ApiError:
    """Klaviyo's 404, for an unknown route and a missing resource (or parent) alike."""
    return ApiError(404, "not_found", f"The path {path} could not be found", pointer=None)


def throttled(retry_after: int) -> ApiError:
    """The 429: ``Retry-After`` and the ``throttled`` body, no ``RateLimit-*`` headers."""
    unit = "second" if retry_after == 1 else "seconds"
    return ApiError(
        429,
        "throttled",
        f"Request was throttled. Expected available in {retry_after} {unit}.",
        headers={"Retry-After": str(retry_after)},
    )


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type=JSONAPI
    )


# --- the account seen by the app ----------------------------------------------------------


class AccountLike(Protocol):
    """The data layer's ``Account`` as the HTTP layer uses it."""

    def query(self, q: Query) -> Page: ...
    def get(
        self,
        collection: str,
        id: str,
        additional_fields: frozenset[str] = ...,
        include: frozenset[str] = ...,
    ) -> Page: ...
    def report(self, report_type: str, attributes: dict) -> dict: ...
    def advance(self, seconds: float, move_clock: float = 0) -> dict: ...
    def delete(self, collection: str, id: str) -> dict[str, list[str]]: ...
    def truth(
        self,
        collection: str,
        parent_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        field: str | None = None,
    ) -> dict: ...
    def summary(self) -> dict: ...


# --- cursors ------------------------------------------------------------------------------


class Cursors:
    """Opaque ``page[cursor]`` values: the data layer's position, signed.

    The payload binds the position to its collection and parent, and an HMAC makes
    any tampering (or a cursor from another endpoint) a 400 "Invalid cursor provided."
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def wrap(
        self, collection: str, parent_id: str | None, after: str | None, salt: str = ""
    ) -> str:
        payload = orjson.dumps([collection, parent_id, after, salt])
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def unwrap(self, token: str, collection: str, parent_id: str | None) -> str | None:
        body, _, signature = token.partition(".")
        try:
            payload = _unb64(body)
            valid = hmac.compare_digest(_unb64(signature), self._sign(payload))
            scope, parent, after, _salt = orjson.loads(payload) if valid else (None,) * 4
        except (ValueError, TypeError, orjson.JSONDecodeError):
            valid = False
        if not valid or (scope, parent) != (collection, parent_id):
            raise _invalid("Invalid cursor provided.")
        return after

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:12]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the request log ----------------------------------------------------------------------


@dataclass
class RequestLog:
    """Counts per (method, route, status), their total, the bytes of the bodies answered,
    and a ring of the latest requests."""

    size: int = 10_000
    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    body_bytes: int = 0
    ring: deque[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.ring = deque(maxlen=self.size)
        self._lock = threading.Lock()  # tests read it from outside the server's thread

    def record(self, request: web.Request, status: int, body_bytes: int = 0) -> None:
        route = _route_template(request)
        entry = {
            "method": request.method,
            "route": route,
            "path": request.path,
            "query": request.query_string,
            "status": status,
            "key": request.get(KEY_FINGERPRINT, ""),
        }
        if REPORT_ATTRIBUTES in request:
            entry["attributes"] = request[REPORT_ATTRIBUTES]
        with self._lock:
            self.counts[(request.method, route, status)] += 1
            self.body_bytes += body_bytes
            self.ring.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = sorted(self.counts.items())
            requests = list(self.ring)
            body_bytes = self.body_bytes
        return {
            "total": sum(count for _, count in counts),
            "bytes": body_bytes,
            "counts": [
                {"method": method, "route": route, "status": status, "count": count}
                for (method, route, status), count in counts
            ],
            "requests": requests,
        }


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return template.rstrip("/") or "/"


# --- application state --------------------------------------------------------------------


@dataclass
class SandboxState:
    """Everything the handlers share; reachable as ``app[STATE]``."""

    account: AccountLike
    keys: KeyRing
    latency_ms: float
    limiter: RateLimiter | None
    faults: FaultPlan | None
    quirks: bool
    log: RequestLog = field(default_factory=RequestLog)
    cursors: Cursors = field(default_factory=lambda: Cursors(b"tap-klaviyo-sandbox"))


STATE = web.AppKey("state", SandboxState)
KEY_FINGERPRINT = web.RequestKey("key_fingerprint", str)
FAULT = web.RequestKey("fault", str)
# A report request's attributes, for the request log (tests check what was asked).
REPORT_ATTRIBUTES = web.RequestKey("report_attributes", dict)
UNPAGINATED_SIZE = 1000  # campaign messages and accounts come in one response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- authentication, revision, scopes -----------------------------------------------------


def _authenticate(request: web.Request, state: SandboxState) -> frozenset[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme == "Bearer" and key.startswith("pk_") and state.quirks:
        # The CDN answers a private key sent as a Bearer token with an HTML 400.
        raise _HtmlPage(400, CDN_ERROR_PAGE.format(status=400, title="Bad request").encode())
    if scheme != "Klaviyo-API-Key" or not key:
        raise ApiError(
            401,
            "not_authenticated",
            "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
        )
    request[KEY_FINGERPRINT] = fingerprint(key)
    scopes = state.keys.scopes(key)
    if scopes is None:
        raise ApiError(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
            title="Incorrect authentication credentials.",
        )
    return scopes


def _check_revision(request: web.Request) -> None:
    revision = request.headers.get("revision")
    if revision is None:
        raise _invalid("The 'revision' header is required.", "revision")
    if revision not in KNOWN_REVISIONS:
        raise _invalid(f"Invalid revision '{revision}'.", "revision")
    if revision.startswith(RETIRED_YEARS):
        raise ApiError(
            410,
            "gone",
            f"Revision {revision} has been retired; use a revision from the last two years.",
            parameter="revision",
        )


def _check_scopes(op: Operation, scopes: frozenset[str]) -> None:
    missing = [scope for scope in op.scopes if scope not in scopes]
    if missing:
        raise ApiError(
            403,
            "permission_denied",
            f"You do not have permission to perform this action. Missing scopes: "
            f"{', '.join(missing)}.",
        )


class _HtmlPage(Exception):
    """A response from the CDN rather than from the API: HTML, no JSON."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.Response(
            body=self.body, status=self.status, headers=self.headers, content_type="text/html"
        )


# --- query parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters:
    """The validated query parameters of one request."""

    conditions: tuple[Condition, ...] = ()
    sort: str | None = None
    descending: bool = False
    size: int = UNPAGINATED_SIZE
    cursor: str | None = None
    include: frozenset[str] = frozenset()
    additional_fields: frozenset[str] = frozenset()
    fieldsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _single_values(request: web.Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query.items():
        if name in values:
            raise _invalid(f"'{name}' may be given only once.", name)
        values[name] = value
    return values


def allowed_parameters(op: Operation) -> set[str]:
    """The query parameters an operation takes; any other one is a 400."""
    allowed = {f"fields[{kind}]" for kind in op.fieldsets} | set(op.extra_parameters)
    allowed |= {f"additional-fields[{kind}]" for kind in op.additional_fields}
    if op.filters:
        allowed.add("filter")
    if op.sorts:
        allowed.add("sort")
    if op.includes:
        allowed.add("include")
    if op.page_size is not None:
        allowed.add("page[cursor]")
        if op.page_size.adjustable:
            allowed.add("page[size]")
    return allowed


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _parameters(op: Operation, values: Mapping[str, str]) -> Parameters:
    allowed = allowed_parameters(op)
    for name in values:
        if name not in allowed:
            raise _invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)
    sort, descending = _sort(op, values.get("sort"))
    return Parameters(
        conditions=_conditions(op, values.get("filter")),
        sort=sort,
        descending=descending,
        size=_page_size(op, values.get("page[size]")),
        cursor=values.get("page[cursor]"),
        include=_listed(values.get("include"), op.includes, "include"),
        additional_fields=frozenset().union(
            *(
                _listed(values.get(f"additional-fields[{kind}]"), allowed_values, kind)
                for kind, allowed_values in op.additional_fields.items()
            )
        ),
        fieldsets={
            name[len("fields[") : -1]: tuple(_split(value))
            for name, value in values.items()
            if name.startswith("fields[")
        },
    )


def _conditions(op: Operation, text: str | None) -> tuple[Condition, ...]:
    if text is None:
        return ()
    try:
        return parse_filter(text, op.filters)
    except InvalidQuery as error:
        raise _invalid(error.detail, "filter") from None


def _sort(op: Operation, text: str | None) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    name = text.removeprefix("-")
    if name not in op.sorts:
        raise _invalid(f"'{text}' is not a valid sort for this endpoint.", "sort")
    return name, text.startswith("-")


def _page_size(op: Operation, text: str | None) -> int:
    if op.page_size is None:
        return UNPAGINATED_SIZE
    if text is None:
        return op.page_size.default
    maximum = op.page_size.maximum
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise _invalid(f"Page size must be an integer between 1 and {maximum}.", "page[size]")
    return int(text)


def _listed(text: str | None, allowed: frozenset[str], parameter: str) -> frozenset[str]:
    if text is None:
        return frozenset()
    values = _split(text)
    unknown = [value for value in values if value not in allowed]
    if unknown or not values:
        name = parameter if parameter == "include" else f"additional-fields[{parameter}]"
        raise _invalid(f"'{text}' is not a valid value for '{name}'.", name)
    return frozenset(values)


# --- response documents -------------------------------------------------------------------


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _resource_path(base: str, kind: str, id: str) -> str:
    return f"{base}/api/{kind}s/{id}/"


def _with_links(resource: dict[str, Any], base: str) -> dict[str, Any]:
    """Add Klaviyo's ``links`` to a resource object and to its relationships."""
    kind, id = resource.get("type"), resource.get("id")
    if not isinstance(kind, str) or not isinstance(id, str):
        return resource
    self_url = _resource_path(base, kind, id)
    linked = {**resource, "links": {"self": self_url}}
    relationships = resource.get("relationships")
    if isinstance(relationships, dict):
        linked["relationships"] = {
            name: (
                relation
                if not isinstance(relation, dict) or "links" in relation
                else {
                    **relation,
                    "links": {
                        "self": f"{self_url}relationships/{name}/",
                        "related": f"{self_url}{name}/",
                    },
                }
            )
            for name, relation in relationships.items()
        }
    return linked


def _sparse(resource: dict[str, Any], fieldsets: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    names = fieldsets.get(resource.get("type", ""))
    attributes = resource.get("attributes")
    if names is None or not isinstance(attributes, dict):
        return resource
    kept: dict[str, Any] = {}
    for name in names:
        _keep(attributes, kept, name.split("."))
    return {**resource, "attributes": kept}


def _keep(source: dict[str, Any], target: dict[str, Any], path: list[str]) -> None:
    """Copy the value at a dotted path (``location.city``) from source to target."""
    head, rest = path[0], path[1:]
    if head not in source:
        return
    if not rest:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        child = target.get(head)
        if not isinstance(child, dict):
            child = target[head] = {}
        _keep(source[head], child, rest)


def _present(resources: list[dict[str, Any]], base: str, parameters: Parameters) -> list[dict]:
    return [_sparse(_with_links(resource, base), parameters.fieldsets) for resource in resources]


def _next_url(request: web.Request, cursor: str) -> str:
    """The request's own URL, every parameter kept, with the new ``page[cursor]``."""
    pairs = [(name, value) for name, value in request.query.items() if name != "page[cursor]"]
    pairs.append(("page[cursor]", cursor))
    return f"{_base_url(request)}{request.path}?{urlencode(pairs, quote_via=quote)}"


# --- operation handlers -------------------------------------------------------------------


def operation_handler(ops: Sequence[Operation]) -> Handler:
    """The aiohttp handler of one method and path: auth, the operation the revision has there
    (the campaign models differ), limits, revision, scopes, then data."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        scopes = _authenticate(request, state)
        op = _operation_for(ops, request)
        values = _single_values(request)
        decision = _limit(state, op, values)
        if decision.throttled:
            assert decision.retry_after is not None
            raise throttled(decision.retry_after)
        try:
            _check_revision(request)
            _check_scopes(op, scopes)
            response = await _serve(op, request, state, values)
        except ApiError as error:
            error.headers.update(decision.headers)
            raise
        response.headers.update(decision.headers)
        return response

    return handle


def _operation_for(ops: Sequence[Operation], request: web.Request) -> Operation:
    """The operation of the request's revision; a revision without one at this path gets
    Klaviyo's 404 (an invalid revision is answered as such first)."""
    revision = request.headers.get("revision")
    if revision is None or revision not in KNOWN_REVISIONS:
        _check_revision(request)
    assert revision is not None
    model = campaign_model(revision)
    found = next((op for op in ops if op.model in (None, model)), None)
    if found is None:
        raise ApiError(404, "not_found", "No valid revisions found for method.", pointer=None)
    return found


def _limit(state: SandboxState, op: Operation, values: Mapping[str, str]) -> Decision:
    if state.limiter is None:
        return Decision(None, {})
    return state.limiter.hit(ACCOUNT, op.operation_id, tier_for(op, values))


async def _serve(
    op: Operation, request: web.Request, state: SandboxState, values: Mapping[str, str]
) -> web.Response:
    parameters = _parameters(op, values)
    try:
        if op.kind == "report":
            return await _report(op, request, state)
        if op.kind == "single":
            return _single(op, request, state, parameters)
        return _collection(op, request, state, parameters)
    except NotFound:
        # The data layer's message names the id; Klaviyo's 404 names the request path.
        raise not_found(request.path) from None
    except InvalidQuery as error:
        raise _invalid_query(op, error) from None


def _invalid_query(op: Operation, error: InvalidQuery) -> ApiError:
    """Query errors name a parameter; body errors (reports) point into the document."""
    where = error.parameter
    if where is None:
        return ApiError(400, "invalid", error.detail)
    if where.startswith("/"):
        return ApiError(400, "invalid", error.detail, pointer=where)
    if op.kind == "report":  # a report's attributes come in the body, never the query
        return ApiError(400, "invalid", error.detail, pointer=f"/data/attributes/{where}")
    return ApiError(400, "invalid", error.detail, parameter=where)


def _collection(
    op: Operation, request: web.Request, state: SandboxState, parameters: Parameters
) -> web.Response:
    parent_id = request.match_info.get("id")
    position = (
        None
        if parameters.cursor is None
        else state.cursors.unwrap(parameters.cursor, op.collection, parent_id)
    )
    base = _base_url(request)
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    short = request.get(FAULT) == "shortnext" and op.page_size is not None and state.faults
    page = state.account.query(
        Query(
            collection=op.collection,
            parent_id=parent_id,
            conditions=parameters.conditions,
            sort=parameters.sort,
            descending=parameters.descending,
            after=position,
            # A short page ends half-way, and the next link carries on from its last record.
            size=max(1, parameters.size // 2) if short else parameters.size,
            additional_fields=parameters.additional_fields,
            include=parameters.include,
        )
    )
    if short and page.data and page.after is not None:
        assert state.faults is not None
        state.faults.record("shortnext")
    if request.get(FAULT) == "emptynext" and op.page_size is not None and state.faults:
        # Legal but nasty: nothing on this page, yet the next one carries on from here
        # (salted, so its URL differs from this one's even on a cursor page).
        state.faults.record("emptynext")
        onward = state.cursors.wrap(op.collection, parent_id, position, uuid.uuid4().hex[:8])
        return _json({"data": [], "links": {**links, "next": _next_url(request, onward)}})
    if page.after is not None and op.page_size is not None:
        links["next"] = _next_url(request, state.cursors.wrap(op.collection, parent_id, page.after))
    body: dict[str, Any] = {"data": _present(page.data, base, parameters), "links": links}
    if parameters.include:
        body["included"] = _present(page.included, base, parameters)
    return _json(body)


def _single(
    op: Operation, request: web.Request, state: SandboxState, parameters: Parameters
) -> web.Response:
    page = state.account.get(
        op.collection,
        request.match_info["id"],
        additional_fields=parameters.additional_fields,
        include=parameters.include,
    )
    if not page.data:
        raise NotFound()
    base = _base_url(request)
    body: dict[str, Any] = {
        "data": _present(page.data[:1], base, parameters)[0],
        "links": {"self": str(request.url)},
    }
    if parameters.include:
        body["included"] = _present(page.included, base, parameters)
    return _json(body)


async def _report(op: Operation, request: web.Request, state: SandboxState) -> web.Response:
    try:
        document = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "parse_error", "Malformed request body: not JSON.") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("type") != op.collection:
        raise _invalid(f"The request body must be a '{op.collection}' resource object.")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise _invalid("'attributes' is required.")
    request[REPORT_ATTRIBUTES] = attributes  # the request log keeps what was asked
    if op.collection in VALUES_REPORTS:
        _check_statistics(attributes)
    result = state.account.report(op.collection, attributes)
    return _json(
        {"data": _with_links(result, _base_url(request)), "links": {"self": str(request.url)}}
    )


# Reports taking the 31 message statistics (a bad one is an error per index).
VALUES_REPORTS = frozenset({"campaign-values-report", "flow-values-report", "flow-series-report"})


def _check_statistics(attributes: Mapping[str, Any]) -> None:
    """One 400 error per unknown statistic, each pointing at its index, as Klaviyo does."""
    statistics = attributes.get("statistics")
    if not isinstance(statistics, list):
        return  # missing or not a list: the data layer's "required field" error
    bad = [
        (index, value)
        for index, value in enumerate(statistics)
        if not isinstance(value, str) or value not in STATISTICS
    ]
    if bad:
        (index, value), *rest = bad
        raise _bad_statistic(index, value, more=[_bad_statistic(*other) for other in rest])


def _bad_statistic(index: int, value: object, more: Sequence[ApiError] = ()) -> ApiError:
    return ApiError(
        400,
        "invalid",
        f"'{value}' is not a valid choice for statistics.",
        pointer=f"/data/attributes/statistics/{index}",
        more=more,
    )


# --- middleware: latency, faults, errors, the request log ---------------------------------


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Around every ``/api/`` request; admin routes pass straight through."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    state = request.app[STATE]
    if state.faults is not None:
        state.faults.arrived(request.method, request.path)
    if state.latency_ms > 0:
        await asyncio.sleep(state.latency_ms / 1000)  # concurrent requests wait in parallel
    fault = state.faults.draw() if state.faults is not None else None
    if fault is not None and fault not in BODY_FAULTS:
        assert state.faults is not None
        state.faults.record(fault)
        response = await _inject(fault, request, state, handler)
    else:
        if fault is not None:
            request[FAULT] = fault
        response = await _respond(request, handler)
        if fault in ("badjson", "truncate") and response.status == 200:
            assert state.faults is not None
            state.faults.record(fault)
            response = await _spoil(fault, request, response)
    body = response.body if isinstance(response, web.Response) else None
    size = len(body) if isinstance(body, bytes) else 0
    state.log.record(request, 0 if fault == "reset" else response.status, size)
    return response


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except _HtmlPage as page:
        return page.response()
    except web.HTTPMethodNotAllowed as error:
        allow = ", ".join(sorted(error.allowed_methods))
        return ApiError(
            405, "method_not_allowed", f"Method \"{request.method}\" not allowed.",
            headers={"Allow": allow},
        ).response()  # fmt: skip
    except web.HTTPNotFound:
        return not_found(request.path).response()


async def _inject(
    fault: str, request: web.Request, state: SandboxState, handler: Handler
) -> web.StreamResponse:
    """The faults that replace the API's answer (server errors, CDN pages, resets)."""
    if fault == "timeout":
        assert state.faults is not None
        await asyncio.sleep(state.faults.timeout_seconds)
        return await _respond(request, handler)
    if fault == "reset":
        _abort(request)
        return web.Response(status=200)  # never sent: the connection is gone
    if fault == "429":
        return throttled(1).response()
    if fault == "html403":
        return _HtmlPage(403, HTML_CHALLENGE, {"cf-mitigated": "challenge"}).response()
    if fault in CDN_TITLES:
        page = CDN_ERROR_PAGE.format(status=fault, title=CDN_TITLES[fault]).encode()
        return _HtmlPage(int(fault), page).response()
    status = int(fault)
    return ApiError(status, "error", f"Injected {status}: please try again later.").response()


async def _spoil(
    fault: str, request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """Turn a good 200 into a broken one: not JSON, or cut off mid-body."""
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes):
        return response
    kept = {name: value for name, value in response.headers.items() if name.startswith("RateLimit")}
    if fault == "badjson":
        return web.Response(body=NOT_JSON, status=200, headers=kept, content_type=JSONAPI)
    truncated = web.StreamResponse(status=200, headers={**kept, "Content-Type": JSONAPI})
    truncated.content_length = len(body)
    await truncated.prepare(request)
    await truncated.write(body[: max(len(body) // 2, 1)])
    _abort(request)
    return truncated


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


# --- admin: /__sandbox/ -------------------------------------------------------------------


def _admin(request: web.Request) -> SandboxState:
    return request.app[STATE]


def _plain(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _health(request: web.Request) -> web.Response:
    state = _admin(request)
    return _plain(
        {
            "status": "ok",
            "revision": REVISION,
            "rate_limits": state.limiter is not None,
            "latency_ms": state.latency_ms,
            "quirks": state.quirks,
            "faults": state.faults.probabilities if state.faults else {},
        }
    )


async def _summary(request: web.Request) -> web.Response:
    return _plain(_admin(request).account.summary())


def _admin_datetime(request: web.Request, name: str) -> dt.datetime | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: not an ISO datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


async def _truth(request: web.Request) -> web.Response:
    account = _admin(request).account
    try:
        answer = account.truth(
            request.match_info["collection"],
            parent_id=request.query.get("parent_id"),
            since=_admin_datetime(request, "since"),
            until=_admin_datetime(request, "until"),
            field=request.query.get("field"),
        )
    except NotFound as error:
        return _plain({"error": str(error) or "not found"}, 404)
    except (InvalidQuery, ValueError, KeyError) as error:
        return _plain({"error": str(error)}, 400)
    return _plain(answer)


async def _advance(request: web.Request) -> web.Response:
    try:
        seconds = float(request.query.get("seconds", "3600"))
    except ValueError:
        return _plain({"error": "seconds: not a number"}, 400)
    try:
        move_clock = float(request.query.get("move_clock", "0"))
    except ValueError:
        return _plain({"error": "move_clock: not a number"}, 400)
    return _plain(_admin(request).account.advance(seconds, move_clock=move_clock))


async def _delete(request: web.Request) -> web.Response:
    """Delete one object (and its children) as a user would: the ids gone, by collection."""
    info = request.match_info
    try:
        return _plain(_admin(request).account.delete(info["collection"], info["id"]))
    except NotFound as error:
        return _plain({"error": str(error) or "not found"}, 404)
    except InvalidQuery as error:
        return _plain({"error": str(error)}, 400)


async def _requests(request: web.Request) -> web.Response:
    return _plain(_admin(request).log.snapshot())


async def _faults(request: web.Request) -> web.Response:
    plan = _admin(request).faults
    return _plain(
        {
            "plan": plan.probabilities if plan else {},
            "injected": plan.counts() if plan else {},
        }
    )


async def _admin_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise web.HTTPBadRequest(text="body: not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("key"), str):
        raise web.HTTPBadRequest(text='body: {"key": "pk_..."} expected')
    return body


async def _add_key(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    scopes = body.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        return _plain({"error": "scopes: a list of strings expected"}, 400)
    try:
        _admin(request).keys.add(body["key"], scopes)
    except ValueError as error:
        return _plain({"error": str(error)}, 400)
    return _plain({"key": fingerprint(body["key"]), "scopes": sorted(scopes)}, 201)


async def _revoke(request: web.Request) -> web.Response:
    body = await _admin_body(request)
    _admin(request).keys.revoke(body["key"])
    return _plain({"key": fingerprint(body["key"]), "revoked": True})


async def _reset_limits(request: web.Request) -> web.Response:
    limiter = _admin(request).limiter
    if limiter is not None:
        limiter.reset()
    return _plain({"reset": True})


def _add_admin_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/__sandbox/health", _health)
    router.add_get("/__sandbox/summary", _summary)
    router.add_get("/__sandbox/truth/{collection}", _truth)
    router.add_post("/__sandbox/advance", _advance)
    router.add_post("/__sandbox/delete/{collection}/{id}", _delete)
    router.add_get("/__sandbox/requests", _requests)
    router.add_get("/__sandbox/faults", _faults)
    router.add_post("/__sandbox/keys", _add_key)
    router.add_post("/__sandbox/revoke", _revoke)
    router.add_post("/__sandbox/reset-limits", _reset_limits)


# --- the factory --------------------------------------------------------------------------


def create_app(
    account: AccountLike,
    *,
    keys: KeyRing,
    latency_ms: float = 0,
    rate_limits: bool = True,
    faults: FaultPlan | None = None,
    quirks: bool = True,
) -> web.Application:
    """The sandbox application around one account.

    ``quirks`` turns on the HTTP-level oddities of the real service (today: the CDN's
    HTML 400 for a private key sent as ``Authorization: Bearer``).
    """
    app = web.Application(middlewares=[api_middleware])
    app[STATE] = SandboxState(
        account=account,
        keys=keys,
        latency_ms=latency_ms,
        limiter=RateLimiter() if rate_limits else None,
        faults=faults,
        quirks=quirks,
    )
    routes: dict[tuple[str, str], list[Operation]] = {}
    for op in ALL_OPERATIONS:
        routes.setdefault((op.method, op.path), []).append(op)
    for (method, route), ops in routes.items():
        handler = operation_handler(ops)
        for path in (route, f"{route}/"):  # clients send both forms
            app.router.add_route(method, path, handler)
    _add_admin_routes(app)
    return app
