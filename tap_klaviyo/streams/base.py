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
from tap_klaviyo.logs import StreamLog, plural
from tap_klaviyo.output import RecordBlock, SingerOutput, record_line, record_lines, utc_now_iso
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.profile_columns import PropertyColumns
from tap_klaviyo.records import Page
from tap_klaviyo.resources import (
    RESOURCE_BY_NAME,
    SCOPE_PROBES,
    Deletes,
    Resource,
    Tier,
    scopes_for,
)
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.sdk_compat import Context, StreamInternals
from tap_klaviyo.settings import Settings
from tap_klaviyo.streams import reconcile

# A ``greater-than`` bound one second early is ``greater-or-equal`` to the second: records
# sharing the bookmark's second are read again, not lost.
ONE_SECOND = dt.timedelta(seconds=1)
PROBE_PARENTS = 3  # parents ``--test`` tries, for one that was not deleted since listed
CHUNK_SIZE = 500  # records handed from a worker to the writer at a time
# A STATE at least this often (seconds) while a stream writes, besides the SDK's one every
# 10,000 records: a resume after a crash repeats little even of a slow stream.
STATE_EVERY = 30.0
# Why a record Klaviyo sent is not emitted (counted, and the counts end the stream's line).
BEFORE_WINDOW = "from before the window, sent again by Klaviyo (already emitted by the read before)"
AFTER_WINDOW = "past the window's end (emitted by the next window: nothing is lost)"
PAST_END_DATE = "after end_date (outside the range asked for)"
# Every stream's column (in every schema file) for what Klaviyo sent that the schema does not
# list (attributes added between spec releases): one JSON object per record, nothing dropped.
EXTRA_ATTRIBUTES = "extra_attributes"


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
    def skipped_for_scope(
        self, stream: str, scopes: tuple[str, ...], denied: PermissionDeniedError
    ) -> None: ...
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
        self._left_out: Counter[tuple[str, str]] = Counter()  # (noun, why) -> count
        self._counts_lock = threading.Lock()
        self._extra: Counter[str] = Counter()  # unlisted field -> records carrying it
        self._fanout: FanOut | None = None
        # This run's table version (None: the run does not make a complete one), and the
        # reconciliation pass it belongs to; decided when the stream starts (``begin_version``).
        self.version: int | None = None
        self._reconciliation: versions.Reconciliation | None = None
        self._incomplete = False  # a read was skipped (403): no version is activated
        self._keys_needed = False  # the pass reads the keys after the normal read
        self._new_rows = 0  # rows of the normal read created since the sync started
        self._activated = ""  # for the end line: the version activated, the keys read
        # For the run's last lines: the rows of the version activated, and what it leaves
        # out compared with the previous one ("" without one).
        self.activated_rows: int | None = None
        self.activation = ""
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
            how = self.describe_read(context)  # a child lists its parents here
            if self.services.cancelled.is_set():  # stopped meanwhile: nothing starts now
                raise Cancelled(self.name)
            if not self.log_book.skipped:
                self.log_book.start(how)
        try:
            if not self.log_book.skipped:  # an earlier pass met a missing scope
                source = self.children() if self.resource.parent else self.read(context)
                yield from self.counted(source)
        except PermissionDeniedError as denied:
            self.skip_for_missing_scope(denied)
        if context == passes[-1]:
            # Every record is written: the SDK writes each before it asks for the next.
            if self.version is not None and not self._incomplete:
                self.activate_version(self.version)
            self.log_book.end(self.left_out(), self._activated)
            self.log_extra_attributes()

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
            count = row.count if isinstance(row, RecordBlock) else 1  # a page's block, or a row
            now = self.log_book.add(count, self.progress_detail)
            if now - last_state >= STATE_EVERY:
                self.write_state_now()
                last_state = now

    def count_new_rows(self, rows: list[dict]) -> None:
        """During a keys pass, count the rows created since the sync started: the keys leave
        them out, and the version's row count needs them."""
        created = self.resource.keys_pass.created if self.resource.keys_pass else None
        if not self._keys_needed or created is None:
            return
        new = sum(
            1
            for row in rows
            if isinstance(row.get(created), str)
            and timestamps.parse(row[created]) >= self.sync_started
        )
        with self._counts_lock:  # pages are read on several threads
            self._new_rows += new

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
        """A 403 skips this stream (the tap warns once per missing scope, the others go on),
        unless told to stop."""
        if self.settings.fail_on_missing_scope:
            raise denied
        self._incomplete = True
        if not self.log_book.skipped:
            scopes = self.lacking_scopes(denied)
            self.log_book.skip(f"the API key lacks the scope {' + '.join(scopes)}")
            self.services.skipped_for_scope(self.name, scopes, denied)

    def lacking_scopes(self, denied: PermissionDeniedError) -> tuple[str, ...]:
        """The scope(s) a 403 says the key lacks: those of the endpoint denied, less the
        parent's where a child's endpoint needs two (its parents were listed: that one is
        granted)."""
        scopes = scopes_for(denied.endpoint) or self.resource.scopes
        if self.resource.parent and len(scopes) > 1:
            granted = RESOURCE_BY_NAME[self.resource.parent].scopes
            scopes = tuple(scope for scope in scopes if scope not in granted) or scopes
        return scopes

    def probe(self) -> None:
        """Requests of this stream's kind, for ``--test``: one per scope it needs, through its
        parents' listing and one parent's children. Raises PermissionDeniedError."""
        if self.resource.probe_with:
            self.services.reader(self.resource.probe_with).probe()
            return
        if not self.resource.parent:
            next(iter(self.read(next(iter(self.partitions or ()), None))), None)
            return
        parents = list(self.parent_partitions())  # the parent's scope: raises if denied
        for parent in parents[:PROBE_PARENTS]:
            try:
                next(iter(self.read(parent)), None)  # the child's endpoint, every scope
            except NotFoundError:
                continue  # deleted since it was listed: another parent will do
            return
        # No parent to read children of: each scope the parent does not need, on its own.
        own = set(RESOURCE_BY_NAME[self.resource.parent or ""].scopes)
        for scope in self.resource.scopes:
            # A scope no stream reads alone (coupon-codes:read) waits for a parent to check.
            if scope not in own and scope in SCOPE_PROBES:
                self.services.reader(SCOPE_PROBES[scope]).probe()

    # -- deletes: table versions (see ``tap_klaviyo.versions``) -----------------------------

    def begin_version(self) -> None:
        """Decide, before anything is read, the table version this run's records carry."""
        if self.resource.deletes is Deletes.RECONCILE:
            self.record_coverage()
        if not self.settings.activate_versions:
            return
        if self.resource.deletes is Deletes.EVERY_RUN:
            self.version = self.services.initialized_at
        elif self.resource.deletes is Deletes.RECONCILE and self.reconciles():
            self._reconciliation = versions.begin(self.stream_state, self.services.initialized_at)
            self.version = self._reconciliation.version
            # A normal read from where the table's rows begin is complete by itself.
            self._keys_needed = bool(self.resource.keys_pass) and (
                self.has_bookmark() or self.lower_bound(None) != self.coverage_start()
            )
            self.mark_state_unflushed()
            self.write_state_now()  # a run stopped from here on resumes this pass
        self.set_record_version(self.version)

    def has_bookmark(self) -> bool:
        """Whether a run read this stream before (a bookmark of its own or of a parent's)."""
        bookmarks = self.stream_state
        return bookmarks.get("replication_key_value") is not None or any(
            partition.get("replication_key_value") is not None
            for partition in bookmarks.get("partitions", [])
        )

    def record_coverage(self) -> None:
        """Keep in the state where the table's rows begin, before any row is read: the
        earliest lower bound any run read from. A state from before the tap kept it is taken
        to have read from the current start_date (what its passes assumed)."""
        bookmarks = self.stream_state
        known, _ = versions.covered_from(bookmarks)
        changed = False
        if not known and self.has_bookmark():
            changed = versions.cover(bookmarks, self.start_date())
        if not self.resource.parent:  # a child covers each parent's start (``child_start``)
            changed |= versions.cover(bookmarks, self.lower_bound(None))
        if changed:
            self.mark_state_unflushed()

    def start_date(self) -> dt.datetime | None:
        start = self.settings.start_date
        return timestamps.floor_second(start) if start else None

    def coverage_start(self) -> dt.datetime | None:
        """Where a pass reads from: where the table's rows begin (start_date if unknown)."""
        known, since = versions.covered_from(self.stream_state)
        return since if known else self.start_date()

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The lower bound of a stream with a bookmark: the later of the two, except for a
        reconciled stream, whose bookmark wins over a start_date moved later but not into
        the future. Reading from that start_date would skip the rows between the bookmark and
        it: the keys pass could not tell them from deleted ones, nor leave them out."""
        if self.resource.deletes is Deletes.RECONCILE:
            start = timestamps.parse(start_date_value)
            if start <= self.sync_started:
                return value
        return super().compare_start_date(value, start_date_value)

    def reconciles(self) -> bool:
        """Whether this run makes a complete version of an incremental stream."""
        settings = self.settings
        if settings.reconcile_every_days <= 0 and not settings.reconcile_now:
            return False
        start = self.start_date()
        if start is not None and start > self.sync_started:
            self.logger.info(
                "Stream '%s': no reconciliation pass with 'start_date' in the future (nothing "
                "before it is read, so the read is not complete).",
                self.name,
            )
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
        every, asked = settings.reconcile_every_days, settings.reconcile_now
        return versions.in_progress(bookmarks) is not None or versions.is_due(
            bookmarks, self.sync_started, every, asked=asked
        )

    def activate_version(self, version: int) -> None:
        """The read was complete: every row Klaviyo has carries ``version`` now, after the
        keys pass where the stream has one. Rows of older versions are gone from Klaviyo."""
        bookmarks = self.stream_state
        rows: int | None
        if self._keys_needed:
            read = self.read_keys(version)
            keys = f"the pass read {read:,} ids, "
            rows = read + self._new_rows  # the rows created since are not among the keys
        else:
            keys = ""
            pass_of_parents = self._reconciliation is not None and self.resource.parent
            # A pass of parents counts across runs (a resumed one read some parents before).
            rows = versions.pass_rows(bookmarks) if pass_of_parents else self.log_book.records
        self.write_activate_version(version)
        if self._reconciliation is not None:
            versions.complete(bookmarks, self.sync_started)
        self._activated = f"{keys}table version {version} activated"
        self.activation = versions.activated(bookmarks, version, rows)
        self.activated_rows = rows
        self.mark_state_unflushed()

    def read_keys(self, version: int) -> int:
        """Every primary key Klaviyo has, as records of a schema of the keys alone: an
        upserting target updates only those columns (and the version), the others stay.

        Sent after the stream's normal read, so that the target's sink for the keys is the
        one the ACTIVATE_VERSION drains before it marks rows: every key is in the table then.
        Objects created since the sync started are left out (they are not in the warehouse:
        a row of their key alone would be blank); objects updated before the table's rows
        begin (``covered_from``, whatever start_date is now) too: never loaded.
        """
        output = self.services.output
        schema = reconcile.key_schema(self.schema, self.primary_keys)
        output.write_message(SchemaMessage(self.name, schema, list(self.primary_keys)))
        start = self.coverage_start()
        filters = self.time_filters(start, None) if start else []
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
        """Where a parent's children are read from: its bookmark, or where the table's rows
        begin when a reconciliation pass has not read them in full yet."""
        passing = self._reconciliation
        if passing is not None and str(parent[self.resource.parent_key or ""]) not in passing.done:
            start = self.coverage_start()
        else:
            start = self.lower_bound(parent)
        if self.resource.deletes is Deletes.RECONCILE and versions.cover(self.stream_state, start):
            self.mark_state_unflushed()
        return start

    def child_done(self, parent: Context, rows: int) -> None:
        """A parent's ``rows`` children are all written (its state partition is final)."""
        self.finalize_partition(parent)
        if self._reconciliation is not None:
            key = str(parent[self.resource.parent_key or ""])
            versions.parent_done(self.stream_state, key, rows)
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
        """What Klaviyo sent that was not emitted, and why, for the stream's end line."""
        with self._counts_lock:
            text = "; ".join(
                f"{plural(count, noun)} {why}"
                for (noun, why), count in sorted(self._left_out.items())
            )
            self._left_out.clear()
        return f"not emitted: {text}" if text else ""

    def count_left_out(self, counts: Counter[tuple[str, str]]) -> None:
        if counts:
            with self._counts_lock:  # windows are read on several threads
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
        """The record with its unlisted fields moved into ``extra_attributes``, without the
        deselected ones."""
        known, deselected = plan
        self.keep_extra(record, known)
        for name in deselected:
            record.pop(name, None)
        return record

    def keep_extra(self, record: dict, known: t.AbstractSet[str]) -> None:
        """Fields Klaviyo sent that the schema does not list go into ``extra_attributes``
        (counted per field for the stream's end), rather than being dropped."""
        unlisted = record.keys() - known
        if not unlisted:
            return
        record[EXTRA_ATTRIBUTES] = {name: record.pop(name) for name in sorted(unlisted)}
        with self._counts_lock:  # rows are shaped on several threads
            self._extra.update(unlisted)

    def log_extra_attributes(self) -> None:
        """One line per run naming the fields kept in ``extra_attributes``."""
        with self._counts_lock:
            counts, self._extra = self._extra, Counter()
        if counts:
            self.logger.warning(
                "Stream '%s': Klaviyo sent fields its schema does not list, kept in the "
                "'%s' column: %s.",
                self.name, EXTRA_ATTRIBUTES,
                ", ".join(f"{name} ({n:,} records)" for name, n in sorted(counts.items())),
            )  # fmt: skip

    def write_record(self, record: dict | memoryview | RecordBlock) -> None:
        if isinstance(record, memoryview):  # a line from ``record_lines``
            line: bytes | memoryview = record
        elif isinstance(record, RecordBlock):  # a typed page's lines (``typed_windows``)
            line = record.lines
        elif (plan := self.record_plan) is not None:
            line = record_line(self.name, self.columns(record, plan), utc_now_iso(), self.version)
        else:
            self.keep_extra(record, self.schema["properties"].keys())
            self.sdk_write_record(record)
            return
        self.services.output.write_line(line)
        self.mark_state_unflushed()

    # -- reading ---------------------------------------------------------------------------

    def read(self, context: Context | None) -> t.Iterator[dict]:
        """The rows of one partition from its bookmark (or start_date), in the endpoint's
        order."""
        if self.resource.listed:  # copies: writing a row trims it
            return iter([dict(row) for row in self.services.listing(self.name)])
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
            path,
            params,
            tier=self.tier,
            endpoint=self.resource.path,
            decode=self.decode,
            stream=self.name,
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
        kept, left_out = [], Counter[tuple[str, str]]()
        after = PAST_END_DATE if high is not None and high == self.upper_bound() else AFTER_WINDOW
        for record in self.shaped(page):
            value = record.get(key) if key else None
            # A row without a value cannot be outside a window: kept, never dropped.
            if value is not None and (low is not None or high is not None):
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
        self.count_left_out(left_out)
        self.count_new_rows(kept)
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
        ``lookback_window`` before a bookmark where records arrive late."""
        start = self.get_starting_timestamp(context)
        if start is None and self.resource.earliest:
            start = timestamps.parse(self.resource.earliest)
        if start is None:
            return None
        start = timestamps.as_utc(start)
        bookmarked = self.get_context_state(context).get("replication_key_value")
        if self.resource.late_arrivals and bookmarked:
            # Never before start_date: the lookback re-reads what was synced, nothing older.
            floor = self.settings.start_date
            start -= dt.timedelta(seconds=self.settings.lookback_window)
            start = max(start, timestamps.as_utc(floor)) if floor else start
        return timestamps.floor_second(start)

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
        self.count_left_out(Counter({(kind, "deleted during the sync (skipped)"): 1}))


class FanOut:
    """Every parent's children, fetched in parallel and written as they come, each parent
    from its own bookmark: no parent waits behind a long one. A parent's bookmark moves with
    its own rows (each parent's pages come in order), and its pass is finalized when its
    last row is written, so a run stopped at any moment resumes every parent without a gap.
    """

    def __init__(self, stream: KlaviyoStream, parents: list[dict]) -> None:
        self.stream = stream
        self.done = 0
        self._rows: Counter[str] = Counter()  # rows written, per parent
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
            key = str(parent[self._key])
            if chunk is None:
                self.done += 1
                self.stream.child_done(parent, self._rows.pop(key, 0))
            elif isinstance(chunk, Vanished):
                self.stream.skip_vanished_parent(parent, chunk.error)
            else:
                self._rows[key] += len(chunk)
                for record in chunk:
                    # The parent's id and carried columns (the SDK would add a partition's).
                    for column, value in parent.items():
                        record.setdefault(column, value)
                    yield record
