"""Meltano end to end: the project's meltano.yml, ``meltano install``, ``meltano run``.

Meltano gets a virtualenv of its own, cached across runs under
``$XDG_CACHE_HOME/tap-klaviyo-tests`` (``~/.cache`` by default) and keyed by its version and
Python's. Each run copies ``meltano.yml`` into a temporary project whose extractor installs
this checkout (``-e <repo>``), installs the plugins there, and loads a sandbox account into
a schema of its own in the local PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import running_sandbox
from tap_klaviyo.config_schema import CONFIG_SCHEMA
from tap_klaviyo.resources import RESOURCE_BY_NAME
from tests.conftest import POSTGRES_DSN, SMALL
from tests.truth import REPORT_STREAMS, expected_keys

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
MELTANO_VERSION = os.environ.get("TAP_KLAVIYO_TEST_MELTANO_VERSION", "4.4.1")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tap-klaviyo-tests"
# Right form (pk_ + 34 letters or digits), never a real key: the config commands send nothing.
FAKE_KEY = "pk_" + "Hb5nW2cR8v" * 3 + "Kt3M"
FAKE_ALIAS = "pk_" + "Ys4pE7gJ1q" * 3 + "Wd6N"
DBT_LAYERS = ("analytics", "fivetran")  # the schemas dbt builds beside the load


def meltano_env(**extra: str) -> dict[str, str]:
    """The environment Meltano runs in: no activated virtualenv, no stray plugin settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH"}
        and not key.startswith(("TAP_KLAVIYO_", "TARGET_POSTGRES_", "MELTANO_"))
    }
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["NO_COLOR"] = "1"
    return {**env, **extra}


def run(
    argv: Sequence[str | Path], *, cwd: Path, timeout: float = 120, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def succeeded(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (
        f"{' '.join(completed.args)} exited {completed.returncode}\n"
        f"stdout: {completed.stdout[-2000:]}\nstderr (tail): {_tail(completed.stderr)}"
    )
    return completed


def _tail(text: str, lines: int = 60) -> str:
    """The end of a log, without the boxes of Rich's tracebacks."""
    kept = [line for line in text.splitlines() if not line.startswith(("│", "╭", "╰"))]
    return "\n".join(kept[-lines:])


@pytest.fixture(scope="module")
def meltano() -> Path:
    """The ``meltano`` executable of the cached virtualenv, built (once) if missing."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    root = CACHE / f"meltano-venv-{MELTANO_VERSION}-py{version}"
    executable, stamp = root / "bin" / "meltano", root / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs build it once
        if not (stamp.exists() and executable.exists()):
            shutil.rmtree(root, ignore_errors=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(root)
            succeeded(
                run(
                    [
                        root / "bin" / "python",
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        f"meltano=={MELTANO_VERSION}",
                    ],
                    cwd=CACHE,
                    timeout=300,
                    env=meltano_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
                )
            )
            stamp.write_text(MELTANO_VERSION)
    shown = succeeded(run([executable, "--version"], cwd=CACHE, env=meltano_env()))
    assert MELTANO_VERSION in shown.stdout, shown.stdout
    return executable


@pytest.fixture(scope="module")
def project(meltano: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's meltano.yml installing this checkout, plugins installed."""
    root = tmp_path_factory.mktemp("meltano-project")
    spec = yaml.safe_load((REPO / "meltano.yml").read_text())
    (extractor,) = (p for p in spec["plugins"]["extractors"] if p["name"] == "tap-klaviyo")
    assert extractor["pip_url"] == "-e .", "meltano.yml should install the checkout it sits in"
    extractor["pip_url"] = f"-e {REPO}"
    (root / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # The dbt project the dbt-postgres utility builds (and installs its requirements from).
    shutil.copytree(
        REPO / "transform", root / "transform", ignore=shutil.ignore_patterns("target", "logs")
    )
    succeeded(run([meltano, "install"], cwd=root, timeout=300, env=meltano_env()))
    return root


# JSON schema type -> the Meltano setting kinds that carry it.
KINDS = {
    "string": {"string", "password", "date_iso8601", "options", "email", "file"},
    "integer": {"integer"},
    "number": {"decimal", "integer"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}


def test_meltano_yml_declares_every_tap_setting() -> None:
    """Meltano passes only declared settings (an undeclared TAP_KLAVIYO_X is dropped)."""
    spec = yaml.safe_load((REPO / "meltano.yml").read_text())
    (extractor,) = (p for p in spec["plugins"]["extractors"] if p["name"] == "tap-klaviyo")
    declared = {setting["name"]: setting for setting in extractor["settings"]}
    schema = CONFIG_SCHEMA["properties"]
    assert set(declared) == set(schema), (
        f"undeclared: {sorted(set(schema) - set(declared))}, "
        f"unknown to the tap: {sorted(set(declared) - set(schema))}"
    )
    for name, prop in schema.items():
        setting = declared[name]
        types = [t for t in prop.get("type", []) if t != "null"]
        assert setting.get("kind", "string") in KINDS[types[0]], (name, setting.get("kind"))
        if prop.get("secret"):
            assert setting.get("sensitive") is True, f"{name} is secret but not sensitive"
        if "value" in setting:
            assert setting["value"] == prop.get("default"), f"{name}: default differs"


def test_schedule_list_shows_the_daily_job(meltano: Path, project: Path) -> None:
    listed = succeeded(
        run([meltano, "schedule", "list", "--format", "json"], cwd=project, env=meltano_env())
    )
    schedules = json.loads(listed.stdout)["schedules"]["job"]
    (daily,) = (s for s in schedules if s["name"] == "daily-klaviyo-to-postgres")
    assert daily["interval"] == "@daily"
    assert daily["cron_interval"] == "0 0 * * *"
    assert daily["job"] == {
        "name": "klaviyo-to-postgres",
        "tasks": ["tap-klaviyo target-postgres dbt-postgres:build"],
    }
    text = succeeded(run([meltano, "schedule", "list"], cwd=project, env=meltano_env()))
    assert "[@daily] job daily-klaviyo-to-postgres" in text.stdout


def test_config_treats_the_api_key_as_sensitive(meltano: Path, project: Path) -> None:
    env = meltano_env(TAP_KLAVIYO_API_KEY=FAKE_KEY, TAP_KLAVIYO_AUTH_TOKEN=FAKE_ALIAS)
    # Meltano 4 spells it `config list <plugin>` (3.x: `config <plugin> list`).
    listed = succeeded(run([meltano, "config", "list", "tap-klaviyo"], cwd=project, env=env))
    output = listed.stdout + listed.stderr
    for name in ("api_key", "auth_token"):
        (line,) = (line for line in listed.stdout.splitlines() if line.startswith(f"{name} "))
        assert "current value: (redacted)" in line, line
    assert FAKE_KEY not in output
    assert FAKE_ALIAS not in output

    printed = succeeded(run([meltano, "config", "print", "tap-klaviyo"], cwd=project, env=env))
    assert FAKE_KEY not in printed.stdout + printed.stderr
    assert json.loads(printed.stdout)["api_key"] not in {FAKE_KEY, None}
    # Hidden because the setting is sensitive, not because it is missing.
    unsafe = succeeded(
        run([meltano, "config", "--unsafe", "print", "tap-klaviyo"], cwd=project, env=env)
    )
    assert json.loads(unsafe.stdout)["api_key"] == FAKE_KEY


@pytest.fixture
def target_schema(postgres: Any) -> Iterator[str]:
    schema = f"klaviyo_meltano_{os.getpid()}"
    schemas = [schema, *(f"{schema}_{layer}" for layer in DBT_LAYERS)]
    for name in schemas:
        postgres.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    try:
        yield schema
    finally:
        for name in schemas:
            postgres.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def target_env(schema: str) -> dict[str, str]:
    """The loader's and dbt's settings as environment variables, for the server the tests
    use: the load in ``schema``, the models and the dbt_klaviyo layer beside it."""
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(POSTGRES_DSN)
    names = {"host": "HOST", "port": "PORT", "user": "USER", "dbname": "DATABASE"}
    env = {f"TARGET_POSTGRES_{names[k]}": str(v) for k, v in dsn.items() if k in names}
    env |= {f"DBT_POSTGRES_{k.upper()}": str(v) for k, v in dsn.items() if k in names}
    if dsn.get("password"):
        env["TARGET_POSTGRES_PASSWORD"] = env["DBT_POSTGRES_PASSWORD"] = str(dsn["password"])
    return {
        **env,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        "DBT_POSTGRES_RAW_SCHEMA": schema,
        "DBT_POSTGRES_SCHEMA": f"{schema}_analytics",
        "DBT_POSTGRES_FIVETRAN_SCHEMA": f"{schema}_fivetran",
    }


# What Meltano adds to the pipe (settings from the environment, its selection, the loader's
# config) shows on a few streams: a parent, its fan-out child and a report. Every stream's load
# into PostgreSQL is test_postgres's.
SELECTED = ("lists", "list_members", "flow_values_reports")


def test_meltano_run_loads_the_selected_streams(
    meltano: Path, project: Path, postgres: Any, target_schema: str
) -> None:
    # Quirks on: a list deleted between its listing and its own request makes the tap warn.
    with running_sandbox(seed=13, sizes=SMALL, rate_limits=False, quirks=True) as sandbox:
        env = meltano_env(
            TAP_KLAVIYO_API_KEY=DEMO_API_KEY,
            TAP_KLAVIYO_BASE_URL=sandbox.url,
            TAP_KLAVIYO_RATE_LIMIT_BUDGET="false",  # the sandbox has no limits
            TAP_KLAVIYO_REPORT_TIMEFRAME_DAYS="365",
            TAP_KLAVIYO__SELECT=json.dumps([f"{name}.*" for name in SELECTED]),
            **target_env(target_schema),
        )
        # Settings given as environment variables reach the plugins (only declared ones do).
        tap = json.loads(
            succeeded(run([meltano, "config", "print", "tap-klaviyo"], cwd=project, env=env)).stdout
        )
        assert tap["base_url"] == sandbox.url
        assert tap["rate_limit_budget"] is False
        assert tap["report_timeframe_days"] == 365
        target = json.loads(
            succeeded(
                run([meltano, "config", "print", "target-postgres"], cwd=project, env=env)
            ).stdout
        )
        assert target["default_target_schema"] == target_schema

        # The daily job's load (its dbt build over a whole load: tests/integration/
        # test_dbt_analyses.py); the dbt-postgres utility reaches the server and the project.
        ran = run(
            [meltano, "run", "tap-klaviyo", "target-postgres"], cwd=project, timeout=600, env=env
        )
        (project / f"run-{target_schema}.log").write_text(ran.stderr)
        succeeded(ran)
        tap_levels_survive(ran.stderr)

        tables = {
            row[0]
            for row in postgres.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (target_schema,),
            )
        }
        assert tables == set(SELECTED), sorted(tables)
        for resource in (RESOURCE_BY_NAME[name] for name in SELECTED):
            keys = ", ".join(f'"{key}"' for key in resource.primary_keys)
            total, distinct = postgres.execute(
                f"SELECT count(*), count(DISTINCT ({keys})) "
                f'FROM "{target_schema}"."{resource.name}"'
            ).fetchone()
            assert total == distinct, f"{resource.name}: duplicate keys"
            if resource.name in REPORT_STREAMS:
                assert distinct > 0, f"{resource.name}: no rows"
            else:
                expected = len(expected_keys(sandbox, resource.name))
                assert distinct == expected, f"{resource.name}: {distinct} rows, {expected} keys"
        debug = run([meltano, "invoke", "dbt-postgres:debug"], cwd=project, timeout=300, env=env)
        succeeded(debug)
        assert "All checks passed!" in debug.stdout + debug.stderr


def tap_levels_survive(log: str) -> None:
    """Meltano parses the tap's structured log lines (``structured-logging``): a tap WARNING
    arrives as a warning, its summary as info, and singer-sdk's chatter stays out."""
    tap_lines = [line for line in log.splitlines() if "tap-klaviyo" in line]
    vanished = [line for line in tap_lines if "which Klaviyo no longer has" in line]
    assert vanished, "\n".join(tap_lines[-20:])
    assert all("[warning" in line for line in vanished), vanished
    (finished,) = [line for line in tap_lines if "finished: ok, " in line]
    assert "[info" in finished, finished
    assert not [line for line in tap_lines if "Starting incremental sync" in line]
