"""Who may call: the account's private keys and their scopes, and the ``revision`` header."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aiohttp import web

from klaviyo_sandbox.endpoints import Operation, campaign_model
from klaviyo_sandbox.faults import CDN_ERROR_PAGE

from .errors import ApiError, HtmlPage, invalid

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


KEY_FINGERPRINT = web.RequestKey("key_fingerprint", str)
"""What the request log keeps of the request's key (``fingerprint``)."""


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

# --- authentication, revision, scopes -----------------------------------------------------


def authenticate(request: web.Request, keys: KeyRing, quirks: bool) -> frozenset[str]:
    """The scopes of the request's key; 401 without a known one."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme == "Bearer" and key.startswith("pk_") and quirks:
        # The CDN answers a private key sent as a Bearer token with an HTML 400.
        raise HtmlPage(400, CDN_ERROR_PAGE.format(status=400, title="Bad request").encode())
    if scheme != "Klaviyo-API-Key" or not key:
        raise ApiError(
            401,
            "not_authenticated",
            "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
        )
    request[KEY_FINGERPRINT] = fingerprint(key)
    scopes = keys.scopes(key)
    if scopes is None:
        raise ApiError(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
            title="Incorrect authentication credentials.",
        )
    return scopes


def check_revision(request: web.Request) -> None:
    revision = request.headers.get("revision")
    if revision is None:
        raise invalid("The 'revision' header is required.", "revision")
    if revision not in KNOWN_REVISIONS:
        raise invalid(f"Invalid revision '{revision}'.", "revision")
    if revision.startswith(RETIRED_YEARS):
        raise ApiError(
            410,
            "gone",
            f"Revision {revision} has been retired; use a revision from the last two years.",
            parameter="revision",
        )


def check_scopes(op: Operation, scopes: frozenset[str]) -> None:
    missing = [scope for scope in op.scopes if scope not in scopes]
    if missing:
        raise ApiError(
            403,
            "permission_denied",
            f"You do not have permission to perform this action. Missing scopes: "
            f"{', '.join(missing)}.",
        )


def operation_for(ops: Sequence[Operation], request: web.Request) -> Operation:
    """The operation of the request's revision; a revision without one at this path gets
    Klaviyo's 404 (an invalid revision is answered as such first)."""
    revision = request.headers.get("revision")
    if revision is None or revision not in KNOWN_REVISIONS:
        check_revision(request)
    assert revision is not None
    model = campaign_model(revision)
    found = next((op for op in ops if op.model in (None, model)), None)
    if found is None:
        raise ApiError(404, "not_found", "No valid revisions found for method.", pointer=None)
    return found
