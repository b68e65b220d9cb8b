"""Revision 2026-10-15 (Klaviyo's omnichannel campaign model) beside 2026-07-15: the same
sandbox account read under each, its campaign ids against the sandbox's truth, the joins in
PostgreSQL, campaign_messages read incrementally on ``updated`` and its deletes marked."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.data import _omnichannel as omnichannel
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.errors import ConfigError
from tap_klaviyo.records import Page, campaign_variation_row
from tap_klaviyo.resources import (
    REVISION_2026_07,
    REVISION_2026_10,
    REVISIONS,
    TABLE,
    resources_for,
)
from tap_klaviyo.settings import Settings
from tests.conftest import tap_config, target_config
from tests.singer import TapRun, run_tap, select_only
from tests.truth import data

# A few campaigns of every channel, one of them multi-channel under 2026-10-15.
TINY = Sizes(
    profiles=40, events=200, lists=2, segments=2, campaigns=12, flows=1, templates=3, tags=2
)
TARGET = shutil.which("target-postgres", path=str(Path(sys.executable).parent))


def campaign_streams(revision: str) -> set[str]:
    return {r.name for r in resources_for(revision) if r.name.startswith("campaign")}


def sync(
    sandbox: Sandbox, revision: str, streams: set[str], state: dict[str, Any] | None = None
) -> TapRun:
    config = tap_config(sandbox, revision=revision, report_timeframe_days=365)
    discovered = run_tap(config, "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = select_only(json.loads(discovered.stdout), streams)
    run = run_tap(config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def account() -> Iterator[Sandbox]:
    with running_sandbox(seed=3, sizes=TINY, rate_limits=False) as running:
        yield running


@pytest.fixture(scope="module")
def runs(account: Sandbox) -> dict[str, TapRun]:
    """The campaign streams of the same account, read once under each revision."""
    return {revision: sync(account, revision, campaign_streams(revision)) for revision in REVISIONS}


def truth(sandbox: Sandbox, collection: str, **query: Any) -> set[str]:
    return set(sandbox.account.truth(collection, **query)["ids"])


# --- the catalogs --------------------------------------------------------------------------


def test_each_revision_offers_its_own_campaign_streams(account: Sandbox) -> None:
    offered = {}
    for revision in REVISIONS:
        discovered = run_tap(tap_config(account, revision=revision), "--discover")
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        catalog = json.loads(discovered.stdout)["streams"]
        offered[revision] = {entry["tap_stream_id"] for entry in catalog}
        assert offered[revision] == {r.name for r in resources_for(revision)}
    assert offered[REVISION_2026_07] - offered[REVISION_2026_10] == {"campaigns_detailed"}
    assert offered[REVISION_2026_10] - offered[REVISION_2026_07] == {
        "campaign_audiences",
        "campaign_variations",
    }


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("2026-08-01", "use 2026-07-15 or 2026-10-15"),  # between the two: not a revision
        ("2027-01-15", "use 2026-07-15 or 2026-10-15"),  # newer: shapes unknown
        ("2026-07-15.pre", "a beta revision"),
    ],
)
def test_a_revision_without_shapes_stops_with_one_line(revision: str, says: str) -> None:
    config = {"api_key": "pk_" + "a" * 34, "revision": revision}
    with pytest.raises(ConfigError, match=says) as raised:
        Settings.from_config(config)
    assert "\n" not in str(raised.value)
    assert revision in str(raised.value)
    run = run_tap(config, "--discover")
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert says in run.stderr


# --- ids against the sandbox's truth -------------------------------------------------------


def test_2026_07_15_reads_campaigns_as_before(account: Sandbox, runs: dict[str, TapRun]) -> None:
    run = runs[REVISION_2026_07]
    campaigns = truth(account, "campaigns")
    assert run.ids("campaigns") == run.ids("campaigns_detailed") == campaigns
    messages = {m for c in campaigns for m in truth(account, "campaign-messages", parent_id=c)}
    assert run.ids("campaign_messages") == messages
    assert {r["channel"] for r in run.records["campaigns"]} == {"email", "sms", "mobile_push"}


def test_2026_10_15_reads_campaigns_audiences_messages_variations(
    account: Sandbox, runs: dict[str, TapRun]
) -> None:
    run = runs[REVISION_2026_10]
    campaigns = truth(account, omnichannel.CAMPAIGNS)
    messages = truth(account, omnichannel.MESSAGES)
    assert run.ids("campaigns") == campaigns == truth(account, "campaigns")  # the same ids
    assert (
        run.ids("campaign_messages") == messages == runs[REVISION_2026_07].ids("campaign_messages")
    )
    assert run.ids("campaign_audiences") == truth(account, omnichannel.AUDIENCES)
    assert run.ids("campaign_variations") == truth(account, omnichannel.VARIATIONS)
    # The relationship ids join them to each other.
    for message in run.records["campaign_messages"]:
        assert message["campaign_id"] in campaigns
        assert message["campaign_audience_id"] in run.ids("campaign_audiences")
    for audience in run.records["campaign_audiences"]:
        assert audience["campaign_id"] in campaigns
    variations_of: dict[str, set[str]] = {}
    for variation in run.records["campaign_variations"]:
        variations_of.setdefault(variation["campaign_message_id"], set()).add(variation["id"])
    for message in run.records["campaign_messages"]:
        assert variations_of[message["id"]] == set(message["campaign_variation_ids"])


def test_a_multi_channel_message_has_one_variation_row_per_channel(
    account: Sandbox, runs: dict[str, TapRun]
) -> None:
    view = omnichannel.View(data(account).seed, data(account).catalog)
    channels = {
        message.id: sorted(
            v.attributes["definition"]["details"]["channel"]
            for v in view.tables[omnichannel.VARIATIONS].children(message.id)
        )
        for message in view.tables[omnichannel.MESSAGES].items
    }
    multi = {ident: found for ident, found in channels.items() if len(found) > 1}
    assert multi, "the account has no multi-channel campaign to check"
    rows = runs[REVISION_2026_10].records["campaign_variations"]
    for ident, expected in multi.items():
        assert sorted(r["channel"] for r in rows if r["campaign_message_id"] == ident) == expected
    messages = {m["id"]: m for m in runs[REVISION_2026_10].records["campaign_messages"]}
    assert all(sorted(messages[i]["channels"]) == expected for i, expected in multi.items())
    # Under 2026-07-15 the same campaign is what that revision can express: an email campaign.
    old = {m["id"]: m for m in runs[REVISION_2026_07].records["campaign_messages"]}
    assert all(old[ident]["channel"] == "email" for ident in multi)


# --- the reports join the messages in PostgreSQL -------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("revision", REVISIONS)
def test_values_reports_join_campaign_messages_in_postgres(
    runs: dict[str, TapRun], postgres: Any, tmp_path: Path, revision: str
) -> None:
    schema = f"klaviyo_revision_{revision.replace('-', '_')}_{os.getpid()}"
    postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    (tmp_path / "target.json").write_text(json.dumps(target_config(schema, validate_records=True)))
    assert TARGET, "target-postgres is not installed in the test environment"
    try:
        loaded = subprocess.run(
            [TARGET, "--config", str(tmp_path / "target.json")],
            input=runs[revision].stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        reports, joined = postgres.execute(
            f"""SELECT count(*), count(m.id) FROM "{schema}".campaign_values_reports r
                LEFT JOIN "{schema}".campaign_messages m ON m.id = r.campaign_message_id"""
        ).fetchone()
        assert reports == len(runs[revision].records["campaign_values_reports"]) > 0
        assert joined == reports
        if revision == REVISION_2026_10:
            variations, joined = postgres.execute(
                f"""SELECT count(*), count(m.id) FROM "{schema}".campaign_variations v
                    JOIN "{schema}".campaign_messages m ON m.id = v.campaign_message_id
                    JOIN "{schema}".campaigns c ON c.id = m.campaign_id AND c.id = v.campaign_id
                    JOIN "{schema}".campaign_audiences a ON a.id = m.campaign_audience_id"""
            ).fetchone()
            assert variations == joined == len(runs[revision].records["campaign_variations"])
    finally:
        postgres.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- campaign_messages: incremental on updated, deletes marked by a reconciliation pass -----


def test_campaign_messages_incremental_on_updated_and_deletes_marked() -> None:
    with running_sandbox(seed=5, sizes=TINY, rate_limits=False) as sandbox:
        first = sync(sandbox, REVISION_2026_10, {"campaign_messages"})
        assert first.ids("campaign_messages") == truth(sandbox, omnichannel.MESSAGES)
        assert first.state is not None
        bookmark = first.state["bookmarks"]["campaign_messages"]["replication_key_value"]

        changes = sandbox.account.advance(60)  # edits messages, deletes a campaign
        assert changes["campaign-messages"] >= 1
        assert changes["deleted"]["campaigns"]
        second = sync(sandbox, REVISION_2026_10, {"campaign_messages"}, state=first.state)
        since = dt.datetime.fromisoformat(bookmark) - dt.timedelta(seconds=1)
        # From the bookmark's second on (read again: greater-or-equal), nothing older.
        updated = truth(sandbox, omnichannel.MESSAGES, since=since)
        assert second.ids("campaign_messages") == updated
        assert 1 <= len(updated) < len(first.ids("campaign_messages"))
        assert second.state is not None
        assert second.state["bookmarks"]["campaign_messages"]["replication_key_value"] > bookmark

        # A reconciliation pass (due every ``reconcile_every_days``; forced here): every id
        # Klaviyo still has carries the new table version, the deleted campaign's messages
        # do not, and the ACTIVATE_VERSION after them marks those deleted.
        state = json.loads(json.dumps(second.state))
        del state["bookmarks"]["campaign_messages"]["reconciled_at"]
        third = sync(sandbox, REVISION_2026_10, {"campaign_messages"}, state=state)
        messages = [json.loads(line) for line in third.stdout.splitlines()]
        activated = [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
        assert len(activated) == 1
        version = activated[0]["version"]
        carried = {
            m["record"]["id"]
            for m in messages
            if m["type"] == "RECORD" and m.get("version") == version
        }
        live = truth(sandbox, omnichannel.MESSAGES)
        assert carried == live
        assert first.ids("campaign_messages") - live  # the deleted campaign's messages


# --- schemas and row shapes ----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "spec"  # the spec's facts (scripts/derive_spec_facts.py)


def test_2026_10_15_schemas_are_derived_from_the_beta_spec(tmp_path: Path) -> None:
    stable, beta = SPECS / "klaviyo-2026-07-15.json", SPECS / "klaviyo-2026-07-15.pre.json"
    subprocess.run(
        [sys.executable, str(REPO / "scripts/derive_schemas.py"), str(stable), str(tmp_path),
         "--beta", str(beta)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    derived = tmp_path / REVISION_2026_10
    committed = REPO / "schemas" / REVISION_2026_10
    names = {path.name for path in committed.glob("*.json")}
    assert names == {f"{r.name}.json" for r in TABLE if r.revisions == (REVISION_2026_10,)}
    for name in names:
        assert (derived / name).read_text() == (committed / name).read_text(), name


def test_a_variation_finds_its_message_on_the_page_without_its_own_relationship() -> None:
    """Included objects need not carry their parent's id: the page's messages name theirs."""
    variation = {
        "type": "campaign-variation",
        "id": "v1",
        "attributes": {"definition": {"name": "SMS", "details": {"channel": "sms", "body": "Hi"}}},
    }
    page = Page(
        {
            "data": [
                {
                    "type": "campaign-message",
                    "id": "m1",
                    "relationships": {
                        "campaign": {"data": {"type": "campaign", "id": "c1"}},
                        "campaign-variations": {"data": [{"id": "v1"}]},
                    },
                }
            ],
            "included": [variation],
        }
    )
    row = campaign_variation_row(variation, page)
    assert (row["campaign_message_id"], row["campaign_id"]) == ("m1", "c1")
    assert (row["channel"], row["body"], row["subject"]) == ("sms", "Hi", None)


def test_a_catalog_of_the_other_revision_is_named_and_still_read(account: Sandbox) -> None:
    old = run_tap(tap_config(account, revision=REVISION_2026_07), "--discover")
    catalog = select_only(json.loads(old.stdout), {"campaign_messages", "campaigns_detailed"})
    run = run_tap(tap_config(account, revision=REVISION_2026_10), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (
        "The catalog selects campaigns_detailed, which revision 2026-10-15 does not offer"
        in run.stderr
    )
    assert "The catalog's replication keys of campaign_messages are not revision 2026-10-15's" in (
        run.stderr
    )
    assert run.ids("campaign_messages") == truth(account, omnichannel.MESSAGES)
