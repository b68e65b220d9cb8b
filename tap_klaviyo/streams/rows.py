"""A page's rows as a table's records: shaped, their timestamps in one form, and kept only
within the window asked for (Klaviyo's whole seconds), the others counted."""

from __future__ import annotations

import datetime as dt
import typing as t
from collections import Counter

from tap_klaviyo import records, timestamps
from tap_klaviyo.profile_columns import PropertyColumns
from tap_klaviyo.records import Page
from tap_klaviyo.resources import Resource

# Why a record Klaviyo sent is not emitted (counted, and the counts end the stream's line).
BEFORE_WINDOW = "from before the window, sent again by Klaviyo (already emitted by the read before)"
AFTER_WINDOW = "past the window's end (emitted by the next window: nothing is lost)"
PAST_END_DATE = "after end_date (outside the range asked for)"


class Rows:
    """How one stream shapes a page's objects into records."""

    def __init__(
        self,
        resource: Resource,
        schema: dict[str, t.Any],
        property_columns: PropertyColumns | None,
        snapshot_at: str | None,
    ) -> None:
        self.resource, self.property_columns = resource, property_columns
        self.timestamp_tree = records.timestamp_tree(schema)
        self.snapshot_at = snapshot_at if resource.snapshot else None

    def shaped(self, page: Page) -> t.Iterator[dict[str, t.Any]]:
        """Every row of the page as the table shapes it, its timestamps in one form."""
        shape, tree = self.shape_of(page), self.timestamp_tree
        for resource in page.objects(self.resource.emits):
            record = shape(resource, page)
            records.normalize_timestamps(record, tree)
            if self.property_columns:
                self.property_columns.apply(record)
            if self.snapshot_at:
                record["snapshot_at"] = self.snapshot_at
            yield record

    def shape_of(self, page: Page) -> records.Shape:
        """The table's row shape, or its typed twin for a page the typed decoder read."""
        typed = self.resource.typed
        first = page.objects(self.resource.emits)[:1]
        if typed and first and not isinstance(first[0], dict):
            return typed.shape
        return self.resource.shape


def past_window(end: dt.datetime | None, upper_bound: dt.datetime | None) -> str:
    """Why a row at or past ``end`` is left out: the next window has it, or it is past the
    end_date asked for."""
    high = timestamps.floor_second(end) if end else None
    return PAST_END_DATE if high is not None and high == upper_bound else AFTER_WINDOW


Row = t.TypeVar("Row")


def in_window(
    rows: t.Iterable[Row],
    value_of: t.Callable[[Row], t.Any] | None,
    bounds: tuple[dt.datetime | None, dt.datetime | None],
    after: str,
    moments: list[dt.datetime] | None = None,
) -> tuple[list[Row], Counter[tuple[str, str]]]:
    """The rows whose replication-key value (``value_of``; None: the stream has none) is in
    [low, high) (whole seconds, as Klaviyo filters), and the counts of those left out
    (``after``: why a row past ``high`` is). ``moments`` (when given) receives each kept
    row's value, parsed. Rows are dicts, or a typed page's structs (``streams.window_blocks``)."""
    low, high = (timestamps.floor_second(b) if b and value_of else None for b in bounds)
    parsed = low is not None or high is not None or moments is not None
    kept: list[Row] = []
    left_out = Counter[tuple[str, str]]()
    for record in rows:
        value = value_of(record) if value_of else None
        # A row without a value cannot be outside a window: kept, never dropped.
        if value is not None and parsed:
            moment = timestamps.parse(value)
            if low is not None and moment < low:
                left_out["record", BEFORE_WINDOW] += 1
                continue
            if high is not None and moment >= high:
                left_out["record", after] += 1
                continue
            if moments is not None:
                moments.append(moment)
        kept.append(record)
    return kept, left_out
