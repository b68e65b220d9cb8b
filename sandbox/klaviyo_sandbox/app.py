"""The sandbox's HTTP layer: an aiohttp application that answers like Klaviyo's API.

Per ``/api/`` request, in order: injected latency, a fault draw, authentication
(``Klaviyo-API-Key``), the rate limiter, the ``revision`` header, the key's scopes,
the query parameters (filter, sort, page, fields, include, additional-fields), then
the data layer (``Account``). The admin routes under ``/__sandbox/`` skip all of it.

The layer lives in ``api``, one module per job: ``auth`` (keys, scopes, revisions),
``parameters``, ``documents`` (links, sparse fieldsets), ``handlers``, ``middleware``
(latency, faults, errors, the request log), ``admin``; ``errors`` and ``state`` are what
they share. This module puts them together and names what the sandbox's users import.
"""

from __future__ import annotations

from aiohttp import web

from klaviyo_sandbox.api.admin import add_admin_routes
from klaviyo_sandbox.api.auth import (
    ALL_SCOPES,
    DEMO_API_KEY,
    REVISION,
    REVOKED_API_KEY,
    KeyRing,
)
from klaviyo_sandbox.api.errors import throttled
from klaviyo_sandbox.api.handlers import operation_handler
from klaviyo_sandbox.api.middleware import api_middleware
from klaviyo_sandbox.api.parameters import allowed_parameters
from klaviyo_sandbox.api.state import STATE, AccountLike, SandboxState
from klaviyo_sandbox.endpoints import ALL_OPERATIONS, Operation
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.limits import RateLimiter

__all__ = [
    "ALL_SCOPES",
    "DEMO_API_KEY",
    "REVISION",
    "REVOKED_API_KEY",
    "STATE",
    "AccountLike",
    "KeyRing",
    "SandboxState",
    "allowed_parameters",
    "create_app",
    "throttled",
]


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
    add_admin_routes(app)
    return app
