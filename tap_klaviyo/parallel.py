"""Streams read at once: a daily sync takes about as long as its slowest stream, not the sum.

Every Klaviyo endpoint has its own rate-limit budget, so streams on different endpoints never
slow each other down; streams on one endpoint share its budget, first come first served
(``tap_klaviyo.budget``). The client keeps at most ``max_workers`` requests on the wire, all
streams together.
Singer's rules hold with streams on several threads:

- every message is one whole line (``SingerOutput``'s lock);
- a stream's SCHEMA comes before its records (each stream's own thread writes both, in order);
- a STATE only covers what was emitted, for every stream: a bookmark moves only after its
  records are in the output, and a STATE is one snapshot taken under the output's lock.

When one stream fails, the others stop at their next record and the failure is raised on
the calling thread, where the tap hands the target its last safe STATE. When stdout is
closed (the target exited), no stream is to blame and nothing can be written: it is raised
at once, without waiting for the others (daemon threads, stopped with the process).
"""

from __future__ import annotations

import queue
import threading
import typing as t

from tap_klaviyo.errors import OutputClosedError
from tap_klaviyo.run import Cancelled

if t.TYPE_CHECKING:
    from singer_sdk import Stream

S = t.TypeVar("S", bound="Stream")


def run_at_once(
    streams: t.Sequence[S],
    *,
    cancelled: threading.Event,
    on_end: t.Callable[[S, BaseException | None], None],
) -> None:
    """Sync every one of ``streams`` at once, each on its own thread; ``on_end`` hears how
    each ended (None: completed)."""
    ended: queue.Queue[tuple[S, BaseException | None]] = queue.Queue()

    def sync(stream: S) -> None:
        error: BaseException | None = None
        try:
            stream.sync()
            stream.finalize_state_progress_markers()
        except BaseException as raised:  # handed to the calling thread
            error = raised
        ended.put((stream, error))

    for stream in streams:
        # Daemon threads: a stop on a signal never waits for a request in flight.
        threading.Thread(
            target=sync, args=(stream,), name=f"stream-{stream.name}", daemon=True
        ).start()
    first: BaseException | None = None
    for _ in streams:
        stream, error = ended.get()  # interruptible: SIGTERM is handled meanwhile
        on_end(stream, error)
        if isinstance(error, OutputClosedError):
            cancelled.set()
            raise error
        if error is None or isinstance(error, Cancelled):
            continue
        if first is None:  # the others stop at their next record; the summary names it
            first = error
            cancelled.set()
    if first is not None:
        raise first
