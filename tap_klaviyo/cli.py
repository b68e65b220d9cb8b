"""The ``tap-klaviyo`` command: singer-sdk's CLI, with user mistakes shown as one line.

A bad key, a missing scope, a config file that is not JSON: these are the user's to fix,
so they get one actionable line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import typing as t
from pathlib import Path

from tap_klaviyo.errors import InputFileError, OutputClosedError, TapKlaviyoError
from tap_klaviyo.resources import STREAM_NAMES
from tap_klaviyo.tap import TapKlaviyo

FILE_OPTIONS = ("--config", "--state", "--catalog")
# glibc's mallopt() parameter numbers
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
# Blocks at least this large get pages of their own, given back to the system when freed.
MMAP_THRESHOLD = 128 << 10


def use_one_malloc_arena() -> None:
    """Have every thread allocate from one heap, and large blocks outside it (glibc only;
    elsewhere nothing changes).

    glibc gives each allocating thread a heap ("arena") of its own, and each keeps its peak:
    eight fetch threads that each parsed a page would hold eight pages' worth of freed memory.
    The GIL runs one thread's Python at a time anyway, so one arena costs no speed.

    A page's body and its block of lines (about a megabyte each) would otherwise move into
    that heap after the first is freed (glibc raises its threshold to the largest block freed),
    where freed ones leave holes the next pages do not fit: the process's peak grows well past
    what it holds at any time (about 20 MB in make bench's scenario 1).
    """
    with contextlib.suppress(AttributeError, OSError, TypeError):  # not glibc / no libc
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 1)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def check_input_files(argv: list[str]) -> None:
    """Fail early, naming the file, when a --config/--state/--catalog file is not JSON."""
    for index, arg in enumerate(argv):
        option, _, value = arg.partition("=")
        if option not in FILE_OPTIONS:
            continue
        path = value or (argv[index + 1] if index + 1 < len(argv) else "")
        if not path or path == "ENV":
            continue
        try:
            parsed = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputFileError(f"The {option[2:]} file {path} does not exist.") from None
        except (OSError, UnicodeDecodeError) as error:
            raise InputFileError(f"The {option[2:]} file {path} cannot be read: {error}") from None
        except json.JSONDecodeError as error:
            raise InputFileError(
                f"The {option[2:]} file {path} is not valid JSON (line {error.lineno}, "
                f"column {error.colno}: {error.msg})."
            ) from None
        if not isinstance(parsed, dict):
            raise InputFileError(f"The {option[2:]} file {path} must hold a JSON object.")
        if option == "--catalog":
            check_catalog(path, parsed)


def check_catalog(path: str, catalog: dict[str, t.Any]) -> None:
    """A catalog must list streams; streams this tap does not have are named and ignored."""
    entries = catalog.get("streams")
    if not isinstance(entries, list) or not all(map(_is_catalog_entry, entries)):
        raise InputFileError(
            f"The catalog file {path} is not a Singer catalog (each stream needs a "
            "'tap_stream_id', a 'schema' object and 'metadata' entries with a 'breadcrumb'); "
            "regenerate it with --discover."
        )
    unknown = sorted({entry["tap_stream_id"] for entry in entries} - STREAM_NAMES)
    if unknown:
        print(
            f"tap-klaviyo: warning: the catalog names streams this tap does not have, "
            f"ignored: {', '.join(unknown)}",
            file=sys.stderr,
        )


def _is_catalog_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id"), str):
        return False
    metadata = entry.get("metadata", [])
    return isinstance(entry.get("schema", {}), dict) and (
        isinstance(metadata, list)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("breadcrumb"), list)
            and isinstance(item.get("metadata", {}), dict)
            for item in metadata
        )
    )


def main() -> None:
    use_one_malloc_arena()
    # What is imported lives as long as the process: out of the collector's way. Its full
    # collections, which a sync's many short-lived objects set off, otherwise walk every
    # module's objects each time (about a fifth of a profile's CPU).
    gc.freeze()
    try:
        check_input_files(sys.argv[1:])
        TapKlaviyo.cli()
    except TapKlaviyoError as error:
        print(f"tap-klaviyo: {error.label}: {error}", file=sys.stderr)
        if isinstance(error, OutputClosedError):
            # Nothing more can reach the target, and threads still reading (a page handed to
            # a stream that has stopped) would hold the interpreter's exit open: leave now.
            sys.stderr.flush()
            os._exit(error.exit_code)
        sys.exit(error.exit_code)
