"""The request plan (``tap_klaviyo.request_plan``): what a GET of each resource asks.

For every stream, partition and pair of bounds, the parameters survive URL encoding and the
sandbox's own parser accepts them for that endpoint, with the bounds the tap meant; and the
plan's parts one by one (the one-second-early ``greater-than``, the tier additional fields
lower, a child's path and filter).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klaviyo_sandbox.app import DEMO_API_KEY, allowed_parameters
from klaviyo_sandbox.endpoints import OPERATIONS, Operation
from klaviyo_sandbox.filters import parse_filter
from tap_klaviyo.request_plan import RequestPlan, time_filters
from tap_klaviyo.resources import COUPON_CODES, EVENTS, LIST_MEMBERS, PROFILES, RESOURCE_BY_NAME, M
from tap_klaviyo.settings import Settings

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
offsets = st.timedeltas(
    min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)
).map(lambda delta: dt.timezone(dt.timedelta(minutes=delta // dt.timedelta(minutes=1))))
# Bounds as the tap meets them (bookmarks, start_date, end_date, sync start).
bounds = st.none() | st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=offsets
)


def utc_second(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC).replace(microsecond=0)


# --- every stream's request -------------------------------------------------------------------

OPERATION_BY_PATH = {(op.method, op.path): op for op in OPERATIONS}
GET_STREAMS = sorted(
    name
    for name, resource in RESOURCE_BY_NAME.items()
    if ("GET", resource.path) in OPERATION_BY_PATH
)


@functools.cache
def settings_with(subscriptions: bool, predictions: bool) -> Settings:
    return Settings.from_config(
        {
            "api_key": DEMO_API_KEY,
            "base_url": "http://127.0.0.1:9",
            "profile_subscriptions": subscriptions,
            "profile_predictive_analytics": predictions,
        }
    )


@st.composite
def stream_requests(draw: st.DrawFn) -> tuple[RequestPlan, dict[str, Any] | None, Any, Any]:
    name = draw(st.sampled_from(GET_STREAMS))
    resource = RESOURCE_BY_NAME[name]
    stream = RequestPlan(resource, settings_with(draw(st.booleans()), draw(st.booleans())))
    context: dict[str, Any] | None = None
    if resource.partitions:
        context = dict(draw(st.sampled_from(resource.partitions)).context)
    elif resource.parent:
        ids = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6)
        context = {resource.parent_key or "": draw(ids)}
        context.update({child: draw(ids) for _, child in resource.carry})
    return stream, context, draw(bounds), draw(bounds)


def sent_query(path: str, params: dict[str, str]) -> dict[str, str]:
    """The query string exactly as requests puts it on the wire, decoded as a server does."""
    prepared = requests.Request("GET", "http://127.0.0.1:9" + path, params=params).prepare()
    assert prepared.url is not None
    pairs = parse_qsl(urlsplit(prepared.url).query, keep_blank_values=True)
    assert len(pairs) == len({name for name, _ in pairs}), "a parameter sent twice"
    return dict(pairs)


def increment_of(stream: RequestPlan) -> tuple[str | None, str, str | None]:
    """The stream's filter field and its lower/upper bound operators (None: not incremental)."""
    resource: Any = stream.resource
    increment = getattr(resource, "increment", None)
    if increment is not None:
        return increment.filter_field, increment.lower, increment.upper
    if getattr(resource, "filter_field", None):  # the table's earlier spelling
        return resource.filter_field, resource.lower_bound, resource.upper_bound
    return None, "", None


@PROPERTY_SETTINGS
@given(stream_requests())
def test_every_request_the_tap_builds_is_one_klaviyo_accepts(
    case: tuple[RequestPlan, dict[str, Any] | None, Any, Any],
) -> None:
    stream, context, start, end = case  # no bounds: a full read (a child's parents)
    resource = stream.resource
    operation: Operation = OPERATION_BY_PATH[("GET", resource.path)]
    params = stream.params(context, start, end)
    path = resource.path.format(id="x1y2z3")

    query = sent_query(path, params)
    assert query == params, "parameters must survive URL encoding unchanged"
    assert set(query) <= allowed_parameters(operation), set(query) - allowed_parameters(operation)
    assert DEMO_API_KEY not in json.dumps(query)

    if "sort" in query:
        assert query["sort"].removeprefix("-") in operation.sorts
    if "include" in query:
        assert set(query["include"].split(",")) <= operation.includes
    if "page[size]" in query:
        assert operation.page_size is not None
        assert 1 <= int(query["page[size]"]) <= operation.page_size.maximum
    for name, value in query.items():
        if name.startswith("additional-fields["):
            kind = name[len("additional-fields[") : -1]
            assert set(value.split(",")) <= operation.additional_fields[kind]

    assert_filters_as_meant(stream, operation, query, context, (start, end))


def assert_filters_as_meant(
    stream: RequestPlan,
    operation: Operation,
    query: dict[str, str],
    context: dict[str, Any] | None,
    bounds: tuple[Any, Any],
) -> None:
    """The sandbox's parser reads back the bounds the tap meant, and the partition's filters."""
    start, end = bounds
    conditions = parse_filter(query["filter"], operation.filters) if "filter" in query else ()
    field, lower, upper = increment_of(stream)
    on_time = {c.op: c.value for c in conditions if field and c.field == field}
    timed = field is not None
    if timed:
        assert query["sort"] == field  # ascending on the bookmark's field
    if timed and start is not None:
        # greater-than one second early: records at the bookmark's second are read again.
        early = SECOND if lower == "greater-than" else dt.timedelta(0)
        assert on_time.get(lower) == utc_second(start) - early, (query, start)
    if timed and end is not None and upper:
        assert on_time.get(upper) == utc_second(end), (query, end)
    if not timed or (start is None and (end is None or not upper)):
        assert not on_time
    for key in ("channel", "archived"):
        if context and key in context:
            field = "messages.channel" if key == "channel" else "archived"
            assert [c.value for c in conditions if c.field == field] == [context[key]]


# --- the plan's parts ---------------------------------------------------------------------

START = dt.datetime(2024, 3, 1, 12, 0, 30, 500_000, tzinfo=UTC)
END = dt.datetime(2024, 3, 2, tzinfo=UTC)


def test_a_greater_than_bound_is_sent_one_second_early() -> None:
    assert PROFILES.increment is not None
    assert PROFILES.increment.lower == "greater-than"
    assert time_filters(PROFILES.increment, START, END) == [
        "greater-than(updated,2024-03-01T12:00:29Z)",
        "less-than(updated,2024-03-02T00:00:00Z)",
    ]
    assert EVENTS.increment is not None
    assert time_filters(EVENTS.increment, START, None) == [
        "greater-or-equal(datetime,2024-03-01T12:00:30Z)"
    ]
    assert time_filters(EVENTS.increment, None, None) == []


def test_predictions_lower_the_profiles_tier() -> None:
    assert RequestPlan(PROFILES, settings_with(True, True)).tier is M
    assert RequestPlan(PROFILES, settings_with(True, False)).tier is PROFILES.tier
    with_predictions = RequestPlan(PROFILES, settings_with(False, True)).params(None)
    assert with_predictions["additional-fields[profile]"] == "predictive_analytics"
    assert "additional-fields[profile]" not in RequestPlan(
        PROFILES, settings_with(False, False)
    ).params(None)


def test_a_child_is_read_by_its_parents_path_or_filter() -> None:
    members = RequestPlan(LIST_MEMBERS, settings_with(True, True))
    assert members.path({"list_id": "L1"}) == "/api/lists/L1/profiles"
    codes = RequestPlan(COUPON_CODES, settings_with(True, True))
    assert codes.partition_filters({"coupon_id": "C1"}) == ["any(coupon.id,['C1'])"]
    assert codes.increment_filters(None) == []


def test_a_read_between_two_bounds_asks_klaviyo_for_those_rows_only() -> None:
    """The bounds become the request's filter: a request without them would read the whole
    table again in every window (a fast test, so that mutation testing meets it before the
    end-to-end reads that such a request makes endless)."""
    events = RequestPlan(EVENTS, settings_with(True, True)).params(None, START, END)
    assert events["filter"] == (
        "greater-or-equal(datetime,2024-03-01T12:00:30Z),less-than(datetime,2024-03-02T00:00:00Z)"
    )
    assert events["sort"] == "datetime"
