"""A window's page as one block of RECORD lines: the hot path of events and profiles.

Every page of a window becomes one ``output.RecordBlock`` on the thread that fetched it: the
SDK's per-record loop sees one item per page, and the block is counted as the records it
holds (a windowed stream's bookmark follows its windows, not each record).

A typed page (``typed_pages``: events) makes no dict at all: its rows are structs, checked
against the window on their replication key and encoded in one call. That needs nothing but
the page: with profile property columns, snapshots or a keys pass, and for pages the typed
decoder declined, the rows are the generic ones (``KlaviyoStream.rows``, whose rules of the
window the typed check follows), encoded into one block all the same. With stream maps or
flattening, the SDK writes each record itself (None here).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from msgspec import UNSET

from tap_klaviyo import timestamps
from tap_klaviyo.output import RecordBlock, record_block, rows_block, utc_now_iso
from tap_klaviyo.records import Page
from tap_klaviyo.streams.base import AFTER_WINDOW, BEFORE_WINDOW, PAST_END_DATE, KlaviyoStream

Window = tuple[dt.datetime, dt.datetime | None]


def window_block(
    stream: KlaviyoStream, page: Page, window: Window
) -> tuple[RecordBlock, list[dt.datetime]] | None:
    """The page's rows in ``window`` as one block, and their replication-key values in page
    order; None when the SDK writes the stream's records itself."""
    plan = stream.record_plan
    if plan is None:
        return None
    if takes_typed_path(stream, page):
        return typed_block(stream, page, window)
    moments: list[dt.datetime] = []  # a window always has a start: every value is parsed
    rows = [stream.columns(row, plan) for row in stream.rows(page, *window, moments=moments)]
    return rows_block(stream.name, rows, utc_now_iso(), stream.version), moments


def takes_typed_path(stream: KlaviyoStream, page: Page) -> bool:
    resource = stream.resource
    objects = page.objects(resource.emits)
    return (
        resource.typed is not None
        and bool(objects)
        and not isinstance(objects[0], dict)  # a page the typed decoder declined
        and not stream.property_columns
        and not resource.snapshot
        and not resource.keys_pass
    )


def typed_block(
    stream: KlaviyoStream, page: Page, window: Window
) -> tuple[RecordBlock, list[dt.datetime]]:
    resource, plan = stream.resource, stream.record_plan
    assert resource.typed is not None
    assert plan is not None
    key = resource.replication_key or ""
    start, end = window
    low = timestamps.floor_second(start)
    high = timestamps.floor_second(end) if end else None
    after = PAST_END_DATE if high is not None and high == stream.upper_bound() else AFTER_WINDOW
    _, deselected = plan
    rows, moments, left_out = [], [], Counter[tuple[str, str]]()
    for row in resource.typed.rows(page.objects(resource.emits), page):
        value = getattr(row, key)
        # A row without a value cannot be outside a window: kept, never dropped.
        if value is not None and value is not UNSET:
            moment = timestamps.parse(value)
            if moment < low:
                left_out["record", BEFORE_WINDOW] += 1
                continue
            if high is not None and moment >= high:
                left_out["record", after] += 1
                continue
            moments.append(moment)
        for name in deselected.intersection(row.__struct_fields__) if deselected else ():
            setattr(row, name, UNSET)  # an UNSET column is not encoded
        rows.append(row)
    stream.count_left_out(left_out)
    return record_block(stream.name, rows, utc_now_iso(), stream.version), moments
