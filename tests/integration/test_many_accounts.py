"""Many accounts: three sandbox accounts (different seeds and sizes, so a mix-up shows),
each synced by its own ``tap-klaviyo | target-postgres`` pipeline with its own config,
state and schema, all three at once into one PostgreSQL; each schema holds its own
account's records and no other's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.server import running_sandbox
from tests.conftest import SMALL, tap_catalog, tap_config, target_config
from tests.singer import select_only
from tests.truth import expected_keys

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BIN = Path(sys.executable).parent
TAP, TARGET = (shutil.which(name, path=str(BIN)) for name in ("tap-klaviyo", "target-postgres"))
# Streams of each kind (incremental, full table, children, members), whose keys differ from
# account to account: every stream landing is test_postgres's (one account, all of them).
STREAMS = {
    *("profiles", "events", "metrics", "lists", "list_members", "segments", "segment_members"),
    *("campaigns", "campaign_messages", "flows", "global_exclusions"),
}
# The columns tests/truth.py keys each stream by (some primary keys add a snapshot time).
KEY_COLUMNS = {
    "list_members": ("list_id", "profile_id"),
    "segment_members": ("segment_id", "profile_id"),
    "global_exclusions": ("profile_id",),
}
# Each account its own seed and size: the same ids or counts in two schemas would be a mix-up.
ACCOUNTS = {
    "acme": (31, replace(SMALL, profiles=120, events=600)),
    "globex": (32, replace(SMALL, profiles=150, events=900)),
    "initech": (33, replace(SMALL, profiles=180, events=1200)),
}


def start_pipeline(tmp: Path, sandbox: Any, schema: str) -> tuple[subprocess.Popen, ...]:
    """``tap-klaviyo --config … --catalog … --state … | target-postgres --config …``, started,
    not awaited."""
    assert TAP, "tap-klaviyo is not installed in the test environment"
    assert TARGET, "target-postgres is not installed in the test environment"
    tmp.mkdir()
    (tmp / "tap.json").write_text(json.dumps(tap_config(sandbox)))
    (tmp / "catalog.json").write_text(json.dumps(select_only(tap_catalog(), STREAMS)))
    (tmp / "state.json").write_text("{}")
    (tmp / "target.json").write_text(json.dumps(target_config(schema)))
    tap = subprocess.Popen(
        [
            TAP,
            "--config",
            tmp / "tap.json",
            "--catalog",
            tmp / "catalog.json",
            "--state",
            tmp / "state.json",
        ],
        stdout=subprocess.PIPE,
        stderr=(tmp / "tap.log").open("w"),
    )
    target = subprocess.Popen(
        [TARGET, "--config", tmp / "target.json"],
        stdin=tap.stdout,
        stdout=(tmp / "state-out.jsonl").open("w"),
        stderr=(tmp / "target.log").open("w"),
    )
    assert tap.stdout
    tap.stdout.close()  # the target holds the pipe's read end now
    return tap, target


def test_three_accounts_at_once_each_into_its_own_schema(postgres: Any, tmp_path: Path) -> None:
    schemas = {name: f"klaviyo_{name}_{os.getpid()}" for name in ACCOUNTS}
    with ExitStack() as stack:
        sandboxes = {
            name: stack.enter_context(running_sandbox(seed=seed, sizes=sizes, rate_limits=False))
            for name, (seed, sizes) in ACCOUNTS.items()
        }
        try:
            pipelines = {
                name: start_pipeline(tmp_path / name, sandboxes[name], schemas[name])
                for name in ACCOUNTS
            }
            for name, processes in pipelines.items():
                for process in processes:
                    assert process.wait(timeout=300) == 0, (tmp_path / name / "tap.log").read_text()
            for name, sandbox in sandboxes.items():
                assert_schema_is_its_account(postgres, schemas[name], sandbox)
                state = (tmp_path / name / "state-out.jsonl").read_text().splitlines()[-1]
                assert "bookmarks" in json.loads(state)  # each pipeline's own state
        finally:
            for schema in schemas.values():
                postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def assert_schema_is_its_account(postgres: Any, schema: str, sandbox: Any) -> None:
    for stream in sorted(STREAMS):
        expected = expected_keys(sandbox, stream)
        assert expected, f"{stream}: the sandbox has none, so a mix-up could not show"
        keys = ", ".join(f'"{k}"' for k in KEY_COLUMNS.get(stream, ("id",)))
        rows = postgres.execute(f'SELECT {keys} FROM "{schema}"."{stream}"').fetchall()
        found = {row[0] if len(row) == 1 else tuple(row) for row in rows}
        assert found == expected, f"{schema}.{stream}: not its account's records"
