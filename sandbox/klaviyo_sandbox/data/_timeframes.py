"""Timeframes of the reports: Klaviyo's named keys (``last_30_days``...) in the account's
timezone, and interval buckets aligned as Klaviyo aligns them."""

from __future__ import annotations

import datetime as dt

from ..model import InvalidQuery
from ._core import UTC


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def named_timeframe(key: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Klaviyo's timeframe keys in the account timezone; whole days end at midnight."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - dt.timedelta(days=today.weekday())
    month = today.replace(day=1)
    year = month.replace(month=1)
    days = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90, "last_365_days": 365}
    frames = {
        "today": (today, now),
        "yesterday": (today - dt.timedelta(days=1), today),
        "this_week": (week, now),
        "last_week": (week - dt.timedelta(days=7), week),
        "this_month": (month, now),
        "last_month": (add_months(month, -1), month),
        "this_year": (year, now),
        "last_year": (add_years(year, -1), year),
        "last_3_months": (add_months(today, -3), today),
        "last_12_months": (add_months(today, -12), today),
    }
    if key in days:
        return today - dt.timedelta(days=days[key]), today
    if key not in frames:
        raise InvalidQuery(f"'{key}' is not a valid timeframe key.", "timeframe")
    start, end = frames[key]
    return start, max(end, start + dt.timedelta(seconds=1))


def interval_starts(start: dt.datetime, end: dt.datetime, interval: str) -> list[dt.datetime]:
    """Bucket starts in the query's timezone, aligned to the interval."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if interval != "hour":
        first = first.replace(hour=0)
    if interval == "week":
        first -= dt.timedelta(days=first.weekday())
    if interval == "month":
        first = first.replace(day=1)
    buckets = []
    moment = first
    while moment < end:
        buckets.append(moment)
        if interval == "hour":
            moment = (moment.astimezone(UTC) + dt.timedelta(hours=1)).astimezone(moment.tzinfo)
        elif interval == "day":
            moment = (moment + dt.timedelta(days=1)).replace(hour=0)
        elif interval == "week":
            moment = (moment + dt.timedelta(days=7)).replace(hour=0)
        else:
            moment = add_months(moment, 1)
    return buckets


def one_interval_on(
    buckets: list[dt.datetime], end: dt.datetime, interval: str, now: dt.datetime
) -> dt.datetime:
    """Quirk: a range ending within the last hour (a read "up to now") is answered one
    interval further, counting the events already dated there (Klaviyo accepts future-dated
    events): a future-dated aggregate. ``buckets`` gains that interval; its end is returned."""
    if end < now - dt.timedelta(hours=1):
        return end
    following, after = interval_starts(buckets[-1], buckets[-1] + dt.timedelta(days=64), interval)[
        1:3
    ]
    buckets.append(following)
    return after
