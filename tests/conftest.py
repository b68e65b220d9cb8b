"""Shared fixtures: a running sandbox, the tap's config for it, its catalog, the local
PostgreSQL. What runs where, and the suite's rules: the ``conftest.py`` at the top."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.singer import TapRun, run_tap

# Small enough for a quick suite, large enough for several pages of every collection.
SMALL = Sizes(
    profiles=450, events=3500, lists=6, segments=4, campaigns=24, flows=6, templates=12, tags=6
)
POSTGRES_DSN = os.environ.get(
    "TAP_KLAVIYO_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The sandbox most tests share: rate limits off (tested on their own), quirks as
    ``KLAVIYO_SANDBOX_QUIRKS`` says (on unless ``off``: the suite runs both ways).
    Nobody changes it (``fresh_sandbox`` is for that), so its reads can be shared too."""
    with running_sandbox(seed=7, sizes=SMALL, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="session")
def quirky_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """For the tests of a quirk: the shared sandbox when its quirks are on, else its twin
    with them on."""
    if sandbox.state.quirks:
        yield sandbox
        return
    with running_sandbox(seed=7, sizes=SMALL, rate_limits=False, quirks=True) as running:
        yield running


@functools.cache
def discovered_catalog() -> str:
    """The tap's catalog (``--discover`` reads no account): discovered once per run."""
    run = run_tap({"api_key": DEMO_API_KEY, "base_url": "http://127.0.0.1:9"}, "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def tap_catalog() -> dict[str, Any]:
    """A copy of the tap's catalog, for the caller to select streams in."""
    copy: dict[str, Any] = json.loads(discovered_catalog())
    return copy


def sync_all(sandbox: Sandbox) -> TapRun:
    run = run_tap(tap_config(sandbox, report_timeframe_days=365))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def full_sync(sandbox: Sandbox) -> TapRun:
    """One full sync of the shared sandbox (every stream, a year of reports), read by
    test_sync, test_fidelity and test_postgres."""
    return sync_all(sandbox)


@pytest.fixture(scope="session")
def quirky_full_sync(quirky_sandbox: Sandbox, sandbox: Sandbox, full_sync: TapRun) -> TapRun:
    """The full sync of ``quirky_sandbox`` (the same run when that is the shared one)."""
    return full_sync if quirky_sandbox is sandbox else sync_all(quirky_sandbox)


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    """A sandbox of the test's own, for tests that change the account (clock, keys)."""
    with running_sandbox(seed=11, sizes=SMALL, rate_limits=False) as running:
        yield running


# For tests of the bookmark itself: no trailing re-read, no second read of late events.
BOOKMARK_ONLY = {"lookback_window": 0, "late_events_days": 0}


class Served(Protocol):
    """What ``tap_config`` reads of a sandbox: where it listens."""

    @property
    def url(self) -> str: ...


def tap_config(sandbox: Served, **settings: Any) -> dict[str, Any]:
    """The tap's config for ``sandbox``: without the client-side rate-limit budget (the
    sandboxes here have no limits), unless ``rate_limit_budget=True`` is given (the tests of
    Klaviyo's tiers)."""
    return {
        "api_key": DEMO_API_KEY,
        "base_url": sandbox.url,
        "rate_limit_budget": False,
        **settings,
    }


def target_config(schema: str, *, validate_records: bool = False) -> dict[str, Any]:
    """target-postgres settings for the local PostgreSQL, loading into ``schema``.

    The target validates each record against its SCHEMA only where asked: that check costs
    more CPU than the load itself, and every record's schema is checked more strictly (with
    formats) in tests/e2e/test_sync.py. The loads that stand for a user's (every stream, the
    daily runs, 2026-10-15's tables, the README's install, Meltano) keep the target's default:
    on."""
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "user": "postgres",
        "password": "",
        "database": "test",
        "default_target_schema": schema,
        "validate_records": validate_records,
    }


@pytest.fixture
def postgres() -> Iterator[Any]:
    """A connection to the local PostgreSQL; in CI a missing server fails, never skips."""
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_DSN}: {error}")
    with connection:
        yield connection
