"""Fixtures of the sandbox's HTTP tests.

The shared ``sandbox`` (seeded, rate limits off) comes from ``tests/conftest.py``;
the sandboxes here each switch one behaviour on: rate limits, faults, keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox

# A few pages of everything, and cheap to build.
TINY = Sizes(
    profiles=60, events=300, lists=3, segments=2, campaigns=6, flows=3, templates=3, tags=3
)


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
