#!/usr/bin/env python3
"""Derive the compact facts file ``spec/klaviyo-<version>.json`` from Klaviyo's OpenAPI spec.

Usage::

    derive_spec_facts.py [SPEC_JSON ...] [--out DIR]

``SPEC_JSON`` defaults to ``../shared/klaviyo-openapi/stable-2026-07-15.json`` beside the
repository; the beta spec (``beta-2026-07-15.pre.json``) derives the same way, to
``spec/klaviyo-2026-07-15.pre.json``. Klaviyo's spec is 3 MB, mostly prose: the facts file
keeps the spec's own shape (``paths`` and ``components``, so code walks it as it walks the
spec) for the read operations of the resources the tap extracts (their GETs, and the POST
``query_*`` reports), without
descriptions, summaries and examples. Two facts the spec gives only in prose become fields:

- ``x-page-size-fixed``: the page size of an operation without ``page[size]``;
- ``x-klaviyo-ratelimit-drops``: the lower tiers a query value moves a request to.

The tap's tests, ``scripts/derive_schemas.py`` and the sandbox's spec checks read this file;
``tests/unit/test_spec_facts.py`` checks it equals a fresh derivation. Klaviyo's MIT notice
is ``spec/LICENSE``, copied from beside the spec.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SPECS = REPO_ROOT.parent / "shared" / "klaviyo-openapi"
DEFAULT_SPEC = SHARED_SPECS / "stable-2026-07-15.json"
OUT_DIR = REPO_ROOT / "spec"

# Prose (and the documentation site's grouping), never a fact the code reads.
PROSE = frozenset({"description", "summary", "example", "examples", "tags", "x-klaviyo-subtag"})
OPERATION_KEYS = (
    "operationId",
    "parameters",
    "requestBody",
    "responses",
    "x-klaviyo-filters",
    "x-klaviyo-pre-release",
    "x-klaviyo-ratelimit",
    "x-klaviyo-scopes",
)
FIXED_PAGE_SIZE = re.compile(r"maximum of (\d+) results per page")
TIER_DROP = re.compile(
    r"Rate limits when using the `([^=`]+)=([^`]+)` parameter in your API request:"
    r"<br>Burst: `(\d+)/s`<br>Steady: `(\d+)/m`"
)


# The resources the tap extracts (``tap_klaviyo/resources.py``), by the path's first segment.
RESOURCES = frozenset(
    {
        "accounts",
        "campaign-audiences",
        "campaign-messages",
        "campaign-values-reports",
        "campaign-variations",
        "campaigns",
        "catalog-categories",
        "catalog-items",
        "catalog-variants",
        "coupon-codes",
        "coupons",
        "events",
        "flow-actions",
        "flow-messages",
        "flow-series-reports",
        "flow-values-reports",
        "flows",
        "form-series-reports",
        "form-values-reports",
        "forms",
        "lists",
        "metric-aggregates",
        "metrics",
        "object-types",
        "profiles",
        "push-tokens",
        "reviews",
        "segment-series-reports",
        "segment-values-reports",
        "segments",
        "tag-groups",
        "tags",
        "templates",
    }
)


def is_read(path: str, method: str, operation: JSON) -> bool:
    """An operation a read-only tap of these resources can call: GETs and the POST reports
    (``query_*``)."""
    if path.removeprefix("/api/").split("/", 1)[0] not in RESOURCES:
        return False
    return method == "get" or (
        method == "post" and str(operation.get("operationId", "")).startswith("query_")
    )


def without_prose(node: Any) -> Any:
    """The node less its prose keys; a schema's ``properties`` keep every property name
    (a property may be called ``description``)."""
    if isinstance(node, list):
        return [without_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: without_prose(schema) for name, schema in value.items()}
        elif key not in PROSE:
            out[key] = without_prose(value)
    return out


def operation_facts(operation: JSON) -> JSON:
    facts = {key: without_prose(operation[key]) for key in OPERATION_KEYS if key in operation}
    description = operation.get("description", "")
    fixed = FIXED_PAGE_SIZE.search(description)
    if fixed:
        facts["x-page-size-fixed"] = int(fixed.group(1))
    drops = [
        {"parameter": parameter, "value": value, "burst": int(burst), "steady": int(steady)}
        for parameter, value, burst, steady in TIER_DROP.findall(description)
    ]
    if drops:
        facts["x-klaviyo-ratelimit-drops"] = drops
    return facts


def references(node: Any) -> set[str]:
    """Every local ``$ref`` inside a node."""
    if isinstance(node, list):
        return set().union(*(references(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    for value in node.values():
        found |= references(value)
    return found


def reachable_components(spec: JSON, roots: Any) -> JSON:
    """The ``components`` that the kept operations reach, transitively, without prose."""
    components: dict[str, JSON] = {}
    pending = sorted(references(roots))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        section, name = ref.removeprefix("#/components/").split("/", 1)
        node = without_prose(spec["components"][section][name])
        components.setdefault(section, {})[name] = node
        pending.extend(sorted(references(node) - seen))
    return {section: dict(sorted(nodes.items())) for section, nodes in sorted(components.items())}


def derive(spec: JSON, source: str) -> JSON:
    paths = {
        path: {
            method: operation_facts(operation)
            for method, operation in sorted(operations.items())
            if is_read(path, method, operation)
        }
        for path, operations in sorted(spec["paths"].items())
    }
    paths = {path: operations for path, operations in paths.items() if operations}
    return {
        "x-derived-from": {
            "file": source,
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "openapi": spec["openapi"],
            "license": "MIT, Copyright (c) 2022 Klaviyo: see LICENSE beside this file",
            "by": "scripts/derive_spec_facts.py",
        },
        "paths": paths,
        "components": reachable_components(spec, paths),
    }


def facts_name(spec: JSON) -> str:
    return f"klaviyo-{spec['info']['version']}.json"


def _entries(nodes: JSON) -> str:
    return ",\n".join(
        f"{json.dumps(name)}: {json.dumps(node, separators=(',', ':'), sort_keys=True)}"
        for name, node in nodes.items()
    )


def render(facts: JSON) -> str:
    """One line per operation path or component: compact, yet a readable diff when a
    revision moves."""
    components = ",\n".join(
        f'"{kind}": {{\n{_entries(nodes)}\n}}' for kind, nodes in facts["components"].items()
    )
    source = json.dumps(facts["x-derived-from"], sort_keys=True)
    return (
        f'{{\n"x-derived-from": {source},\n"paths": {{\n{_entries(facts["paths"])}\n}},\n'
        f'"components": {{\n{components}\n}}\n}}\n'
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path, default=[DEFAULT_SPEC])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="default: spec/")
    args = parser.parse_args(argv)
    for path in args.specs:
        if not path.is_file():
            print(f"error: no Klaviyo OpenAPI spec at {path}", file=sys.stderr)
            return 2
        spec = json.loads(path.read_text(encoding="utf-8"))
        target = args.out / facts_name(spec)
        args.out.mkdir(parents=True, exist_ok=True)
        target.write_text(render(derive(spec, path.name)), encoding="utf-8")
        print(f"{target} ({target.stat().st_size // 1024} KB)")
        notice = path.parent / "LICENSE"
        if notice.is_file():  # Klaviyo's MIT notice travels with what is derived from it
            (args.out / "LICENSE").write_bytes(notice.read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
