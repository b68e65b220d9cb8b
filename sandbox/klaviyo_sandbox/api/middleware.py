"""Around every ``/api/`` request: latency, faults, errors as Klaviyo answers them, the log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from klaviyo_sandbox.faults import BODY_FAULTS, CDN_ERROR_PAGE, CDN_TITLES, HTML_CHALLENGE, NOT_JSON

from .errors import JSONAPI, ApiError, HtmlPage, not_found, throttled
from .state import FAULT, STATE, Handler, SandboxState


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
    except HtmlPage as page:
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
        return HtmlPage(403, HTML_CHALLENGE, {"cf-mitigated": "challenge"}).response()
    if fault in CDN_TITLES:
        page = CDN_ERROR_PAGE.format(status=fault, title=CDN_TITLES[fault]).encode()
        return HtmlPage(int(fault), page).response()
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
    try:
        await truncated.prepare(request)
        await truncated.write(body[: max(len(body) // 2, 1)])
    except ConnectionResetError:  # the client gave up first (its timeout): nothing to spoil
        pass
    _abort(request)
    return truncated


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
