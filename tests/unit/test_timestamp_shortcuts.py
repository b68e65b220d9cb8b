"""The shortcuts of ``timestamps`` for the forms Klaviyo sends most give what the full parse
gives: a whole-second ``Z`` text, and a text already in the rows' one form."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_klaviyo import timestamps


@pytest.mark.parametrize(
    "value",
    ["2024-12-06T02:22:28Z", "0999-01-01T00:00:00Z", "2024-02-29T23:59:59Z"],
)
def test_a_whole_second_z_text_normalizes_as_the_full_parse_does(value: str) -> None:
    full = timestamps.to_text(dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=timestamps.UTC))
    assert timestamps.normalize(value) == full


@pytest.mark.parametrize(
    "value", ["2024-13-06T02:22:28Z", "2024-12-06T25:22:28Z", "abcd-ef-ghTij:kl:mnZ"]
)
def test_a_z_text_that_is_no_date_time_is_left_as_sent(value: str) -> None:
    assert timestamps.normalize(value) == value


@pytest.mark.parametrize("value", ["2024-12-06T02:22:28+00:00", "2024-12-06T02:22:28.250000+00:00"])
def test_the_rows_form_parses_to_the_same_instant(value: str) -> None:
    parsed = timestamps.parse(value)
    assert parsed == timestamps.as_utc(dt.datetime.fromisoformat(value))
    assert parsed.utcoffset() == dt.timedelta(0)
    assert timestamps.to_text(parsed) == value
