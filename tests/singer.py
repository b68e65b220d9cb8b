"""Run the tap as its users do (a subprocess) and read its Singer output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable
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
    timeout: float = 300,
) -> TapRun:
    """Run ``python -m tap_klaviyo --config … [args]`` and parse what it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "tap_klaviyo", "--config", _write(tmp, "config", config)]
        if state is not None:
            argv += ["--state", _write(tmp, "state", state)]
        if catalog is not None:
            argv += ["--catalog", _write(tmp, "catalog", catalog)]
        argv += list(args)
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
