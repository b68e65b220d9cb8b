"""The admin routes under ``/__sandbox/``: health, truth, advance, deletes, keys, logs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from aiohttp import web

from klaviyo_sandbox.model import InvalidQuery, NotFound

from .auth import REVISION, fingerprint
from .state import STATE, SandboxState


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


def add_admin_routes(app: web.Application) -> None:
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
