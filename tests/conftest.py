"""Shared fixtures: a running sandbox, the tap's config for it, the local PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.singer import TapRun, run_tap

SPEC = Path(__file__).resolve().parents[1].parent / "shared/klaviyo-openapi/stable-2026-07-15.json"
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


def sync_all(sandbox: Sandbox) -> TapRun:
    run = run_tap(tap_config(sandbox, report_timeframe_days=365))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def full_sync(sandbox: Sandbox) -> TapRun:
    """One full sync of the shared sandbox (every stream, a year of reports), read by
    test_sync, test_fidelity and test_postgres: it takes ~30 s, mostly Klaviyo's own rate
    limits, which the tap keeps to whatever the sandbox does."""
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


def tap_config(sandbox: Sandbox, **settings: Any) -> dict[str, Any]:
    return {"api_key": DEMO_API_KEY, "base_url": sandbox.url, **settings}


def target_config(schema: str) -> dict[str, Any]:
    """target-postgres settings for the local PostgreSQL, loading into ``schema``."""
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "user": "postgres",
        "password": "",
        "database": "test",
        "default_target_schema": schema,
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


# --- pytest -n (xdist): what runs together, and what starts first ---------------------------
#
# Most of the suite's time is the tap waiting on Klaviyo's rate limits (the budget keeps to
# them whatever the sandbox does), not CPU: several workers overlap those waits, even on two
# cores. A unit of work runs on one worker, with the module- and session-scoped fixtures it
# needs; by default a unit is a module (``--dist loadscope``), refined below.

# The readers of the session's ``full_sync``: one unit, so that sync runs once.
SHARED_FULL_SYNC = frozenset({"test_sync.py", "test_fidelity.py", "test_postgres.py"})
# Modules whose slow tests stand alone (own sandboxes, or cheap module fixtures): each test
# is its own unit, so they spread over the workers.
EACH_TEST_ALONE = frozenset(
    {"test_faults.py", "test_kill_resume.py", "test_properties.py", "test_rate_limits.py"}
)
# Rough seconds of the slowest units (from --durations), to start them first: a long unit
# picked up last would leave the other workers idle at the end. Only the order depends on it.
ROUGH_SECONDS = {
    "test_properties.py::test_full_sync_through_a_fault_mix": 60,
    "test_kill_resume.py::test_sigkill_and_resume": 50,
    "test_meltano.py": 120,
    "test_install_as_printed.py": 60,
    "test_first_hour_messages.py": 40,
    "test_daily_runs.py": 120,
    "test_dbt_analyses.py": 90,
    "test_many_accounts.py": 50,
    "test_security.py": 55,
    "full_sync": 45,
    "test_rate_limits.py::test_full_sync_at_real_tiers": 30,
    "test_boundaries.py": 30,
    "test_sdk_standard.py": 30,
    "test_first_hour.py": 35,
    "test_packaging.py": 25,
    "test_rate_limits.py::test_throttled": 13,
    "test_kill_resume.py::test_a_signal": 12,
    "test_incremental.py": 12,
    "test_faults.py::test_key_revoked": 10,
    "test_faults.py::test_each_fault_kind": 6,
}


def xdist_unit(nodeid: str) -> str:
    """The unit of work of a test: its module, the shared sync's readers, or itself."""
    module = nodeid.split("::", maxsplit=1)[0]
    name = module.rsplit("/", 1)[-1]
    if name in SHARED_FULL_SYNC:
        return "full_sync"
    return nodeid if name in EACH_TEST_ALONE else module


def rough_seconds(nodeid: str) -> float:
    module, _, test = nodeid.partition("::")
    where = f"{module.rsplit('/', 1)[-1]}::{test}"
    unit = xdist_unit(nodeid)
    for prefix, seconds in ROUGH_SECONDS.items():
        if prefix == unit or where.startswith(prefix):
            return seconds
    return 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist's workers, slowest units first: the order their work is handed out in (with
    --no-loadscope-reorder). A stable sort keeps each unit's own order; a plain run keeps
    the files' order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: -rough_seconds(item.nodeid))


# Before xdist's own choice; optional: without xdist installed, pytest knows no such hook.
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with the units above (xdist's loadgroup marks do not reach the
    scheduler under pytest 9: they are written into nodeids, which pytest 9 derives anew)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

    return UnitScheduling(config, log)
