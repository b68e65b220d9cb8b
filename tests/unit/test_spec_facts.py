"""The spec's facts (``spec/``): what every spec check reads, and exactly the script's output.

Klaviyo's full spec sits beside the repository (``../shared/klaviyo-openapi/``) on the
project's machines and in its CI, not in a clone elsewhere (GitHub Actions): there the
committed file is still checked for its form and completeness, and a warning says that the
comparison with a fresh derivation could not be made.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from scripts import derive_spec_facts

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
SOURCES = {
    "klaviyo-2026-07-15.json": "stable-2026-07-15.json",
    "klaviyo-2026-07-15.pre.json": "beta-2026-07-15.pre.json",
}
FACTS = pytest.mark.parametrize("facts_name", sorted(SOURCES))


def committed(facts_name: str) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((SPEC_DIR / facts_name).read_text(encoding="utf-8"))
    return facts


@FACTS
def test_facts_are_in_the_scripts_form_and_closed(facts_name: str) -> None:
    """Rendered as the script renders, every ``$ref`` resolved inside the file, no prose."""
    text = (SPEC_DIR / facts_name).read_text(encoding="utf-8")
    facts = json.loads(text)
    assert derive_spec_facts.render(facts) == text
    assert facts["x-derived-from"]["file"] == SOURCES[facts_name]
    assert derive_spec_facts.reachable_components(facts, facts["paths"]) == facts["components"]
    prose = [key for key in derive_spec_facts.PROSE if f'"{key}":"' in text]
    assert not prose, prose


def test_the_facts_hold_what_their_readers_read() -> None:
    facts = committed("klaviyo-2026-07-15.json")
    events = facts["paths"]["/api/events"]["get"]
    assert events["x-klaviyo-ratelimit"] == {"burst": "350/s", "steady": "3500/m"}
    assert events["x-klaviyo-scopes"] == ["events:read"]
    assert set(events["x-klaviyo-filters"]["datetime"]["operators"]["single"]) >= {"greater-than"}
    assert facts["paths"]["/api/lists"]["get"]["x-page-size-fixed"] == 10
    drop = {"parameter": "additional-fields[list]", "value": "profile_count", "burst": 1,
            "steady": 15}  # fmt: skip
    assert drop in facts["paths"]["/api/lists/{id}"]["get"]["x-klaviyo-ratelimit-drops"]
    assert "post" in facts["paths"]["/api/campaign-values-reports"]
    assert "delete" not in facts["paths"]["/api/profiles/{id}"]  # the tap only reads
    assert (SPEC_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


@FACTS
def test_committed_facts_equal_a_fresh_derivation(facts_name: str, tmp_path: Path) -> None:
    source = derive_spec_facts.SHARED_SPECS / SOURCES[facts_name]
    if not source.is_file():
        warnings.warn(
            f"{facts_name} not compared with a fresh derivation: no {source} in this clone",
            stacklevel=1,
        )
        return
    assert derive_spec_facts.main([str(source), "--out", str(tmp_path)]) == 0
    fresh = (tmp_path / facts_name).read_text(encoding="utf-8")
    assert fresh == (SPEC_DIR / facts_name).read_text(encoding="utf-8"), (
        "re-run scripts/derive_spec_facts.py"
    )
    assert (tmp_path / "LICENSE").read_bytes() == (SPEC_DIR / "LICENSE").read_bytes()
