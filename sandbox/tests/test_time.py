"""The sandbox's time as live accounts show it (quirks): late events named with their
arrival, a clock that ``advance`` can move, and attributes the spec does not list."""

from __future__ import annotations

import datetime as dt

from klaviyo_sandbox.data import Account, Sizes
from klaviyo_sandbox.model import Query

ANCHOR = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def account(quirks: bool) -> Account:
    return Account(seed=3, sizes=Sizes(profiles=300, events=2000), now=ANCHOR, quirks=quirks)


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_advance_moves_the_clock_and_adds_late_events_it_names() -> None:
    quirky = account(quirks=True)
    before = quirky.now()
    late: list[dict] = []
    for _ in range(7):
        late += quirky.advance(3600, move_clock=86400)["late_events"]
    assert quirky.now() - before >= 7 * DAY
    assert len(late) == 7 * 360 // 5
    gaps = [parse(e["arrived"]) - parse(e["datetime"]) for e in late]
    assert all(dt.timedelta(0) < gap <= 20 * DAY for gap in gaps)
    assert any(gap <= DAY for gap in gaps)
    assert any(DAY < gap <= 7 * DAY for gap in gaps)
    assert any(gap > 7 * DAY for gap in gaps)
    # Served like any event, at their own datetime; named in the account's truth.
    ids = set(quirky.truth("events")["ids"])
    assert {e["id"] for e in late} <= ids
    assert {e["id"]: (e["datetime"], e["arrived"]) for e in late} == {
        i: (event.datetime, event.arrived) for i, event in quirky.late_events.items()
    }
    tidy = account(quirks=False)
    assert tidy.advance(3600, move_clock=86400)["late_events"] == []


def test_profiles_carry_live_attributes_only_with_quirks() -> None:
    query = Query("profiles", size=100)
    quirky = [p["attributes"] for p in account(quirks=True).query(query).data]
    assert all({"anonymous_id", "whatsapp_bsuid"} <= set(a) for a in quirky)
    assert any(a["anonymous_id"] for a in quirky)
    assert any(a["whatsapp_bsuid"] for a in quirky)
    tidy = [p["attributes"] for p in account(quirks=False).query(query).data]
    assert not any({"anonymous_id", "whatsapp_bsuid"} & set(a) for a in tidy)
