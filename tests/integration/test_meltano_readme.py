"""The README's Meltano commands, run exactly as printed, in a git checkout of the project's
meltano.yml: each succeeds, the key lands in the git-ignored ``.env``, and Meltano's own
rewrite of meltano.yml changes nothing but the setting it adds."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_meltano import meltano, meltano_env, run, succeeded

pytestmark = [pytest.mark.slow]
__all__ = ["meltano"]  # the fixture, shared with test_meltano

REPO = Path(__file__).resolve().parents[2]
# The commands `meltano install` and `meltano run` are run by test_meltano.py, on the
# same meltano.yml; `pipx install meltano` is what the cached virtualenv stands for.
HERE = ("meltano config", "meltano schedule")


def readme_meltano_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Meltano", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def git(checkout: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=checkout, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def test_the_readme_commands_work_as_printed(meltano: Path, tmp_path: Path) -> None:
    commands = readme_meltano_commands()
    assert any(c.startswith("meltano config set tap-klaviyo api_key") for c in commands)
    for name in ("meltano.yml", ".gitignore"):
        shutil.copy(REPO / name, tmp_path / name)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "the project as cloned")
    env = meltano_env()
    for command in commands:
        if command.startswith(HERE):
            argv = [str(meltano), *shlex.split(command)[1:]]
            succeeded(run(argv, cwd=tmp_path, env=env))
    assert (tmp_path / ".env").read_text().startswith("TAP_KLAVIYO_API_KEY=")
    # `git add -A` would commit nothing secret, and meltano.yml is as it was: the key went to
    # .env, and Meltano's rewrite of the file is the file itself.
    assert git(tmp_path, "status", "--porcelain") == ""
