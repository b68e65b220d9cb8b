"""Profile properties as columns (``profile_properties_as_columns``): found at --discover in
a sample of profiles, typed columns in PostgreSQL, and every other key (seen only after the
discovery, nested, or of another type) still in ``properties``, against the sandbox's truth."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tap_klaviyo.profile_columns import PropertyColumns, column_name
from tests.conftest import tap_config
from tests.integration.test_postgres import load_into_target
from tests.singer import run_tap, select_only

SAMPLE = 5  # one request; few enough that some keys are first seen after the discovery
POSTGRES_TYPES = {"string": "text", "number": "numeric", "boolean": "boolean"}


def test_column_names_are_predictable_and_told_apart() -> None:
    assert column_name("Favorite Color") == "property_favorite_color"
    assert column_name("$source") == "property_source"
    assert column_name("Accepts Marketing") == "property_accepts_marketing"
    assert column_name("ünïcode!!") == "property_n_code"
    assert column_name("???") == "property__"
    assert len(column_name("x" * 200)) == 55
    columns = PropertyColumns.from_sample(
        [
            {"Favorite Color": "red", "favorite_color": "blue", "favorite-color": 1},
            {"vip": True, "points": 3, "nested": {"a": 1}, "tags": ["a"]},
            {"vip": None, "points": 3.5, "mixed": "x"},
            {"mixed": 2},
        ]
    )
    assert [(c.key, c.name, c.kind) for c in columns.columns] == [
        ("Favorite Color", "property_favorite_color", "string"),
        ("favorite-color", "property_favorite_color_2", "number"),
        ("favorite_color", "property_favorite_color_3", "string"),
        ("mixed", "property_mixed", "string"),
        ("points", "property_points", "number"),
        ("vip", "property_vip", "boolean"),
    ]
    row: dict[str, Any] = {"properties": {"mixed": 2, "vip": False, "later": 1, "points": 4}}
    columns.apply(row)
    # A value that does not fit its column, and a key no column has, stay in properties.
    assert row["properties"] == {"mixed": 2, "later": 1}
    assert (row["property_vip"], row["property_points"], row["property_mixed"]) == (False, 4, None)


@pytest.mark.postgres
def test_properties_land_as_typed_columns_and_nothing_is_lost(
    sandbox: Any, postgres: Any, tmp_path: Path
) -> None:
    config = tap_config(
        sandbox, profile_properties_as_columns=True, profile_properties_sample=SAMPLE
    )
    discovered = run_tap(config, "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    assert f"from {SAMPLE} profiles sampled in 1 request" in discovered.stderr
    catalog = json.loads(discovered.stdout)
    (entry,) = (e for e in catalog["streams"] if e["tap_stream_id"] == "profiles")
    columns = PropertyColumns.from_schema(entry["schema"]).columns
    assert columns, "the sample found no property: the test would prove nothing"

    run = run_tap(config, catalog=select_only(catalog, {"profiles"}))
    assert run.returncode == 0, run.stderr[-2000:]
    schema = f"klaviyo_props_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    try:
        load_into_target(tmp_path, run.stdout, schema)
        types = dict(
            postgres.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'profiles'",
                (schema,),
            ).fetchall()
        )
        for column in columns:
            assert types[column.name] == POSTGRES_TYPES[column.kind], column
        names = ", ".join(f'"{c.name}"' for c in columns)
        loaded = {
            row[0]: row[1:]
            for row in postgres.execute(
                f'SELECT id, properties, {names} FROM "{schema}".profiles'
            ).fetchall()
        }
    finally:
        postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    by_key = {column.key: index for index, column in enumerate(columns)}
    late: set[str] = set()
    assert loaded.keys() == set(sandbox.account.truth("profiles")["ids"])
    for profile_id, (properties, *values) in loaded.items():
        truth = sandbox.account.get("profiles", profile_id).data[0]["attributes"]["properties"]
        kept = properties or {}
        for key, value in truth.items():
            index = by_key.get(key)
            if index is not None and values[index] is not None:
                assert _same(values[index], value), (profile_id, key)
                assert key not in kept
            else:  # no column for it, or a value its column's type does not take
                assert _same(kept.get(key), value), (profile_id, key)
                late.update({key} if index is None and not isinstance(value, (dict, list)) else ())
    # Keys the sample did not see arrived later, in ``properties``.
    assert late, "every scalar key was in the sample: no key seen only after the discovery"


def _same(loaded: Any, given: Any) -> bool:
    """PostgreSQL's numeric comes back a Decimal; JSON's numbers a float or an int."""
    if isinstance(given, (int, float)) and not isinstance(given, bool) and loaded is not None:
        return float(loaded) == float(given)
    return bool(loaded == given)


def test_default_off_keeps_properties_one_column(sandbox: Any) -> None:
    discovered = run_tap(tap_config(sandbox), "--discover")
    (entry,) = (
        e for e in json.loads(discovered.stdout)["streams"] if e["tap_stream_id"] == "profiles"
    )
    assert not [name for name in entry["schema"]["properties"] if re.match("property_", name)]
    assert "Profile properties as columns" not in discovered.stderr
