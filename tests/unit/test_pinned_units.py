"""Unit tests pinning what lands in the warehouse (issue 28): each kills mutants of the
modules `make mutate` tests that the suite let live (tests/MUTANTS.md)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from klaviyo_sandbox.app import DEMO_API_KEY
from tap_klaviyo import late_events, state, timestamps, versions
from tap_klaviyo.errors import InputFileError
from tap_klaviyo.report_quota import ReportQuota
from tap_klaviyo.request_plan import RequestPlan
from tap_klaviyo.resources import LISTS, PROFILES
from tap_klaviyo.settings import Settings

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.timezone.utc)
KEYS = {"events": "datetime", "profiles": "updated", "lists": None}


# --- versions: the reconciliation pass kept in the state ---------------------------------


def test_a_pass_without_done_parents_resumes_with_none_done() -> None:
    bookmarks = {versions.RECONCILIATION: {"version": 7}}
    assert versions.in_progress(bookmarks) == versions.Reconciliation(7, set())


def test_a_pass_asked_for_is_due_even_when_passes_are_off() -> None:
    assert versions.is_due({}, NOW, 0, asked=True)
    assert not versions.is_due({}, NOW, 0)


def test_a_daily_pass_is_due_a_day_after_the_last() -> None:
    yesterday = {versions.RECONCILED_AT: "2026-12-04T12:00:00Z"}
    assert versions.is_due(yesterday, NOW, 1)
    assert not versions.is_due({versions.RECONCILED_AT: "2026-12-05T00:00:00Z"}, NOW, 1)
    assert versions.is_due({versions.RECONCILED_AT: "not a date"}, NOW, 1)


def test_a_new_pass_is_kept_with_no_parent_done_and_no_rows() -> None:
    bookmarks: dict[str, Any] = {}
    versions.begin(bookmarks, 42)
    assert bookmarks[versions.RECONCILIATION] == {"version": 42, "done": [], "rows": 0}


def test_each_parent_done_adds_its_rows_to_the_pass() -> None:
    bookmarks: dict[str, Any] = {versions.RECONCILIATION: {"version": 1, "rows": 0}}
    versions.parent_done(bookmarks, "a", 3)
    versions.parent_done(bookmarks, "b", 4)
    versions.parent_done(bookmarks, "a", 3)  # once per parent
    assert bookmarks[versions.RECONCILIATION] == {"version": 1, "rows": 7, "done": ["a", "b"]}
    assert versions.pass_rows(bookmarks) == 7


def test_the_rows_of_a_pass_of_an_older_state_are_unknown() -> None:
    assert versions.pass_rows({}) is None
    assert versions.pass_rows({versions.RECONCILIATION: "1"}) is None
    assert versions.pass_rows({versions.RECONCILIATION: {"version": 1, "rows": "7"}}) is None


def test_completing_without_a_pass_in_progress_only_stamps_the_time() -> None:
    bookmarks: dict[str, Any] = {}
    versions.complete(bookmarks, NOW)
    assert bookmarks == {versions.RECONCILED_AT: "2026-12-05T12:00:00+00:00"}


# --- the report quota ------------------------------------------------------------------


def test_a_window_a_full_day_old_is_closed() -> None:
    saved = {"window_start": "2026-12-04T12:00:00+00:00", "used": 9}
    assert ReportQuota(225, saved, lambda: NOW).used == 0
    just_open = {"window_start": "2026-12-04T12:00:01+00:00", "used": 9}
    assert ReportQuota(225, just_open, lambda: NOW).used == 9


def test_an_open_window_saved_without_a_count_counts_none() -> None:
    quota = ReportQuota(225, {"window_start": "2026-12-05T11:00:00+00:00"}, lambda: NOW)
    assert quota.used == 0
    assert quota.remaining == 225


def test_a_stream_outside_the_plan_takes_only_what_no_plan_granted() -> None:
    quota = ReportQuota(4, None, lambda: NOW)
    quota.plan({"planned": 3})
    assert quota.spend("unplanned")  # 4 - 3 granted: one left
    assert not quota.spend("unplanned")
    assert quota.used == 1


def test_a_closed_quota_grants_nothing_more_and_keeps_its_count() -> None:
    """A stopping run closes the quota before its last STATE: a stream still running can
    send no request that STATE does not count."""
    kept: list[dict[str, Any]] = []
    quota = ReportQuota(225, None, lambda: NOW, keep=kept.append)
    quota.plan({"campaign_values_reports": 3})
    assert quota.spend("campaign_values_reports")
    final = quota.close()
    assert final["used"] == 1
    assert not quota.spend("campaign_values_reports")
    assert quota.saved() == final
    assert len(kept) == 1


def test_a_quota_never_spent_saves_no_window() -> None:
    assert ReportQuota(225, None, lambda: NOW).saved() == {
        "window_start": None,
        "used": 0,
        "limit": 225,
    }


# --- state files of older formats --------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # singer-io tap-klaviyo's formats, and a bare timestamp (ISO or epoch seconds)
        ({"since": "2024-01-01T00:00:00Z"}, "2024-01-01T00:00:00+00:00"),
        ({"datetime": 1704067200}, "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"),
        (1704067200.0, "2024-01-01T00:00:00+00:00"),
    ],
)
def test_a_legacy_bookmark_becomes_singer_sdks(entry: Any, expected: str) -> None:
    migrated, warnings = state.migrate({"bookmarks": {"events": entry}}, KEYS)
    assert warnings == []
    assert migrated["bookmarks"]["events"] == {
        "replication_key": "datetime",
        "replication_key_value": expected,
    }


@pytest.mark.parametrize("entry", [{"since": "yesterday"}, "  ", True, [1]])
def test_an_unreadable_bookmark_is_dropped_with_a_warning(entry: Any) -> None:
    migrated, warnings = state.migrate({"bookmarks": {"events": entry}}, KEYS)
    assert migrated["bookmarks"] == {}
    assert warnings == ["The state's bookmark for 'events' is not readable: ignored."]


def test_singer_sdks_format_is_kept_with_its_timestamps_normalized() -> None:
    entry = {
        "replication_key": "updated",
        "replication_key_value": "2024-01-01T00:00:00Z",
        "partitions": [
            {"context": {"list_id": "a"}, "replication_key_value": 1704067200},
            {"context": {"list_id": "b"}},
            {"context": {"list_id": "c"}, "replication_key_value": "2024-01-02T00:00:00Z"},
        ],
        versions.COVERED_FROM: None,
    }
    migrated, warnings = state.migrate({"bookmarks": {"profiles": entry}}, KEYS)
    assert warnings == []
    assert migrated["bookmarks"]["profiles"] == {
        **entry,
        "replication_key_value": "2024-01-01T00:00:00+00:00",
        "partitions": [
            {"context": {"list_id": "a"}, "replication_key_value": "2024-01-01T00:00:00+00:00"},
            {"context": {"list_id": "b"}},
            {"context": {"list_id": "c"}, "replication_key_value": "2024-01-02T00:00:00+00:00"},
        ],
    }


@pytest.mark.parametrize(
    "partitions", [{"context": {}}, [{"replication_key_value": "2024-01-01T00:00:00Z"}], ["x"]]
)
def test_partitions_without_their_context_are_not_readable(partitions: Any) -> None:
    entry = {"replication_key_value": "2024-01-01T00:00:00Z", "partitions": partitions}
    _, warnings = state.migrate({"bookmarks": {"events": entry}}, KEYS)
    assert warnings == ["The state's bookmark for 'events' is not readable: ignored."]


def test_a_partition_with_an_unreadable_bookmark_makes_the_entry_unreadable() -> None:
    entry = {"partitions": [{"context": {"a": 1}, "replication_key_value": "soon"}]}
    _, warnings = state.migrate({"bookmarks": {"events": entry}}, KEYS)
    assert len(warnings) == 1


def test_a_table_now_read_whole_keeps_only_the_taps_own_keys() -> None:
    entry = {
        "replication_key": "updated",
        "replication_key_value": "2024-01-01T00:00:00Z",
        "partitions": [],
        versions.ACTIVATED: {"version": 1, "rows": 2},
    }
    migrated, _ = state.migrate({"bookmarks": {"lists": entry}}, KEYS)
    assert migrated["bookmarks"]["lists"] == {versions.ACTIVATED: {"version": 1, "rows": 2}}
    legacy, _ = state.migrate({"bookmarks": {"lists": {"since": "2024-01-01"}}}, KEYS)
    assert legacy["bookmarks"]["lists"] == {}


def test_an_entry_without_a_bookmark_is_kept_as_it_is() -> None:
    entry = {versions.RECONCILED_AT: "2026-12-01T00:00:00+00:00"}
    migrated, _ = state.migrate({"bookmarks": {"profiles": entry}}, KEYS)
    assert migrated["bookmarks"]["profiles"] == entry


def test_the_key_of_the_stream_wins_over_legacy_keys() -> None:
    entry = {"updated": "2024-02-01T00:00:00Z", "since": "2024-01-01T00:00:00Z"}
    migrated, _ = state.migrate({"bookmarks": {"profiles": entry}}, KEYS)
    assert migrated["bookmarks"]["profiles"]["replication_key_value"].startswith("2024-02-01")


# --- late events: the second read --------------------------------------------------------


def test_a_one_day_second_read_reads_the_day_a_day_old() -> None:
    bookmarks = {late_events.READ_AGAIN_TO: "2026-12-03T12:00:00+00:00"}
    assert late_events.second_read(bookmarks, NOW, 1) == (
        dt.datetime(2026, 12, 3, 12, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc),
    )


def test_the_second_read_point_does_not_move_to_where_it_is() -> None:
    bookmarks = {late_events.READ_AGAIN_TO: "2026-12-03T12:00:00+00:00"}
    same_second = dt.datetime(2026, 12, 3, 12, 0, 0, 500_000, tzinfo=dt.timezone.utc)
    assert not late_events.advance(bookmarks, same_second)
    assert late_events.advance(bookmarks, same_second + dt.timedelta(seconds=1))
    assert bookmarks[late_events.READ_AGAIN_TO] == "2026-12-03T12:00:01+00:00"


# --- timestamps ----------------------------------------------------------------------------


def test_a_table_version_in_milliseconds_is_its_instant() -> None:
    assert timestamps.from_millis(1_796_489_762_038) == dt.datetime(
        2026, 12, 5, 16, 56, 2, 38_000, tzinfo=dt.timezone.utc
    )


# --- versions: what the table was built from, what an activation leaves out ---------------


def test_coverage_unknown_until_a_read_records_it() -> None:
    assert versions.covered_from({}) == (False, None)
    assert versions.covered_from({versions.COVERED_FROM: None}) == (True, None)
    assert versions.covered_from({versions.COVERED_FROM: "2024-01-01T00:00:00Z"}) == (
        True,
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    )
    assert versions.covered_from({versions.COVERED_FROM: "garbled"}) == (False, None)


def test_coverage_only_ever_reaches_further_back() -> None:
    jan, feb = (dt.datetime(2024, month, 1, tzinfo=dt.timezone.utc) for month in (1, 2))
    bookmarks: dict[str, Any] = {}
    assert versions.cover(bookmarks, feb)
    assert bookmarks[versions.COVERED_FROM] == "2024-02-01T00:00:00+00:00"
    assert not versions.cover(bookmarks, feb)  # the same start: nothing changes
    assert versions.cover(bookmarks, jan)
    assert bookmarks[versions.COVERED_FROM] == "2024-01-01T00:00:00+00:00"
    assert versions.cover(bookmarks, None)  # from the beginning
    assert bookmarks[versions.COVERED_FROM] is None
    assert not versions.cover(bookmarks, jan)
    assert bookmarks[versions.COVERED_FROM] is None


def test_a_first_activation_is_kept_and_says_nothing() -> None:
    bookmarks: dict[str, Any] = {}
    assert versions.activated(bookmarks, 5, 100) == ""
    assert bookmarks[versions.ACTIVATED] == {"version": 5, "rows": 100}


def test_an_activation_says_the_least_it_leaves_out() -> None:
    bookmarks: dict[str, Any] = {versions.ACTIVATED: {"version": 5, "rows": 1_200}}
    assert versions.activated(bookmarks, 6, 1_000) == (
        "table version 6 activated with 1,000 rows; the previous version (5) had 1,200: at "
        "least 200 rows left out (marked deleted), more by as many as the rows new since"
    )
    assert bookmarks[versions.ACTIVATED] == {"version": 6, "rows": 1_000}
    grown = versions.activated(bookmarks, 7, 1_100)
    assert "at least 0 rows left out" in grown


def test_an_activation_of_uncounted_rows_forgets_the_last_count() -> None:
    bookmarks: dict[str, Any] = {versions.ACTIVATED: {"version": 5, "rows": 3}}
    assert versions.activated(bookmarks, 6, None) == (
        "table version 6 activated (its rows were not counted)"
    )
    assert versions.ACTIVATED not in bookmarks
    assert versions.activated({versions.ACTIVATED: {"version": 5}}, 6, 1) == ""


# --- the report quota's plan -------------------------------------------------------------


def test_the_plan_is_described_in_one_line() -> None:
    quota = ReportQuota(10, {"window_start": "2026-12-05T01:00:00+00:00", "used": 4}, lambda: NOW)
    needs = {"campaign_values_reports": 2, "flow_series_reports": 9}
    grants = quota.plan(needs)
    assert grants == {"campaign_values_reports": 2, "flow_series_reports": 4}
    assert grants["flow_series_reports"] == 4
    assert grants.get("segment_series_reports", 0) == 0
    assert quota.describe(needs, grants) == (
        "Report requests: 4 of 10 used since 2026-12-05T01:00:00+00:00; this run plans 6 "
        "(campaign_values_reports 2 of 2, flow_series_reports 4 of 9), leaving 0"
    )
    fresh = ReportQuota(225, None, lambda: NOW)
    assert fresh.describe({}, {}) == (
        "Report requests: 0 of 225 used today; this run plans 0 (none), leaving 225"
    )


def test_an_activation_of_uncounted_rows_after_none_counted() -> None:
    bookmarks: dict[str, Any] = {}
    assert versions.activated(bookmarks, 6, None).endswith("(its rows were not counted)")
    assert bookmarks == {}


# --- state files: what migrate refuses, warns and leaves as it was --------------------------


@pytest.mark.parametrize("bad", [[], "x", {"bookmarks": []}])
def test_a_state_that_is_no_object_of_bookmarks_is_refused(bad: Any) -> None:
    with pytest.raises(InputFileError) as refused:
        state.migrate(bad, KEYS)
    assert str(refused.value) == (
        'The state file must hold a JSON object like {"bookmarks": {"events": {...}}}.'
    )


def test_every_stream_of_the_state_is_migrated_past_unknown_and_unreadable_ones() -> None:
    given = {
        "bookmarks": {
            "campaign_sends": {"since": "2024-01-01"},
            "events": {"since": "never"},
            "profiles": {"updated": "2024-01-01T00:00:00Z"},
        },
        "account_id": "abc",
    }
    kept = json.loads(json.dumps(given))
    migrated, warnings = state.migrate(given, KEYS)
    assert warnings == [
        "The state has a bookmark for unknown stream 'campaign_sends': ignored.",
        "The state's bookmark for 'events' is not readable: ignored.",
    ]
    assert migrated == {
        "bookmarks": {
            "profiles": {
                "replication_key": "updated",
                "replication_key_value": "2024-01-01T00:00:00+00:00",
            }
        },
        "account_id": "abc",
    }
    assert given == kept


def test_the_given_state_is_left_as_it_was() -> None:
    partition = {"context": {"list_id": "a"}, "replication_key_value": "2024-01-01T00:00:00Z"}
    given = {"bookmarks": {"profiles": {"partitions": [partition]}}}
    migrated, _ = state.migrate(given, KEYS)
    assert partition["replication_key_value"] == "2024-01-01T00:00:00Z"
    normalized = migrated["bookmarks"]["profiles"]["partitions"][0]["replication_key_value"]
    assert normalized == "2024-01-01T00:00:00+00:00"


# --- timestamps: UTC whatever the machine's zone -------------------------------------------


@pytest.fixture
def new_york_machine(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The process's local zone is New York's (the tap must not depend on it)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_machine")
def test_a_naive_time_is_taken_as_utc_on_any_machine() -> None:
    naive = dt.datetime(2024, 7, 1, 12, 0)
    assert timestamps.as_utc(naive) == dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert timestamps.as_utc(naive).utcoffset() == dt.timedelta(0)
    paris = dt.datetime(2024, 7, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert timestamps.as_utc(paris).utcoffset() == dt.timedelta(0)
    assert timestamps.to_text(dt.datetime(2024, 7, 1, 8, 0, tzinfo=dt.timezone(
        -dt.timedelta(hours=4)))) == "2024-07-01T12:00:00+00:00"  # fmt: skip
    assert timestamps.parse("2024-07-01 12:00:00").utcoffset() == dt.timedelta(0)
    assert timestamps.filter_text(naive) == "2024-07-01T12:00:00Z"


def test_a_comma_fraction_is_normalized_to_the_rows_form() -> None:
    assert timestamps.normalize("2024-01-01T00:00:00,123456+00:00") == (
        "2024-01-01T00:00:00.123456+00:00"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01t00:00:00+00:00",  # RFC 3339 allows a lowercase t
        "2024-01-01t00:00:00.500000+00:00",
    ],
)
def test_a_lowercase_t_is_normalized_to_the_rows_form(text: str) -> None:
    assert timestamps.normalize(text) == text.replace("t", "T")


@pytest.mark.parametrize(
    "text",
    [
        "12.5 kg",  # a fraction that is no date-time's: the fallback reads it and fails
        "v.2",
        "2024-01-01T00:00:00?",  # a whole second's length, not ending in Z
    ],
)
def test_a_text_that_is_no_date_time_is_kept_as_it_is(text: str) -> None:
    assert timestamps.normalize(text) == text
    with pytest.raises(ValueError, match="Invalid isoformat string"):
        timestamps.parse(text)


@pytest.mark.parametrize("value", [1700000000, 3.5, True, ["2024-01-01"], "not a date"])
def test_a_coverage_the_state_cannot_say_is_not_known(value: Any) -> None:
    """A hand-edited ``covered_from`` that is not a timestamp: unknown, never a crash, and
    the next read records its own."""
    bookmarks: dict[str, Any] = {versions.COVERED_FROM: value}
    assert versions.covered_from(bookmarks) == (False, None)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert versions.cover(bookmarks, start)
    assert versions.covered_from(bookmarks) == (True, start)


# --- request_plan: the ids pass's lower bound -------------------------------------------


def test_the_ids_pass_filters_on_the_increment_only_from_a_start() -> None:
    settings = Settings.from_config({"api_key": DEMO_API_KEY, "base_url": "http://127.0.0.1:9"})
    profiles = RequestPlan(PROFILES, settings)
    assert profiles.increment_filters(NOW) == ["greater-than(updated,2026-12-05T11:59:59Z)"]
    assert profiles.increment_filters(None) == []
    assert RequestPlan(LISTS, settings).increment_filters(NOW) == []  # read whole: no bound
