"""The sandbox's series reports and accounts endpoint over HTTP: shapes, validation errors
(Klaviyo's 4XX shape, pointing into the body), and the reports' daily limit."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from test_http import HEADERS, _clocked, _placed_order, _post, error_of, get

from klaviyo_sandbox.endpoints import REPORTING
from klaviyo_sandbox.server import Sandbox

NEW_YORK = ZoneInfo("America/New_York")


def _flow_series(metric_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "flow-series-report",
            "attributes": {
                "statistics": ["recipients", "conversions", "open_rate"],
                "timeframe": {"start": "2026-10-25T00:00:00", "end": "2026-11-05T00:00:00"},
                "interval": "daily",
                "conversion_metric_id": metric_id,
                **attributes,
            },
        }
    }


def _segment_series(**attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "segment-series-report",
            "attributes": {
                "statistics": ["members_added", "total_members"],
                "timeframe": {"start": "2026-10-25T00:00:00", "end": "2026-11-05T00:00:00"},
                "interval": "daily",
                **attributes,
            },
        }
    }


def test_accounts_name_a_timezone_with_daylight_saving(sandbox: Sandbox) -> None:
    (account,) = get(sandbox, "/api/accounts").json()["data"]
    attributes = account["attributes"]
    assert attributes["timezone"] == "America/New_York"
    assert attributes["preferred_currency"] == "USD"
    assert set(attributes["contact_information"]) >= {"organization_name", "street_address"}


def test_flow_series_days_are_local_days(sandbox: Sandbox) -> None:
    response = _post(sandbox, "/api/flow-series-reports", _flow_series(_placed_order(sandbox)))
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    moments = [dt.datetime.fromisoformat(m) for m in attributes["date_times"]]
    assert len(moments) == 11
    days = [dt.date(2026, 10, 25) + dt.timedelta(days=n) for n in range(11)]
    if sandbox.state.quirks:
        # As live accounts label them: the local date, written as UTC midnight.
        assert attributes["date_times"] == [f"{day}T00:00:00+00:00" for day in days]
    else:
        assert [m.astimezone(NEW_YORK).date() for m in moments] == days
        assert all(m.astimezone(NEW_YORK).time() == dt.time() for m in moments)
        # Daylight saving time ends on 1 November 2026: the offset moves with it.
        offsets = {m.utcoffset() for m in moments}
        assert offsets == {dt.timedelta(hours=-4), dt.timedelta(hours=-5)}
    assert attributes["results"]
    for result in attributes["results"]:
        assert set(result["groupings"]) == {"flow_id", "flow_message_id", "send_channel"}
        assert all(len(values) == 11 for values in result["statistics"].values())
    relationships = response.json()["data"]["relationships"]
    assert relationships["flow-messages"]["data"]


def test_flow_series_filter_and_group_by(sandbox: Sandbox) -> None:
    metric_id = _placed_order(sandbox)
    every = _post(sandbox, "/api/flow-series-reports", _flow_series(metric_id)).json()
    first = every["data"]["attributes"]["results"][0]["groupings"]["flow_id"]
    body = _flow_series(
        metric_id,
        filter=f'equals(flow_id,"{first}")',
        group_by=["flow_id", "flow_message_id", "flow_name"],
    )
    results = _post(sandbox, "/api/flow-series-reports", body).json()["data"]["attributes"]
    assert results["results"]
    for result in results["results"]:
        assert result["groupings"]["flow_id"] == first
        assert set(result["groupings"]) == {"flow_id", "flow_message_id", "flow_name"}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"interval": "fortnightly"}, "interval"),
        ({"interval": None}, "interval"),
        (
            {"timeframe": {"start": "2026-08-01T00:00:00", "end": "2026-10-01T00:00:01"}},
            "timeframe",
        ),
        (
            {"interval": "hourly", "timeframe": {"start": "2026-11-01T00:00", "end": "2026-11-09"}},
            "timeframe",
        ),
        (
            {"timeframe": {"start": "2026-11-05T00:00:00", "end": "2026-11-01T00:00:00"}},
            "timeframe",
        ),
        ({"conversion_metric_id": None}, "conversion_metric_id"),
        ({"group_by": ["flow_name"]}, "group_by"),
        ({"filter": "equals(subject,'x')"}, "filter"),
        ({"statistics": []}, "statistics"),
    ],
)
def test_flow_series_validation(sandbox: Sandbox, change: dict[str, Any], pointer: str) -> None:
    body = _flow_series(_placed_order(sandbox), **change)
    response = _post(sandbox, "/api/flow-series-reports", body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["source"] == {"pointer": f"/data/attributes/{pointer}"}


def test_flow_series_unknown_statistic_points_at_its_index(sandbox: Sandbox) -> None:
    body = _flow_series(_placed_order(sandbox), statistics=["recipients", "members_added"])
    error = error_of(_post(sandbox, "/api/flow-series-reports", body))
    assert error["source"] == {"pointer": "/data/attributes/statistics/1"}


def test_sixty_days_is_the_longest_daily_timeframe(sandbox: Sandbox) -> None:
    timeframe = {"start": "2026-09-01T00:00:00", "end": "2026-10-31T00:00:00"}
    body = _flow_series(_placed_order(sandbox), timeframe=timeframe)
    response = _post(sandbox, "/api/flow-series-reports", body)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["attributes"]["date_times"]) == 60


def test_segment_series_counts_members(sandbox: Sandbox) -> None:
    response = _post(sandbox, "/api/segment-series-reports", _segment_series())
    assert response.status_code == 200, response.text
    results = response.json()["data"]["attributes"]["results"]
    segments = {s["id"] for s in get(sandbox, "/api/segments").json()["data"]}
    assert {r["groupings"]["segment_id"] for r in results} <= segments
    for result in results:
        added, total = result["statistics"]["members_added"], result["statistics"]["total_members"]
        assert all(b - a == n for a, b, n in zip(total, total[1:], added[1:], strict=False))


def test_segment_series_filter(sandbox: Sandbox) -> None:
    everything = _post(sandbox, "/api/segment-series-reports", _segment_series()).json()
    ids = [r["groupings"]["segment_id"] for r in everything["data"]["attributes"]["results"]]
    one = _post(
        sandbox,
        "/api/segment-series-reports",
        _segment_series(filter=f'equals(segment_id,"{ids[0]}")'),
    )
    assert [r["groupings"] for r in one.json()["data"]["attributes"]["results"]] == [
        {"segment_id": ids[0]}
    ]
    some = _post(
        sandbox,
        "/api/segment-series-reports",
        _segment_series(filter=f'any(segment_id,["{ids[0]}","{ids[-1]}"])'),
    )
    found = {r["groupings"]["segment_id"] for r in some.json()["data"]["attributes"]["results"]}
    assert found == {ids[0], ids[-1]}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"statistics": ["recipients"]}, "statistics"),
        ({"filter": "equals(name,'VIP')"}, "filter"),
        ({"filter": 'any(segment_id,"x")'}, "filter"),
        (
            {"timeframe": {"start": "2023-05-01T00:00:00", "end": "2023-06-15T00:00:00"}},
            "timeframe",
        ),
        ({"interval": "yearly"}, "interval"),
    ],
)
def test_segment_series_validation(sandbox: Sandbox, change: dict[str, Any], pointer: str) -> None:
    response = _post(sandbox, "/api/segment-series-reports", _segment_series(**change))
    assert response.status_code == 400, response.text
    assert error_of(response)["source"] == {"pointer": f"/data/attributes/{pointer}"}


def test_the_daily_report_limit_holds_across_clients(limited_sandbox: Sandbox) -> None:
    """225 a day per account and endpoint, whichever client (tap run) sends them."""
    clock = _clocked(limited_sandbox, now=1000.0)
    runs = [requests.Session(), requests.Session()]  # two tap runs against one sandbox
    for number in range(REPORTING.daily):
        clock.now += 31.0  # within the steady 2 a minute
        session = runs[number % 2]
        response = session.post(
            limited_sandbox.url + "/api/segment-series-reports", headers=HEADERS,
            json=_segment_series(),
        )  # fmt: skip
        assert response.status_code == 200, (number, response.text)
    clock.now += 31.0
    refused = runs[0].post(
        limited_sandbox.url + "/api/segment-series-reports", headers=HEADERS, json=_segment_series()
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 3600  # the day's window, not the minute's
    clock.now += 86_400.0
    again = runs[1].post(
        limited_sandbox.url + "/api/segment-series-reports", headers=HEADERS, json=_segment_series()
    )
    assert again.status_code == 200, again.text
