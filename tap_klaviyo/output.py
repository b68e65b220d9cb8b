"""Singer output: orjson lines on stdout, buffered, with a fast path for RECORD messages.

singer-sdk's default writer encodes with simplejson and flushes after every message; a
Klaviyo events backfill writes millions of records, so records gather in a buffer written in
large blocks, and the messages a target must see at once (SCHEMA, STATE, ACTIVATE_VERSION)
flush it.
Every message is one whole line, written under a lock so threads never interleave. Streams
run at once on several threads: a STATE is serialized under that lock too, in one orjson call
(which no other thread can interrupt), so it is a consistent snapshot of the tap's state and
never follows a newer one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import sys
import threading
import time
import typing as t

import msgspec
import orjson
from singer_sdk.helpers.types import TapState
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, SingerMessageType

from tap_klaviyo.errors import OutputClosedError
from tap_klaviyo.sdk_compat import StateWriter

BLOCK = 1 << 16  # bytes gathered before one write to stdout

# A typed row's ``typed_pages.Stamp`` (a text msgspec does not take for one) as its text.
_encoder = msgspec.json.Encoder(enc_hook=str)


def _default(value: t.Any) -> t.Any:
    if isinstance(value, msgspec.Raw):  # a value kept as Klaviyo sent it (``typed_pages``)
        return orjson.Fragment(bytes(value))
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


class SingerOutput(GenericSingerWriter[bytes, Message]):
    """The tap's message writer (singer-sdk's ``message_writer_class`` extension point)."""

    def __init__(self) -> None:
        super().__init__()
        # Re-entrant: a SIGTERM handler writes the final STATE from the main thread, maybe
        # while that thread is inside write_line.
        self._lock = threading.RLock()
        self._pending = bytearray()
        self._writer: int | None = None  # the thread writing a block to stdout right now
        self._after_write: t.Callable[[], None] | None = None
        self._last_state = b""
        self._since_state = False  # a message written since the last STATE line
        self._closed = False
        self.broken = False  # stdout was closed by its reader (see ``_reader_gone``)
        # Called once when the reader goes: the tap stops its streams there.
        self.on_broken: t.Callable[[], None] = lambda: None

    def serialize_message(self, message: Message) -> bytes:
        return orjson.dumps(message.to_dict(), default=_default, option=orjson.OPT_APPEND_NEWLINE)

    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        with self._lock:
            if self._closed:
                self._raise_if_broken()
                return
            self._pending += line
            self._since_state = True
            if message.type != SingerMessageType.RECORD or len(self._pending) >= BLOCK:
                self._write_pending()

    def write_line(self, line: bytes | memoryview) -> None:
        """A RECORD line from ``record_line(s)`` (the hot path: no message object), possibly
        built on another thread."""
        with self._lock:
            if self._closed:
                self._raise_if_broken()
                return
            self._since_state = True
            if len(line) >= BLOCK and not self._pending:  # a page's block: written as it is
                self._write(line)
                return
            self._pending += line
            if len(self._pending) >= BLOCK:
                self._write_pending()

    def write_state(self, state: dict[str, t.Any]) -> None:
        """A STATE line of the tap's state as it is now, unless it repeats the last one.

        Serialized under the lock: other streams' threads change their parts of the state
        meanwhile, but not during one orjson call, and every record a bookmark covers was
        added to the output before that bookmark was set.
        """
        with self._lock:
            if not self._closed:
                self._add_state(state)
                self._write_pending()

    def _add_state(self, state: dict[str, t.Any], *, last: bool = False) -> None:
        """The STATE line, unless it repeats the one before; the last one also when only
        messages have come since (a stream ends on its STATE)."""
        line = orjson.dumps(
            {"type": "STATE", "value": state}, default=_default, option=orjson.OPT_APPEND_NEWLINE
        )
        if line != self._last_state or (last and self._since_state):
            self._last_state, self._since_state = line, False
            self._pending += line

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def close(self, final_state: dict[str, t.Any] | None = None) -> None:
        """Write what is pending, then ``final_state`` when given, then nothing more: a
        stream still running on another thread must not add a record (or half of one)
        behind the final STATE. One call under the lock, so none can slip in between."""
        with self._lock:
            if self._closed:
                return
            if final_state is not None:
                self._add_state(final_state, last=True)
            self._write_pending()
            self._closed = True

    def when_idle(self, callback: t.Callable[[], None]) -> None:
        """Run ``callback`` now, or as soon as this thread's write in progress returns.

        A signal handler runs between two bytecodes of the main thread, possibly in the middle
        of its own blocked write to a full pipe: writing the final STATE there would splice it
        into a half-written record. Another thread's write is waited for by the lock.
        """
        if self._writer == threading.get_ident():
            self._after_write = callback
        else:
            callback()

    def _write_pending(self) -> None:
        pending = bytes(self._pending)
        self._pending.clear()
        self._write(pending)

    def _write(self, data: bytes | memoryview) -> None:
        # First: a signal from here on must wait for this block.
        self._writer = threading.get_ident()
        block = memoryview(data)
        try:
            fd = _stdout_fd()
            if fd is None:  # stdout is not a file (captured in-process)
                sys.stdout.buffer.write(block)
                sys.stdout.buffer.flush()
            # os.write, not sys.stdout's buffer: a write cut short by a signal says how much
            # went out and the rest follows; no buffer of Python's holds a tail to lose.
            while fd is not None and block:
                block = block[os.write(fd, block) :]
        except BrokenPipeError:
            self._reader_gone()
        finally:
            self._writer = None
        if self._after_write is not None:
            callback, self._after_write = self._after_write, None
            callback()

    def _reader_gone(self) -> t.NoReturn:
        """The reader of stdout exited: nothing more can arrive, so nothing more is tried.
        stdout then points at /dev/null, so that Python's own flush at exit stays quiet."""
        first = not self.broken
        self._closed = self.broken = True
        self._pending.clear()
        with _suppress_os_errors():
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        if first:
            self.on_broken()
        raise OutputClosedError()

    def _raise_if_broken(self) -> None:
        if self.broken:
            raise OutputClosedError()


class StateLines(StateWriter):
    """singer-sdk's STATE writer, writing through ``SingerOutput.write_state``."""

    def __init__(self, output: SingerOutput) -> None:
        super().__init__(output)
        self._output = output

    def write_state(self, state: TapState) -> None:
        self._output.write_state(dict(state))


def record_line(
    stream: str, record: dict[str, t.Any], time_extracted: str, version: int | None = None
) -> bytes:
    """One RECORD message as a line of JSON, newline included; with the table ``version``
    it belongs to, when the run makes a complete version (see ``tap_klaviyo.versions``)."""
    message: dict[str, t.Any] = {
        "type": "RECORD",
        "stream": stream,
        "record": record,
        "time_extracted": time_extracted,
    }
    if version is not None:
        message["version"] = version
    return orjson.dumps(message, default=_default, option=orjson.OPT_APPEND_NEWLINE)


def record_lines(
    stream: str,
    records: t.Iterable[dict[str, t.Any]],
    time_extracted: str,
    version: int | None = None,
) -> list[memoryview]:
    """Many RECORD lines as views into one block of bytes: one allocation to hold and free
    rather than one per record."""
    lines = [record_line(stream, record, time_extracted, version) for record in records]
    block = memoryview(b"".join(lines))
    views, offset = [], 0
    for line in lines:
        views.append(block[offset : offset + len(line)])
        offset += len(line)
    return views


def rows_block(
    stream: str, records: t.Sequence[dict[str, t.Any]], time_extracted: str, version: int | None
) -> RecordBlock:
    """The RECORD lines of rows (dicts) as one block."""
    lines = b"".join(record_line(stream, record, time_extracted, version) for record in records)
    return RecordBlock(lines, len(records))


class RecordBlock:
    """Finished RECORD lines of ``count`` records, written to stdout in one piece."""

    __slots__ = ("count", "lines")

    def __init__(self, lines: bytes, count: int) -> None:
        self.lines = lines
        self.count = count


class RecordMessage(msgspec.Struct, gc=False):
    """A RECORD message around a typed row: the keys of ``record_line``'s, in its order."""

    type: str
    stream: str
    record: msgspec.Struct
    time_extracted: str
    version: int | msgspec.UnsetType = msgspec.UNSET


def record_block(
    stream: str, rows: t.Sequence[msgspec.Struct], time_extracted: str, version: int | None
) -> RecordBlock:
    """The RECORD lines of ``rows``: the same messages as ``output.record_line`` makes, all
    encoded in one call, straight into the block (no copy of it is made)."""
    tag = msgspec.UNSET if version is None else version
    messages = [RecordMessage("RECORD", stream, row, time_extracted, tag) for row in rows]
    return RecordBlock(_encoder.encode_lines(messages) if rows else b"", len(rows))


def lines_bytes(lines: t.Iterable[object] | None) -> int:
    """The bytes of finished RECORD lines (blocks or lines; rows not yet encoded weigh 0)."""
    return sum(
        len(item.lines) if isinstance(item, RecordBlock) else len(item)
        for item in lines or ()
        if isinstance(item, (RecordBlock, memoryview))
    )


def _suppress_os_errors() -> t.ContextManager[None]:
    return contextlib.suppress(OSError, ValueError, AttributeError)


def _stdout_fd() -> int | None:
    try:
        sys.stdout.flush()
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None


_now_second = 0
_now_text = ""


def utc_now_iso() -> str:
    """The extraction time of a record, formatted once per second rather than per record."""
    global _now_second, _now_text  # noqa: PLW0603 - a one-entry cache
    second = int(time.time())
    if second != _now_second:
        _now_second = second
        _now_text = dt.datetime.fromtimestamp(second, dt.timezone.utc).isoformat()
    return _now_text
