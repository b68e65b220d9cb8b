"""What Klaviyo's answer means: the page's document, a failure worth retrying, or an error
the user can act on, in one line that never holds the API key or a query's values."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import orjson
import requests

from tap_klaviyo.errors import (
    AuthenticationError,
    GoneError,
    KlaviyoAPIError,
    NotFoundError,
    PermissionDeniedError,
)

RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504, 520, 522, 524})
AUTH_HELP = (
    "Klaviyo rejected the API key (401): the API key is invalid or revoked. "
    "Create a private key under Settings > API keys and set it as 'api_key'."
)


class Redirected(Exception):
    """A 3xx answer: where it points."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


# A page's typed decoder: its document, or None to parse it the generic way.
Decode = t.Callable[[bytes], "dict[str, t.Any] | None"]


class TransientError(Exception):
    """A failure worth retrying; ``retry_after`` is the server's wish, when it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def parse_answer(
    response: requests.Response, content: bytes, decode: Decode | None = None
) -> dict[str, t.Any]:
    """The answer's JSON document; a retry (``TransientError``) or an error the user can
    act on otherwise."""
    status = response.status_code
    if status == 200 and decode is not None and (document := decode(content)) is not None:
        return document
    if status in RETRIABLE_STATUS:
        raise TransientError(str(status), retry_after_of(response) if status == 429 else None)
    if status == 401:
        raise AuthenticationError(AUTH_HELP)
    json_body = json_or_none(content, response)
    if status == 403:
        if error_code(json_body) == "permission_denied":
            raise PermissionDeniedError(
                f"Klaviyo denied access to {endpoint_of(response.url)} (403 "
                f"permission_denied): {error_detail(json_body)}",
                endpoint=endpoint_of(response.url),
            )
        # An HTML 403 is the CDN's bot challenge, not a missing scope: try again.
        raise TransientError("403 (not from the API: CDN challenge page)")
    endpoint = endpoint_of(response.url)
    if status == 410:
        raise GoneError(
            "Klaviyo no longer serves the requested API revision (410): set 'revision' "
            "to a current one, e.g. 2026-07-15.",
            status=status,
            endpoint=endpoint,
        )
    if status == 404:
        raise NotFoundError(
            f"Klaviyo answered 404 for {endpoint}: {error_detail(json_body)}",
            status=status,
            endpoint=endpoint,
        )
    if status >= 400:
        raise KlaviyoAPIError(
            f"Klaviyo answered {status} for {endpoint_of(response.url)}: "
            f"{error_detail(json_body) if json_body else 'no JSON error body'}"
        )
    if json_body is None:
        raise TransientError(f"{status} with a body that is not JSON")
    return json_body


def endpoint_of(url: str) -> str:
    """The path without its query: what logs and errors may show (never the query's values)."""
    return urlsplit(url).path


def header_number(value: str | None) -> int | None:
    """A whole number from a header (``Retry-After``, ``RateLimit-*``); None if it is not."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def retry_after_of(response: requests.Response) -> float | None:
    return header_number(response.headers.get("Retry-After"))


def json_or_none(content: bytes, response: requests.Response) -> dict[str, t.Any] | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def error_code(body: dict[str, t.Any] | None) -> str | None:
    errors = (body or {}).get("errors") or [{}]
    code = errors[0].get("code")
    return code if isinstance(code, str) else None


def error_detail(body: dict[str, t.Any] | None) -> str:
    errors = (body or {}).get("errors") or [{}]
    first = errors[0]
    return str(first.get("detail") or first.get("title") or "no detail given")


def connection_reason(error: Exception, url: str) -> str:
    """Why a connection failed, naming the host it was made to."""
    host = urlsplit(url).netloc
    text = str(error).lower()
    if "reset" in text or "aborted" in text:
        return f"connection reset by {host}"
    if "refused" in text:
        return f"connection refused by {host}"
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or ("name resolution" in text)
    ):
        return f"name not resolved: {urlsplit(url).hostname}"
    return f"connection error with {host}"
