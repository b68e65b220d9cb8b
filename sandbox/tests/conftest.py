"""Fixtures of the sandbox's own tests (the sandbox's distribution: they never import the tap).

``sandbox`` is the one most tests share (seeded, rate limits off, nobody changes it); the
others each switch one behaviour on: quirks, rate limits, faults, keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sizes import SMALL, TINY

from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Quirks as ``KLAVIYO_SANDBOX_QUIRKS`` says (on unless ``off``)."""
    with running_sandbox(seed=7, sizes=SMALL, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="session")
def quirky_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox when its quirks are on, else its twin with them on."""
    if sandbox.state.quirks:
        yield sandbox
        return
    with running_sandbox(seed=7, sizes=SMALL, rate_limits=False, quirks=True) as running:
        yield running


@pytest.fixture
def limited_sandbox() -> Iterator[Sandbox]:
    """Klaviyo's rate limits on, windows fresh for every test."""
    with running_sandbox(seed=3, sizes=TINY, rate_limits=True) as running:
        yield running


@pytest.fixture(scope="module")
def faulty_sandbox() -> Iterator[Sandbox]:
    """Faults on; each test sets its own plan through ``state.faults``."""
    with running_sandbox(seed=5, sizes=TINY, rate_limits=False, faults=FaultPlan({})) as running:
        yield running


@pytest.fixture
def keyed_sandbox() -> Iterator[Sandbox]:
    """A sandbox whose keys a test may add and revoke."""
    with running_sandbox(seed=9, sizes=TINY, rate_limits=False) as running:
        yield running
