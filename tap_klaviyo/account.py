"""The Klaviyo account a state belongs to: a state made with one account's key is never used
with another's (its bookmarks would skip this account's data, and its table versions would
mark the other's rows deleted)."""

from __future__ import annotations

import logging
import typing as t

from tap_klaviyo.errors import StateAccountError, TapKlaviyoError
from tap_klaviyo.run import RunContext

# The state's key for the account it was made with (``GET /api/accounts``' id).
STATE_ACCOUNT = "account_id"


def describe_account(run: RunContext) -> str:
    """The account's id, name and timezone, for ``--test`` and the account check."""
    account = run.account
    if account is None:
        return "unknown (the key lacks the scope accounts:read)"
    contact = account.get("contact_information") or {}
    name = contact.get("organization_name") or contact.get("default_sender_name")
    return f"{account.get('id')} ({name or 'no name'}, timezone {account.get('timezone')})"


def check_account(run: RunContext, state: t.Mapping[str, t.Any]) -> None:
    """Before any record: a state that names its account must be the key's, else the run
    stops. A new or older state names none: ``record_account`` adopts it."""
    saved = state.get(STATE_ACCOUNT)
    if not isinstance(saved, str):
        return
    account = run.account
    if account is None:
        warn_account_unknown(run.logger)
        return
    key_account = str(account.get("id"))
    if saved != key_account:
        raise StateAccountError(
            f"The state is Klaviyo account {saved}'s, but the API key is account "
            f"{key_account}'s: run with account {key_account}'s own state file, or "
            f"without a state to sync it from start_date."
        )


def record_account(run: RunContext, state: dict[str, t.Any]) -> bool:
    """After the streams, a state that names no account takes the key's: from the run's
    one ``GET /api/accounts`` (made now if no stream needed it), so that a request there
    never comes before a first run's records. Whether the state changed."""
    if isinstance(state.get(STATE_ACCOUNT), str):
        return False
    try:
        account = run.account
    except TapKlaviyoError as error:  # the records are safe: only the check waits
        run.logger.warning(
            "The state's account could not be recorded (%s); the next run records it.", error
        )
        return False
    if account is None:
        warn_account_unknown(run.logger)
        return False
    state[STATE_ACCOUNT] = str(account.get("id"))
    return True


def warn_account_unknown(logger: logging.Logger) -> None:
    logger.warning(
        "The key lacks the scope accounts:read: whether the state is this account's "
        "could not be checked. Add the scope to the key to have it checked."
    )
