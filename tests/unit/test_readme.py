"""The README's tables are rendered from the code; this fails when someone forgot to."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_are_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location(
        "readme_tables", ROOT / "scripts/readme_tables.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in module.TABLES:
        assert f"<!-- {name}:start -->" in text, f"README has no {name} table"
    assert module.render(text) == text, "run: python scripts/readme_tables.py"


def test_readme_test_command_is_what_ci_runs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in text
    assert "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")
