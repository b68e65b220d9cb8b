"""How a stream's partitions are read: its own (campaign channels, archived or not), or,
for a child stream, its parents'. Chosen once per stream (``read_mode``): the parents'
listing, the fan-out over them, a parent deleted since it was listed, the progress line and
the ``--test`` probe are the child's alone."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t
from collections import Counter

from tap_klaviyo import timestamps
from tap_klaviyo.errors import NotFoundError, PermissionDeniedError
from tap_klaviyo.output import RecordBlock
from tap_klaviyo.prefetch import Prefetch
from tap_klaviyo.request_plan import Context
from tap_klaviyo.resources import RESOURCE_BY_NAME, SCOPE_PROBES
from tap_klaviyo.streams.window_blocks import window_block

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream

PROBE_PARENTS = 3  # parents ``--test`` tries, for one that was not deleted since listed
CHUNK_SIZE = 500  # records handed from a worker to the writer at a time


class OwnPartitions:
    """A stream read from its own partitions, one after another (the SDK's passes)."""

    def __init__(self, stream: KlaviyoStream) -> None:
        self.stream = stream

    def partitions(self) -> list[dict[str, t.Any]] | None:
        """The table's passes (campaign channels, archived or not)."""
        return [dict(partition.context) for partition in self.stream.resource.partitions] or None

    def records(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        return self.stream.read(context)

    def describe(self, how: str, context: Context | None) -> str:
        """The start line's ``how``, with where the read starts."""
        stream = self.stream
        start = stream.lower_bound(context) if stream.resource.increment else None
        return f"{how} from {timestamps.to_text(start)}" if start else how

    def progress(self) -> str:
        return ""

    def lacking(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        return scopes

    def state_context(
        self, record: dict[str, t.Any] | ChildBlock, context: Context | None
    ) -> Context | None:
        return context

    @property
    def by_parent(self) -> bool:
        """Whether the stream is read parent by parent: each parent from its own start (the
        table's rows begin at each one's), a reconciliation pass counted per parent."""
        return False

    def probe(self) -> None:
        stream = self.stream
        next(iter(stream.read(next(iter(self.partitions() or ()), None))), None)


class Vanished(t.NamedTuple):
    """A parent deleted between its listing and its child request (404 or 410)."""

    error: NotFoundError


class ChildBlock(RecordBlock):
    """One page of a parent's children as RECORD lines, with what its parent's bookmark needs:
    the parent (its state partition) and the rows' replication-key values."""

    __slots__ = ("moments", "parent")

    def __init__(self, block: RecordBlock, parent: Context, moments: list[dt.datetime]) -> None:
        super().__init__(block.lines, block.count)
        self.parent, self.moments = parent, moments


Chunk = tuple[Context, "list[dict[str, t.Any]] | ChildBlock | Vanished | None"]


class Children(OwnPartitions):
    """A child stream: one pass for the SDK, whose state partitions are its parents, read
    all at once and written as they come (see ``FanOut``)."""

    def __init__(self, stream: KlaviyoStream) -> None:
        super().__init__(stream)
        resource = stream.resource
        assert resource.parent is not None
        self.parent = resource.parent
        self.key = resource.parent_key or ""
        self.kind = self.parent.removesuffix("s").replace("_", " ")
        self.fanout: FanOut | None = None

    def partitions(self) -> list[dict[str, t.Any]] | None:
        return None

    @functools.cached_property
    def parents(self) -> list[dict[str, t.Any]]:
        """The parents (each a state partition), listed once per run."""
        try:
            return list(self.parent_partitions())
        except PermissionDeniedError as denied:
            self.stream.skip_for_missing_scope(denied)
            return []

    def parent_partitions(self) -> t.Iterator[dict[str, t.Any]]:
        """Every parent (all of them, not only those changed since the last run), from the
        run's one listing of them, shared by every child stream of that parent."""
        carry = self.stream.resource.carry
        for record in self.stream.run.listings.get(self.parent):
            if record.get("id"):
                yield {self.key: record["id"], **{c: record.get(p) for p, c in carry}}

    def records(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """Every parent's children, as they come (typed pages: a block per page)."""
        self.fanout = FanOut(self, self.parents)
        return self.fanout.records()  # type: ignore[return-value]  # blocks, as windows yield

    def describe(self, how: str, context: Context | None) -> str:
        return f"{how}, the children of {len(self.parents)} {self.kind}s"

    def progress(self) -> str:
        if self.fanout is None:
            return ""
        return f"{self.fanout.done} of {len(self.parents)} {self.kind}s done"

    def lacking(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        """Where a child's endpoint needs two scopes, the parent's is granted (its parents
        were listed): the other one is lacking."""
        if len(scopes) > 1:
            granted = RESOURCE_BY_NAME[self.parent].scopes
            scopes = tuple(scope for scope in scopes if scope not in granted) or scopes
        return scopes

    def state_context(
        self, record: dict[str, t.Any] | ChildBlock, context: Context | None
    ) -> Context | None:
        """A child's row (or page of rows): its parent is its state partition."""
        if isinstance(record, ChildBlock):
            return record.parent
        return self.fanout.parent_of(record) if self.fanout is not None else context

    @property
    def by_parent(self) -> bool:
        return True

    def probe(self) -> None:
        """Through the parents' listing and one parent's children; without a parent, each
        scope the parent does not need on its own."""
        stream = self.stream
        parents = list(self.parent_partitions())  # the parent's scope: raises if denied
        for parent in parents[:PROBE_PARENTS]:
            try:
                next(iter(stream.read(parent)), None)  # the child's endpoint, every scope
            except NotFoundError:
                continue  # deleted since it was listed: another parent will do
            return
        own = set(RESOURCE_BY_NAME[self.parent].scopes)
        for scope in stream.resource.scopes:
            # A scope no stream reads alone (coupon-codes:read) waits for a parent to check.
            if scope not in own and scope in SCOPE_PROBES:
                stream.run.reader(SCOPE_PROBES[scope]).probe()

    def chunks(self, parent: Context, start: dt.datetime | None) -> t.Iterator[Chunk]:
        """One parent's rows in chunks (one block per page on the typed path: members), then
        ``None``; a ``Vanished`` before it if the parent was deleted since it was listed."""
        chunk: list[dict[str, t.Any]] = []
        vanished = None
        try:
            if self.stream.decode:  # typed pages: the tap writes the RECORD lines itself
                for block in self.page_blocks(parent, start):
                    yield parent, block
            else:
                for record in self.stream.read_from(parent, start):
                    chunk.append(record)
                    if len(chunk) >= CHUNK_SIZE:
                        yield parent, chunk
                        chunk = []
        except NotFoundError as gone:
            vanished = Vanished(gone)
        yield parent, chunk
        if vanished:
            yield parent, vanished
        yield parent, None

    def page_blocks(self, parent: Context, start: dt.datetime | None) -> t.Iterator[ChildBlock]:
        """One parent's rows from ``start``, a block per page (none for a page of none)."""
        stream = self.stream
        window = (start, stream.upper_bound())
        for page in stream.pages(parent, *window):
            made = window_block(stream, page, window, parent)
            assert made is not None  # typed pages are read on the tap's own record path only
            block, moments = made
            if block.count:
                yield ChildBlock(block, parent, moments)

    def skip_vanished(self, parent: Context, error: NotFoundError) -> None:
        """A parent deleted since it was listed: this one is skipped, every other synced; its
        bookmark stays where it was."""
        stream = self.stream
        stream.logger.warning(
            "Stream '%s': skipping %s %s, which Klaviyo no longer has (%s %s; deleted after "
            "it was listed); the other %ss are synced.",
            stream.name, self.kind, parent.get(self.key), error.status, error.endpoint,
            self.kind,
        )  # fmt: skip
        stream.log_book.leave_out(Counter({(self.kind, "deleted during the sync (skipped)"): 1}))


class FanOut:
    """Every parent's children, fetched in parallel and written as they come, each parent
    from its own bookmark: no parent waits behind a long one. A parent's bookmark moves with
    its own rows (each parent's pages come in order), and its pass is finalized when its
    last row is written, so a run stopped at any moment resumes every parent without a gap.
    """

    def __init__(self, children: Children, parents: list[dict[str, t.Any]]) -> None:
        stream = self.stream = children.stream
        self.children = children
        self.done = 0
        self._rows: Counter[str] = Counter()  # rows written, per parent
        self._key = children.key
        self._parents = {parent[self._key]: parent for parent in parents}
        tasks = []
        for parent in parents:
            # Bookmarks are read here, on the stream's thread, before workers start.
            stream.write_starting_value(parent)
            start = stream.deletes.parent_start(parent)
            tasks.append(functools.partial(children.chunks, parent, start))
        self._chunks = Prefetch(
            tasks,
            max_workers=stream.plan.workers,
            max_buffered=stream.settings.max_buffered_pages,
            ordered=False,
        )

    def parent_of(self, record: dict[str, t.Any]) -> Context:
        return self._parents[record[self._key]]

    def records(self) -> t.Iterator[dict[str, t.Any] | ChildBlock]:
        for parent, chunk in self._chunks:
            key = str(parent[self._key])
            if chunk is None:
                self.done += 1
                self.stream.finalize_partition(parent)
                self.stream.deletes.parent_done(key, self._rows.pop(key, 0))
            elif isinstance(chunk, Vanished):
                self.children.skip_vanished(parent, chunk.error)
            elif isinstance(chunk, ChildBlock):  # its rows have their parent's columns
                self._rows[key] += chunk.count
                yield chunk
            else:
                self._rows[key] += len(chunk)
                for record in chunk:
                    # The parent's id and carried columns (the SDK would add a partition's).
                    for column, value in parent.items():
                        record.setdefault(column, value)
                    yield record


def read_mode(stream: KlaviyoStream) -> OwnPartitions:
    """The stream's read mode, chosen once: a child's parents, or its own partitions."""
    return Children(stream) if stream.resource.parent else OwnPartitions(stream)
