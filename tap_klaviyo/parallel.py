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
the calling thread, where the tap hands the target its last safe STATE.
"""

from __future__ import annotations

import logging
import queue
import threading
import typing as t

from tap_klaviyo.streams.base import Cancelled

if t.TYPE_CHECKING:
    from singer_sdk import Stream


def run_at_once(
    streams: t.Sequence[Stream],
    *,
    cancelled: threading.Event,
    logger: logging.Logger,
) -> None:
    """Sync every one of ``streams`` at once, each on its own thread."""
    ended: queue.Queue[tuple[Stream, BaseException | None]] = queue.Queue()

    def sync(stream: Stream) -> None:
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
        if error is None or isinstance(error, Cancelled):
            continue
        if first is None:
            first = error
            cancelled.set()
            if len(streams) > 1:
                logger.info("Stream '%s' failed; stopping the other streams.", stream.name)
    if first is not None:
        raise first
