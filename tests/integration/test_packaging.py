"""The wheels, as a user installs them: the tap's files and command, without the sandbox.

Builds the tap's wheel, installs it into a fresh virtualenv and runs the installed
``tap-klaviyo`` there, away from the repo's checkout and the dev virtualenv; the sandbox is
its own wheel (``sandbox/``), with its own command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tap_klaviyo.config_schema import KNOWN_SETTINGS
from tap_klaviyo.resources import RESOURCES, TABLE

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "sandbox"
STREAMS = sorted(resource.name for resource in RESOURCES)
# Every revision's schema files (those of 2026-10-15's campaign model in schemas/2026-10-15/).
SCHEMAS = sorted({resource.schema_name for resource in TABLE})
# Right form (pk_ + 34 letters or digits), never a real key: nothing here makes a request.
FAKE_KEY = "pk_" + "Q7x2Lm9Kd4" * 3 + "Zr8T"
TIMEOUT = 150


def run(argv: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command outside any activated virtualenv, its output kept (pip stays quiet)."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    return subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=kwargs.pop("timeout", TIMEOUT),
        env={**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **kwargs.pop("env", {})},
        **kwargs,
    )


def succeeded(completed: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert completed.returncode == 0, (
        f"{' '.join(completed.args)} exited {completed.returncode}\n"
        f"stdout: {completed.stdout[-2000:]}\nstderr: {completed.stderr[-4000:]}"
    )
    return completed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the working tree, by the dev environment's build backend (an
    isolated build, as the README's ``pip install .`` runs it: test_install_as_printed)."""
    return build_wheel(REPO, "singer_tap_klaviyo", tmp_path_factory.mktemp("dist"))


def build_wheel(project: Path, name: str, outdir: Path) -> Path:
    succeeded(
        run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", outdir, project])
    )
    (built,) = outdir.glob(f"{name}-*.whl")
    return built


@pytest.fixture(scope="module")
def bin_dir(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed, core dependencies only (no extras)."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    bin_dir = root / "bin"
    succeeded(run([bin_dir / "python", "-m", "pip", "install", "-q", wheel], cwd=root))
    return bin_dir


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps({"api_key": FAKE_KEY}))
    return path


def test_wheel_ships_the_schemas_not_the_sandbox(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for schema in SCHEMAS:
            member = f"tap_klaviyo/schemas/{schema}.json"
            assert member in names, f"{member} is not in {wheel.name}"
            assert archive.read(member) == (REPO / "schemas" / f"{schema}.json").read_bytes()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line.partition(":")[2].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
        entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    shipped_schemas = {n for n in names if n.startswith("tap_klaviyo/schemas/")}
    assert shipped_schemas == {f"tap_klaviyo/schemas/{s}.json" for s in SCHEMAS}
    assert not [n for n in names if "sandbox" in n], "the sandbox is its own distribution"
    assert "tap-klaviyo = tap_klaviyo.cli:main" in entry_points
    assert "sandbox" not in entry_points
    assert not [r for r in requires if r.lower().startswith(("aiohttp", "klaviyo-sandbox"))]


@pytest.fixture(scope="module")
def sandbox_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(SANDBOX, "klaviyo_sandbox", tmp_path_factory.mktemp("sandbox-dist"))


def test_sandbox_wheel_is_the_sandbox_alone(sandbox_wheel: Path) -> None:
    with zipfile.ZipFile(sandbox_wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )
    sources = {
        path.relative_to(SANDBOX).as_posix()
        for path in (SANDBOX / "klaviyo_sandbox").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources, "no sandbox sources in the checkout"
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
    assert not [n for n in names if n.startswith("tap_klaviyo")]
    assert "tap-klaviyo-sandbox = klaviyo_sandbox:main" in entry_points


def test_installed_tap_discovers_every_stream(bin_dir: Path, config_file: Path) -> None:
    discovered = succeeded(
        run([bin_dir / "tap-klaviyo", "--config", config_file, "--discover"], cwd=bin_dir)
    )
    catalog = json.loads(discovered.stdout)
    names = [entry["tap_stream_id"] for entry in catalog["streams"]]
    assert sorted(names) == STREAMS
    keys = {resource.name: list(resource.primary_keys) for resource in RESOURCES}
    for entry in catalog["streams"]:
        name = entry["tap_stream_id"]
        repo_schema = json.loads((REPO / "schemas" / f"{name}.json").read_text())
        assert entry["schema"] == repo_schema, f"{name}: the installed schema differs"
        assert entry["key_properties"] == keys[name], name
    assert FAKE_KEY not in discovered.stdout + discovered.stderr


def test_installed_tap_about(wheel: Path, bin_dir: Path, config_file: Path) -> None:
    about = succeeded(
        run(
            [bin_dir / "tap-klaviyo", "--config", config_file, "--about", "--format", "json"],
            cwd=bin_dir,
        )
    )
    info = json.loads(about.stdout)
    assert info["name"] == "tap-klaviyo"
    settings = info["settings"]["properties"]
    # The tap's own settings, beside the SDK's built-in ones (stream_maps, flattening_…).
    assert set(settings) >= KNOWN_SETTINGS, sorted(KNOWN_SETTINGS - set(settings))
    assert {"api_key", "start_date", "base_url"} <= set(settings)
    assert settings["api_key"].get("secret") is True
    assert info["version"] == wheel.name.split("-")[1]
    assert {"catalog", "discover", "state", "about"} <= set(info["capabilities"])
    assert FAKE_KEY not in about.stdout + about.stderr


def test_core_install_has_no_sandbox_stack(bin_dir: Path) -> None:
    found = succeeded(
        run(
            [bin_dir / "python", "-c", "import importlib.util as u; print(u.find_spec('aiohttp'))"],
            cwd=bin_dir,
        )
    )
    assert found.stdout.strip() == "None", "aiohttp came with a core install"


def test_core_install_has_no_sandbox_command(bin_dir: Path) -> None:
    assert not (bin_dir / "tap-klaviyo-sandbox").exists()
