"""Property-based tests (hypothesis) of what the tap builds and what it parses, and a full
sync through a mix of every fault kind that must still match the sandbox's ground truth.

- Filter builder: ``timestamps.filter_text`` gives the unquoted ``YYYY-MM-DDTHH:MM:SSZ`` form
  for any aware datetime; the aggregates' body filters parse back to their bounds (the query
  of every GET: ``tests/unit/test_request_plan.py``).
- Response parser: ``to_record`` keeps the id, hoists every attribute, turns relationships
  into ``<name>_id`` / ``<singular>_ids`` columns and leaves no JSON:API envelope behind;
  events get their metric's name from the page's ``included`` metrics.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.filters import parse
from klaviyo_sandbox.server import running_sandbox
from tap_klaviyo.records import Page, relationship_column, to_record
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.timestamps import filter_text
from tests.conftest import SMALL, tap_config
from tests.singer import quiet_tap, run_tap
from tests.truth import KEYED_STREAMS, emitted_keys, expected_keys

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)
KLAVIYO_FORM = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Any fixed UTC offset (Klaviyo users send times from everywhere), any instant that stays
# representable once moved to UTC.
offsets = st.timedeltas(
    min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)
).map(lambda delta: dt.timezone(dt.timedelta(minutes=delta // dt.timedelta(minutes=1))))
any_aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=offsets
)
# Bounds as the tap meets them (bookmarks, start_date, end_date, sync start).
bounds = st.none() | st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=offsets
)


def utc_second(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC).replace(microsecond=0)


# --- filter_text ------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(any_aware)
@example(dt.datetime(2024, 1, 1, tzinfo=UTC))
@example(dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
@example(dt.datetime(999, 12, 31, 23, 0, tzinfo=UTC))  # a start_date of 0999-… or 0001-…
@example(dt.datetime(1, 1, 2, tzinfo=UTC))
def test_filter_text_is_the_unquoted_utc_second(value: dt.datetime) -> None:
    text = filter_text(value)
    assert KLAVIYO_FORM.fullmatch(text), text
    assert dt.datetime.fromisoformat(text.replace("Z", "+00:00")) == utc_second(value)
    # What Klaviyo (the sandbox's grammar) reads back from a filter is that same instant.
    (condition,) = parse(f"greater-or-equal(datetime,{text})")
    assert condition.value == utc_second(value)


# --- the aggregates' body filters ----------------------------------------------------------


@functools.cache
def tap_with(subscriptions: bool, predictions: bool) -> TapKlaviyo:
    """A tap object (no requests are made to build parameters)."""
    return quiet_tap(
        {
            "api_key": DEMO_API_KEY,
            "base_url": "http://127.0.0.1:9",
            "profile_subscriptions": subscriptions,
            "profile_predictive_analytics": predictions,
            # Set, so that metric aggregates need not ask the account for its timezone.
            "report_timezone": "UTC",
        }
    )


@PROPERTY_SETTINGS
@given(bounds.filter(lambda v: v is not None), st.integers(min_value=1, max_value=400))
def test_aggregate_body_filters_parse_back_to_their_bounds(start: dt.datetime, days: int) -> None:
    tap = tap_with(True, True)
    stream = tap.streams["metric_aggregates"]
    bodies: list[dict[str, Any]] = []

    def post(path: str, body: dict[str, Any], *, tier: Any, stream: Any = None) -> dict[str, Any]:
        bodies.append(body)
        return {"data": {"attributes": {"dates": [], "data": []}}}

    end = start + dt.timedelta(days=days)
    original = tap.run.client.post
    tap.run.client.post = post  # type: ignore[method-assign]
    try:
        list(stream.aggregate({"metric_id": "M1"}, start, end))  # type: ignore[attr-defined]
    finally:
        tap.run.client.post = original  # type: ignore[method-assign]
    (body,) = bodies
    conditions = [c for text in body["data"]["attributes"]["filter"] for c in parse(text)]
    assert {c.op: c.value for c in conditions if c.field == "datetime"} == {
        "greater-or-equal": utc_second(start),
        "less-than": utc_second(end),
    }


# --- to_record --------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
words = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
relationship_names = st.lists(words, min_size=1, max_size=3).map("-".join)
resource_ids = st.text(min_size=1, max_size=20)
identifier = st.fixed_dictionaries({"type": words, "id": resource_ids})


def _with_links(relation: dict[str, Any]) -> dict[str, Any]:
    """Klaviyo adds ``links`` to relationships that carry ids, too."""
    if "data" in relation:
        return {**relation, "links": {"self": "https://a.klaviyo.com/x", "related": "y"}}
    return relation


relationships = st.one_of(
    st.fixed_dictionaries({"data": identifier}),  # to-one
    st.fixed_dictionaries({"data": st.none()}),  # to-one, empty
    st.fixed_dictionaries({"data": st.lists(identifier, max_size=4)}),  # to-many
    st.fixed_dictionaries(
        {"links": st.fixed_dictionaries({"self": st.text(), "related": st.text()})}
    ),
    st.just({}),
).map(_with_links)


@st.composite
def resource_objects(draw: st.DrawFn) -> dict[str, Any]:
    rels = draw(st.dictionaries(relationship_names, relationships, max_size=4))
    columns = {
        relationship_column(name, to_many=isinstance(rel.get("data"), list))
        for name, rel in rels.items()
    }
    # Attribute names as Klaviyo spells them; none is ``id`` or a relationship column.
    attribute_names = st.text("abcdefghijklmnopqrstuvwxyz_$", min_size=1, max_size=12).filter(
        lambda name: name != "id" and name not in columns
    )
    resource: dict[str, Any] = {
        "type": draw(words),
        "id": draw(resource_ids),
        "attributes": draw(st.dictionaries(attribute_names, json_values, max_size=6)),
        "links": {"self": "https://a.klaviyo.com/api/things/1/"},
    }
    if rels:
        resource["relationships"] = rels
    return resource


@PROPERTY_SETTINGS
@given(resource_objects())
def test_to_record_flattens_a_resource_object(resource: dict[str, Any]) -> None:
    snapshot = json.loads(json.dumps(resource))
    record = to_record(resource)
    assert resource == snapshot, "the resource object must not be modified"
    assert record["id"] == resource["id"]
    for name, value in resource["attributes"].items():
        assert record[name] == value
    expected_columns: dict[str, Any] = {}
    for name, relation in (resource.get("relationships") or {}).items():
        if "data" not in relation:
            continue
        data = relation["data"]
        if isinstance(data, list):
            expected_columns[relationship_column(name, to_many=True)] = [i["id"] for i in data]
        else:
            expected_columns[relationship_column(name, to_many=False)] = data and data["id"]
    for column, value in expected_columns.items():
        assert record[column] == value
    assert set(record) == {"id", *resource["attributes"], *expected_columns}
    assert "links" not in record or "links" in resource["attributes"]
    assert "relationships" not in record or "relationships" in resource["attributes"]
    assert "type" not in record or "type" in resource["attributes"]


@PROPERTY_SETTINGS
@given(relationship_names)
def test_relationship_columns_are_plain_column_names(name: str) -> None:
    one, many = relationship_column(name, to_many=False), relationship_column(name, to_many=True)
    assert one == name.replace("-", "_") + "_id"
    assert many.endswith("_ids")
    assert many.removesuffix("_ids") == name.replace("-", "_").removesuffix("s")
    for column in (one, many):
        assert re.fullmatch(r"[a-z_]+", column)


@st.composite
def event_pages(draw: st.DrawFn) -> dict[str, Any]:
    metric_ids = draw(st.lists(words, min_size=1, max_size=4, unique=True))
    included = [
        {"type": "metric", "id": metric_id, "attributes": {"name": draw(st.text(max_size=12))}}
        for metric_id in metric_ids
        if draw(st.booleans())
    ]
    included += [{"type": "profile", "id": draw(words), "attributes": {"name": "not a metric"}}]
    events = [
        {
            "type": "event",
            "id": draw(resource_ids),
            "attributes": {"datetime": "2024-01-01T00:00:00+00:00", "timestamp": 1704067200},
            "relationships": {
                "metric": {"data": {"type": "metric", "id": draw(st.sampled_from(metric_ids))}},
                "profile": {"data": {"type": "profile", "id": draw(words)}},
            },
        }
        for _ in range(draw(st.integers(min_value=1, max_value=5)))
    ]
    return {"data": events, "included": draw(st.permutations(included)), "links": {"next": None}}


@PROPERTY_SETTINGS
@given(event_pages())
def test_events_take_their_metric_name_from_the_page(page: dict[str, Any]) -> None:
    stream = tap_with(True, True).streams["events"]
    assert isinstance(stream, KlaviyoStream)
    names = {i["id"]: i["attributes"]["name"] for i in page["included"] if i["type"] == "metric"}
    for event in page["data"]:
        record = stream.resource.shape(event, Page(page))
        metric_id = event["relationships"]["metric"]["data"]["id"]
        assert record["metric_id"] == metric_id
        assert record["profile_id"] == event["relationships"]["profile"]["data"]["id"]
        assert record["metric_name"] == names.get(metric_id)


# --- a full sync through a mix of every fault kind -------------------------------------------

FAULT_MIX = (
    "500=0.02,502=0.02,503=0.02,504=0.02,524=0.02,429=0.03,reset=0.02,timeout=0.01,"
    "html403=0.02,badjson=0.02,truncate=0.02,emptynext=0.02"
)
STATS = re.compile(r"Requests: (\d+), retries: (\d+) \(429: (\d+)\)")
RETRY_REASON = re.compile(r"Retrying (?:GET|POST) \S+ after [\d.]+ s \(retry \d+\): (.+)$", re.M)


def test_full_sync_through_a_fault_mix_matches_ground_truth(
    record_property: Callable[[str, Any], None],
) -> None:
    # An injected timeout answers after 4 s; the tap gives up on it after 2 s and retries.
    plan = FaultPlan.parse(FAULT_MIX, seed=2118, timeout_seconds=4)
    with running_sandbox(seed=29, sizes=SMALL, rate_limits=False, faults=plan) as sandbox:
        config = tap_config(sandbox, request_timeout=2, max_retries=10, report_timeframe_days=365)
        run = run_tap(config)
        injected = {kind: count for kind, count in sandbox.fault_counts().items() if count}
        found = STATS.findall(run.stderr)
        requests_made, retries, throttled = map(int, found[-1]) if found else (0, 0, 0)
        lost = {
            stream: len(expected_keys(sandbox, stream) - emitted_keys(stream, run.records[stream]))
            for stream in KEYED_STREAMS
        }
        summary = {
            "fault_mix": FAULT_MIX,
            "requests_seen_by_sandbox": sandbox.requests()["total"],
            "requests_counted_by_tap": requests_made,
            "faults_injected": injected,
            "faults_injected_total": sum(injected.values()),
            "retries": retries,
            "retries_429": throttled,
            "records_emitted": sum(len(records) for records in run.records.values()),
            "records_lost": sum(lost.values()),
            "lost_per_stream": {stream: n for stream, n in lost.items() if n},
        }
        record_property("fault_mix", json.dumps(summary))
        print("\nFAULT MIX:", json.dumps(summary, indent=2))

        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stderr
        assert sum(injected.values()) >= 10, injected
        assert len(injected) >= 10, f"too few kinds were drawn to call it a mix: {injected}"
        for stream in KEYED_STREAMS:
            emitted = emitted_keys(stream, run.records[stream])
            expected = expected_keys(sandbox, stream)
            assert expected, stream
            assert not expected - emitted, f"{stream}: {len(expected - emitted)} records lost"
            assert not emitted - expected, f"{stream}: records the sandbox does not have"
        # Every fault but emptynext costs one retry; nothing is retried without a fault. On a
        # loaded machine (the sandbox shares the tap's process) any answer may outlast
        # request_timeout: its retry then says "timeout", whatever was injected, and a
        # healthy answer may cost one too. So: at least one retry per fault, and no retry
        # for another reason than a timeout without a fault of that kind.
        reasons = [match.group(1) for match in RETRY_REASON.finditer(run.stderr)]
        assert len(reasons) == retries  # the tap counted every retry it logged
        faults = sum(injected.values()) - injected.get("emptynext", 0)
        assert len(reasons) >= faults, reasons
        timeouts = reasons.count("timeout")
        assert timeouts >= injected.get("timeout", 0)
        assert len(reasons) - timeouts <= faults - injected.get("timeout", 0), reasons
        for kind, count in injected.items():
            if kind.isdigit():  # a status: its retry names it
                assert reasons.count(kind) <= count, f"{kind}: {count} injected: {reasons}"
        assert throttled <= injected.get("429", 0)
        for stream in ("campaign_values_reports", "flow_values_reports"):
            assert run.records[stream], stream
        # Daily aggregates agree with the events the same run read, day by the account's day.
        aggregates = run.records["metric_aggregates"]
        assert aggregates
        (zone,) = {ZoneInfo(row["timezone"]) for row in aggregates}
        per_day: dict[tuple[str, dt.date], int] = {}
        for event in run.records["events"]:
            day = dt.datetime.fromisoformat(event["datetime"]).astimezone(zone).date()
            per_day[event["metric_id"], day] = per_day.get((event["metric_id"], day), 0) + 1
        for row in aggregates:
            day = dt.datetime.fromisoformat(row["date"]).astimezone(zone).date()
            assert row["count"] == per_day.get((row["metric_id"], day), 0), row
