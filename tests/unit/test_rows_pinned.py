"""Unit tests pinning which of a page's rows a window keeps (``tap_klaviyo.streams.rows``,
issue 28): each kills mutants `make mutate` found living (tests/MUTANTS.md)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from tap_klaviyo import timestamps
from tap_klaviyo.records import Page
from tap_klaviyo.resources import RESOURCE_BY_NAME
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.streams import rows

LOW = timestamps.parse("2026-01-01T00:00:00.700Z")  # bounds are whole seconds: 00:00:00
HIGH = timestamps.parse("2026-01-02T00:00:00.300Z")  # and 2026-01-02T00:00:00
AFTER = "past the window (a test's reason)"


def dated(*values: str | None) -> list[dict[str, Any]]:
    return [{"id": str(i), "datetime": value} for i, value in enumerate(values)]


def datetime_of(row: dict[str, Any]) -> Any:
    return row["datetime"]


def test_a_window_keeps_its_seconds_and_counts_the_rows_outside() -> None:
    page = dated(
        "2025-12-31T23:59:59.999Z",  # before the window's first second
        "2025-12-01T00:00:00Z",
        "2026-01-01T00:00:00Z",  # its first second, though before LOW's fraction
        None,  # no value: never outside a window
        "2026-01-01T23:59:59.999999Z",
        "2026-01-02T00:00:00Z",  # its end's second: the next window's
        "2026-01-03T00:00:00Z",
    )
    moments: list[dt.datetime] = []
    kept, left_out = rows.in_window(page, datetime_of, (LOW, HIGH), AFTER, moments)
    assert [row["id"] for row in kept] == ["2", "3", "4"]
    assert left_out == Counter({("record", rows.BEFORE_WINDOW): 2, ("record", AFTER): 2})
    assert moments == [timestamps.parse(page[2]["datetime"]), timestamps.parse(page[4]["datetime"])]


def test_a_window_open_at_one_end_bounds_only_the_other() -> None:
    page = dated("2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    kept, left_out = rows.in_window(page, datetime_of, (None, HIGH), AFTER)
    assert kept == page[:1]
    assert left_out == Counter({("record", AFTER): 1})
    kept, left_out = rows.in_window(page, datetime_of, (LOW, None), AFTER)
    assert kept == page[1:]
    assert left_out == Counter({("record", rows.BEFORE_WINDOW): 1})


def test_rows_of_a_stream_without_a_replication_key_are_all_kept() -> None:
    page = dated("2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    moments: list[dt.datetime] = []
    kept, left_out = rows.in_window(page, None, (LOW, HIGH), AFTER, moments)
    assert (kept, left_out, moments) == (page, Counter(), [])


def test_an_unbounded_read_keeps_every_row_and_gives_their_values() -> None:
    # A child read from no bookmark and no start_date: its bookmark moves with these values.
    page = dated("2000-01-01T00:00:00Z", None, "2099-01-01T00:00:00Z")
    moments: list[dt.datetime] = []
    kept, left_out = rows.in_window(page, datetime_of, (None, None), AFTER, moments)
    assert (kept, left_out) == (page, Counter())
    assert moments == [timestamps.parse(page[0]["datetime"]), timestamps.parse(page[2]["datetime"])]


def test_a_row_past_the_end_date_is_said_to_be_so_and_past_a_window_to_be_the_nexts() -> None:
    end_date = timestamps.parse("2026-01-02T00:00:00Z")
    assert rows.past_window(HIGH, end_date) == rows.PAST_END_DATE  # HIGH's second is it
    assert rows.past_window(HIGH, None) == rows.AFTER_WINDOW
    assert rows.past_window(LOW, end_date) == rows.AFTER_WINDOW
    assert rows.past_window(None, end_date) == rows.AFTER_WINDOW
    assert rows.past_window(None, None) == rows.AFTER_WINDOW


def test_a_generic_page_s_rows_have_every_timestamp_in_the_rows_one_form() -> None:
    """Rows shaped the generic way (every page but the typed ones of events, profiles and
    members) have their timestamps rewritten into one form: a warehouse column of one stream
    never mixes ``Z`` and offsets, fractions and none."""
    schema = load_schema("campaigns")
    shaper = rows.Rows(RESOURCE_BY_NAME["campaigns"], schema, None, None)
    campaign = {
        "type": "campaign",
        "id": "01J",
        "attributes": {
            "name": "Spring",
            "created_at": "2026-03-01T10:00:00Z",
            "updated_at": "2026-03-01T12:00:00.5+02:00",
            "send_time": "2026-03-02T08:00:00.123456789Z",
        },
    }
    shaped = list(shaper.shaped(Page({"data": [campaign]})))
    assert [
        (row["created_at"], row["updated_at"], row["send_time"]) for row in shaped
    ] == [
        ("2026-03-01T10:00:00+00:00", "2026-03-01T10:00:00.500000+00:00",
         "2026-03-02T08:00:00.123456+00:00"),
    ]  # fmt: skip
