"""Events' attributions (``include=attributions``): the columns equal the sandbox's truth."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import tap_catalog, tap_config
from tests.singer import TapRun, run_tap, select_only

COLUMNS = ("event_id", "campaign_id", "campaign_message_id", "flow_id", "flow_message_id",
           "variation_id")  # fmt: skip


def sync_events(sandbox: Any, **settings: Any) -> TapRun:
    config = tap_config(sandbox, **settings)
    run = run_tap(config, catalog=select_only(tap_catalog(), {"events"}))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def events(sandbox: Any) -> list[dict[str, Any]]:
    return sync_events(sandbox).records["events"]


def test_attribution_columns_equal_the_sandbox_truth(sandbox: Any, events: list[dict]) -> None:
    account = sandbox.account
    model = account.attributions
    attributed = several = 0
    for record in events:
        e = account.events.index_of_id(record["id"])
        assert e is not None
        truth = model.truth(e)
        attributed += bool(truth)
        several += len(truth) > 1
        assert record["attributions"] == (truth or None), record["id"]
        first = truth[0] if truth else {}
        for column in COLUMNS:
            assert record[f"attributed_{column}"] == first.get(column), (record["id"], column)
    # the seeded account has attributed conversions, some with several attributions
    assert attributed > 0
    assert several > 0
    assert attributed == sum(
        1 for e in range(account.events.base) if model.credits(e) and record_kept(account, e)
    )


def record_kept(account: Any, e: int) -> bool:
    """Synced events end at the sync's start: the future-dated ones come later."""
    return account.events.datetime_of(e) <= account.anchor


def test_attributions_name_the_catalog(sandbox: Any, events: list[dict]) -> None:
    """Credited messages exist, belong to their campaign or flow, and were sent before."""
    catalog = sandbox.account.catalog
    for record in events:
        for attribution in record["attributions"] or ():
            if attribution["campaign_message_id"]:
                message = catalog.campaign_messages.by_id[attribution["campaign_message_id"]]
                assert message.parent == attribution["campaign_id"]
            else:
                assert attribution["flow_message_id"] in catalog.flow_messages.by_id
                assert attribution["flow_id"] in catalog.flows.by_id


def test_the_setting_turns_attributions_off(sandbox: Any, events: list[dict]) -> None:
    run = sync_events(sandbox, event_attributions=False)
    off = run.records["events"]
    assert {r["id"] for r in off} == {r["id"] for r in events}
    assert all("attributions" not in r and "attributed_flow_id" not in r for r in off)
