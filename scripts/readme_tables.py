"""Render the README's streams and settings tables from the code, so they cannot drift.

``python scripts/readme_tables.py`` rewrites the tables in README.md in place;
``tests/unit/test_readme.py`` fails when they are out of date.
"""

from __future__ import annotations

import functools
import re
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tap_klaviyo.config_schema import CONFIG_SCHEMA  # noqa: E402
from tap_klaviyo.resources import REVISIONS, TABLE, Deletes, Resource  # noqa: E402

README = ROOT / "README.md"


def replication(resource: Resource) -> str:
    """How the stream is read, and how the rows Klaviyo deleted are marked."""
    how = (
        f"incremental on `{resource.replication_key}`" if resource.replication_key else "full table"
    )
    if resource.deletes is Deletes.EVERY_RUN:
        return f"{how}; deletes marked every run"
    if resource.deletes is Deletes.RECONCILE:
        return f"{how}; deletes marked every `reconcile_every_days`"
    return how


def endpoint(resource: Resource) -> str:
    via = f" (`include={','.join(resource.include)}`)" if resource.emits else ""
    return f"{resource.method} `{resource.path}`{via}"


def revisions(resource: Resource) -> str:
    """The revisions (setting ``revision``) whose catalog offers the stream."""
    return "both" if resource.revisions == REVISIONS else ", ".join(resource.revisions)


def streams_table() -> str:
    rows = [
        "| stream | revision | endpoint | primary key | replication | scope | tier | what it "
        "holds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(TABLE, key=lambda r: (r.name, r.revisions)):
        keys = ", ".join(f"`{k}`" for k in r.primary_keys)
        scopes = " + ".join(f"`{s}`" for s in r.scopes)
        tier = f"{r.tier.name} ({r.tier.burst}/s, {r.tier.steady}/min)"
        rows.append(
            f"| `{r.name}` | {revisions(r)} | {endpoint(r)} | {keys} | {replication(r)} "
            f"| {scopes} | {tier} | {r.description} |"
        )
    return "\n".join(rows)


def settings_table() -> str:
    rows = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for name, spec in CONFIG_SCHEMA["properties"].items():
        kinds = spec.get("type", "")
        kind = next((k for k in kinds if k != "null"), "") if isinstance(kinds, list) else kinds
        default = spec.get("default")
        shown = (
            ""
            if default is None
            else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        )
        rows.append(f"| `{name}` | {kind} | {shown} | {spec.get('description', '')} |")
    return "\n".join(rows)


TABLES = {"streams": streams_table, "settings": settings_table}


def _filled(table: t.Callable[[], str], match: re.Match[str]) -> str:
    return match.group(1) + table() + "\n" + match.group(2)


def render(text: str) -> str:
    for name, table in TABLES.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        text = pattern.sub(functools.partial(_filled, table), text)
    return text


if __name__ == "__main__":
    README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
