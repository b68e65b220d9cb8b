"""The generic Klaviyo stream: one ``Resource`` row, JSON:API pages, server-side increments.

What the SDK asks of a stream, the read of one partition and the bookmark policy live here;
how partitions are read (a child's parents: ``children``), deletes (``deletes``), requests
(``tap_klaviyo.request_plan``) and RECORD lines (``writing``) each in their own module.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import typing as t

from singer_sdk import Tap

from tap_klaviyo import timestamps
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import PermissionDeniedError
from tap_klaviyo.logs import StreamLog
from tap_klaviyo.output import RecordBlock, record_line, utc_now_iso
from tap_klaviyo.records import Page
from tap_klaviyo.request_plan import Context, RequestPlan
from tap_klaviyo.resources import Resource, scopes_for
from tap_klaviyo.run import RunContext
from tap_klaviyo.schemas import load_schema
from tap_klaviyo.sdk_compat import StreamInternals
from tap_klaviyo.settings import Settings
from tap_klaviyo.streams.children import ChildBlock, read_mode
from tap_klaviyo.streams.deletes import TableVersions
from tap_klaviyo.streams.rows import Rows, in_window, past_window
from tap_klaviyo.streams.writing import RecordWriter

# A STATE at least this often (seconds) while a stream writes, besides the SDK's one every
# 10,000 records: a resume after a crash repeats little even of a slow stream.
STATE_EVERY = 30.0


class KlaviyoStream(StreamInternals):
    """A stream read from one Klaviyo endpoint, as its ``Resource`` describes it."""

    def __init__(self, tap: Tap, resource: Resource, run: RunContext) -> None:
        self.resource, self.run = resource, run
        self.settings: Settings = run.settings
        self.client: KlaviyoClient = run.client
        self.sync_started = run.sync_started
        super().__init__(tap, schema=load_schema(resource.schema_name), name=resource.name)
        self.primary_keys = list(resource.primary_keys)
        # State is kept per partition (campaign channel, parent id...) by the SDK, each with
        # its own resumable bookmark.
        self.replication_key = resource.replication_key
        # Custom properties as columns (a setting): found at --discover, kept in the catalog.
        self.property_columns = run.property_columns if resource.custom_properties else None
        if self.property_columns:
            self.schema["properties"].update(self.property_columns.schema())
        snapshot_at = timestamps.to_text(self.sync_started)
        self.shaper = Rows(resource, self.schema, self.property_columns, snapshot_at)
        self._last_increment: tuple[Context | None, dt.datetime] | None = None
        self.plan = RequestPlan(resource, run.settings)
        self.mode = read_mode(self)
        self.deletes = TableVersions(self)
        self.writer = RecordWriter(
            self.name,
            lambda: self.schema["properties"],
            lambda name: bool(self.mask.get(("properties", name), True)),
            sdk_records=run.settings.sdk_records,
            logger=self.logger,
        )
        self.log_book = StreamLog(self.logger, self.name, clock=run.clock)

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
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """The table's passes, read one after another. A child stream is one pass for the
        SDK: its parents are its state's partitions, read all at once (``children``)."""
        return self.mode.partitions()

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        passes: list[Context | None] = [*self.partitions] if self.partitions else [None]
        if context == passes[0]:
            self.deletes.begin()
            how = self.describe_read(context)  # a child lists its parents here
            self.run.stop_if_cancelled(self.name)  # stopped meanwhile: nothing starts now
            if not self.log_book.skipped:
                self.log_book.start(how)
        try:
            if not self.log_book.skipped:  # an earlier pass met a missing scope
                yield from self.counted(self.mode.records(context))
        except PermissionDeniedError as denied:
            self.skip_for_missing_scope(denied)
        if context == passes[-1]:
            # Every record is written: the SDK writes each before it asks for the next.
            self.deletes.end()
            self.log_book.end(self.deletes.activated)
            self.writer.log_extra_attributes()

    def counted(self, rows: t.Iterable[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
        """The rows, counted for the progress and end lines; a STATE every ``STATE_EVERY``
        seconds. Each row is written (and its bookmark kept) before the next is asked for, so
        a STATE here covers exactly what was emitted."""
        last_state = self.run.clock()
        for row in rows:
            yield row
            self.run.stop_if_cancelled(self.name)
            count = row.count if isinstance(row, RecordBlock) else 1  # a page's block, or a row
            now = self.log_book.add(count, self.progress_detail)
            if now - last_state >= STATE_EVERY:
                self.write_state_now()
                last_state = now

    def describe_read(self, context: Context | None) -> str:
        """The start line: what is read, from where."""
        increment = self.resource.increment
        how = f"incremental on {increment.key}" if increment else "full table"
        return self.mode.describe(how, context) + self.deletes.describe()

    def progress_detail(self) -> str:
        """How far a long read is, for its progress lines."""
        return self.mode.progress()

    def skip_for_missing_scope(self, denied: PermissionDeniedError) -> None:
        """A 403 skips this stream (the tap warns once per missing scope, the others go on),
        unless told to stop."""
        if self.settings.fail_on_missing_scope:
            raise denied
        self.deletes.incomplete = True
        if not self.log_book.skipped:
            scopes = self.lacking_scopes(denied)
            self.log_book.skip(f"the API key lacks the scope {' + '.join(scopes)}")
            self.run.missing_scopes.skipped(self.name, scopes, denied)

    def lacking_scopes(self, denied: PermissionDeniedError) -> tuple[str, ...]:
        """The scope(s) a 403 says the key lacks: those of the endpoint denied."""
        return self.mode.lacking(scopes_for(denied.endpoint) or self.resource.scopes)

    def probe(self) -> None:
        """Requests of this stream's kind, for ``--test``: one per scope it needs, through its
        parents' listing and one parent's children. Raises PermissionDeniedError."""
        if self.resource.probe_with:
            self.run.reader(self.resource.probe_with).probe()
        else:
            self.mode.probe()

    # -- bookmarks -------------------------------------------------------------------------

    def start_date(self) -> dt.datetime | None:
        start = self.settings.start_date
        return timestamps.floor_second(start) if start else None

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The lower bound of a stream with a bookmark: the later of the two, except for a
        reconciled stream, whose bookmark wins over a start_date moved later but not into
        the future. Reading from that start_date would skip the rows between the bookmark and
        it: the keys pass could not tell them from deleted ones, nor leave them out."""
        if self.deletes.keeps_bookmark(timestamps.parse(start_date_value)):
            return value
        return super().compare_start_date(value, start_date_value)

    def on_record_for_state(
        self, record: dict[str, t.Any] | ChildBlock, context: Context | None
    ) -> None:
        context = self.mode.state_context(record, context)
        key = self.resource.replication_key or ""
        if isinstance(record, ChildBlock):  # a page of one parent's rows: as row after row
            moments = record.moments
        elif isinstance(value := record.get(key), str):
            moments = [timestamps.parse(value)]
        else:
            self.sdk_increment_state(record, context)
            return
        # Future-dated records are left out: a bookmark there would hide what comes.
        moment = max((m for m in moments if m <= self.sync_started), default=None)
        if moment is None:
            return
        # Ties and values below the partition's highest so far (a second's records may
        # come in any order of their fractions, unsorted streams in any order at all).
        last = self._last_increment
        if last is not None and last[0] == context and moment <= last[1]:
            return
        self._last_increment = (context, moment)
        row = record if isinstance(record, dict) else {key: timestamps.to_text(moment)}
        self.sdk_increment_state(row, context)

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

    # -- writing ---------------------------------------------------------------------------

    def write_record(self, record: dict[str, t.Any] | memoryview | RecordBlock) -> None:
        if isinstance(record, memoryview):  # a line from ``record_lines``
            line: bytes | memoryview = record
        elif isinstance(record, RecordBlock):  # a window page's lines (``streams.window_blocks``)
            line = record.lines
        elif (plan := self.writer.plan) is not None:
            line = record_line(
                self.name, self.writer.columns(record, plan), utc_now_iso(), self.deletes.version
            )
        else:
            self.writer.keep_extra(record, self.schema["properties"].keys())
            self.sdk_write_record(record)
            return
        self.run.output.write_line(line)
        self.mark_state_unflushed()

    def record_lines(
        self, rows: list[dict[str, t.Any]]
    ) -> list[dict[str, t.Any]] | list[memoryview]:
        """The RECORD lines of some rows, finished where the rows were built (a fetch thread);
        the rows themselves when the SDK writes them."""
        return self.writer.lines(rows, utc_now_iso(), self.deletes.version)

    # -- reading ---------------------------------------------------------------------------

    def read(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """The rows of one partition from its bookmark (or start_date), in the endpoint's
        order."""
        if self.resource.listed:  # copies: writing a row trims it
            return iter([dict(row) for row in self.run.listings.get(self.name)])
        return self.read_from(context, self.lower_bound(context))

    def read_all(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """Every row of one partition, whatever the bookmark: a child's parents."""
        return self.read_window(context, None, None)

    def read_from(
        self, context: Context | None, start: dt.datetime | None
    ) -> t.Iterator[dict[str, t.Any]]:
        """The rows of one partition from ``start`` (a bookmark, start_date or None)."""
        return self.read_window(context, start, self.upper_bound())

    def read_window(
        self, context: Context | None, start: dt.datetime | None, end: dt.datetime | None
    ) -> t.Iterator[dict[str, t.Any]]:
        """The rows whose replication key is in [start, end), either bound optional."""
        # A page's rows, and the page, are not kept here once handed on (see ``pages``).
        rows = functools.partial(self.rows, start=start, end=end)
        yield from itertools.chain.from_iterable(map(rows, self.pages(context, start, end)))

    def pages(
        self, context: Context | None, start: dt.datetime | None, end: dt.datetime | None
    ) -> t.Iterator[Page]:
        # No reference kept here to a page handed on: freed once its reader is done with it,
        # not held while the next one is fetched.
        yield from map(
            Page,
            self.client.paginate(
                self.plan.path(context),
                self.plan.params(context, start, end),
                tier=self.plan.tier,
                endpoint=self.resource.path,
                decode=self.decode,
                stream=self.name,
            ),
        )

    def rows(
        self,
        page: Page,
        start: dt.datetime | None,
        end: dt.datetime | None,
        moments: list[dt.datetime] | None = None,
    ) -> list[dict[str, t.Any]]:
        """The page's rows in [start, end), timestamps in one form (see ``rows.in_window``):
        records at a greater-than bound that Klaviyo returns again, or past an end the
        endpoint cannot filter on, are left out and counted."""
        key = self.resource.replication_key
        value_of = (lambda row: row.get(key)) if key else None
        after = past_window(end, self.upper_bound())
        kept, left_out = in_window(self.shaper.shaped(page), value_of, (start, end), after, moments)
        self.log_book.leave_out(left_out)
        self.deletes.count_new_rows(kept)
        return kept

    @functools.cached_property
    def decode(self) -> t.Callable[[bytes], dict[str, t.Any] | None] | None:
        """The endpoint's typed page decoder, on the tap's own record path only (stream maps
        and the SDK's writer get plain rows), and where no row needs its raw parts as objects
        (property columns take theirs out of ``properties``)."""
        typed = self.resource.typed
        usable = self.writer.plan is not None and not self.property_columns
        return typed.decode if typed and usable else None
