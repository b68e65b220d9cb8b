"""A state belongs to one Klaviyo account: the one ``GET /api/accounts`` a run makes (shared
by the state's check, the reports' timezone and the ``accounts`` stream) names it, and a state
of another account stops the run before any record. Two sandboxes of different seeds are two
accounts."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY, REVISION
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.account import STATE_ACCOUNT
from tests.conftest import tap_config
from tests.singer import TapRun, run_tap, select_only

TINY = Sizes(profiles=60, events=60, lists=2, segments=1, campaigns=2, flows=2, templates=2, tags=2)
STREAMS = {"lists", "accounts"}
NO_ACCOUNTS_KEY = "pk_" + "NoAccounts" + "x" * 20 + "7Qa2"


@pytest.fixture(scope="module")
def accounts() -> Iterator[tuple[Sandbox, Sandbox]]:
    with (
        running_sandbox(seed=41, sizes=TINY, rate_limits=False) as first,
        running_sandbox(seed=43, sizes=TINY, rate_limits=False) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def catalog(accounts: tuple[Sandbox, Sandbox]) -> dict[str, Any]:
    discovered = run_tap(tap_config(accounts[0]), "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    return select_only(json.loads(discovered.stdout), STREAMS)


def account_id(sandbox: Sandbox) -> str:
    (only,) = sandbox.account.truth("accounts")["ids"]
    return str(only)


def accounts_requests(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests()["requests"] if r["path"] == "/api/accounts")


def sync(sandbox: Sandbox, catalog: dict, state: dict | None = None, **settings: Any) -> TapRun:
    return run_tap(tap_config(sandbox, **settings), catalog=catalog, state=state)


def test_a_state_of_another_account_stops_the_run_before_any_record(
    accounts: tuple[Sandbox, Sandbox], catalog: dict[str, Any]
) -> None:
    first, second = accounts
    ids = account_id(first), account_id(second)
    assert ids[0] != ids[1]
    before = accounts_requests(first)
    synced = sync(first, catalog)
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert synced.state is not None
    assert synced.state[STATE_ACCOUNT] == ids[0]
    # One request for the check, the report timezone and the accounts stream alike.
    assert accounts_requests(first) - before == 1
    assert [row["id"] for row in synced.records["accounts"]] == [ids[0]]

    crossed = sync(second, catalog, synced.state)
    assert crossed.returncode != 0
    assert '"RECORD"' not in crossed.stdout
    errors = [line for line in crossed.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, crossed.stderr[-2000:]
    assert ids[0] in errors[0]
    assert ids[1] in errors[0]
    assert "own state file" in errors[0]
    assert "Traceback" not in crossed.stderr


def test_a_state_without_an_account_is_adopted_silently(
    accounts: tuple[Sandbox, Sandbox], catalog: dict[str, Any]
) -> None:
    first, _ = accounts
    older: dict[str, Any] = {"bookmarks": {"lists": {}}}
    run = sync(first, catalog, older)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "WARNING" not in run.stderr, run.stderr[-2000:]
    assert run.state is not None
    assert run.state[STATE_ACCOUNT] == account_id(first)


def test_a_key_without_accounts_read_warns_once_that_it_could_not_check(
    accounts: tuple[Sandbox, Sandbox], catalog: dict[str, Any]
) -> None:
    first, second = accounts
    first.keys.add(NO_ACCOUNTS_KEY, ["lists:read"])
    state = {"bookmarks": {}, STATE_ACCOUNT: account_id(second)}  # not checked: no scope
    run = sync(first, select_only(catalog, {"lists"}), state, api_key=NO_ACCOUNTS_KEY)
    assert run.returncode == 0, run.stderr[-2000:]
    warned = [line for line in run.stderr.splitlines() if "could not be checked" in line]
    assert len(warned) == 1, run.stderr[-2000:]
    assert run.ids("lists")
    assert run.state is not None
    assert run.state[STATE_ACCOUNT] == account_id(second)  # kept as it was


def test_test_prints_the_accounts_id_name_and_timezone(accounts: tuple[Sandbox, Sandbox]) -> None:
    first, _ = accounts
    run = run_tap(tap_config(first), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    line = next(line for line in run.stderr.splitlines() if "| account " in line)
    request = urllib.request.Request(
        f"{first.url}/api/accounts",
        headers={"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": REVISION},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        (account,) = json.load(answer)["data"]
    attributes = account["attributes"]
    assert account["id"] in line
    assert attributes["contact_information"]["organization_name"] in line
    assert attributes["timezone"] in line
