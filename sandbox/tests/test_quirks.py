"""The data variants real Klaviyo accounts send, on by default (``Account.quirks``).

Each test compares a quirky account with the same seed's tidy one (``quirks=False``):
the variants change how records read, never which records exist (except the few extra
ones the quirks add: a duplicate metric and records that vanished after listing).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import requests
from sizes import SMALL

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Account, Sizes
from klaviyo_sandbox.data._core import walk
from klaviyo_sandbox.data._quirks import FORMS, TIMESTAMP_FIELDS, form_of
from klaviyo_sandbox.model import Condition, NotFound, Query
from klaviyo_sandbox.server import Sandbox

UTC = dt.timezone.utc
ANCHOR = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)
EMAIL = Condition("equals", "messages.channel", "email")
BOTH = frozenset({"subscriptions", "predictive_analytics"})
CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00")
SENT = ("Sent", "Variations Sent")
HEADERS = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}", "revision": "2026-07-15"}


@pytest.fixture(scope="module")
def quirky() -> Account:
    return Account(seed=7, sizes=SMALL, now=ANCHOR)


@pytest.fixture(scope="module")
def plain() -> Account:
    return Account(seed=7, sizes=SMALL, now=ANCHOR, quirks=False)


def every_page(account: Account, q: Query) -> tuple[list[dict], list[dict]]:
    """All records and included objects of ``q``, page after page."""
    data: list[dict] = []
    included: list[dict] = []
    after = None
    while True:
        page = account.query(replace(q, after=after))
        data += page.data
        included += page.included
        after = page.after
        if after is None:
            return data, included


def ids(objects: list[dict]) -> list[str]:
    return [obj["id"] for obj in objects]


def instant(text: str) -> dt.datetime:
    """Any of the forms as an aware datetime (``fromisoformat`` of Python 3.10 is strict)."""
    normal = text.replace(" ", "T").replace("Z", "+00:00")
    return dt.datetime.fromisoformat(normal).astimezone(UTC)


def stamps(obj: dict) -> dict[str, list[str]]:
    """The timestamp values of a rendered object, by field."""
    found = {}
    for name in TIMESTAMP_FIELDS.get(obj["type"], ()):
        path = [part for part in name.split(".") if part != "*"]  # walk fans out lists
        values = [v for v in walk(obj["attributes"], path) if v is not None]
        if values:
            found[name] = values
    return found


def rendered(account: Account) -> list[tuple[int, dict]]:
    """A sample of everything the account renders, with included objects, each with the
    number of the query that rendered it."""
    catalog = account.catalog
    queries = [
        Query("profiles", size=100, additional_fields=BOTH),
        Query("events", size=1000, include=frozenset({"metric", "profile"})),
        Query("list-profiles", parent_id=catalog.lists.items[0].id, size=100),
        Query("segment-profiles", parent_id=catalog.segments.items[0].id, size=100),
        Query("lists", include=frozenset({"tags"})),
        Query("segments"),
        Query("campaigns", conditions=(EMAIL,), include=frozenset({"campaign-messages"})),
        Query("flows", include=frozenset({"flow-actions"})),
        Query("metrics", size=200),
        Query("templates", size=100),
    ]
    queries += [Query("flow-messages", parent_id=a.id) for a in catalog.flow_actions.items[:8]]
    objects = []
    for number, q in enumerate(queries):
        page = account.query(q)
        objects += [(number, obj) for obj in page.data + page.included]
    return objects


def future_suppressed(account: Account, obj: dict) -> bool:
    """A profile the quirks suppressed in the future (``Account._future_suppressions``)."""
    p = account.profiles.index_of_id(obj["id"]) if obj["type"] == "profile" else None
    return p is not None and p in account.profiles.overlay.suppressed


# --- 1. mixed timestamp forms ------------------------------------------------------------


def test_timestamps_mix_forms_of_the_same_instant(quirky: Account, plain: Account) -> None:
    tidy = {(number, o["type"], o["id"]): o for number, o in rendered(plain)}
    forms: Counter[str] = Counter()
    kinds: set[str] = set()
    for number, obj in rendered(quirky):
        twin = tidy.get((number, obj["type"], obj["id"]))
        if twin is None or future_suppressed(quirky, obj):
            continue  # records only the quirks add, or change (a future-dated suppression)
        mine, theirs = stamps(obj), stamps(twin)
        assert mine.keys() == theirs.keys(), obj["type"]
        for name, values in mine.items():
            for text, canonical in zip(values, theirs[name], strict=True):
                assert CANONICAL.fullmatch(canonical)
                # same instant; the sub-second part is extra precision of the quirky form
                assert instant(text).replace(microsecond=0) == instant(canonical), name
                forms[form_of(text)] += 1
                kinds.add(f"{obj['type']}.{name}")
        if obj["type"] == "event":
            assert obj["attributes"]["event_properties"] == twin["attributes"]["event_properties"]
    assert set(forms) == set(FORMS)
    assert 0.4 < forms["canonical"] / sum(forms.values()) < 0.6
    offsets = {
        text[-6:]
        for _, obj in rendered(quirky)
        for values in stamps(obj).values()
        for text in values
        if form_of(text) == "offset"
    }
    assert offsets == {"-05:00", "+02:00"}
    for expected in (
        "event.datetime",
        "profile.joined_group_at",
        "profile.subscriptions.email.marketing.consent_timestamp",
        "profile.subscriptions.email.marketing.suppression.*.timestamp",
        "campaign.send_time",
        "campaign-message.send_times.*.datetime",
        "metric.created",
        "flow-message.updated",
    ):
        assert expected in kinds


def test_timestamp_forms_are_stable_per_record_and_field(quirky: Account) -> None:
    q = Query("events", size=500, include=frozenset({"profile", "metric"}))
    first, second = quirky.query(q), quirky.query(q)
    assert first.data == second.data
    assert first.included == second.included
    event = first.data[17]
    assert quirky.get("events", event["id"]).data[0] == event
    for profile in (o for o in first.included if o["type"] == "profile"):
        assert quirky.get("profiles", profile["id"]).data[0]["attributes"] == profile["attributes"]
    # per field: one record's fields do not all share one form
    profiles = quirky.query(Query("profiles", size=100)).data
    assert any(
        form_of(p["attributes"]["created"]) != form_of(p["attributes"]["updated"]) for p in profiles
    )


def test_catalog_records_are_not_changed_by_rendering(quirky: Account) -> None:
    """Nested timestamps of catalog items are rewritten on copies, never in the catalog."""
    q = Query("campaigns", conditions=(EMAIL,), size=100, include=frozenset({"campaign-messages"}))
    quirky.query(q)
    for item in quirky.catalog.campaigns.items:
        strategy = item.attributes["send_strategy"]
        assert "datetime" not in strategy or CANONICAL.fullmatch(strategy["datetime"])
    for item in quirky.catalog.campaign_messages.items:
        for send in item.attributes["send_times"]:
            assert CANONICAL.fullmatch(send["datetime"])


def test_filters_and_truth_use_whole_seconds(quirky: Account) -> None:
    since = ANCHOR - dt.timedelta(days=100)
    bound = Condition("greater-than", "datetime", since)
    found, _ = every_page(quirky, Query("events", conditions=(bound,), size=1000))
    assert sorted(set(ids(found))) == sorted(quirky.truth("events", since=since)["ids"])
    moments = [instant(e["attributes"]["datetime"]) for e in found]
    assert all(m > since for m in moments)
    seconds = [m.replace(microsecond=0) for m in moments]
    assert seconds == sorted(seconds)  # sorted on whole seconds (known simplification)


# --- 2. duplicate metric names -----------------------------------------------------------


def test_two_placed_order_metrics(quirky: Account, plain: Account) -> None:
    listed = quirky.query(Query("metrics", size=200)).data
    placed = [m for m in listed if m["attributes"]["name"] == "Placed Order"]
    original, duplicate = quirky.duplicate_metrics["Placed Order"]
    assert ids(placed) == [original, duplicate]
    first, second = placed
    assert instant(second["attributes"]["created"]) > instant(first["attributes"]["created"])
    assert first["attributes"]["integration"]["key"] != "api"
    integration = second["attributes"]["integration"]
    assert integration == {
        "object": "integration",
        "id": integration["id"],
        "key": "api",
        "name": "API",
        "category": "API",
    }
    assert plain.duplicate_metrics == {}

    def events_of(account: Account, metric_id: str) -> list[dict]:
        by_metric = Condition("equals", "metric_id", metric_id)
        return every_page(account, Query("events", conditions=(by_metric,), size=1000))[0]

    mine, theirs = events_of(quirky, original), events_of(quirky, duplicate)
    assert len(theirs) >= 5
    assert {e["relationships"]["metric"]["data"]["id"] for e in mine} == {original}
    assert {e["relationships"]["metric"]["data"]["id"] for e in theirs} == {duplicate}
    assert min(instant(e["attributes"]["datetime"]) for e in theirs) >= instant(
        second["attributes"]["created"]
    )
    tidy = set(ids(events_of(plain, original)))
    assert set(ids(mine)) | set(ids(theirs)) <= tidy  # the rest of them are orphans
    assert not set(ids(mine)) & set(ids(theirs))


def test_duplicate_metric_is_included_and_aggregated(quirky: Account) -> None:
    _, duplicate = quirky.duplicate_metrics["Placed Order"]
    events, included = every_page(quirky, Query("events", size=1000, include=frozenset({"metric"})))
    assert duplicate in {o["id"] for o in included if o["type"] == "metric"}
    for metric in (quirky.metric(i) for i in quirky.duplicate_metrics["Placed Order"]):
        assert metric is not None
        expected = sum(
            1
            for e in events
            if (e["relationships"]["metric"]["data"] or {}).get("id") == metric.id
            and ANCHOR - dt.timedelta(days=300) <= instant(e["attributes"]["datetime"]) < ANCHOR
        )
        assert expected > 0
        assert sum(_aggregate(quirky, metric.id, days=300)["count"]) == expected


def _aggregate(account: Account, metric_id: str, days: int) -> dict[str, list[float]]:
    start = ANCHOR - dt.timedelta(days=days)
    report = account.report(
        "metric-aggregate",
        {
            "metric_id": metric_id,
            "measurements": ["count", "sum_value", "unique"],
            "interval": "month",
            "filter": [
                f"greater-or-equal(datetime,{start:%Y-%m-%dT%H:%M:%S})",
                f"less-than(datetime,{ANCHOR:%Y-%m-%dT%H:%M:%S})",
            ],
        },
    )
    return report["attributes"]["data"][0]["measurements"]


# --- 3. integration.category as an object ------------------------------------------------


def test_some_integration_categories_are_objects(quirky: Account, plain: Account) -> None:
    listed = quirky.query(Query("metrics", size=200)).data
    shaped = [m for m in listed if isinstance(m["attributes"]["integration"]["category"], dict)]
    assert shaped
    for metric in shaped:
        category = metric["attributes"]["integration"]["category"]
        assert set(category) == {"id", "category"}
        assert isinstance(category["id"], int)
        assert isinstance(category["category"], str)
        assert metric["attributes"]["name"] != "Placed Order"
        # the filter still matches it by the category's name
        by_category = Condition("equals", "integration.category", category["category"])
        found = quirky.query(Query("metrics", conditions=(by_category,), size=200)).data
        assert metric["id"] in ids(found)
    assert all(
        isinstance(m["attributes"]["integration"]["category"], str)
        for m in plain.query(Query("metrics", size=200)).data
    )


# --- 4. events without a resolvable metric -----------------------------------------------


@pytest.mark.parametrize(("seed", "sizes"), [(7, SMALL), (1, Sizes())], ids=["test", "default"])
def test_events_without_a_metric(seed: int, sizes: Sizes) -> None:
    account = Account(seed=seed, sizes=sizes, now=ANCHOR)
    events, included = every_page(
        account, Query("events", size=1000, include=frozenset({"metric"}))
    )
    orphans = [e for e in events if e["relationships"]["metric"]["data"] is None]
    assert len(orphans) >= 5
    assert 0.002 < len(orphans) / len(events) < 0.01
    assert all(e["relationships"]["profile"]["data"]["id"] for e in orphans)
    referenced = {
        e["relationships"]["metric"]["data"]["id"] for e in events if e not in orphans
    }  # nothing is included for an orphan, everything else is
    assert {o["id"] for o in included} == referenced
    has = Condition("has", "metric")
    resolvable, _ = every_page(account, Query("events", conditions=(has,), size=1000))
    assert ids(resolvable) == [e["id"] for e in events if e not in orphans]
    truth = account.truth("events")
    assert truth["count"] == len(events) == sizes.events
    assert set(ids(orphans)) <= set(truth["ids"])
    single = account.get("events", orphans[0]["id"], include=frozenset({"metric"}))
    assert single.data[0]["relationships"]["metric"]["data"] is None
    assert single.included == []


def test_orphans_leave_aggregates_and_listings_consistent(quirky: Account) -> None:
    """Every metric's aggregate counts what the events listing says it has."""
    window = (
        Condition("greater-or-equal", "datetime", ANCHOR - dt.timedelta(days=300)),
        Condition("less-than", "datetime", ANCHOR),
    )
    for metric in quirky.metrics[:12]:
        by_metric = Condition("equals", "metric_id", metric.id)
        listed, _ = every_page(quirky, Query("events", conditions=(by_metric, *window), size=1000))
        measured = _aggregate(quirky, metric.id, days=300)
        assert sum(measured["count"]) == len(listed), metric.name
        profiles = {e["relationships"]["profile"]["data"]["id"] for e in listed}
        assert sum(measured["unique"]) >= len(profiles)


# --- 5. records listed, then gone --------------------------------------------------------


def test_vanished_records_are_listed_but_gone(quirky: Account) -> None:
    vanished = quirky.vanished
    assert set(vanished) == {"lists", "segments", "flow-actions", "metrics"}
    assert all(len(found) == 1 for found in vanished.values())
    for collection in ("lists", "segments", "metrics"):
        listed = ids(quirky.query(Query(collection, size=200)).data)
        assert vanished[collection] <= set(listed)
        assert listed[0] not in vanished[collection]  # the first listed one is real
        assert vanished[collection] <= set(quirky.truth(collection)["ids"])
        for ident in vanished[collection]:
            with pytest.raises(NotFound):
                quirky.get(collection, ident)
    (action,) = vanished["flow-actions"]
    flow = quirky.catalog.flow_actions.by_id[action].parent
    assert flow is not None
    children = ids(quirky.query(Query("flow-actions", parent_id=flow)).data)
    assert action in children
    assert children[0] != action
    flows = quirky.query(Query("flows", include=frozenset({"flow-actions"})))
    assert action in ids(flows.included)
    assert action in quirky.truth("flow-actions")["ids"]
    with pytest.raises(NotFound):
        quirky.get("flow-actions", action)
    (metric,) = vanished["metrics"]
    assert quirky.metric(metric) is not None
    assert quirky.metric(metric).name != "Placed Order"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("collection", "parent"),
    [
        ("list-profiles", "lists"),
        ("segment-profiles", "segments"),
        ("flow-messages", "flow-actions"),
    ],
)
def test_children_of_vanished_parents(quirky: Account, collection: str, parent: str) -> None:
    (ident,) = quirky.vanished[parent]
    with pytest.raises(NotFound):
        quirky.query(Query(collection, parent_id=ident))
    assert quirky.truth(collection, parent_id=ident) == {"count": 0, "ids": []}


def test_aggregates_of_a_vanished_metric_are_not_found(quirky: Account) -> None:
    (metric,) = quirky.vanished["metrics"]
    with pytest.raises(NotFound):
        _aggregate(quirky, metric, days=30)


def test_vanished_records_answer_404_over_http(quirky_sandbox: Sandbox) -> None:
    sandbox = quirky_sandbox
    vanished = sandbox.account.vanished  # type: ignore[attr-defined]
    (list_id,), (segment,) = vanished["lists"], vanished["segments"]
    (action,), (metric,) = vanished["flow-actions"], vanished["metrics"]

    def status(path: str) -> int:
        return requests.get(sandbox.url + path, headers=HEADERS).status_code

    assert list_id in [m["id"] for m in _data(sandbox, "/api/lists")]
    assert metric in [m["id"] for m in _data(sandbox, "/api/metrics")]
    for path in (
        f"/api/lists/{list_id}",
        f"/api/lists/{list_id}/profiles",
        f"/api/segments/{segment}",
        f"/api/segments/{segment}/profiles",
        f"/api/flow-actions/{action}/flow-messages",
    ):
        assert status(path) == 404, path
    body = {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": metric,
                "measurements": ["count"],
                "interval": "day",
                "filter": [
                    "greater-or-equal(datetime,2026-06-01T00:00:00)",
                    "less-than(datetime,2026-06-08T00:00:00)",
                ],
            },
        }
    }
    answer = requests.post(sandbox.url + "/api/metric-aggregates", headers=HEADERS, json=body)
    assert answer.status_code == 404, answer.text


def _data(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    response = requests.get(sandbox.url + path, headers=HEADERS)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_quirks_over_http(quirky_sandbox: Sandbox) -> None:
    sandbox = quirky_sandbox
    metrics = _data(sandbox, "/api/metrics")
    assert [m["attributes"]["name"] for m in metrics].count("Placed Order") == 2
    events = _data(sandbox, "/api/events?page[size]=1000&include=metric")
    assert any(e["relationships"]["metric"]["data"] is None for e in events)
    forms = {form_of(e["attributes"]["datetime"]) for e in events}
    assert forms == set(FORMS)


# --- 6. reports ---------------------------------------------------------------------------


def _values(account: Account, kind: str, statistics: list[str]) -> dict:
    return account.report(
        kind,
        {
            "statistics": statistics,
            "timeframe": {
                "start": (ANCHOR - dt.timedelta(days=360)).isoformat(),
                "end": ANCHOR.isoformat(),
            },
            "conversion_metric_id": account.metrics[7].id,
        },
    )


@pytest.mark.parametrize("kind", ["campaign-values-report", "flow-values-report"])
def test_report_counts_are_floats_and_the_document_has_an_id(
    quirky: Account, plain: Account, kind: str
) -> None:
    statistics = ["recipients", "delivered", "opens", "open_rate", "conversion_value"]
    mine, theirs = _values(quirky, kind, statistics), _values(plain, kind, statistics)
    assert mine["id"] == _values(quirky, kind, statistics)["id"]  # stable
    assert "id" not in theirs
    assert mine["relationships"] == theirs["relationships"]
    assert mine["relationships"]
    rows, tidy = mine["attributes"]["results"], theirs["attributes"]["results"]
    assert [r["groupings"] for r in rows] == [r["groupings"] for r in tidy]
    kinds = Counter()
    for row, twin in zip(rows, tidy, strict=True):
        assert row["statistics"] == twin["statistics"]  # 4779.0 == 4779
        assert isinstance(twin["statistics"]["recipients"], int)
        recipients = row["statistics"]["recipients"]
        kinds[type(recipients).__name__] += 1
        counts = [row["statistics"][name] for name in ("recipients", "delivered", "opens")]
        assert len({type(value) for value in counts}) == 1  # one row, one shape
        assert isinstance(row["statistics"]["open_rate"], float)
    assert kinds["float"] > kinds["int"] > 0 or (kinds["float"] and len(rows) < 4)


# --- 7. campaign options -----------------------------------------------------------------


def test_campaign_send_and_tracking_options(quirky: Account, plain: Account) -> None:
    shapes: Counter[str] = Counter()
    for channel in ("email", "sms", "mobile_push"):
        conditions = (
            Condition("equals", "messages.channel", channel),
            Condition("equals", "archived", False),
        )
        for account, quirks in ((quirky, True), (plain, False)):
            for campaign in account.query(Query("campaigns", conditions=conditions)).data:
                attributes = campaign["attributes"]
                options = attributes["send_options"]
                if quirks and channel == "email":
                    assert isinstance(options["ignore_unsubscribes"], bool)
                else:
                    assert set(options) == {"use_smart_sending"}
                tracking = attributes["tracking_options"]
                if tracking is None:
                    continue
                params = tracking["custom_tracking_params"]
                shape = "null" if params is None else "empty" if params == [] else "list"
                if quirks:
                    shapes[shape] += 1
                else:
                    assert shape != "empty"
    assert set(shapes) == {"null", "empty", "list"}


# --- 8. campaigns sent inside the last 30 days -------------------------------------------


@pytest.mark.parametrize(("seed", "sizes"), [(7, SMALL), (1, Sizes())], ids=["test", "default"])
@pytest.mark.parametrize("quirks", [True, False], ids=["quirks", "tidy"])
def test_campaigns_sent_in_the_last_30_days(seed: int, sizes: Sizes, quirks: bool) -> None:
    account = Account(seed=seed, sizes=sizes, quirks=quirks)  # anchored at the real clock
    start = account.now() - dt.timedelta(days=30)
    recent = [
        item
        for item in account.catalog.campaigns.items
        if item.attributes["status"] in SENT and instant(item.attributes["send_time"]) >= start
    ]
    assert len(recent) >= 3
    for item in recent:
        attributes = item.attributes
        sent = instant(attributes["send_time"])
        assert instant(attributes["created_at"]) < instant(attributes["scheduled_at"]) <= sent
        assert sent <= instant(attributes["updated_at"]) < account.now()
        if "datetime" in attributes["send_strategy"]:
            assert instant(attributes["send_strategy"]["datetime"]) == sent
        for _, message_id in item.to_many["campaign-messages"]:
            message = account.catalog.campaign_messages.by_id[message_id].attributes
            assert [instant(s["datetime"]) for s in message["send_times"]] == [sent]
            assert message["updated_at"] == attributes["updated_at"]
    report = account.report(
        "campaign-values-report",
        {
            "statistics": ["recipients", "delivered", "opens_unique", "opens"],
            "timeframe": {"key": "last_30_days"},
            "conversion_metric_id": account.metrics[7].id,
        },
    )
    rows = report["attributes"]["results"]
    assert len({row["groupings"]["campaign_id"] for row in rows}) >= 3
    assert {row["groupings"]["campaign_id"] for row in rows} <= {item.id for item in recent}
    for row in rows:
        stats = row["statistics"]
        assert 0 < stats["delivered"] <= stats["recipients"]
        assert stats["opens_unique"] <= stats["opens"]


# --- quirks off -----------------------------------------------------------------------------


def test_quirks_off_is_tidy(plain: Account) -> None:
    assert plain.vanished == dict.fromkeys(
        ("lists", "segments", "flow-actions", "metrics"), frozenset()
    )
    assert plain.duplicate_metrics == {}
    names = [m.name for m in plain.metrics]
    assert len(names) == len(set(names))
    for _, obj in rendered(plain):
        for values in stamps(obj).values():
            assert all(CANONICAL.fullmatch(text) for text in values), obj["type"]
        if obj["type"] == "event":
            assert obj["relationships"]["metric"]["data"] is not None
        if obj["type"] == "metric":
            assert isinstance(obj["attributes"]["integration"]["category"], str)
    events, _ = every_page(plain, Query("events", size=1000))
    assert all(e["relationships"]["metric"]["data"] for e in events)
    report = _values(plain, "campaign-values-report", ["recipients", "opens"])
    assert "id" not in report
    assert all(
        isinstance(value, int)
        for row in report["attributes"]["results"]
        for value in row["statistics"].values()
    )
