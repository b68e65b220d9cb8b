"""Run the tap and read its Singer output: in this process (``run_tap``: the same ``main``
and the same bytes, without ~1 s of interpreter start), or as its users do, a subprocess
(``run_tap_cli``: where the command line, signals, packaging or secrets are under test)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_klaviyo.tap import TapKlaviyo


@dataclass
class TapRun:
    """What one ``tap-klaviyo`` process printed."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def ids(self, stream: str) -> set[str]:
        return {record["id"] for record in self.records[stream]}


def parse_messages(stdout: str, run: TapRun) -> None:
    for line in stdout.splitlines():
        message = json.loads(line)  # every line must be a whole Singer message
        if message["type"] == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif message["type"] == "SCHEMA":
            run.schemas[message["stream"]] = message["schema"]
        elif message["type"] == "STATE":
            run.states.append(message["value"])


def run_tap(
    config: dict[str, Any],
    *args: str,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run ``tap-klaviyo --config … [args]`` in this process and parse what it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = _arguments(tmp, config, state, catalog, args)
        with _as_a_process(argv, env or {}) as (stdout, stderr):
            returncode = _call_main()
        run = TapRun(returncode, stdout.getvalue().decode(), stderr.getvalue())
    if "--discover" not in args and "--about" not in args:
        parse_messages(run.stdout, run)
    return run


def run_tap_cli(
    config: dict[str, Any],
    *args: str,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run ``python -m tap_klaviyo --config … [args]`` as a subprocess and parse what it
    wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "tap_klaviyo", *_arguments(tmp, config, state, catalog, args)]
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    run = TapRun(completed.returncode, completed.stdout, completed.stderr)
    if "--discover" not in args and "--about" not in args:
        parse_messages(completed.stdout, run)
    return run


def _arguments(
    tmp: str,
    config: dict[str, Any],
    state: dict[str, Any] | None,
    catalog: dict[str, Any] | None,
    args: tuple[str, ...],
) -> list[str]:
    argv = ["--config", _write(tmp, "config", config)]
    if state is not None:
        argv += ["--state", _write(tmp, "state", state)]
    if catalog is not None:
        argv += ["--catalog", _write(tmp, "catalog", catalog)]
    return [*argv, *args]


@contextlib.contextmanager
def _as_a_process(argv: list[str], env: dict[str, str]) -> Iterator[tuple[io.BytesIO, io.StringIO]]:
    """What a process of its own would have: its arguments, environment, stdout, stderr,
    root logger and signal handlers; all put back afterwards (singer-sdk's CLI adds a
    stderr handler to the root logger on every call)."""
    root = logging.getLogger()
    saved_logging = root.handlers[:], root.level
    saved_signals = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    saved = sys.argv, sys.stdout, sys.stderr, dict(os.environ)
    stdout, stderr = io.BytesIO(), io.StringIO()
    sys.argv = ["tap-klaviyo", *argv]
    text = io.TextIOWrapper(stdout, encoding="utf-8", write_through=True)
    sys.stdout, sys.stderr = text, stderr
    os.environ.update(env)
    try:
        yield stdout, stderr
    finally:
        text.flush()
        text.detach()  # else collecting the wrapper would close the bytes the test reads
        sys.argv, sys.stdout, sys.stderr = saved[:3]
        os.environ.clear()
        os.environ.update(saved[3])
        root.handlers[:], _ = saved_logging
        root.setLevel(saved_logging[1])
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler)


def _call_main() -> int:
    """``tap-klaviyo``'s exit code; an unexpected exception prints its traceback on stderr
    and exits 1, as the interpreter would."""
    from tap_klaviyo.cli import main

    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


def start_tap(config: Path, catalog: Path) -> tuple[subprocess.Popen[bytes], Callable[[], str]]:
    """A tap process whose stdout the test reads as it comes, and a function that gives its
    stderr once it has ended (read on a thread, so a full stderr pipe never blocks the tap)."""
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_klaviyo", "--config", str(config), "--catalog", str(catalog)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(tap.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def stderr() -> str:
        reader.join(timeout=10)
        return b"".join(chunks).decode()

    return tap, stderr


def select_only(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """A copy of a discovered catalog with only ``streams`` selected."""
    catalog = json.loads(json.dumps(catalog))
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def _write(tmp: str, name: str, content: dict[str, Any]) -> str:
    path = Path(tmp) / f"{name}.json"
    path.write_text(json.dumps(content))
    return str(path)


def quiet_tap(config: dict[str, Any]) -> TapKlaviyo:
    """A tap object in this process, without keeping its SIGINT/SIGTERM handlers (which
    would print a STATE and exit pytest on Ctrl-C)."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return TapKlaviyo(config=config)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
