"""The operation handlers: auth, limits, revision, scopes, then the data layer."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from klaviyo_sandbox.data import STATISTICS
from klaviyo_sandbox.endpoints import Operation, tier_for
from klaviyo_sandbox.limits import Decision
from klaviyo_sandbox.model import InvalidQuery, NotFound, Query

from .auth import ACCOUNT, authenticate, check_revision, check_scopes, operation_for
from .documents import base_url, next_url, present, with_links
from .errors import ApiError, invalid, json_response, not_found, throttled
from .parameters import Parameters, parse_parameters, single_values
from .state import FAULT, REPORT_ATTRIBUTES, STATE, Handler, SandboxState


def operation_handler(ops: Sequence[Operation]) -> Handler:
    """The aiohttp handler of one method and path: auth, the operation the revision has there
    (the campaign models differ), limits, revision, scopes, then data."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        scopes = authenticate(request, state.keys, state.quirks)
        op = operation_for(ops, request)
        values = single_values(request)
        decision = _limit(state, op, values)
        if decision.throttled:
            assert decision.retry_after is not None
            raise throttled(decision.retry_after)
        try:
            check_revision(request)
            check_scopes(op, scopes)
            response = await _serve(op, request, state, values)
        except ApiError as error:
            error.headers.update(decision.headers)
            raise
        response.headers.update(decision.headers)
        return response

    return handle


def _limit(state: SandboxState, op: Operation, values: Mapping[str, str]) -> Decision:
    if state.limiter is None:
        return Decision(None, {})
    return state.limiter.hit(ACCOUNT, op.operation_id, tier_for(op, values))


async def _serve(
    op: Operation, request: web.Request, state: SandboxState, values: Mapping[str, str]
) -> web.Response:
    parameters = parse_parameters(op, values)
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
    base = base_url(request)
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
        return json_response({"data": [], "links": {**links, "next": next_url(request, onward)}})
    if page.after is not None and op.page_size is not None:
        links["next"] = next_url(request, state.cursors.wrap(op.collection, parent_id, page.after))
    body: dict[str, Any] = {"data": present(page.data, base, parameters), "links": links}
    if parameters.include:
        body["included"] = present(page.included, base, parameters)
    return json_response(body)


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
    base = base_url(request)
    body: dict[str, Any] = {
        "data": present(page.data[:1], base, parameters)[0],
        "links": {"self": str(request.url)},
    }
    if parameters.include:
        body["included"] = present(page.included, base, parameters)
    return json_response(body)


async def _report(op: Operation, request: web.Request, state: SandboxState) -> web.Response:
    try:
        document = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "parse_error", "Malformed request body: not JSON.") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("type") != op.collection:
        raise invalid(f"The request body must be a '{op.collection}' resource object.")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise invalid("'attributes' is required.")
    request[REPORT_ATTRIBUTES] = attributes  # the request log keeps what was asked
    if op.collection in VALUES_REPORTS:
        _check_statistics(attributes)
    result = state.account.report(op.collection, attributes)
    return json_response(
        {"data": with_links(result, base_url(request)), "links": {"self": str(request.url)}}
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
