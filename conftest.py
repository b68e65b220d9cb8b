"""The whole suite's rules (``make test``): the tap's tests (``tests/unit``, ``tests/e2e``,
``tests/integration``) and the sandbox's own (``sandbox/tests``).

- In CI (``CI=true``) a skipped test fails: a skip there would be a check that never ran.
- Under ``pytest -n`` (xdist), what runs together on one worker and what starts first.
- Bytecode is cached, whatever the environment says (below).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import Any

import pytest

IN_CI = os.environ.get("CI") == "true"

# Some machines (this project's CI among them) set PYTHONDONTWRITEBYTECODE. The suite starts
# hundreds of Python processes (xdist workers, taps, targets, Meltano's plugins, dbt), and
# each would compile every module it imports that has no cached bytecode (the checkout's, and
# those of plugin venvs installed without it), and every worker would rewrite the tests'
# asserts again: about a tenth of the suite's CPU. Caching it changes nothing under test.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI, a skip is a failure that says why it was skipped."""
    report: pytest.TestReport = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true), where every test must run: {reason}"
    return report


# --- pytest -n (xdist): what runs together, and what starts first ---------------------------
#
# A unit of work runs on one worker, with the module- and session-scoped fixtures it needs;
# by default a unit is a module (``--dist loadscope``), refined below.

# The readers of the session's ``full_sync``: one unit, so that sync runs once.
SHARED_FULL_SYNC = frozenset({"test_sync.py", "test_fidelity.py", "test_postgres.py"})
# Modules whose slow tests stand alone (own sandboxes, or cheap module fixtures): each test
# is its own unit, so they spread over the workers.
EACH_TEST_ALONE = frozenset(
    {
        "test_deletes.py",
        "test_faults.py",
        "test_kill_resume.py",
        "test_properties.py",
        "test_rate_limits.py",
    }
)
# Rough seconds of the slowest units (from --durations), to start them first: a long unit
# picked up last would leave the other workers idle at the end. Only the order depends on it.
ROUGH_SECONDS = {
    "test_kill_resume.py::test_sigkill_and_resume": 90,
    "test_daily_runs.py": 90,
    "test_dbt_analyses.py": 110,
    "test_install_as_printed.py": 60,
    "test_daily_deletes.py": 45,
    "test_first_hour_messages.py": 30,
    "test_pinned_behaviours.py": 30,
    "full_sync": 35,
    "test_deletes.py": 25,
    "test_many_accounts.py": 12,
    "test_meltano_accounts.py": 25,
    "test_packaging.py": 25,
    "test_meltano.py": 60,
    "test_rate_limits.py::test_throttled": 16,
    "test_rate_limits.py::test_full_sync_at_real_tiers": 15,
    "test_meltano_readme.py": 14,
    "test_kill_resume.py::test_a_signal": 10,
    "test_properties.py::test_full_sync_through_a_fault_mix": 10,
    "test_security.py": 10,
    "test_faults.py::test_each_fault_kind": 5,
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
