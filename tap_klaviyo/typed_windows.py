"""A typed page's rows in a window as one block of RECORD lines: the hot path of the
largest streams.

The generic path makes a dict per row, checks its window, and encodes one RECORD message per
row; the SDK's loop then handles each line. Here the page's typed rows (``typed_pages``) are
checked against the window on their replication key, encoded in one call, and handed on as
one ``output.RecordBlock``: the SDK's per-record loop sees one item per page, and the block
is counted as the records it holds.

Used where a row needs nothing but its page: not with profile property columns, snapshots or
a keys pass (those take the generic path, which makes the same rows).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from msgspec import UNSET

from tap_klaviyo import timestamps
from tap_klaviyo.output import RecordBlock, record_block, utc_now_iso
from tap_klaviyo.records import Page
from tap_klaviyo.streams.base import AFTER_WINDOW, BEFORE_WINDOW, PAST_END_DATE, KlaviyoStream

Window = tuple[dt.datetime, dt.datetime | None]


def window_block(
    stream: KlaviyoStream, page: Page, window: Window
) -> tuple[RecordBlock, list[dt.datetime]] | None:
    """The page's rows in ``window`` as one block, and their replication-key values in page
    order; None when the page or the stream takes the generic path (``KlaviyoStream.rows``,
    whose rules of the window this follows)."""
    resource, plan = stream.resource, stream.record_plan
    objects = page.objects(resource.emits)
    typed = resource.typed
    if (
        typed is None
        or plan is None
        or not objects
        or isinstance(objects[0], dict)  # a page the typed decoder declined
        or stream.property_columns
        or resource.snapshot
        or resource.keys_pass
    ):
        return None
    key = resource.replication_key or ""
    start, end = window
    low = timestamps.floor_second(start)
    high = timestamps.floor_second(end) if end else None
    after = PAST_END_DATE if high is not None and high == stream.upper_bound() else AFTER_WINDOW
    _, deselected = plan
    rows, moments, left_out = [], [], Counter[tuple[str, str]]()
    for row in typed.rows(objects, page):
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
