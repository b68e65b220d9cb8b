"""The per-record hot path: a stream's rows as finished RECORD lines, built on the thread
that read them, so that the writer only copies bytes; the SDK's own path where stream maps,
flattening or batch messages are configured."""

from __future__ import annotations

import functools
import logging
import threading
import typing as t
from collections import Counter

from tap_klaviyo.output import record_lines

# Every stream's column (in every schema file) for what Klaviyo sent that the schema does not
# list (attributes added between spec releases): one JSON object per record, nothing dropped.
EXTRA_ATTRIBUTES = "extra_attributes"


class RecordWriter:
    """One stream's RECORD lines: its known and deselected columns worked out once, the
    fields its schema does not list kept in ``extra_attributes`` and counted."""

    def __init__(
        self,
        stream: str,
        properties: t.Callable[[], t.Collection[str]],
        selected: t.Callable[[str], bool],
        *,
        sdk_records: bool,
        logger: logging.Logger,
    ) -> None:
        self.stream, self.logger = stream, logger
        self._properties, self._selected, self._sdk_records = properties, selected, sdk_records
        self._lock = threading.Lock()
        self._extra: Counter[str] = Counter()  # unlisted field -> records carrying it

    @functools.cached_property
    def plan(self) -> tuple[frozenset[str], frozenset[str]] | None:
        """Known and deselected columns, worked out once per schema rather than per record.

        None when stream maps, flattening or batch messages are configured: those records
        take the SDK's path.
        """
        if self._sdk_records:
            return None
        properties = self._properties()  # the catalog's schema, once it is applied
        deselected = frozenset(p for p in properties if not self._selected(p))
        return frozenset(properties), deselected

    def lines(
        self, rows: list[dict[str, t.Any]], extracted: str, version: int | None
    ) -> list[dict[str, t.Any]] | list[memoryview]:
        """The RECORD lines of some rows; the rows themselves when the SDK writes them."""
        plan = self.plan
        if plan is None:
            return rows
        return record_lines(
            self.stream, (self.columns(row, plan) for row in rows), extracted, version
        )

    def columns(
        self, record: dict[str, t.Any], plan: tuple[frozenset[str], frozenset[str]]
    ) -> dict[str, t.Any]:
        """The record with its unlisted fields moved into ``extra_attributes``, without the
        deselected ones."""
        known, deselected = plan
        self.keep_extra(record, known)
        for name in deselected:
            record.pop(name, None)
        return record

    def keep_extra(self, record: dict[str, t.Any], known: t.AbstractSet[str]) -> None:
        """Fields Klaviyo sent that the schema does not list go into ``extra_attributes``
        (counted per field for the stream's end), rather than being dropped."""
        unlisted = record.keys() - known
        if not unlisted:
            return
        record[EXTRA_ATTRIBUTES] = {name: record.pop(name) for name in sorted(unlisted)}
        with self._lock:  # rows are shaped on several threads
            self._extra.update(unlisted)

    def log_extra_attributes(self) -> None:
        """One line per run naming the fields kept in ``extra_attributes``."""
        with self._lock:
            counts, self._extra = self._extra, Counter()
        if counts:
            self.logger.warning(
                "Stream '%s': Klaviyo sent fields its schema does not list, kept in the "
                "'%s' column: %s.",
                self.stream, EXTRA_ATTRIBUTES,
                ", ".join(f"{name} ({n:,} records)" for name, n in sorted(counts.items())),
            )  # fmt: skip
