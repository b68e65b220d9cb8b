"""What the handlers share: the account as the HTTP layer sees it, signed cursors, the
request log, and the application state (``app[STATE]``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import web

from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.limits import RateLimiter
from klaviyo_sandbox.model import Page, Query

from .auth import KEY_FINGERPRINT, KeyRing
from .errors import invalid

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
    def report(self, report_type: str, attributes: dict[str, Any]) -> dict[str, Any]: ...
    def advance(self, seconds: float, move_clock: float = 0) -> dict[str, Any]: ...
    def delete(self, collection: str, id: str) -> dict[str, list[str]]: ...
    def truth(
        self,
        collection: str,
        parent_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        field: str | None = None,
    ) -> dict[str, Any]: ...
    def summary(self) -> dict[str, Any]: ...


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
            raise invalid("Invalid cursor provided.")
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
        route = route_template(request)
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


def route_template(request: web.Request) -> str:
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
FAULT = web.RequestKey("fault", str)
# A report request's attributes, for the request log (tests check what was asked).
REPORT_ATTRIBUTES = web.RequestKey("report_attributes", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
