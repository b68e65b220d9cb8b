"""A window's page as one block of RECORD lines: the hot path of events and profiles.

Every page of a window becomes one ``output.RecordBlock`` on the thread that fetched it: the
SDK's per-record loop sees one item per page, and the block is counted as the records it
holds (a windowed stream's bookmark follows its windows, not each record).

A typed page (``typed_pages``: events, profiles) makes no dict at all: its rows are structs,
checked against the window on their replication key and encoded in one call. That needs
nothing but the page: for a snapshot, and for pages the typed decoder declined (or did not
read: profile property columns), the rows are the generic ones (``KlaviyoStream.rows``, whose
rules of the window the typed check follows), encoded into one block all the same. With
stream maps or flattening, the SDK writes each record itself (None here).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from msgspec import UNSET, Struct

from tap_klaviyo.output import RecordBlock, record_block, rows_block, utc_now_iso
from tap_klaviyo.records import Page
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.streams.rows import in_window, past_window

Window = tuple[dt.datetime, dt.datetime | None]


def window_block(
    stream: KlaviyoStream, page: Page, window: Window
) -> tuple[RecordBlock, list[dt.datetime]] | None:
    """The page's rows in ``window`` as one block, and their replication-key values in page
    order; None when the SDK writes the stream's records itself."""
    plan = stream.writer.plan
    if plan is None:
        return None
    if takes_typed_path(stream, page):
        return typed_block(stream, page, window)
    moments: list[dt.datetime] = []  # a window always has a start: every value is parsed
    rows = [stream.writer.columns(row, plan) for row in stream.rows(page, *window, moments)]
    return rows_block(stream.name, rows, utc_now_iso(), stream.deletes.version), moments


def takes_typed_path(stream: KlaviyoStream, page: Page) -> bool:
    resource = stream.resource
    objects = page.objects(resource.emits)
    return (
        resource.typed is not None
        and bool(objects)
        and not isinstance(objects[0], dict)  # a page the typed decoder declined
        and not resource.snapshot
    )


def typed_block(
    stream: KlaviyoStream, page: Page, window: Window
) -> tuple[RecordBlock, list[dt.datetime]]:
    """The typed page's rows in ``window`` (the generic rows' rule, ``rows.in_window``),
    deselected columns unset, encoded in one call."""
    resource, plan = stream.resource, stream.writer.plan
    assert resource.typed is not None
    assert plan is not None
    key = resource.replication_key or ""

    def value_of(row: Struct) -> t.Any:
        value = getattr(row, key)
        return None if value is UNSET else value

    moments: list[dt.datetime] = []
    after = past_window(window[1], stream.upper_bound())
    typed = resource.typed.rows(page.objects(resource.emits), page)
    rows, left_out = in_window(typed, value_of, window, after, moments)
    if resource.keys_pass:  # the rows' creation times, as the generic rows give them
        created = resource.keys_pass.created
        stream.deletes.count_new_rows([{created: getattr(row, created)} for row in rows])
    _, deselected = plan
    for row in rows if deselected else ():
        for name in deselected.intersection(row.__struct_fields__):
            setattr(row, name, UNSET)  # an UNSET column is not encoded
    stream.log_book.leave_out(left_out)
    return record_block(stream.name, rows, utc_now_iso(), stream.deletes.version), moments
