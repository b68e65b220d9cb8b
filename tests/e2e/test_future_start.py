"""A start_date in the future emits nothing dated before it: future-dated events from it on
(Klaviyo accepts them, and the sandbox has some), nothing else, and no table version."""

from __future__ import annotations

import datetime as dt
import json

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import timestamps
from tests.conftest import tap_config
from tests.singer import run_tap, select_only
from tests.truth import ids


def test_a_future_start_date_emits_nothing_before_it(sandbox: Sandbox) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now + dt.timedelta(days=20)
    ahead, later = ids(sandbox, "events", since=now), ids(sandbox, "events", since=start)
    assert later, "the sandbox has no event dated after the start_date"
    assert ahead - later, "the sandbox has no future event dated before the start_date"
    config = tap_config(sandbox, start_date=timestamps.to_text(start), lookback_window=86400)
    catalog = select_only(json.loads(run_tap(config, "--discover").stdout), {"events", "profiles"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.ids("events") == later
    assert all(timestamps.parse(e["datetime"]) >= start for e in run.records["events"])
    assert not run.records["profiles"]
    assert '"ACTIVATE_VERSION"' not in run.stdout
