"""A page's rows as each table shapes them, read in this process against the sandbox,
pinned: each test kills mutants of ``tap_klaviyo/streams/rows.py`` that the suite let live
(tests/MUTANTS.md)."""

from __future__ import annotations

import json

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import timestamps
from tests.conftest import tap_catalog, tap_config
from tests.singer import run_tap, select_only
from tests.truth import emitted_keys, expected_keys, ids

SHAPED = {"campaigns_detailed", "campaign_messages", "lists_detailed"}


def test_rows_are_shaped_from_their_page_and_a_snapshot_carries_its_time(
    sandbox: Sandbox,
) -> None:
    """campaign_messages are the objects a campaigns page includes; a detailed campaign
    finds its messages there; every lists_detailed row of a run is one snapshot, at the
    sync's start."""
    run = run_tap(tap_config(sandbox), catalog=select_only(tap_catalog(), SHAPED))
    assert run.returncode == 0, run.stderr[-3000:]
    messages = run.records["campaign_messages"]
    assert emitted_keys("campaign_messages", messages) == expected_keys(
        sandbox, "campaign_messages"
    )
    assert len(messages) == len(emitted_keys("campaign_messages", messages))
    campaigns = run.records["campaigns_detailed"]
    assert campaigns
    for campaign in campaigns:
        found = {message["id"] for message in campaign["messages"]}
        assert found == ids(sandbox, "campaign-messages", parent_id=campaign["id"])
    assert not any("snapshot_at" in row for row in [*messages, *campaigns])  # no snapshots
    lists = run.records["lists_detailed"]
    assert lists
    (snapshot,) = {row["snapshot_at"] for row in lists}
    # The run's table version (of the tables it reads whole) is its start in milliseconds.
    (version,) = {
        message["version"]
        for message in map(json.loads, run.stdout.splitlines())
        if message["type"] == "RECORD" and "version" in message
    }
    started = timestamps.floor_second(timestamps.from_millis(version))
    assert snapshot == timestamps.to_text(started)


def test_profile_properties_chosen_at_discovery_become_columns_of_the_rows(
    sandbox: Sandbox,
) -> None:
    config = tap_config(sandbox, profile_properties_as_columns=True)
    discovered = run_tap(config, "--discover")
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    catalog = select_only(json.loads(discovered.stdout), {"profiles"})
    (schema,) = (s["schema"] for s in catalog["streams"] if s["tap_stream_id"] == "profiles")
    columns = {name for name in schema["properties"] if name.startswith("property_")}
    assert columns
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = run.records["profiles"]
    assert all(columns <= set(row) for row in rows)
    assert any(row[column] is not None for row in rows for column in columns)
