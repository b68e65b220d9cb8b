"""Deletes, for one stream: its table version this run, the reconciliation pass it belongs
to, and that pass's ids read (see ``tap_klaviyo.versions``).

The ids pass reads every primary key Klaviyo has, as cheaply as the endpoint allows: only
the key and ``created`` (a sparse fieldset: a fraction of a full row's bytes), no additional
fields (so no lowered tier), in the largest pages. Klaviyo serves one cursor at a time per
query, so the range of ``created`` (immutable: an object never moves between windows while
the pass runs, as it would on ``updated``) is cut into windows read in parallel within the
tier. A window's lower bound is ``greater-than`` one second early (the filter has no
``greater-or-equal``): the keys created before the window's start are the previous
window's, and are left out here.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
import typing as t

from singer_sdk.singerlib.messages import SchemaMessage

from tap_klaviyo import timestamps, versions
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.output import record_lines, utc_now_iso
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.records import Page
from tap_klaviyo.request_plan import ONE_SECOND, time_filters
from tap_klaviyo.resources import Deletes, Increment, KeysPass, Resource
from tap_klaviyo.streams.first_row import first_row

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream

# Windows are of equal time, not of equal size: two per cursor balance the cursors' loads
# against the part-filled last page each window costs.
KEY_WINDOWS_PER_CURSOR = 2
Span = tuple[dt.datetime, dt.datetime]


class TableVersions:
    """The table version a stream's records carry this run, and its activation."""

    def __init__(self, stream: KlaviyoStream) -> None:
        self.stream = stream
        self.resource = stream.resource
        # This run's table version (None: the run does not make a complete one), and the
        # reconciliation pass it belongs to; decided when the stream starts (``begin``).
        self.version: int | None = None
        self.reconciliation: versions.Reconciliation | None = None
        self.incomplete = False  # a read was skipped (403): no version is activated
        self._keys_needed = False  # the pass reads the keys after the normal read
        self._new_rows = 0  # rows of the normal read created since the sync started
        self._lock = threading.Lock()
        self.activated = ""  # for the end line: the version activated, the keys read
        # For the run's last lines: the rows of the version activated, and what it leaves
        # out compared with the previous one ("" without one).
        self.activated_rows: int | None = None
        self.activation = ""

    def begin(self) -> None:
        """Decide, before anything is read, the table version this run's records carry."""
        stream, deletes = self.stream, self.resource.deletes
        if deletes is Deletes.RECONCILE:
            self.record_coverage()
        if not stream.settings.activate_versions:
            return
        if deletes is Deletes.EVERY_RUN:
            self.version = stream.run.initialized_at
        elif deletes is Deletes.RECONCILE and self.reconciles():
            self.reconciliation = versions.begin(stream.stream_state, stream.run.initialized_at)
            self.version = self.reconciliation.version
            # A normal read from where the table's rows begin is complete by itself.
            self._keys_needed = bool(self.resource.keys_pass) and (
                self.has_bookmark() or stream.lower_bound(None) != self.coverage_start()
            )
            stream.mark_state_unflushed()
            stream.write_state_now()  # a run stopped from here on resumes this pass
        stream.set_record_version(self.version)

    def describe(self) -> str:
        """The start line's words on a reconciliation pass ("" without one)."""
        if self.reconciliation is None:
            return ""
        resumed = self.version != self.stream.run.initialized_at
        return (
            f"; {'resuming the' if resumed else 'a'} reconciliation pass (table version "
            f"{self.version}): rows Klaviyo no longer has are marked deleted at its end"
        )

    def keeps_bookmark(self, start_date: dt.datetime) -> bool:
        """Whether a bookmark wins over a later ``start_date`` not in the future: a
        reconciled stream's does (see ``KlaviyoStream.compare_start_date``)."""
        reconciled = self.resource.deletes is Deletes.RECONCILE
        return reconciled and start_date <= self.stream.sync_started

    def has_bookmark(self) -> bool:
        """Whether a run read this stream before (a bookmark of its own or of a parent's)."""
        bookmarks = self.stream.stream_state
        return bookmarks.get("replication_key_value") is not None or any(
            partition.get("replication_key_value") is not None
            for partition in bookmarks.get("partitions", [])
        )

    def record_coverage(self) -> None:
        """Keep in the state where the table's rows begin, before any row is read: the
        earliest lower bound any run read from. A state from before the tap kept it is taken
        to have read from the current start_date (what its passes assumed)."""
        stream = self.stream
        bookmarks = stream.stream_state
        known, _ = versions.covered_from(bookmarks)
        changed = False
        if not known and self.has_bookmark():
            changed = versions.cover(bookmarks, stream.start_date())
        if not stream.mode.by_parent:  # a child covers each parent's start (``parent_start``)
            changed |= versions.cover(bookmarks, stream.lower_bound(None))
        if changed:
            stream.mark_state_unflushed()

    def coverage_start(self) -> dt.datetime | None:
        """Where a pass reads from: where the table's rows begin (start_date if unknown)."""
        known, since = versions.covered_from(self.stream.stream_state)
        return since if known else self.stream.start_date()

    def reconciles(self) -> bool:
        """Whether this run makes a complete version of an incremental stream."""
        stream = self.stream
        settings = stream.settings
        if settings.reconcile_every_days <= 0 and not settings.reconcile_now:
            return False
        start = stream.start_date()
        if start is not None and start > stream.sync_started:
            why = "with 'start_date' in the future (nothing before it is read, so the read "
            return self._not_now(f"{why}is not complete)")
        if settings.end_date is not None:
            return self._not_now("with 'end_date' set (a bounded backfill is not a complete read)")
        if self.resource.keys_pass and settings.sdk_records:
            stream.logger.warning(
                "Stream '%s': no reconciliation pass with stream maps, flattening or batch "
                "messages configured (its ids-only records would take their own schema); "
                "deleted rows are not marked.",
                stream.name,
            )
            return False
        bookmarks = stream.stream_state
        every, asked = settings.reconcile_every_days, settings.reconcile_now
        return versions.in_progress(bookmarks) is not None or versions.is_due(
            bookmarks, stream.sync_started, every, asked=asked
        )

    def _not_now(self, why: str) -> bool:
        self.stream.logger.info("Stream '%s': no reconciliation pass %s.", self.stream.name, why)
        return False

    def count_new_rows(self, rows: list[dict[str, t.Any]]) -> None:
        """During a keys pass, count the rows created since the sync started: the keys leave
        them out, and the version's row count needs them."""
        created = self.resource.keys_pass.created if self.resource.keys_pass else None
        if not self._keys_needed or created is None:
            return
        since = self.stream.sync_started
        new = sum(
            1
            for row in rows
            if isinstance(row.get(created), str) and timestamps.parse(row[created]) >= since
        )
        with self._lock:  # pages are read on several threads
            self._new_rows += new

    def end(self) -> None:
        """Every record is written: a complete read activates its version."""
        if self.version is not None and not self.incomplete:
            self.activate(self.version)

    def activate(self, version: int) -> None:
        """The read was complete: every row Klaviyo has carries ``version`` now, after the
        keys pass where the stream has one. Rows of older versions are gone from Klaviyo."""
        stream = self.stream
        bookmarks = stream.stream_state
        rows: int | None
        if self._keys_needed:
            read = self.read_keys(version)
            keys = f"the pass read {read:,} ids, "
            rows = read + self._new_rows  # the rows created since are not among the keys
        else:
            keys = ""
            of_parents = self.reconciliation is not None and stream.mode.by_parent
            # A pass of parents counts across runs (a resumed one read some parents before).
            rows = versions.pass_rows(bookmarks) if of_parents else stream.log_book.records
        stream.write_activate_version(version)
        if self.reconciliation is not None:
            versions.complete(bookmarks, stream.sync_started)
        self.activated = f"{keys}table version {version} activated"
        self.activation = versions.activated(bookmarks, version, rows)
        self.activated_rows = rows
        stream.mark_state_unflushed()

    def read_keys(self, version: int) -> int:
        """Every primary key Klaviyo has, as records of a schema of the keys alone: an
        upserting target updates only those columns (and the version), the others stay.

        Sent after the stream's normal read, so that the target's sink for the keys is the
        one the ACTIVATE_VERSION drains before it marks rows: every key is in the table then.
        Objects created since the sync started are left out (they are not in the warehouse:
        a row of their key alone would be blank); objects updated before the table's rows
        begin (``covered_from``, whatever start_date is now) too: never loaded.
        """
        stream = self.stream
        output, settings = stream.run.output, stream.settings
        schema = key_schema(stream.schema, stream.primary_keys)
        output.write_message(SchemaMessage(stream.name, schema, list(stream.primary_keys)))
        filters = stream.plan.increment_filters(self.coverage_start())
        reader = KeyReader(stream.client, self.resource, filters, stream.sync_started)
        cursors = self.resource.tier.workers(settings.max_workers)  # no lowered tier
        pages = Prefetch(
            [functools.partial(reader.keys, s) for s in reader.spans(cursors)],
            max_workers=cursors,
            max_buffered=settings.max_buffered_pages,
            ordered=False,
        )
        read = 0
        for keys in pages:
            stream.run.stop_if_cancelled(stream.name)
            for line in record_lines(stream.name, keys, utc_now_iso(), version):
                output.write_line(line)
            read += len(keys)
        return read

    def parent_start(self, parent: t.Mapping[str, t.Any]) -> dt.datetime | None:
        """Where a parent's children are read from: its bookmark, or where the table's rows
        begin when a reconciliation pass has not read them in full yet."""
        stream, passing = self.stream, self.reconciliation
        if passing is not None and str(parent[self.resource.parent_key or ""]) not in passing.done:
            start = self.coverage_start()
        else:
            start = stream.lower_bound(parent)
        if self.resource.deletes is Deletes.RECONCILE and versions.cover(
            stream.stream_state, start
        ):
            stream.mark_state_unflushed()
        return start

    def parent_done(self, key: str, rows: int) -> None:
        """A parent's ``rows`` children are all written (its state partition is final)."""
        if self.reconciliation is not None:
            versions.parent_done(self.stream.stream_state, key, rows)
            self.stream.mark_state_unflushed()
            self.stream.write_state_now()  # a resume reads this parent from its bookmark only


def key_schema(schema: t.Mapping[str, t.Any], keys: t.Sequence[str]) -> dict[str, t.Any]:
    """The stream's schema cut to its primary keys: a target that upserts updates only these
    columns (and its own, the version's), so the other columns of the row stay as they are."""
    return {
        "type": "object",
        "properties": {key: schema["properties"][key] for key in keys},
        "required": list(keys),
    }


class KeyReader:
    """The keys of one resource, created in [its first, ``end``), ``filters`` applied too."""

    def __init__(
        self, client: KlaviyoClient, resource: Resource, filters: list[str], end: dt.datetime
    ) -> None:
        assert resource.keys_pass is not None
        self.client, self.resource, self.end = client, resource, end
        self.keys_pass: KeysPass = resource.keys_pass
        self.created = Increment(self.keys_pass.created, lower="greater-than")
        self.filters = filters

    def spans(self, cursors: int) -> list[Span]:
        """[first created, end) in windows of whole seconds, ``KEY_WINDOWS_PER_CURSOR`` per
        cursor (none: no object)."""
        first = self.first_created()
        if first is None or first >= self.end:
            return []
        step = max((self.end - first) / (cursors * KEY_WINDOWS_PER_CURSOR), ONE_SECOND)
        bounds = [first]
        while bounds[-1] < self.end:
            bounds.append(min(timestamps.floor_second(bounds[-1] + step), self.end))
        return list(itertools.pairwise(bounds))

    def first_created(self) -> dt.datetime | None:
        """The oldest object's ``created``, to its second (one request)."""
        field = self.keys_pass.created
        params = {**self.params(None), "sort": field}
        found = first_row(
            self.client,
            self.resource.path,
            params,
            tier=self.resource.tier,
            stream=self.resource.name,
        )
        if found is None:
            return None
        return timestamps.floor_second(timestamps.parse(found[0]["attributes"][field]))

    def keys(self, span: Span) -> t.Iterator[list[dict[str, t.Any]]]:
        """The keys created in the span, a page at a time."""
        start, _ = span
        field = self.keys_pass.created
        for document in self.client.paginate(
            self.resource.path,
            self.params(span),
            tier=self.resource.tier,
            endpoint=self.resource.path,
            stream=self.resource.name,
        ):
            yield [
                {"id": row["id"]}
                for row in Page(document).objects(None)
                if timestamps.parse(row["attributes"][field]) >= start
            ]

    def params(self, span: Span | None) -> dict[str, str]:
        name, value = self.keys_pass.fieldset
        start, end = span if span else (None, self.end)
        filters = [*self.filters, *time_filters(self.created, start, end)]
        return {
            name: f"{value},{self.keys_pass.created}",
            "page[size]": str(self.resource.page_size or 100),
            "filter": ",".join(filters),
        }
