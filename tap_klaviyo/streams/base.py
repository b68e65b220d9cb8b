"""The generic Klaviyo stream: one ``Resource`` row, JSON:API pages, server-side increments,
child streams read every parent at once, and the per-record hot path that writes them."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import typing as t
from collections import Counter

from singer_sdk import Tap
from singer_sdk.singerlib.messages import SchemaMessage

from tap_klaviyo import records, timestamps, versions
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import NotFoundError, PermissionDeniedError
from tap_klaviyo.logs import StreamLog
from tap_klaviyo.output import SingerOutput, record_line, record_lines, utc_now_iso
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.profile_columns import PropertyColumns
from tap_klaviyo.records import Page
from tap_klaviyo.resources import Deletes, Resource, Tier
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.sdk_compat import Context, StreamInternals
from tap_klaviyo.settings import Settings
from tap_klaviyo.streams import reconcile

# A ``greater-than`` bound one second early is ``greater-or-equal`` to the second: records
# sharing the bookmark's second are read again, not lost.
ONE_SECOND = dt.timedelta(seconds=1)
CHUNK_SIZE = 500  # records handed from a worker to the writer at a time
# A STATE at least this often (seconds) while a stream writes, besides the SDK's one every
# 10,000 records: a resume after a crash repeats little even of a slow stream.
STATE_EVERY = 30.0
# Why a record Klaviyo sent is left out on purpose (counted, and the counts logged).
BEFORE_WINDOW = "records before their window (already synced: Klaviyo repeats a bound's records)"
AFTER_WINDOW = "records at or after their window's end (read by the next window, or past end_date)"


class TapServices(t.Protocol):
    """What a stream uses of its tap (a Protocol: the streams never import the tap)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def client(self) -> KlaviyoClient: ...
    @property
    def output(self) -> SingerOutput: ...
    @property
    def initialized_at(self) -> int: ...
    @property
    def clock(self) -> t.Callable[[], float]: ...
    @property
    def cancelled(self) -> threading.Event: ...
    def reader(self, name: str) -> KlaviyoStream: ...
    def listing(self, name: str) -> list[dict]: ...
    def skipped_for_scope(self, stream: str, scopes: tuple[str, ...]) -> None: ...
    @property
    def property_columns(self) -> PropertyColumns | None: ...


class Vanished(t.NamedTuple):
    """A parent deleted between its listing and its child request (404 or 410)."""

    error: NotFoundError


class Cancelled(Exception):
    """Another stream failed: this one stops at its next record (its bookmarks stay safe)."""


Chunk = tuple[Context, "list[dict] | Vanished | None"]


class KlaviyoStream(StreamInternals):
    """A stream read from one Klaviyo endpoint, as its ``Resource`` describes it."""

    resource: Resource

    def __init__(self, tap: Tap, resource: Resource) -> None:
        self.resource = resource
        self.services = t.cast("TapServices", tap)
        super().__init__(tap, schema=load_schema(resource.schema_name), name=resource.name)
        self.primary_keys = list(resource.primary_keys)
        # State is kept per partition (campaign channel, parent id...) by the SDK, each with
        # its own resumable bookmark.
        self.replication_key = resource.replication_key
        # Custom properties as columns (a setting): found at --discover, kept in the catalog.
        self.property_columns = (
            self.services.property_columns if resource.custom_properties else None
        )
        if self.property_columns:
            self.schema["properties"].update(self.property_columns.schema())
        self.timestamp_tree = records.timestamp_tree(self.schema)
        self._last_increment: tuple[Context | None, dt.datetime] | None = None
        self._left_out: Counter[str] = Counter()
        self._left_out_lock = threading.Lock()
        self._fanout: FanOut | None = None
        # This run's table version (None: the run does not make a complete one), and the
        # reconciliation pass it belongs to; decided when the stream starts (``begin_version``).
        self.version: int | None = None
        self._reconciliation: versions.Reconciliation | None = None
        self._incomplete = False  # a read was skipped (403): no version is activated
        self._keys_needed = False  # the pass reads the keys after the normal read
        self._activated = ""  # for the end line: the version activated, the keys read
        self.log_book = StreamLog(self.logger, self.name, clock=self.services.clock)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def client(self) -> KlaviyoClient:
        return self.services.client

    @functools.cached_property
    def sync_started(self) -> dt.datetime:
        """The sync's start, to the whole second: no bookmark passes it (Klaviyo accepts
        future-dated records), windows and reports end there, snapshots carry it."""
        return timestamps.floor_second(timestamps.from_millis(self.services.initialized_at))

    # -- what the SDK asks -----------------------------------------------------------------

    @property
    def is_sorted(self) -> bool:
        return self.resource.increment is not None and self.resource.sorted

    @property
    def emit_activate_version_messages(self) -> bool:
        # The SDK writes ACTIVATE_VERSION before a full table's records: a run that died
        # midway would leave every row marked deleted. The tap writes its own, after them.
        return False

    # Order is checked by the tap itself (windows in order, quirky duplicates dropped): the SDK's
    # check would stop a sync over a record Klaviyo returned twice, or re-read by lookback.
    check_sorted = False

    @functools.cached_property
    def partitions(self) -> list[dict] | None:
        """The table's passes (campaign channels, archived or not), read one after another.

        A child stream is one pass for the SDK: its parents are its state's partitions, but
        they are read all at once and written as they come (see ``FanOut``).
        """
        if self.resource.parent:
            return None
        return [dict(partition.context) for partition in self.resource.partitions] or None

    @functools.cached_property
    def parents(self) -> list[dict]:
        """A child stream's parents (each a state partition), listed once per run."""
        try:
            return list(self.parent_partitions())
        except PermissionDeniedError as denied:
            self.skip_for_missing_scope(denied)
            return []

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        passes: list[Context | None] = [*self.partitions] if self.partitions else [None]
        if context == passes[0]:
            self.begin_version()
            self.log_book.start(self.describe_read(context))
        try:
            source = self.children() if self.resource.parent else self.read(context)
            yield from self.counted(source)
        except PermissionDeniedError as denied:
            self.skip_for_missing_scope(denied)
        if context == passes[-1]:
            # Every record is written: the SDK writes each before it asks for the next.
            if self.version is not None and not self._incomplete:
                self.activate_version(self.version)
            self.log_book.end(self.left_out(), self._activated)

    def counted(self, rows: t.Iterable[dict]) -> t.Iterator[dict]:
        """The rows, counted for the progress and end lines; a STATE every ``STATE_EVERY``
        seconds. Each row is written (and its bookmark kept) before the next is asked for, so
        a STATE here covers exactly what was emitted."""
        clock, cancelled = self.services.clock, self.services.cancelled
        last_state = clock()
        for row in rows:
            yield row
            if cancelled.is_set():
                raise Cancelled(self.name)
            now = self.log_book.add(1, self.progress_detail)
            if now - last_state >= STATE_EVERY:
                self.write_state_now()
                last_state = now

    def describe_read(self, context: Context | None) -> str:
        """The start line: what is read, from where."""
        increment = self.resource.increment
        how = f"incremental on {increment.key}" if increment else "full table"
        if self.resource.parent:
            how = f"{how}, the children of {len(self.parents)} {self.parent_kind}s"
        elif start := self.lower_bound(context) if increment else None:
            how = f"{how} from {timestamps.to_text(start)}"
        if self._reconciliation is not None:
            resumed = self.version != self.services.initialized_at
            how += (
                f"; {'resuming the' if resumed else 'a'} reconciliation pass (table version "
                f"{self.version}): rows Klaviyo no longer has are marked deleted at its end"
            )
        return how

    def progress_detail(self) -> str:
        """How far a long read is, for its progress lines."""
        if self.resource.parent and self._fanout is not None:
            return f"{self._fanout.done} of {len(self.parents)} {self.parent_kind}s done"
        return ""

    @property
    def parent_kind(self) -> str:
        return (self.resource.parent or "parent").removesuffix("s").replace("_", " ")

    def skip_for_missing_scope(self, denied: PermissionDeniedError) -> None:
        """A 403 skips this stream with a warning (others go on), unless told to stop."""
        if self.settings.fail_on_missing_scope:
            raise denied
        self._incomplete = True
        self.services.skipped_for_scope(self.name, self.resource.scopes)
        self.logger.warning(
            "Skipping stream '%s': the API key lacks the scope %s (%s). Add the scope "
            "to the key in Klaviyo, or deselect the stream.",
            self.name, " + ".join(self.resource.scopes), denied,
        )  # fmt: skip

    def probe(self) -> None:
        """One request of this stream's kind, for ``--test``; raises PermissionDeniedError."""
        if self.resource.probe_with:
            self.services.reader(self.resource.probe_with).probe()
            return
        if self.resource.parent:
            partition = next(iter(self.parents), None)
            if partition is None:
                return
        else:
            partition = next(iter(self.partitions or ()), None)
        next(iter(self.read(partition)), None)

    # -- deletes: table versions (see ``tap_klaviyo.versions``) -----------------------------

    def begin_version(self) -> None:
        """Decide, before anything is read, the table version this run's records carry."""
        if not self.settings.activate_versions:
            return
        if self.resource.deletes is Deletes.EVERY_RUN:
            self.version = self.services.initialized_at
        elif self.resource.deletes is Deletes.RECONCILE and self.reconciles():
            self._reconciliation = versions.begin(self.stream_state, self.services.initialized_at)
            self.version = self._reconciliation.version
            # Without a bookmark the normal read is from start_date: complete by itself.
            self._keys_needed = bool(
                self.resource.keys_pass and self.stream_state.get("replication_key_value")
            )
            self.mark_state_unflushed()
            self.write_state_now()  # a run stopped from here on resumes this pass
        self.set_record_version(self.version)

    def reconciles(self) -> bool:
        """Whether this run makes a complete version of an incremental stream."""
        settings = self.settings
        if settings.reconcile_every_days <= 0:
            return False
        if settings.end_date is not None:
            self.logger.info(
                "Stream '%s': no reconciliation pass with 'end_date' set (a bounded backfill "
                "is not a complete read).",
                self.name,
            )
            return False
        if self.resource.keys_pass and settings.sdk_records:
            self.logger.warning(
                "Stream '%s': no reconciliation pass with stream maps, flattening or batch "
                "messages configured (its ids-only records would take their own schema); "
                "deleted rows are not marked.",
                self.name,
            )
            return False
        bookmarks = self.stream_state
        return versions.in_progress(bookmarks) is not None or versions.is_due(
            bookmarks, self.sync_started, settings.reconcile_every_days
        )

    def activate_version(self, version: int) -> None:
        """The read was complete: every row Klaviyo has carries ``version`` now, after the
        keys pass where the stream has one. Rows of older versions are gone from Klaviyo."""
        keys = f"the pass read {self.read_keys(version):,} ids, " if self._keys_needed else ""
        self.write_activate_version(version)
        if self._reconciliation is not None:
            versions.complete(self.stream_state, self.sync_started)
            self.mark_state_unflushed()
        self._activated = f"{keys}table version {version} activated (older rows: deleted)"

    def read_keys(self, version: int) -> int:
        """Every primary key Klaviyo has, as records of a schema of the keys alone: an
        upserting target updates only those columns (and the version), the others stay.

        Sent after the stream's normal read, so that the target's sink for the keys is the
        one the ACTIVATE_VERSION drains before it marks rows: every key is in the table then.
        Objects created since the sync started are left out (they are not in the warehouse:
        a row of their key alone would be blank); objects updated before start_date too.
        """
        output = self.services.output
        schema = reconcile.key_schema(self.schema, self.primary_keys)
        output.write_message(SchemaMessage(self.name, schema, list(self.primary_keys)))
        start = self.settings.start_date
        filters = self.time_filters(timestamps.floor_second(start), None) if start else []
        reader = reconcile.KeyReader(self.client, self.resource, filters, self.sync_started)
        cursors = self.resource.tier.workers(self.settings.max_workers)  # no lowered tier
        windows = reader.windows(cursors * reconcile.WINDOWS_PER_CURSOR)
        pages = Prefetch(
            [functools.partial(reader.keys, window) for window in windows],
            max_workers=cursors,
            max_buffered=self.settings.max_buffered_pages,
            ordered=False,
        )
        read = 0
        for keys in pages:
            if self.services.cancelled.is_set():
                raise Cancelled(self.name)
            for line in record_lines(self.name, keys, utc_now_iso(), version):
                output.write_line(line)
            read += len(keys)
        return read

    def child_start(self, parent: Context) -> dt.datetime | None:
        """Where a parent's children are read from: its bookmark, or start_date when a
        reconciliation pass has not read them in full yet."""
        passing = self._reconciliation
        if passing is not None and str(parent[self.resource.parent_key or ""]) not in passing.done:
            start = self.settings.start_date
            return timestamps.floor_second(start) if start else None
        return self.lower_bound(parent)

    def child_done(self, parent: Context) -> None:
        """A parent's children are all written (its state partition is final)."""
        self.finalize_partition(parent)
        if self._reconciliation is not None:
            versions.parent_done(self.stream_state, str(parent[self.resource.parent_key or ""]))
            self.mark_state_unflushed()
            self.write_state_now()  # a resume reads this parent from its bookmark only

    # -- state -----------------------------------------------------------------------------

    def on_record_for_state(self, record: dict, context: Context | None) -> None:
        if self._fanout is not None:  # a child's row: its parent is its state partition
            context = self._fanout.parent_of(record)
        value = record.get(self.resource.replication_key or "")
        if isinstance(value, str):
            moment = timestamps.parse(value)
            if moment > self.sync_started:
                return  # a future-dated record: a bookmark there would hide what comes
            # Ties and values below the partition's highest so far (a second's records may
            # come in any order of their fractions, unsorted streams in any order at all).
            last = self._last_increment
            if last is not None and last[0] == context and moment <= last[1]:
                return
            self._last_increment = (context, moment)
        self.sdk_increment_state(record, context)

    def left_out(self) -> str:
        """The records left out on purpose, for the stream's end line."""
        with self._left_out_lock:
            text = "; ".join(f"{count:,} {why}" for why, count in sorted(self._left_out.items()))
            self._left_out.clear()
        return text

    def count_left_out(self, counts: Counter[str]) -> None:
        if counts:
            with self._left_out_lock:  # windows are read on several threads
                self._left_out.update(counts)

    # -- writing: the per-record hot path ---------------------------------------------------

    @functools.cached_property
    def record_plan(self) -> tuple[frozenset[str], frozenset[str]] | None:
        """Known and deselected columns, worked out once per schema rather than per record.

        None when stream maps, flattening or batch messages are configured: those records
        take the SDK's path.
        """
        if self.settings.sdk_records:
            return None
        properties = self.schema["properties"]
        mask = self.mask
        deselected = frozenset(p for p in properties if not mask.get(("properties", p), True))
        return frozenset(properties), deselected

    def record_lines(self, rows: list[dict]) -> list[dict] | list[memoryview]:
        """The RECORD lines of some rows, finished where the rows were built (a fetch thread)
        so that the writer only copies bytes; the rows themselves when the SDK writes them."""
        plan = self.record_plan
        if plan is None:
            return rows
        return record_lines(
            self.name, (self.columns(row, plan) for row in rows), utc_now_iso(), self.version
        )

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

    def write_record(self, record: dict | memoryview) -> None:
        if isinstance(record, memoryview):  # a line from ``record_lines``
            line: bytes | memoryview = record
        elif (plan := self.record_plan) is not None:
            line = record_line(self.name, self.columns(record, plan), utc_now_iso(), self.version)
        else:
            self.sdk_write_record(record)
            return
        self.services.output.write_line(line)
        self.mark_state_unflushed()

    @functools.cache  # noqa: B019 - one warning per field per stream is the point
    def warn_unknown_field(self, name: str) -> None:
        self.logger.warning(
            "Stream '%s': Klaviyo sent a field '%s' that is not in the schema; it is left out "
            "(this warning is shown once).",
            self.name, name,
        )  # fmt: skip

    # -- reading ---------------------------------------------------------------------------

    def read(self, context: Context | None) -> t.Iterator[dict]:
        """The rows of one partition from its bookmark (or start_date), in the endpoint's
        order."""
        return self.read_from(context, self.lower_bound(context))

    def read_all(self, context: Context | None) -> t.Iterator[dict]:
        """Every row of one partition, whatever the bookmark: a child's parents."""
        return self.read_window(context, None, None)

    def read_from(self, context: Context | None, start: dt.datetime | None) -> t.Iterator[dict]:
        """The rows of one partition from ``start`` (a bookmark, start_date or None)."""
        return self.read_window(context, start, self.upper_bound())

    def read_window(
        self, context: Context | None, start: dt.datetime | None, end: dt.datetime | None
    ) -> t.Iterator[dict]:
        """The rows whose replication key is in [start, end), either bound optional."""
        for page in self.pages(context, start, end):
            yield from self.rows(page, start, end)

    def pages(
        self, context: Context | None, start: dt.datetime | None, end: dt.datetime | None
    ) -> t.Iterator[Page]:
        path = self.resource.path.format(id=(context or {}).get(self.resource.parent_key or ""))
        params = self.request_params(context, start, end)
        for document in self.client.paginate(
            path, params, tier=self.tier, endpoint=self.resource.path, decode=self.decode
        ):
            yield Page(document)

    def rows(
        self,
        page: Page,
        start: dt.datetime | None,
        end: dt.datetime | None,
        moments: list[dt.datetime] | None = None,
    ) -> list[dict]:
        """The page's rows in [start, end) (whole seconds, as Klaviyo filters), timestamps
        in one form. Rows outside are left out and counted: records at a greater-than bound
        that Klaviyo returns again, or past an end the endpoint cannot filter on. With a
        bound, ``moments`` (when given) receives each kept row's replication-key value."""
        key = self.resource.replication_key
        low = timestamps.floor_second(start) if start and key else None
        high = timestamps.floor_second(end) if end and key else None
        kept, left_out = [], Counter[str]()
        for record in self.shaped(page):
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
                if moments is not None:
                    moments.append(moment)
            kept.append(record)
        self.count_left_out(left_out)
        return kept

    def shaped(self, page: Page) -> t.Iterator[dict]:
        """Every row of the page as the table shapes it, its timestamps in one form."""
        shape, tree = self.shape_of(page), self.timestamp_tree
        snapshot_at = timestamps.to_text(self.sync_started) if self.resource.snapshot else None
        for resource in page.objects(self.resource.emits):
            record = shape(resource, page)
            records.normalize_timestamps(record, tree)
            if self.property_columns:
                self.property_columns.apply(record)
            if snapshot_at:
                record["snapshot_at"] = snapshot_at
            yield record

    def shape_of(self, page: Page) -> records.Shape:
        """The table's row shape, or its typed twin for a page the typed decoder read."""
        typed = self.resource.typed
        first = page.objects(self.resource.emits)[:1]
        return (
            typed.shape
            if typed and first and not isinstance(first[0], dict)
            else self.resource.shape
        )

    @functools.cached_property
    def decode(self) -> t.Callable[[bytes], dict | None] | None:
        """The endpoint's typed page decoder, on the tap's own record path only (stream maps
        and the SDK's writer get plain rows)."""
        typed = self.resource.typed
        return typed.decode if typed and self.record_plan is not None else None

    def lower_bound(self, context: Context | None) -> dt.datetime | None:
        """The bookmark (or start_date), to the whole second: its second is read again;
        ``lookback_window`` earlier where records arrive late."""
        start = self.get_starting_timestamp(context)
        if start is None and self.resource.earliest:
            start = timestamps.parse(self.resource.earliest)
        if start is None:
            return None
        if self.resource.late_arrivals:
            start -= dt.timedelta(seconds=self.settings.lookback_window)
        return timestamps.floor_second(timestamps.as_utc(start))

    def upper_bound(self) -> dt.datetime | None:
        end = self.settings.end_date
        return timestamps.floor_second(end) if end else None

    # -- the request ----------------------------------------------------------------------

    @functools.cached_property
    def workers(self) -> int:
        """This stream's requests in flight at once (time windows, parents): as many as its
        tier can use."""
        return self.tier.workers(self.settings.max_workers)

    @functools.cached_property
    def additional_fields(self) -> list[str]:
        return [
            f.name for f in self.resource.additional_fields if getattr(self.settings, f.setting)
        ]

    @functools.cached_property
    def tier(self) -> Tier:
        """The tier the request really falls in: some additional fields lower it."""
        lowered = (
            f.tier
            for f in self.resource.additional_fields
            if f.tier and f.name in self.additional_fields
        )
        return next(lowered, self.resource.tier)

    def request_params(
        self,
        context: Context | None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> dict[str, str]:
        resource = self.resource
        params: dict[str, str] = dict(resource.params)
        if resource.page_size:
            params["page[size]"] = str(resource.page_size)
        include = [
            *resource.include,
            *(
                name
                for name, setting in resource.optional_includes
                if getattr(self.settings, setting)
            ),
        ]
        if include:
            params["include"] = ",".join(include)
        if self.additional_fields:
            of_type = resource.additional_fields[0].of_type
            params[f"additional-fields[{of_type}]"] = ",".join(self.additional_fields)
        filters = self.partition_filters(context)
        if resource.increment:
            params["sort"] = resource.increment.filter_field
            filters.extend(self.time_filters(start, end))
        if filters:
            params["filter"] = ",".join(filters)
        return params

    def partition_filters(self, context: Context | None) -> list[str]:
        """The filters of the table's partition ``context``; a parent's, where its children
        are read through a filter on it."""
        resource = self.resource
        if resource.parent_filter and context:
            return [resource.parent_filter.format(id=context[resource.parent_key or ""])]
        found = (p.filters for p in self.resource.partitions if dict(p.context) == context)
        return list(next(found, ()))

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

    # -- child streams: every parent's children, read ahead in parallel ---------------------

    def parent_partitions(self) -> t.Iterator[dict[str, t.Any]]:
        """Every parent (all of them, not only those changed since the last run), from the
        run's one listing of them, shared by every child stream of that parent."""
        key = self.resource.parent_key or ""
        for record in self.services.listing(self.resource.parent or ""):
            if record.get("id"):
                carried = {child: record.get(column) for column, child in self.resource.carry}
                yield {key: record["id"], **carried}

    def children(self) -> t.Iterator[dict]:
        """Every parent's children, as they come."""
        self._fanout = FanOut(self, self.parents)
        return self._fanout.records()

    def partition_chunks(self, partition: Context, start: dt.datetime | None) -> t.Iterator[Chunk]:
        """One parent's rows in chunks, then ``None``; a ``Vanished`` before it if the
        parent was deleted since it was listed."""
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

    def skip_vanished_parent(self, partition: Context, error: NotFoundError) -> None:
        """A parent deleted since it was listed: this one is skipped, every other synced; its
        bookmark stays where it was."""
        kind = self.parent_kind
        self.logger.warning(
            "Stream '%s': skipping %s %s, which Klaviyo no longer has (%s %s; deleted after "
            "it was listed); the other %ss are synced.",
            self.name, kind, partition.get(self.resource.parent_key or ""), error.status,
            error.endpoint, kind,
        )  # fmt: skip
        self.count_left_out(Counter({f"{kind}s deleted during the sync (skipped)": 1}))


class FanOut:
    """Every parent's children, fetched in parallel and written as they come, each parent
    from its own bookmark: no parent waits behind a long one. A parent's bookmark moves with
    its own rows (each parent's pages come in order), and its pass is finalized when its
    last row is written, so a run stopped at any moment resumes every parent without a gap.
    """

    def __init__(self, stream: KlaviyoStream, parents: list[dict]) -> None:
        self.stream = stream
        self.done = 0
        key = stream.resource.parent_key or ""
        self._parents = {parent[key]: parent for parent in parents}
        self._key = key
        tasks = []
        for parent in parents:
            # Bookmarks are read here, on the stream's thread, before workers start.
            stream.write_starting_value(parent)
            start = stream.child_start(parent)
            tasks.append(functools.partial(stream.partition_chunks, parent, start))
        settings = stream.settings
        self._chunks = Prefetch(
            tasks,
            max_workers=stream.workers,
            max_buffered=settings.max_buffered_pages,
            ordered=False,
        )

    def parent_of(self, record: dict) -> Context:
        return self._parents[record[self._key]]

    def records(self) -> t.Iterator[dict]:
        for parent, chunk in self._chunks:
            if chunk is None:
                self.done += 1
                self.stream.child_done(parent)
            elif isinstance(chunk, Vanished):
                self.stream.skip_vanished_parent(parent, chunk.error)
            else:
                for record in chunk:
                    # The parent's id and carried columns (the SDK would add a partition's).
                    for column, value in parent.items():
                        record.setdefault(column, value)
                    yield record
