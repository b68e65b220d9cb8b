"""A window's page as one block of RECORD lines: the hot path of events, profiles and members.

Every page of a window (or of a parent's children: ``streams.children``) becomes one
``output.RecordBlock`` on the thread that fetched it: the SDK's per-record loop sees one item
per page, and the block is counted as the records it holds (a windowed stream's bookmark
follows its windows, a child's its page's values: not each record).

A typed page (``typed_pages``: events, profiles, members) makes no dict at all: its rows are
structs, checked against the window on their replication key (a member's group id set from
its parent) and encoded in one call. That needs nothing but the page: for a snapshot, and
for pages the typed decoder declined (or did not read: profile property columns), the rows
are the generic ones (``KlaviyoStream.rows``, whose rules of the window the typed check
follows), encoded into one block all the same. With stream maps or flattening, the SDK
writes each record itself (None here)."""

from __future__ import annotations

import datetime as dt
import typing as t

from msgspec import UNSET, Struct

from tap_klaviyo.output import RecordBlock, record_block, rows_block, utc_now_iso
from tap_klaviyo.records import Page
from tap_klaviyo.request_plan import Context
from tap_klaviyo.streams.rows import in_window, past_window

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream

Window = tuple[dt.datetime | None, dt.datetime | None]


def window_block(
    stream: KlaviyoStream, page: Page, window: Window, parent: Context | None = None
) -> tuple[RecordBlock, list[dt.datetime]] | None:
    """The page's rows in ``window`` as one block, and their replication-key values in page
    order; None when the SDK writes the stream's records itself. A child's rows get their
    ``parent``'s id and carried columns, unless they have their own."""
    plan = stream.writer.plan
    if plan is None:
        return None
    if takes_typed_path(stream, page):
        return typed_block(stream, page, window, parent or {})
    moments: list[dt.datetime] = []
    rows = stream.rows(page, *window, moments)
    for row in rows:
        for column, value in (parent or {}).items():
            row.setdefault(column, value)
    rows = [stream.writer.columns(row, plan) for row in rows]
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
    stream: KlaviyoStream, page: Page, window: Window, parent: Context
) -> tuple[RecordBlock, list[dt.datetime]]:
    """The typed page's rows in ``window`` (the generic rows' rule, ``rows.in_window``), a
    child's parent columns set where unset, deselected columns unset, encoded in one call."""
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
    for row in rows if parent else ():
        for column, value in parent.items():
            if getattr(row, column) is UNSET:  # a column the typed row lacks fails here
                setattr(row, column, value)
    _, deselected = plan
    for row in rows if deselected else ():
        for name in deselected.intersection(row.__struct_fields__):
            setattr(row, name, UNSET)  # an UNSET column is not encoded
    stream.log_book.leave_out(left_out)
    return record_block(stream.name, rows, utc_now_iso(), stream.deletes.version), moments
