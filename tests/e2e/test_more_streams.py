"""The storefront streams (forms and their reports, segment values, coupons, catalogs,
reviews, push tokens, tag groups, custom objects) against the sandbox's truth. Their ids
in a full sync are checked with every other stream's in ``test_sync``."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import Sandbox
from tap_klaviyo.resources import REVISIONS
from tests import truth
from tests.conftest import tap_config
from tests.singer import TapRun, run_tap, select_only
from tests.truth import data

NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.timedelta(days=1)
STOREFRONT = {
    "forms", "form_versions", "form_values_reports", "form_series_reports",
    "segment_values_reports", "coupons", "coupon_codes", "catalog_items", "catalog_variants",
    "catalog_categories", "reviews", "push_tokens", "tag_groups", "custom_object_types",
    "custom_object_records",
}  # fmt: skip
INCREMENTAL = {"forms": "updated_at", "form_versions": "updated_at", "reviews": "created"}
NO_STOREFRONT_KEY = "pk_" + "n0st0refr0nt" * 2 + "0123456789"


@cache
def _discovered(url: str, revision: str) -> str:
    run = run_tap({"api_key": DEMO_API_KEY, "base_url": url, "revision": revision}, "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def sync(
    sandbox: Sandbox, streams: set[str], state: dict[str, Any] | None = None, **settings: Any
) -> TapRun:
    revision = settings.get("revision", REVISIONS[0])
    catalog = select_only(json.loads(_discovered(sandbox.url, revision)), streams)
    run = run_tap(tap_config(sandbox, **settings), catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_every_storefront_stream_under_both_revisions(sandbox: Sandbox) -> None:
    for revision in REVISIONS:
        names = {
            entry["tap_stream_id"]
            for entry in json.loads(_discovered(sandbox.url, revision))["streams"]
        }
        assert names >= STOREFRONT, revision
    run = sync(sandbox, STOREFRONT - {"form_series_reports"}, revision=REVISIONS[1])
    for stream in STOREFRONT - {
        "form_series_reports",
        "form_values_reports",
        "segment_values_reports",
    }:
        assert truth.emitted_keys(stream, run.records[stream]) == truth.expected_keys(
            sandbox, stream
        )


def test_a_form_series_row_for_every_form_version_and_day_equals_the_truth(
    sandbox: Sandbox,
) -> None:
    run = sync(sandbox, {"form_series_reports"}, series_report_days=10)
    today = dt.datetime.now(NEW_YORK).date()
    days = truth.local_days(today - 9 * DAY, today)
    store = data(sandbox).storefront
    versions = {version.id: version.parent for version in store.form_versions()}
    assert set(versions.values()) == truth.ids(sandbox, "forms")  # every form has a version
    rows = {
        (r["form_id"], r["form_version_id"], r["date"]): r
        for r in run.records["form_series_reports"]
    }
    expected = {
        (form, version, day.isoformat()): store.form_day(version, day)
        for version, form in versions.items()
        for day in days
    }
    assert rows.keys() == expected.keys()
    for key, statistics in expected.items():
        assert {name: rows[key][name] for name in statistics} == statistics, key
        assert rows[key]["timezone"] == "America/New_York"
    # Today is not complete: the bookmark is yesterday.
    assert run.state is not None
    bookmark = run.state["bookmarks"]["form_series_reports"]["replication_key_value"]
    assert bookmark[:10] == (today - DAY).isoformat()


def test_form_and_segment_values_reports_cover_every_form_version_and_segment(
    sandbox: Sandbox,
) -> None:
    run = sync(sandbox, {"form_values_reports", "segment_values_reports"}, report_timeframe_days=7)
    store = data(sandbox).storefront
    today = dt.datetime.now(NEW_YORK).date()
    days = truth.local_days(today - 7 * DAY, today - DAY)
    forms = {(r["form_id"], r["form_version_id"]): r for r in run.records["form_values_reports"]}
    assert forms.keys() == {(v.parent, v.id) for v in store.form_versions()}
    for (_, version), row in forms.items():
        viewed = sum(store.form_day(version, day)["viewed_form"] for day in days)
        assert row["viewed_form"] == viewed
        assert row["submits"] <= row["viewed_form_uniques"] <= row["viewed_form"]
    segments = {r["segment_id"]: r for r in run.records["segment_values_reports"]}
    live = set(data(sandbox).segment_groups.ids) - truth.vanished(sandbox, "segments")
    assert segments.keys() == live
    for segment_id, row in segments.items():  # the members at the timeframe's end
        yesterday = data(sandbox).reports.segment_day(segment_id, today - DAY)
        assert row["total_members"] == yesterday["total_members"]


def test_a_second_run_reads_only_what_changed_since_the_bookmark(sandbox: Sandbox) -> None:
    first = sync(sandbox, set(INCREMENTAL))
    for stream in INCREMENTAL:
        assert truth.emitted_keys(stream, first.records[stream]) == truth.expected_keys(
            sandbox, stream
        )
    second = sync(sandbox, set(INCREMENTAL), state=first.state)
    for stream, key in INCREMENTAL.items():
        newest = max(row[key] for row in first.records[stream])
        # Nothing changed: only the bookmark's own second is read again (greater-or-equal).
        assert len(second.records[stream]) < len(first.records[stream]), stream
        for row in second.records[stream]:
            assert row[key] >= _bookmark_floor(first, stream, row), stream
        assert all(row[key] <= newest for row in second.records[stream])


def _bookmark_floor(run: TapRun, stream: str, row: dict[str, Any]) -> str:
    """The bookmark the row was read from (a form version's is its form's)."""
    assert run.state is not None
    bookmarks = run.state["bookmarks"][stream]
    if "partitions" in bookmarks and stream == "form_versions":
        (partition,) = (
            p for p in bookmarks["partitions"] if p["context"]["form_id"] == row["form_id"]
        )
        return str(partition["replication_key_value"])
    return str(bookmarks["replication_key_value"])


def test_a_key_without_the_storefront_scopes_skips_those_streams(fresh_sandbox: Sandbox) -> None:
    fresh_sandbox.keys.add(NO_STOREFRONT_KEY, ["profiles:read", "segments:read", "tags:read"])
    config = tap_config(fresh_sandbox, api_key=NO_STOREFRONT_KEY)
    catalog = select_only(
        json.loads(_discovered(fresh_sandbox.url, REVISIONS[0])),
        {"forms", "coupons", "coupon_codes", "catalog_items", "push_tokens", "tag_groups"},
    )
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    for stream, scope in (
        ("forms", "forms:read"),
        ("coupons", "coupons:read"),
        ("catalog_items", "catalogs:read"),
        ("push_tokens", "push-tokens:read"),
    ):
        assert [x for x in run.stderr.splitlines() if "Skipping stream" in x and f"'{stream}'" in x]
        assert scope in run.stderr
        assert not run.records[stream]
    assert truth.emitted_keys("tag_groups", run.records["tag_groups"]) == truth.ids(
        fresh_sandbox, "tag-groups"
    )
    checked = run_tap(config, "--test")
    assert checked.returncode == 0, checked.stderr[-2000:]
    for scope in ("forms:read", "coupons:read", "reviews:read", "custom-objects:read"):
        assert f"missing scope: {scope}" in checked.stderr
    assert "coupon_codes (coupons:read" in checked.stderr  # its parent's scope, checked first
    assert "ok (tags:read)" in checked.stderr
