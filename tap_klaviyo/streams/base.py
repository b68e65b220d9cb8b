"""The generic Klaviyo stream: one ``Resource`` row, JSON:API pages, server-side increments."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import typing as t
from collections import Counter

from singer_sdk.streams import Stream

from tap_klaviyo import records, settings, timestamps
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import NotFoundError, PermissionDeniedError
from tap_klaviyo.output import record_line, record_lines, utc_now_iso
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.resources import Resource, Tier
from tap_klaviyo.schemas import load_schema

if t.TYPE_CHECKING:
    from tap_klaviyo.tap import TapKlaviyo

Context = t.Mapping[str, t.Any]

# A ``greater-than`` bound one second early is ``greater-or-equal`` to the second: records
# sharing the bookmark's second are read again, not lost.
ONE_SECOND = dt.timedelta(seconds=1)
CHUNK_SIZE = 500  # records handed from a worker to the writer at a time
# Settings under which the SDK itself must shape and write each record.
SDK_RECORD_SETTINGS = ("stream_maps", "flattening_enabled", "batch_config")
# Why a record Klaviyo sent is left out on purpose (counted, and the counts logged).
BEFORE_WINDOW = "records before their window (already synced: Klaviyo repeats a bound's records)"
AFTER_WINDOW = "records at or after their window's end (read by the next window, or past end_date)"


class Vanished(t.NamedTuple):
    """A parent deleted between its listing and its child request (404 or 410)."""

    error: NotFoundError


class KlaviyoStream(Stream):
    """A stream read from one Klaviyo endpoint, as described by a ``Resource``."""

    resource: Resource

    def __init__(self, tap: TapKlaviyo, resource: Resource) -> None:
        self.resource = resource
        self.klaviyo_tap = tap
        super().__init__(tap, schema=load_schema(resource.name), name=resource.name)
        self.primary_keys = list(resource.primary_keys)
        # State is kept per partition (campaign channel, parent id...) by the SDK, each with
        # its own resumable bookmark.
        self.replication_key = resource.replication_key
        self._last_increment: tuple[Context | None, dt.datetime] | None = None
        self._left_out: Counter[str] = Counter()
        self._left_out_lock = threading.Lock()
        self.timestamp_tree = records.timestamp_tree(self.schema)

    @property
    def client(self) -> KlaviyoClient:
        return self.klaviyo_tap.client

    # -- what the SDK asks -----------------------------------------------------------------

    @property
    def is_sorted(self) -> bool:
        # Klaviyo sorts on the filter field server-side; campaigns' archived pages are known
        # to come back slightly out of order, so they are bookmarked at the end of the pass.
        return self.resource.increment is not None and self.resource.path != "/api/campaigns"

    # Order is checked by the tap itself (windows in order, quirky duplicates dropped): the SDK's
    # check would stop a sync over a record Klaviyo returned twice, or re-read by lookback.
    check_sorted = False

    @functools.cached_property
    def partitions(self) -> list[dict] | None:
        if self.resource.parent:
            try:
                return list(self.parent_partitions())
            except PermissionDeniedError as denied:
                self.skip_for_missing_scope(denied)
                return []
        return [dict(partition) for partition in self.resource.partitions] or None

    def log_left_out(self) -> None:
        """One line at the end of the stream for the records left out on purpose."""
        if self._left_out:
            self.logger.info(
                "%s: left out on purpose: %s",
                self.name,
                "; ".join(f"{count:,} {why}" for why, count in sorted(self._left_out.items())),
            )
            self._left_out.clear()

    def count_left_out(self, counts: Counter[str]) -> None:
        if counts:
            with self._left_out_lock:  # windows are read on several threads
                self._left_out.update(counts)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        if self.resource.parent and not (context or {}).get(self.resource.parent_key or ""):
            return  # a child stream whose parents could not be listed
        try:
            yield from self.fanout_records(context) if self.resource.parent else self.read(context)
        except PermissionDeniedError as denied:
            self.skip_for_missing_scope(denied)
        if not self.partitions or context == self.partitions[-1]:
            self.log_left_out()  # the stream's last partition: its end

    def skip_for_missing_scope(self, denied: PermissionDeniedError) -> None:
        """A 403 skips this stream with a warning (others go on), unless told to stop."""
        if self.config.get("fail_on_missing_scope"):
            raise denied
        self.logger.warning(
            "Skipping stream '%s': the API key lacks the scope %s (%s). Add the scope "
            "to the key in Klaviyo, or deselect the stream.",
            self.name, " + ".join(self.resource.scopes), denied,
        )  # fmt: skip

    def probe(self) -> None:
        """One request of this stream's kind, for ``--test``; raises PermissionDeniedError."""
        if self.resource.parent:
            partition = next(self.parent_partitions(), None)
            if partition is None:
                return
        else:
            partition = next(iter(self.partitions or ()), None)
        next(iter(self.read(partition)), None)

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        # Never bookmark past the sync's start: Klaviyo accepts future-dated records, and a
        # bookmark in the future would hide everything that happens until then.
        value = latest_record.get(self.resource.replication_key or "")
        if isinstance(value, str):
            moment = timestamps.parse(value)
            if moment > self.signpost:
                return
            # Ties and values below the partition's highest so far (a second's records may
            # come in any order of their fractions, unsorted streams in any order at all).
            last = self._last_increment
            if last is not None and last[0] == context and moment <= last[1]:
                return
            self._last_increment = (context, moment)
        super()._increment_stream_state(latest_record, context=context)

    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        # The partition's keys become columns (a campaign's channel, a member's list_id); the
        # SDK's child-stream walk is skipped: child streams here read their parents themselves.
        for key, value in (partition_context or {}).items():
            record.setdefault(key, value)

    # -- writing: the per-record hot path ---------------------------------------------------

    @functools.cached_property
    def record_plan(self) -> tuple[frozenset[str], frozenset[str]] | None:
        """Known and deselected columns, worked out once per schema rather than per record.

        None when stream maps, flattening or batch messages are configured: those records
        take the SDK's path.
        """
        if any(self.config.get(name) for name in SDK_RECORD_SETTINGS):
            return None
        properties = self.schema["properties"]
        mask = self.mask
        deselected = frozenset(p for p in properties if not mask.get(("properties", p), True))
        return frozenset(properties), deselected

    def record_lines(self, records: list[dict]) -> list[dict] | list[memoryview]:
        """The RECORD lines of some rows, finished where the rows were built (a fetch thread)
        so that the writer only copies bytes; the rows themselves when the SDK writes them."""
        plan = self.record_plan
        if plan is None:
            return records
        rows = (self.columns(record, plan) for record in records)
        return record_lines(self.name, rows, utc_now_iso())

    def columns(
        self, record: dict, plan: tuple[frozenset[str], frozenset[str]]
    ) -> dict[str, t.Any]:
        """The record without unknown fields (warned once) and deselected ones."""
        known, deselected = plan
        for name in record.keys() - known:
            self.warn_unknown_field(name)
            del record[name]
        for name in deselected:
            record.pop(name, None)
        return record

    def _write_record_message(self, record: dict | memoryview) -> None:
        if isinstance(record, memoryview):  # a line from ``record_lines``
            line: bytes | memoryview = record
        elif (plan := self.record_plan) is not None:
            line = record_line(self.name, self.columns(record, plan), utc_now_iso())
        else:
            super()._write_record_message(record)
            return
        self.klaviyo_tap.output.write_line(line)
        self.state_manager.is_flushed = False

    @functools.cache  # noqa: B019 - one warning per field per stream is the point
    def warn_unknown_field(self, name: str) -> None:
        self.logger.warning(
            "Stream '%s': Klaviyo sent a field '%s' that is not in the schema; it is left out "
            "(this warning is shown once).",
            self.name, name,
        )  # fmt: skip

    # -- reading ---------------------------------------------------------------------------

    def read(self, context: Context | None, *, incremental: bool = True) -> t.Iterator[dict]:
        """The rows of one partition, in the endpoint's order."""
        if not incremental:
            return self.read_window(context, None, None, incremental=False)
        return self.read_from(context, self.lower_bound(context))

    def read_from(self, context: Context | None, start: dt.datetime | None) -> t.Iterator[dict]:
        """The rows of one partition from ``start`` (a bookmark, start_date or None)."""
        return self.read_window(context, start, self.upper_bound())

    # -- child streams: every parent's children, read ahead in parallel ---------------------

    @functools.cached_property
    def fanout(self) -> t.Iterator[tuple[Context, list[dict] | Vanished | None]]:
        """(partition, records) chunks of every parent in order; ``None`` ends a parent."""
        tasks = []
        for partition in self.partitions or ():
            # Bookmarks are read here, on the main thread, before workers start.
            self._write_starting_replication_value(partition)
            tasks.append(
                functools.partial(self.partition_chunks, partition, self.lower_bound(partition))
            )
        return iter(
            Prefetch(
                tasks,
                max_workers=self.max_workers,
                max_buffered=self.max_buffered_pages,
            )
        )

    def partition_chunks(
        self, partition: Context, start: dt.datetime | None
    ) -> t.Iterator[tuple[Context, list[dict] | Vanished | None]]:
        chunk: list[dict] = []
        vanished = None
        try:
            for record in self.read_from(partition, start):
                chunk.append(record)
                if len(chunk) >= CHUNK_SIZE:
                    yield partition, chunk
                    chunk = []
        except NotFoundError as gone:
            vanished = Vanished(gone)
        yield partition, chunk
        if vanished:
            yield partition, vanished
        yield partition, None

    def fanout_records(self, context: Context | None) -> t.Iterator[dict]:
        """The SDK asks for partitions in the order they were listed: so do the chunks come."""
        for partition, chunk in self.fanout:
            if chunk is None:
                assert partition == context, "partitions are read in the order listed"
                return
            if isinstance(chunk, Vanished):
                self.skip_vanished_parent(partition, chunk.error)
                continue
            yield from chunk

    def skip_vanished_parent(self, partition: Context, error: NotFoundError) -> None:
        """A parent deleted since it was listed: this one is skipped, every other synced; its
        bookmark stays where it was."""
        kind = (self.resource.parent or "parent").removesuffix("s").replace("_", " ")
        self.logger.warning(
            "Stream '%s': skipping %s %s, which Klaviyo no longer has (%s %s; deleted after "
            "it was listed); the other %ss are synced.",
            self.name, kind, partition.get(self.resource.parent_key or ""), error.status,
            error.endpoint, kind,
        )  # fmt: skip
        self.count_left_out(Counter({f"{kind}s deleted during the sync (skipped)": 1}))

    def read_window(
        self,
        context: Context | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        *,
        incremental: bool = True,
    ) -> t.Iterator[dict]:
        """The rows whose replication key is in [start, end), either bound optional."""
        for document in self.pages(context, start, end, incremental=incremental):
            yield from self.records_of(document, start, end)

    def pages(
        self,
        context: Context | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        *,
        incremental: bool = True,
    ) -> t.Iterator[dict[str, t.Any]]:
        path = self.resource.path.format(id=(context or {}).get(self.resource.parent_key or ""))
        params = self.request_params(context, start, end, incremental=incremental)
        return self.client.paginate(path, params, tier=self.tier, endpoint=self.resource.path)

    def records_of(
        self, document: dict[str, t.Any], start: dt.datetime | None, end: dt.datetime | None
    ) -> list[dict]:
        """The page's rows in [start, end) (whole seconds, as Klaviyo filters), timestamps
        in one form. Rows outside are left out and counted: records at a greater-than bound
        that Klaviyo returns again, or past an end the endpoint cannot filter on."""
        key = self.resource.replication_key
        tree = self.timestamp_tree
        low = timestamps.floor_second(start) if start and key else None
        high = timestamps.floor_second(end) if end and key else None
        rows, left_out = [], Counter[str]()
        for resource in self.rows_of(document):
            record = self.shape(resource, document)
            records.normalize_timestamps(record, tree)
            value = record.get(key) if key else None
            # A row without a value cannot be outside a window: kept, never dropped.
            if value is not None and (low is not None or high is not None):
                moment = timestamps.parse(value)
                if low is not None and moment < low:
                    left_out[BEFORE_WINDOW] += 1
                    continue
                if high is not None and moment >= high:
                    left_out[AFTER_WINDOW] += 1
                    continue
            rows.append(record)
        self.count_left_out(left_out)
        return rows

    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        """The bookmark (or start_date), to the whole second: its second is read again."""
        start = self.get_starting_timestamp(context)
        if start is None and self.resource.earliest:
            start = timestamps.parse(self.resource.earliest)
        return timestamps.floor_second(timestamps.as_utc(start)) if start else None

    def upper_bound(self) -> dt.datetime | None:
        end = self.config.get("end_date")
        return timestamps.floor_second(timestamps.parse(end)) if end else None

    def rows_of(self, document: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        if self.resource.emits:
            return [i for i in document.get("included") or () if i["type"] == self.resource.emits]
        data = document["data"]
        return data if isinstance(data, list) else [data]

    def shape(self, resource: dict[str, t.Any], document: dict[str, t.Any]) -> dict[str, t.Any]:
        """Resource object -> row; streams with columns from elsewhere override this."""
        return self.resource.shape(resource)

    def parent_partitions(self) -> t.Iterator[dict[str, t.Any]]:
        """Every parent (all of them, not only those changed since the last run)."""
        parent = self.klaviyo_tap.reader(self.resource.parent or "")
        key = self.resource.parent_key or ""
        for partition in parent.partitions or [None]:  # type: ignore[list-item]
            for record in parent.read(partition, incremental=False):
                carried = {child: record.get(column) for column, child in self.resource.carry}
                yield {key: record["id"], **carried}

    @property
    def tier(self) -> Tier:
        return self.resource.tier

    @property
    def max_workers(self) -> int:
        return int(self.config.get("max_workers", settings.DEFAULT_MAX_WORKERS))

    @property
    def max_buffered_pages(self) -> int:
        return int(self.config.get("max_buffered_pages", settings.DEFAULT_MAX_BUFFERED_PAGES))

    @functools.cached_property
    def signpost(self) -> dt.datetime:
        """No bookmark goes past the sync's start (Klaviyo accepts future-dated records)."""
        signpost = self.get_replication_key_signpost(None)
        return (
            timestamps.as_utc(signpost) if isinstance(signpost, dt.datetime) else timestamps.NEVER
        )

    def request_params(
        self,
        context: Context | None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        *,
        incremental: bool = True,
    ) -> dict[str, str]:
        resource = self.resource
        params: dict[str, str] = dict(resource.params)
        if resource.page_size:
            params["page[size]"] = str(resource.page_size)
        if resource.include:
            params["include"] = ",".join(resource.include)
        filters = self.partition_filters(context or {})
        if resource.increment and incremental:
            params["sort"] = resource.increment.filter_field
            filters.extend(self.time_filters(start, end))
        if filters:
            params["filter"] = ",".join(filters)
        params.update(self.extra_params())
        return params

    @staticmethod
    def partition_filters(partition: Context) -> list[str]:
        filters = []
        if "channel" in partition:
            filters.append(f"equals(messages.channel,'{partition['channel']}')")
        if "archived" in partition:
            filters.append(f"equals(archived,{str(partition['archived']).lower()})")
        return filters

    def time_filters(self, start: dt.datetime | None, end: dt.datetime | None) -> list[str]:
        increment = self.resource.increment
        assert increment is not None
        field = increment.filter_field
        filters = []
        if start is not None:
            if increment.lower == "greater-than":
                start -= ONE_SECOND
            filters.append(f"{increment.lower}({field},{timestamps.filter_text(start)})")
        if end is not None and increment.upper:
            filters.append(f"{increment.upper}({field},{timestamps.filter_text(end)})")
        return filters

    def extra_params(self) -> dict[str, str]:
        return {}
