"""Fetch many tasks' pages concurrently and hand them to one consumer.

A task is a function that yields pages (the pages of one time window, or of one parent's
children). Workers run tasks ahead of the consumer, so request latency overlaps.

- ``ordered=True``: the consumer sees task 0's pages, then task 1's, and so on, as a
  sequential read would. Child fan-outs need this: the SDK reads partitions one by one.
  The task the consumer is waiting on (the head, with nothing fetched) may always fetch, so
  the buffer filling up with later tasks' pages can slow the read but never deadlock it.
- ``ordered=False``: pages come as soon as they are fetched, earlier tasks first when several
  wait. Nothing waits behind a slow head; the consumer keeps its own account of what is done
  (see ``streams.windows.Frontier``).

Memory stays flat, bounded in bytes as well as pages: at most ``max_buffered`` pages are being
fetched or wait in the buffer (plus, when ordered, one of the head's), and, when ``size`` says
what a page weighs, what is really in memory stays within ``max_bytes``: the pages waiting,
the response bodies received, and each page being made (from its body to its finished lines,
counted at ``IN_FLIGHT_FACTOR`` times the largest page seen: the body, its decoded objects and
its lines are all alive at once). A fetch waiting on the network holds nothing yet and counts
for nothing: the budget need not be large for many requests to be in flight at a high
latency. A fetch's body, once received (``body_received``, which the client calls out of
its slot of requests in flight: a body waiting here keeps no other request off the wire, nor
the consumer's own), waits for room before its page is made. A page may always be made when
nothing else is made or waiting (and, ordered, the head's), so a page larger than the budget
slows the read but never stops it.

A new task starts whenever a worker is free and fewer than ``4 * max_workers`` tasks are
started but not yet consumed.
"""

from __future__ import annotations

import functools
import threading
import typing as t
from collections import deque

Page = t.TypeVar("Page")
Task = t.Callable[[], t.Iterator[Page]]

_DONE = object()
# The default byte budget of pages made or waiting to be written, and bodies received.
MAX_BYTES = 32 << 20
IN_FLIGHT_FACTOR = 3

# The worker thread's gate (``Prefetch._make``) for the page it fetches: ``body_received``
# calls it.
_worker = threading.local()


def body_received(body: int) -> None:
    """A response body of ``body`` bytes is in memory (the client calls this for each one):
    on a ``Prefetch`` worker, wait for room to make the page from it; elsewhere, nothing."""
    gate = getattr(_worker, "gate", None)
    if gate is not None:
        gate(body)


class Prefetch(t.Generic[Page]):
    """Run tasks on ``max_workers`` threads; iterate their pages."""

    def __init__(
        self,
        tasks: t.Iterable[Task[Page]],
        *,
        max_workers: int,
        max_buffered: int,
        ordered: bool = True,
        size: t.Callable[[Page], int] | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self._tasks = iter(tasks)
        self._max_workers = max(1, max_workers)
        self._max_buffered = max(1, max_buffered)
        self._ordered = ordered
        self._lookahead = 4 * self._max_workers
        # One lock, two conditions: the consumer waits for a page, workers for room. Each
        # side wakes only the other (workers one at a time): 32 workers are not all woken
        # for every page.
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # a page, an error or the end is ready
        self._roomy = threading.Condition(lock)  # room for another fetch, or closed
        self._gate = threading.Condition(lock)  # room to make a page received, or closed
        self._task_lock = threading.Lock()  # next(tasks) may send requests: one at a time
        self._running = 0
        # (page, its bytes) of each started task not yet consumed, in task order; ``_DONE``
        # ends a lane.
        self._lanes: dict[int, deque[t.Any]] = {}
        self._buffered = 0  # pages being fetched or waiting
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0  # of the pages waiting
        self._received = 0  # of the bodies received, waiting for room to be made into pages
        self._making = 0  # pages being made (from a body received to the page handed on)
        self._estimate = 0  # bytes a page being made is counted for
        self._submitted = 0
        self._exhausted = False
        self._closed = False
        self._error: BaseException | None = None

    def __iter__(self) -> t.Iterator[Page]:
        try:
            self._start_tasks()
            while True:
                page = self._next_page()
                if page is _DONE:
                    return
                yield t.cast("Page", page)
        finally:
            # Workers see this and stop; a request in flight is abandoned (daemon threads), so
            # a reader that stops early never keeps the process from exiting.
            with self._cond:
                self._closed = True
                self._roomy.notify_all()
                self._gate.notify_all()

    @property
    def _head(self) -> int | None:
        """The oldest task not yet consumed to its end."""
        return next(iter(self._lanes), None)

    # -- consumer side ---------------------------------------------------------------------

    def _next_page(self) -> object:
        while True:
            with self._cond:
                while True:
                    if self._error is not None:
                        raise self._error
                    index = self._ready_lane()
                    if index is not None:
                        break
                    if self._exhausted and not self._lanes:
                        return _DONE
                    if self._ordered:  # the head's worker may fetch whatever the room
                        self._roomy.notify_all()
                        self._gate.notify_all()
                    self._cond.wait()
                page = self._lanes[index].popleft()
                if page is not _DONE:
                    page, size = page
                    self._buffered -= 1
                    self._bytes -= size
                    self._roomy.notify()
                    self._gate.notify()
                    return page
                del self._lanes[index]  # the task is complete: its place goes to a new one
                self._roomy.notify_all()  # a new head
                self._gate.notify_all()
            self._start_tasks()

    def _ready_lane(self) -> int | None:
        if self._ordered:
            head = self._head
            return head if head is not None and self._lanes[head] else None
        return next((index for index, lane in self._lanes.items() if lane), None)

    def _start_tasks(self) -> None:
        """Start tasks while workers are free and the lookahead allows."""
        with self._task_lock:
            while True:
                with self._cond:
                    busy = self._running >= self._max_workers
                    ahead = len(self._lanes) >= self._lookahead
                    if self._closed or self._exhausted or busy or ahead:
                        return
                task = next(self._tasks, None)
                with self._cond:
                    if task is None:
                        self._exhausted = True
                        self._cond.notify()
                        return
                    index = self._submitted
                    self._submitted += 1
                    self._running += 1
                    self._lanes[index] = deque()
                threading.Thread(
                    target=self._run, args=(index, task), name="klaviyo-fetch", daemon=True
                ).start()

    # -- worker side -----------------------------------------------------------------------

    def _run(self, index: int, task: Task[Page]) -> None:
        making = [False]  # this worker's page: its body received and let in
        _worker.gate = functools.partial(self._make, index, making)
        try:
            pages = task()  # a task that fails as it starts ends the read too, never hangs it
            while self._reserve(index):
                try:
                    page = next(pages)  # the request happens here, inside a reserved slot
                except StopIteration:
                    self._release(making)
                    break
                size = self._size(page) if self._size else 0
                with self._cond:
                    self._done_making(making)
                    self._bytes += size
                    self._estimate = max(self._estimate, IN_FLIGHT_FACTOR * size)
                    self._lanes[index].append((page, size))
                    self._cond.notify()
                    self._roomy.notify()  # the page may weigh less than it did being made
                del page  # the consumer's now: not held while this worker waits and fetches
            with self._cond:
                self._lanes[index].append(_DONE)
                self._cond.notify()
        except BaseException as error:  # handed to the consumer, raised there
            with self._cond:
                self._done_making(making)
                self._error = self._error or error
                self._cond.notify()
        finally:
            _worker.gate = None
            with self._cond:
                self._running -= 1
        self._start_tasks()

    def _reserve(self, index: int) -> bool:
        """Wait for room for one more page; False once closed."""
        with self._cond:
            while not self._closed and not self._room():
                if self._ordered and index == self._head and not self._lanes[index]:
                    break  # the consumer waits on this very task: it must not wait too
                self._roomy.wait()
            self._buffered += 1
            if self._room():
                self._roomy.notify()  # room for more than this one: the next worker goes too
            return not self._closed

    def _make(self, index: int, making: list[bool], body: int) -> None:
        """The worker's body is received: wait for room to make its page (once per page: a
        retry's body does not count again)."""
        if making[0]:
            return
        with self._cond:
            self._received += body
            while not self._closed and not self._may_make(index, body):
                self._gate.wait()
            self._received -= body
            self._making += 1
            making[0] = True
            self._gate.notify()  # the next one waiting may fit too: it looks for itself

    def _may_make(self, index: int, body: int) -> bool:
        if self._ordered and index == self._head and not self._lanes[index]:
            return True  # the consumer waits on this very task
        others = self._received - body  # this body is counted in the page's estimate
        weight = self._bytes + others + (self._making + 1) * max(self._estimate, body)
        return weight <= self._max_bytes or (self._making == 0 and self._bytes == 0)

    def _done_making(self, making: list[bool]) -> None:
        """(Under the lock.) The worker's page is made, or will not be."""
        if making[0]:
            making[0] = False
            self._making -= 1
            self._gate.notify()  # room to make another page
            self._roomy.notify()  # or to fetch one

    def _room(self) -> bool:
        """Room for one more fetch: in pages, and in the bytes in memory now (a fetch may
        always run when nothing else is fetched or waiting)."""
        if self._buffered >= self._max_buffered:
            return False
        weight = self._bytes + self._received + self._making * self._estimate
        return weight <= self._max_bytes or self._buffered == 0

    def _release(self, making: list[bool]) -> None:
        with self._cond:
            self._done_making(making)
            self._buffered -= 1
            self._roomy.notify()
