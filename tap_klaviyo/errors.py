"""Errors the tap reports to its user as one actionable line (never with a traceback)."""

from __future__ import annotations


class TapKlaviyoError(Exception):
    """A problem the user can act on. ``str(error)`` is the whole message."""

    exit_code = 1


class ConfigError(TapKlaviyoError):
    """A setting is missing or malformed."""

    exit_code = 2


class InputFileError(TapKlaviyoError):
    """A config, catalog or state file cannot be read."""

    exit_code = 2


class StateAccountError(TapKlaviyoError):
    """The state was made with another Klaviyo account than the key's."""

    exit_code = 2


class AuthenticationError(TapKlaviyoError):
    """Klaviyo answered 401: the key is wrong, revoked or was sent in the wrong form."""


class PermissionDeniedError(TapKlaviyoError):
    """Klaviyo answered 403 ``permission_denied``: the key lacks a scope."""


class KlaviyoAPIError(TapKlaviyoError):
    """Any other answer the tap cannot recover from (after retries, where retrying helps)."""


class NotFoundError(KlaviyoAPIError):
    """Klaviyo answered 404 or 410 for one resource: deleted, or (410) a retired revision."""

    def __init__(self, message: str, *, status: int, endpoint: str) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class GoneError(NotFoundError):
    """410: where one parent's child answers it, that parent is gone; anywhere else, Klaviyo
    no longer serves the requested revision, and the message says so."""

    exit_code = 2
