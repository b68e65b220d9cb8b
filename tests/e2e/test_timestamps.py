"""One parsing of every timestamp form Klaviyo sends, one form in every row, and records left
out of a window counted, never dropped silently."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo import records, timestamps
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.streams.rows import BEFORE_WINDOW, PAST_END_DATE
from tests.conftest import tap_catalog, tap_config
from tests.local_server import local_server
from tests.singer import run_tap

UTC = dt.timezone.utc
INSTANT = dt.datetime(2025, 12, 23, 0, 40, 38, 276417, tzinfo=UTC)

# Every form the same instant reaches the tap in: the spec's date-time allows them all.
FORMS = [
    "2025-12-23T00:40:38.276417+00:00",
    "2025-12-23T00:40:38.276417Z",
    "2025-12-23T00:40:38.276417z",
    "2025-12-22T19:40:38.276417-05:00",
    "2025-12-23T02:40:38.276417+02:00",
    "2025-12-23 00:40:38.276417+00:00",
]


@pytest.mark.parametrize("text", FORMS)
def test_every_form_is_the_same_instant(text: str) -> None:
    assert timestamps.parse(text) == INSTANT
    assert timestamps.normalize(text) == "2025-12-23T00:40:38.276417+00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-04-01 17:33:15+00:00", "2024-04-01T17:33:15+00:00"),
        ("2024-04-01T17:33:15Z", "2024-04-01T17:33:15+00:00"),
        ("2024-04-01T17:33:15.120Z", "2024-04-01T17:33:15.120000+00:00"),
        ("2024-04-01T17:33:15.1Z", "2024-04-01T17:33:15.100000+00:00"),
        ("2024-04-01T17:33:15.1234567+00:00", "2024-04-01T17:33:15.123456+00:00"),
        ("2024-04-01T17:33:15", "2024-04-01T17:33:15+00:00"),  # no offset: UTC
        ("2024-04-01T17:33:15+00:00", "2024-04-01T17:33:15+00:00"),
    ],
)
def test_normalized_form(text: str, expected: str) -> None:
    assert timestamps.normalize(text) == expected


@pytest.mark.parametrize("value", ["not a date", "", 1711992795, None, {"a": 1}])
def test_what_is_no_timestamp_is_left_as_sent(value: object) -> None:
    assert timestamps.normalize(value) == value


# Fixed offsets, as Klaviyo writes them (a zone's DST gaps and folds are not instants).
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
aware = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1), timezones=offsets
)


@settings(max_examples=300, deadline=None)
@given(aware, aware)
def test_normalized_texts_order_as_their_instants(first: dt.datetime, second: dt.datetime) -> None:
    a, b = timestamps.to_text(first), timestamps.to_text(second)
    assert timestamps.parse(a) == first
    assert (a < b) == (first < second)
    assert (a == b) == (first == second)


def test_nested_timestamps_are_normalized_as_the_schema_says() -> None:
    tree = records.timestamp_tree(load_schema("profiles"))
    profile = {
        "updated": "2025-01-01 10:00:00+00:00",
        "subscriptions": {
            "email": {
                "marketing": {
                    "consent_timestamp": "2025-01-01T05:00:00-05:00",
                    "suppression": [{"reason": "HARD_BOUNCE", "timestamp": "2025-01-02T00:00Z"}],
                }
            }
        },
        "properties": {"signup": "2025-01-01 10:00:00+00:00"},  # custom: left as sent
    }
    records.normalize_timestamps(profile, tree)
    assert profile["updated"] == "2025-01-01T10:00:00+00:00"
    marketing = profile["subscriptions"]["email"]["marketing"]  # type: ignore[index]
    assert marketing["consent_timestamp"] == "2025-01-01T10:00:00+00:00"
    assert marketing["suppression"][0]["timestamp"] == "2025-01-02T00:00:00+00:00"
    assert profile["properties"] == {"signup": "2025-01-01 10:00:00+00:00"}


# -- records outside their window: left out, counted, logged --------------------------------

BOOKMARK = "2025-06-01T12:00:00+00:00"


def _profile(profile_id: str, updated: str) -> dict:
    return {"type": "profile", "id": profile_id, "attributes": {"updated": updated}}


PAGE = {
    "data": [
        # greater-than(updated, 11:59:59) also answers this one: read by the last run.
        _profile("before", "2025-06-01T11:59:59.500000Z"),
        _profile("at-bound", "2025-06-01 12:00:00+00:00"),  # the bookmark's second: read again
        _profile("offset", "2025-06-01T08:00:01-04:00"),  # 12:00:01 UTC
        _profile("after-end", "2025-06-03T00:00:00.000001+00:00"),  # past end_date
    ],
    "links": {"next": None},
}


def test_records_outside_the_window_are_counted_and_logged() -> None:
    body = json.dumps(PAGE).encode()
    respond = lambda method, path: (200, {"Content-Type": "application/vnd.api+json"}, body)  # noqa: E731
    with local_server(respond) as (url, seen):
        config = {**tap_config_for(url), "end_date": "2025-06-03T00:00:00Z"}
        state = {
            "bookmarks": {
                "profiles": {"replication_key": "updated", "replication_key_value": BOOKMARK}
            }
        }
        run = run_tap(config, state=state, catalog=only_profiles())
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r["id"] for r in run.records["profiles"]] == ["at-bound", "offset"]
    assert [r["updated"] for r in run.records["profiles"]] == [
        "2025-06-01T12:00:00+00:00",
        "2025-06-01T12:00:01+00:00",
    ]
    assert "greater-than(updated,2025-06-01T11:59:59Z)" in unquote(seen[0][1])
    line = next(x for x in run.stderr.splitlines() if "not emitted: " in x)
    assert f"1 record {BEFORE_WINDOW}" in line
    assert f"1 record {PAST_END_DATE}" in line
    assert run.state is not None
    bookmark = run.state["bookmarks"]["profiles"]["replication_key_value"]
    assert bookmark == "2025-06-01T12:00:01+00:00"


def tap_config_for(url: str) -> dict:
    return {**tap_config(_Url(url)), "max_retries": 1}


class _Url:
    """The one attribute ``tap_config`` reads of a sandbox."""

    def __init__(self, url: str) -> None:
        self.url = url


def only_profiles() -> dict:
    from tests.singer import select_only

    return select_only(tap_catalog(), {"profiles"})
