"""Errors the tap reports to its user as one actionable line (never with a traceback)."""

from __future__ import annotations


class TapKlaviyoError(Exception):
    """A problem the user can act on. ``str(error)`` is the whole message."""

    exit_code = 1
    label = "error"  # the word after ``tap-klaviyo:`` on its line


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

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint  # the path denied, ids filled in


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


class OutputClosedError(TapKlaviyoError):
    """stdout was closed: the target exited (or ``| head`` read enough). Not Klaviyo's fault
    nor a stream's: the tap stops at once, since nothing it writes can arrive."""

    exit_code = 3
    label = "stopped"

    def __init__(self) -> None:
        super().__init__(
            "stdout was closed (the target exited, or the reader stopped reading, e.g. "
            "| head), so nothing more can be written: stopping. If a target was reading, "
            "its own log says why it exited; the next run resumes from its last STATE."
        )
