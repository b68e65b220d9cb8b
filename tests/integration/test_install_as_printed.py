"""The README's install and daily pipeline, run as printed, from a fresh virtualenv.

A copy of the checkout stands for the clone (``git clone`` is the one line not run); the
install block's other lines run as they are, in one shell: a fresh ``.venv``, ``pip install .
meltanolabs-target-postgres`` (PyPI, or the machine's own index), ``createdb``. Then the
README's ``daily.sh`` loads a sandbox account into that new database twice, the second run
from the first one's state; the database is dropped after.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.conftest import POSTGRES_DSN
from tests.truth import expected_keys

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# Small: the point is the install and the pipeline, not the volume (the XS tier's lists and
# segments take a second each).
SIZES = Sizes(profiles=60, events=300, lists=2, segments=2, campaigns=3, flows=2, tags=2)
CHECKED = ("profiles", "events", "lists", "campaigns", "list_members")
TIMEOUT = 600


def block(marker: str, language: str) -> str:
    """The README's code between ``<!-- marker:start -->`` and its end marker."""
    section = README.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->")[0]
    (code,) = re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)
    return code


def readme_target_json() -> dict[str, Any]:
    connect = README.split("## Connect your Klaviyo account", 1)[1]
    blocks = re.findall(r"```json\n(.*?)```", connect, re.DOTALL)
    (target,) = (json.loads(b) for b in blocks if '"default_target_schema"' in b)
    return target


def shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def succeeded(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The checkout's files, as ``git clone`` would give them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    )  # fmt: skip
    root = tmp_path / "tap-klaviyo"
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


@pytest.fixture
def database(postgres: Any) -> Iterator[str]:
    """A database name of the test's own; whatever the README's commands create, dropped."""
    name = f"warehouse_readme_{os.getpid()}"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        yield name
    finally:
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_the_readme_install_and_daily_run_work_as_printed(
    clone: Path, database: str, postgres: Any
) -> None:
    install = block("install", "sh")
    commands = [line for line in install.splitlines() if line.strip()]
    assert commands[0].startswith("git clone "), "the clone is what the copy stands for"
    assert "pip install . meltanolabs-target-postgres" in install
    assert re.search(r"^createdb .* warehouse\b", install, re.MULTILINE)
    # The database is the test's own; everything else runs as printed.
    script = "set -e\n" + "\n".join(commands[1:]).replace(" warehouse", f" {database}")
    succeeded(shell(script, clone, clean_env()))
    (exists,) = postgres.execute(
        "SELECT count(*) FROM pg_database WHERE datname = %s", (database,)
    ).fetchone()
    assert exists == 1, "createdb as printed made the database"

    with running_sandbox(seed=29, sizes=SIZES, rate_limits=False) as sandbox:
        (clone / "config.json").write_text(
            json.dumps({"api_key": DEMO_API_KEY, "base_url": sandbox.url, "account_name": "t"})
        )
        target = {**readme_target_json(), "database": database}
        assert readme_target_json()["database"] == "warehouse"
        (clone / "target.json").write_text(json.dumps(target))
        (clone / "daily.sh").write_text(block("daily", "sh"))
        env = clean_env()
        env["PATH"] = f"{clone / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"

        first = succeeded(shell("bash daily.sh", clone, env))
        state = json.loads((clone / "state.json").read_text())
        last_line = (clone / "state.new").read_text().splitlines()[-1]
        assert state == json.loads(last_line), "state.json is the target's last STATE"
        assert state["bookmarks"]["events"]["replication_key_value"]
        schema = target["default_target_schema"]
        loaded_as_expected(sandbox, database, schema, exactly=True)
        assert "finished: ok, " in first.stderr

        # The next day: from that state, and the state moves on. (Deleted rows are marked on
        # reconciliation runs only: those of this hour may still be live in the warehouse.)
        sandbox.account.advance(3600)
        succeeded(shell("bash daily.sh", clone, env))
        newer = json.loads((clone / "state.json").read_text())
        assert newer != state
        loaded_as_expected(sandbox, database, schema, exactly=False)


def loaded_as_expected(sandbox: Sandbox, database: str, schema: str, *, exactly: bool) -> None:
    """The warehouse's live rows are the sandbox's truth (or hold all of it)."""
    import psycopg

    dsn = POSTGRES_DSN.replace("dbname=test", f"dbname={database}")
    with psycopg.connect(dsn, autocommit=True) as connection:
        for stream in CHECKED:
            columns = "list_id, profile_id" if stream == "list_members" else "id"
            rows = connection.execute(
                f'SELECT {columns} FROM "{schema}"."{stream}" WHERE _sdc_deleted_at IS NULL'
            ).fetchall()
            loaded = {tuple(row) if len(row) > 1 else row[0] for row in rows}
            expected = expected_keys(sandbox, stream)
            assert loaded >= expected, f"{stream}: {len(expected - loaded)} missing"
            if exactly:
                assert loaded == expected, f"{stream}: {len(loaded - expected)} unexpected"


def test_meltano_yml_never_names_the_test_database() -> None:
    """meltano.yml is the user's project: it loads into their warehouse database, never into
    the one the test suite uses (its tests set theirs through TARGET_POSTGRES_*)."""
    spec = yaml.safe_load((REPO / "meltano.yml").read_text())
    test_database = dict(item.split("=", 1) for item in POSTGRES_DSN.split() if "=" in item).get(
        "dbname", "test"
    )
    for loader in spec["plugins"]["loaders"]:
        config = loader.get("config") or {}
        assert config.get("database") not in {"test", test_database}, loader["name"]
        assert f"/{test_database}" not in str(config.get("sqlalchemy_url") or "")
    (target,) = (p for p in spec["plugins"]["loaders"] if p["name"] == "target-postgres")
    assert target["config"]["database"] == readme_target_json()["database"] == "warehouse"
