"""Property tests of the filter grammar (``klaviyo_sandbox.filters``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klaviyo_sandbox.endpoints import OPERATIONS, FilterField
from klaviyo_sandbox.filters import OPERATORS, parse, parse_filter
from klaviyo_sandbox.model import Condition, InvalidQuery

UTC = dt.timezone.utc

# --- rendering: the inverse of parse, written the way clients write filters ---------------


def _quote(text: str, quote: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


def _render_value(value: Any, quote: str, offset: dt.timezone) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_render_value(item, quote, offset) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        text = value.astimezone(offset).isoformat()
        return text.replace("+00:00", "Z") if offset is UTC else text
    if isinstance(value, int | float):
        return repr(value)
    return _quote(value, quote)


def _render(condition: Condition, quote: str = '"', offset: dt.timezone = UTC) -> str:
    if condition.op == "has":
        return f"has({condition.field})"
    value = _render_value(condition.value, quote, offset)
    return f"{condition.op}({condition.field},{value})"


# --- strategies ------------------------------------------------------------------------------

field_names = st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,3}", fullmatch=True
)
datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2100, 12, 30), timezones=st.just(UTC)
)
offsets = st.one_of(
    st.just(UTC),
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m))),
)
scalars = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.booleans(),
    datetimes,
)
value_ops = sorted(OPERATORS - {"has"})
conditions = st.one_of(
    st.builds(Condition, st.sampled_from(value_ops), field_names, scalars),
    st.builds(Condition, st.sampled_from(value_ops), field_names, st.lists(scalars, min_size=1)),
    st.builds(Condition, st.just("has"), field_names, st.none()),
)


@st.composite
def filter_texts(draw: st.DrawFn) -> tuple[str, list[Condition]]:
    """A filter string and the conditions it must parse to: comma-AND, and(), spaces."""
    items = draw(st.lists(conditions, min_size=1, max_size=6))
    quote = draw(st.sampled_from(['"', "'"]))
    offset = draw(offsets)
    texts = [_render(item, quote, offset) for item in items]
    while len(texts) > 1 and draw(st.booleans()):
        start = draw(st.integers(0, len(texts) - 1))
        end = draw(st.integers(start + 1, len(texts)))
        texts[start:end] = ["and(" + ",".join(texts[start:end]) + ")"]
    separator = draw(st.sampled_from([",", ", ", " , "]))
    return separator.join(texts), items


def _numbers_equal(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


# --- properties -----------------------------------------------------------------------------


@given(filter_texts())
def test_rendered_filters_parse_back(case: tuple[str, list[Condition]]) -> None:
    text, expected = case
    parsed = parse(text)
    assert parsed == tuple(expected)
    for got, want in zip(parsed, expected, strict=True):
        if not isinstance(want.value, list):
            assert _numbers_equal(got.value, want.value)


@given(st.text())
def test_any_text_parses_or_is_invalid(text: str) -> None:
    """No input crashes the parser: it gives conditions or a 400-style InvalidQuery."""
    try:
        parsed = parse(text)
    except InvalidQuery as error:
        failure: InvalidQuery | None = error
    else:
        failure = None
        assert parsed
        assert all(isinstance(c, Condition) for c in parsed)
    if failure is not None:
        assert failure.parameter == "filter"
        assert failure.detail.startswith("Invalid filter provided.")


@given(st.text(alphabet="(),[]'\"\\ aeqlsnyh-_.:TZ0123456789", max_size=60))
def test_grammar_shaped_noise_parses_or_is_invalid(text: str) -> None:
    with contextlib.suppress(InvalidQuery):
        parse(text)


# --- the allowed field/operator pairs of each endpoint -------------------------------------------

FILTERED = [op for op in OPERATIONS if op.filters]


def _sample_value(field: FilterField, when: dt.datetime) -> Any:
    if field.enum:
        return sorted(field.enum)[0]
    kinds = {"datetime": when, "number": 1_700_000_000, "boolean": True}
    return kinds.get(field.kind, "x")


@given(
    op=st.sampled_from(FILTERED),
    data=st.data(),
    when=datetimes,
)
def test_only_allowed_pairs_pass(op: Any, data: st.DataObject, when: dt.datetime) -> None:
    name = data.draw(st.sampled_from(sorted(op.filters)))
    field = op.filters[name]
    operator = data.draw(st.sampled_from(sorted(OPERATORS)))
    as_list = data.draw(st.booleans()) and field.kind != "none"
    value = None if operator == "has" else _sample_value(field, when)
    condition = Condition(operator, name, [value] if as_list else value)
    allowed = (
        operator in field.list
        if as_list
        else operator in field.single and (operator == "has") == (field.kind == "none")
    )
    if allowed:
        assert parse_filter(_render(condition), op.filters)
    else:
        with pytest.raises(InvalidQuery):
            parse_filter(_render(condition), op.filters)


@given(op=st.sampled_from(FILTERED), data=st.data(), when=datetimes)
def test_quoted_datetimes_are_rejected(op: Any, data: st.DataObject, when: dt.datetime) -> None:
    names = sorted(name for name, f in op.filters.items() if f.kind == "datetime")
    if not names:
        return
    name = data.draw(st.sampled_from(names))
    operator = sorted(op.filters[name].single)[0]
    with pytest.raises(InvalidQuery, match="unquoted datetime"):
        parse_filter(f"{operator}({name},'{when.isoformat()}')", op.filters)


@given(name=st.from_regex(r"[a-z][a-z-]{0,15}", fullmatch=True))
def test_unknown_operators_are_rejected(name: str) -> None:
    if name in OPERATORS or name == "and":
        return
    with pytest.raises(InvalidQuery):
        parse(f"{name}(email,'a@b.c')")


def test_list_equals_reaches_the_data_layer_as_any() -> None:
    lists = next(op for op in OPERATIONS if op.operation_id == "get_lists")
    assert parse_filter('equals(name,["A","B"])', lists.filters) == (
        Condition("any", "name", ["A", "B"]),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "equals(email)",
        "equals(email,'a'",
        "equals(email,'a'))",
        "equals(email,a@b.c)",
        "equals(email,'a') equals(id,'b')",
        "or(equals(email,'a'),equals(email,'b'))",
        "not(equals(email,'a'))",
        "equals(email,[])",
        "greater-than(updated,2024-13-01T00:00:00Z)",
        "greater-than(updated,2024-01-01T00:00:00+24:00)",
        "and()",
        "and(" * 20 + "has(profile)" + ")" * 20,
    ],
)
def test_malformed_filters(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse(text)


def test_datetimes_are_aware_utc() -> None:
    (naive,) = parse("greater-or-equal(datetime,2022-12-01T00:00:00)")
    (dated,) = parse("greater-than(updated,2024-03-05)")
    (offset,) = parse("less-than(updated,2024-01-01T02:00:00.5+02:00)")
    assert naive.value == dt.datetime(2022, 12, 1, tzinfo=UTC)
    assert dated.value == dt.datetime(2024, 3, 5, tzinfo=UTC)
    assert offset.value == dt.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
