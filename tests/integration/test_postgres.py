"""End to end: what ``tap-klaviyo --config …`` writes, loaded by ``target-postgres`` into
PostgreSQL. The tap's output is the shared full sync's (tests/conftest.py), its exact bytes
fed to the target's stdin: a second full sync would only repeat it.
The live pipe, the target reading as the tap writes, is test_kill_resume's and test_meltano's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tap_klaviyo.resources import RESOURCES
from tests.conftest import target_config
from tests.singer import TapRun
from tests.truth import REPORT_STREAMS, expected_keys

pytestmark = pytest.mark.postgres

TARGET = shutil.which("target-postgres", path=str(Path(sys.executable).parent))


def load_into_target(tmp: Path, tap_output: str, schema: str) -> str:
    """Feed the tap's output to the target; return the last STATE line the target confirmed."""
    (tmp / "target.json").write_text(json.dumps(target_config(schema, validate_records=True)))
    assert TARGET, "target-postgres is not installed in the test environment"
    target = subprocess.run(
        [TARGET, "--config", str(tmp / "target.json")],
        input=tap_output,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert target.returncode == 0, target.stderr[-3000:]
    return target.stdout.strip().splitlines()[-1]


def test_every_stream_lands_in_postgres(
    sandbox: Any, full_sync: TapRun, postgres: Any, tmp_path: Path
) -> None:
    schema = f"klaviyo_e2e_{os.getpid()}"  # one per process: xdist workers never share one
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    try:
        last_state = load_into_target(tmp_path, full_sync.stdout, schema)
        assert json.loads(last_state) == full_sync.state  # the tap's last STATE, confirmed
        assert "bookmarks" in json.loads(last_state)
        tables = {
            row[0]
            for row in postgres.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
        for resource in RESOURCES:
            assert resource.name in tables, f"no table for {resource.name}"
            keys = ", ".join(f'"{k}"' for k in resource.primary_keys)
            total, distinct = postgres.execute(
                f'SELECT count(*), count(DISTINCT ({keys})) FROM "{schema}"."{resource.name}"'
            ).fetchone()
            assert total == distinct, f"{resource.name}: duplicate keys"
            if resource.name in REPORT_STREAMS:
                assert total > 0, resource.name
            else:
                assert total == len(expected_keys(sandbox, resource.name)), resource.name
        # Columns useful for analysis arrive typed, not as text blobs.
        churn = postgres.execute(
            f"""SELECT count(*) FROM "{schema}".profiles
                WHERE (predictive_analytics->>'churn_probability')::float BETWEEN 0 AND 1"""
        ).fetchone()[0]
        assert churn > 0
        for query in readme_sql(schema):
            assert postgres.execute(query).fetchall(), query
    finally:
        postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def readme_sql(schema: str) -> list[str]:
    """The README's example queries of the loaded tables, pointed at the test's schema (those
    of the dbt models: tests/integration/test_dbt_analyses.py)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", readme, re.DOTALL)
    raw = [block for block in blocks if "klaviyo_analytics." not in block]
    assert raw
    return [block.replace("klaviyo.", f'"{schema}".') for block in raw]
