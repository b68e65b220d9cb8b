"""Singer output: orjson lines on stdout, buffered, with a fast path for RECORD messages.

singer-sdk's default writer encodes with simplejson and flushes after every message; a
Klaviyo events backfill writes millions of records, so records are buffered and only the
messages a target must see at once (SCHEMA, STATE, ACTIVATE_VERSION) flush the buffer.
Every message is one whole line, written under a lock so threads never interleave.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import threading
import typing as t

import orjson
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, SingerMessageType


def _default(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


class SingerOutput(GenericSingerWriter[bytes, Message]):
    """The tap's message writer (singer-sdk's ``message_writer_class`` extension point)."""

    def __init__(self) -> None:
        # Re-entrant: a SIGTERM handler writes the final STATE from the main thread, maybe
        # while that thread is inside write_record.
        self._lock = threading.RLock()

    def serialize_message(self, message: Message) -> bytes:
        return orjson.dumps(message.to_dict(), default=_default) + b"\n"

    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        with self._lock:
            out = sys.stdout.buffer
            out.write(line)
            if message.type != SingerMessageType.RECORD:
                out.flush()

    def write_record(self, stream: str, record: dict[str, t.Any], time_extracted: str) -> None:
        """A RECORD line without building a message object: the hot path."""
        line = orjson.dumps(
            {
                "type": "RECORD",
                "stream": stream,
                "record": record,
                "time_extracted": time_extracted,
            },
            default=_default,
        )
        with self._lock:
            sys.stdout.buffer.write(line + b"\n")

    def flush(self) -> None:
        with self._lock:
            sys.stdout.buffer.flush()


def utc_now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
