"""Many accounts in Meltano, as the README prints them: one plugin per account inheriting
the tap (and the target), each resolving its own key, label and target schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.test_meltano import (
    FAKE_ALIAS,
    FAKE_KEY,
    meltano,
    meltano_env,
    run,
    succeeded,
)

pytestmark = [pytest.mark.slow]
__all__ = ["meltano"]  # the fixture, shared with test_meltano

REPO = Path(__file__).resolve().parents[2]
KEYS = {"acme": FAKE_KEY, "globex": FAKE_ALIAS}  # right form, never sent anywhere


def readme_accounts_plugins() -> dict[str, list[dict[str, object]]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Many accounts", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    plugins: dict[str, list[dict[str, object]]] = yaml.safe_load(block)["plugins"]
    return plugins


def unsafe_config(meltano: Path, project: Path, plugin: str, env: dict[str, str]) -> dict:
    printed = run([meltano, "config", "--unsafe", "print", plugin], cwd=project, env=env)
    return json.loads(succeeded(printed).stdout)


def test_each_account_plugin_resolves_its_own_config(meltano: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "meltano.yml").read_text())
    for kind, plugins in readme_accounts_plugins().items():
        spec["plugins"][kind].extend(plugins)
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # Each key in its own variable, named after its plugin, as the README says.
    env = meltano_env(**{f"TAP_KLAVIYO__{name.upper()}_API_KEY": key for name, key in KEYS.items()})
    for name, key in KEYS.items():
        tap = unsafe_config(meltano, tmp_path, f"tap-klaviyo--{name}", env)
        assert tap["api_key"] == key
        assert tap["account_name"] == name
        assert tap["base_url"] == "https://a.klaviyo.com"  # inherited from tap-klaviyo
        target = unsafe_config(meltano, tmp_path, f"target-postgres--{name}", env)
        assert target["default_target_schema"] == f"klaviyo_{name}"
        assert target["host"] == "127.0.0.1"  # inherited from target-postgres


def test_an_account_without_its_own_key_never_takes_anothers(meltano: Path, tmp_path: Path) -> None:
    """The parent holds a key (a user ran ``meltano config set tap-klaviyo api_key``) and
    globex's variable is not set: globex gets no key, and the tap says so in one line."""
    spec = yaml.safe_load((REPO / "meltano.yml").read_text())
    for kind, plugins in readme_accounts_plugins().items():
        spec["plugins"][kind].extend(plugins)
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    env = meltano_env(TAP_KLAVIYO_API_KEY=FAKE_KEY, TAP_KLAVIYO__ACME_API_KEY=FAKE_ALIAS)
    assert unsafe_config(meltano, tmp_path, "tap-klaviyo--acme", env)["api_key"] == FAKE_ALIAS
    globex = unsafe_config(meltano, tmp_path, "tap-klaviyo--globex", env)
    assert not globex.get("api_key")
    assert not globex.get("auth_token")
    (tmp_path / "globex.json").write_text(json.dumps(globex))
    tap = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo", "--config", str(tmp_path / "globex.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tap.returncode != 0
    assert tap.stdout == ""
    (error,) = [line for line in tap.stderr.splitlines() if "error" in line.lower()]
    assert "Setting 'api_key' is missing for account 'globex'" in error
    assert FAKE_KEY not in tap.stderr
