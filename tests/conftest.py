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
    """The sandbox most tests share: real quirks, rate limits off (tested on their own)."""
    with running_sandbox(seed=7, sizes=SMALL, rate_limits=False) as running:
        yield running


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    """A sandbox of the test's own, for tests that change the account (clock, keys)."""
    with running_sandbox(seed=11, sizes=SMALL, rate_limits=False) as running:
        yield running


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
