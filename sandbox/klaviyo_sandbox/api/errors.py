"""Klaviyo's error responses: the JSON:API error document, and the CDN's HTML pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

JSONAPI = "application/vnd.api+json"

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
        return json_response({"errors": errors}, self.status, self._response_headers())

    def _response_headers(self) -> dict[str, str]:
        if self.status != 429:
            return self.headers
        # A 429 carries Retry-After only: RateLimit-* describe a window that just said no.
        return {k: v for k, v in self.headers.items() if not k.lower().startswith("ratelimit")}


def invalid(detail: str, parameter: str | None = None) -> ApiError:
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


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type=JSONAPI
    )


class HtmlPage(Exception):
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
