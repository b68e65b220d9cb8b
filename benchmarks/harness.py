"""Processes and measurements: a sandbox process, a tap subprocess, what they did.

The sandbox runs as its own process so that the tap's CPU time is the tap's alone; the tap
runs as a child of this process and is reaped with ``os.wait4``, which hands back its user
and system CPU time. Its peak RSS is its own high-water mark (``VmHWM`` in /proc), sampled
while it runs: a child's ``ru_maxrss`` also counts the memory of this process, which it was
forked from (a benchmark holding 200 MB of pages made every tap look 200 MB big).

Records are counted either from the stderr lines that end each stream (the tap's
``<stream>: done, N records in S s``; the baseline's SDK ``record_count`` METRIC lines),
stdout going to /dev/null, or by counting the RECORD lines of stdout through a pipe (when
the rate over time matters, or the run is stopped before the end).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from klaviyo_sandbox.app import DEMO_API_KEY

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')


_CACHE: dict[str, t.Any] = {}  # the run's log directory and discovered catalog


def use_code(directory: Path) -> None:
    """Measure the ``tap_klaviyo`` in ``directory`` (a snapshot) instead of the work tree."""
    _CACHE["code"] = directory
    found = subprocess.run(
        [sys.executable, "-c", "import tap_klaviyo; print(tap_klaviyo.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=directory,
        env=child_env(),
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(directory.resolve()):
        raise RuntimeError(f"the snapshot is not the tap_klaviyo imported ({found})")


def git(*args: str) -> str:
    """One git command in the repository; its standard output, stripped."""
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()


def snapshot_head() -> tuple[Path, str]:
    """``git archive HEAD`` into a temporary directory: the code measured cannot change
    under a long run, whatever happens in the work tree meanwhile."""
    head = git("rev-parse", "--short", "HEAD")
    target = Path(tempfile.mkdtemp(prefix=f"tap-klaviyo-{head}-"))
    archive = subprocess.run(["git", "archive", "HEAD"], capture_output=True, check=True, cwd=REPO)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    # The benchmarks themselves (this harness, the baseline) come from the work tree as they are.
    shutil.rmtree(target / "benchmarks", ignore_errors=True)
    shutil.copytree(
        REPO / "benchmarks",
        target / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "results.md"),
    )
    return target, head


def code_dir() -> Path:
    """Where the measured processes run from: the snapshot, or the work tree."""
    return t.cast("Path", _CACHE.get("code", REPO))


def child_env() -> dict[str, str]:
    """The environment of every process started here (a snapshot's tap and sandbox go first
    on the path)."""
    env = dict(os.environ)
    code = _CACHE.get("code")
    if code is not None:
        paths = [str(code), str(code / "sandbox"), env.get("PYTHONPATH")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def log_dir() -> Path:
    """One directory per benchmark run for the processes' stderr (kept for inspection)."""
    if "log_dir" not in _CACHE:
        _CACHE["log_dir"] = Path(tempfile.mkdtemp(prefix="tap-klaviyo-bench-"))
    return t.cast("Path", _CACHE["log_dir"])


# -- the sandbox -----------------------------------------------------------------------------


@dataclass
class SandboxOptions:
    sizes: dict[str, int] = field(default_factory=dict)
    latency_ms: float = 0
    rate_limits: bool = True
    quirks: bool = True
    seed: int = 1

    def argv(self) -> list[str]:
        argv = ["--port", "0", "--seed", str(self.seed), "--latency-ms", f"{self.latency_ms:g}"]
        argv += ["--rate-limits", "klaviyo" if self.rate_limits else "off"]
        argv += ["--quirks", "on" if self.quirks else "off"]
        for name, value in self.sizes.items():
            argv += [f"--{name}", str(value)]
        return argv

    def describe(self) -> str:
        limits = "klaviyo" if self.rate_limits else "off"
        quirks = "" if self.quirks else ", quirks off"
        return f"latency {self.latency_ms:g} ms, limits {limits}{quirks}"


class SandboxProcess:
    """``tap-klaviyo-sandbox`` in a process of its own; the first stdout line is its URL."""

    def __init__(self, options: SandboxOptions, name: str = "sandbox") -> None:
        self.options = options
        self.name = name
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SandboxProcess:
        # The module, not the console script: a snapshot's sandbox comes first on the path.
        command = [sys.executable, "-m", "klaviyo_sandbox.cli"]
        stderr = (log_dir() / f"{self.name}.stderr").open("wb")
        self.proc = subprocess.Popen(
            [*command, *self.options.argv()],
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=code_dir(),
            env=child_env(),
        )
        stderr.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the sandbox did not start (see {log_dir()}/{self.name}.stderr)")
        self.url = line
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the sandbox stops cleanly
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # -- admin endpoints -----------------------------------------------------------------

    def admin(self, path: str, method: str = "GET") -> t.Any:
        request = urllib.request.Request(f"{self.url}/__sandbox/{path}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def request_counts(self) -> Counter[int]:
        """API requests answered so far, by status."""
        counts: Counter[int] = Counter()
        for entry in self.admin("requests")["counts"]:
            counts[entry["status"]] += entry["count"]
        return counts

    def route_counts(self) -> Counter[str]:
        """API requests answered so far, by route."""
        counts: Counter[str] = Counter()
        for entry in self.admin("requests")["counts"]:
            counts[entry["route"]] += entry["count"]
        return counts

    def body_bytes(self) -> int:
        """Bytes of the response bodies the sandbox has answered so far."""
        return int(self.admin("requests")["bytes"])

    def summary(self) -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", self.admin("summary"))

    def reset_limits(self) -> None:
        self.admin("reset-limits", method="POST")

    def cpu_seconds(self) -> float:
        """User + system CPU the sandbox process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def tap_config(self, **settings: t.Any) -> dict[str, t.Any]:
        return {"api_key": DEMO_API_KEY, "base_url": self.url, **settings}


# -- a tap run -------------------------------------------------------------------------------


@dataclass
class TapRun:
    """What one tap process did."""

    wall: float
    user: float
    system: float
    max_rss_kib: int
    exit_code: int
    stopped: bool  # ended by us (SIGTERM) after a fixed time
    metric_records: dict[str, int]
    piped_records: int | None
    # (seconds since start, RECORD lines so far), one sample per chunk read from stdout
    timeline: list[tuple[float, int]]
    stderr_path: Path
    requests: Counter[int] = field(default_factory=Counter)
    sandbox_cpu: float = 0.0

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def records(self) -> int:
        if self.piped_records is not None:
            return self.piped_records
        return sum(self.metric_records.values())

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def throttled(self) -> int:
        return self.requests.get(429, 0)

    def records_between(self, start: float, end: float) -> int:
        return self.count_at(end) - self.count_at(start)

    def steady_rate(self, warmup: float, span: float, gap: float = 5.0) -> tuple[float, str]:
        """Records/s in steady state, and how it was measured.

        When a tier's minute window is used up, output comes in bursts (a burst, then a wait
        for the window): the rate is taken over whole periods, from the first burst starting
        after ``warmup`` to the first starting ``span`` or more later, so the phase of the
        bursts cannot bias it. Otherwise (steady output) over [warmup, warmup + span].
        """
        starts = [
            (now, before)
            for (then, before), (now, _) in zip(self.timeline, self.timeline[1:], strict=False)
            if now - then > gap and now >= warmup
        ]
        if starts:
            first_at, first_count = starts[0]
            later = [(at, count) for at, count in starts if at >= first_at + span]
            if later:
                last_at, last_count = later[0]
                rate = (last_count - first_count) / (last_at - first_at)
                return rate, (
                    f"over whole bursts: {last_at - first_at:.0f} s from the burst at "
                    f"{first_at:.0f} s to the one at {last_at:.0f} s"
                )
        ended = self.timeline[-1][0] if self.timeline else 0.0
        end = min(warmup + span, ended)
        rate = self.records_between(warmup, end) / max(end - warmup, 1e-9)
        return rate, f"over [{warmup:g} s, {end:.0f} s] of the run"

    def count_at(self, moment: float) -> int:
        count = 0
        for when, seen in self.timeline:
            if when > moment:
                break
            count = seen
        return count

    def stderr_tail(self, lines: int = 15) -> str:
        text = self.stderr_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def write_json(name: str, document: t.Any) -> Path:
    path = log_dir() / name
    path.write_text(json.dumps(document))
    return path


class PeakMemory:
    """A process's peak RSS in KiB (``VmHWM``), sampled from /proc until ``stop``: the last
    reading before it exits, at most ``EVERY`` seconds old (the mark only ever rises)."""

    EVERY = 0.2

    def __init__(self, pid: int) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self.kib = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            try:
                lines = self._status.read_text().splitlines()
            except OSError:  # exited (and reaped)
                return
            for line in lines:
                if line.startswith("VmHWM:"):
                    self.kib = max(self.kib, int(line.split()[1]))
            if self._stopped.wait(self.EVERY):
                return

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.kib


def run_tap(
    argv: list[str],
    *,
    name: str,
    sandbox: SandboxProcess,
    pipe_stdout: bool = False,
    stop_after: float | None = None,
) -> TapRun:
    """Run a tap to completion (or for ``stop_after`` seconds) and measure it."""
    stderr_path = log_dir() / f"{name}.stderr"
    before = sandbox.request_counts()
    sandbox_cpu = sandbox.cpu_seconds()
    timeline: list[tuple[float, int]] = []
    piped: list[int] = []
    with stderr_path.open("wb") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if pipe_stdout else subprocess.DEVNULL,
            stderr=stderr,
            cwd=code_dir(),
            env=child_env(),
        )
        peak = PeakMemory(proc.pid)
        reader = None
        if pipe_stdout:
            assert proc.stdout is not None
            reader = threading.Thread(
                target=_count_records, args=(proc.stdout, started, timeline, piped), daemon=True
            )
            reader.start()
        timer = None
        stopped = threading.Event()
        if stop_after is not None:

            def stop() -> None:
                stopped.set()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)

            timer = threading.Timer(stop_after, stop)
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        peak_kib = peak.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if timer is not None:
            timer.cancel()
        if reader is not None:
            reader.join()
    after = sandbox.request_counts()
    return TapRun(
        wall=wall,
        user=usage.ru_utime,
        system=usage.ru_stime,
        max_rss_kib=peak_kib or usage.ru_maxrss,
        exit_code=proc.returncode,
        stopped=stopped.is_set(),
        metric_records=stream_counts(stderr_path)[0],
        piped_records=piped[0] if piped else None,
        timeline=timeline,
        stderr_path=stderr_path,
        requests=after - before,
        sandbox_cpu=sandbox.cpu_seconds() - sandbox_cpu,
    )


def _count_records(
    stream: t.IO[bytes], started: float, timeline: list[tuple[float, int]], result: list[int]
) -> None:
    """Count RECORD lines cheaply: whole lines only, prefix match, no JSON parsing."""
    count = 0
    rest = b""
    read = stream.read1 if hasattr(stream, "read1") else stream.read
    while chunk := read(1 << 20):
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        lines, rest = data[:cut], data[cut:]
        if lines:
            framed = b"\n" + lines
            count += sum(framed.count(b"\n" + prefix) for prefix in RECORD_PREFIXES)
            timeline.append((time.monotonic() - started, count))
    if rest.startswith(RECORD_PREFIXES):
        count += 1
    timeline.append((time.monotonic() - started, count))
    result.append(count)


# The tap's last line of each stream: "events: done, 10,000 records in 3.1 s".
STREAM_DONE = re.compile(rb"\| (\w+): done, ([\d,]+) records? in ([\d.]+) s")


def stream_counts(stderr_path: Path) -> tuple[dict[str, int], dict[str, float]]:
    """Records and seconds per stream: from the tap's end-of-stream lines, or from the SDK's
    ``record_count`` and ``sync_duration`` METRIC lines (the baseline's; they add up)."""
    counts: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    with stderr_path.open("rb") as lines:
        for line in lines:
            if done := STREAM_DONE.search(line):
                stream = done.group(1).decode()
                counts[stream] += int(done.group(2).replace(b",", b""))
                seconds[stream] += float(done.group(3))
            elif (marker := line.find(b"METRIC: ")) >= 0:
                try:
                    metric = json.loads(line[marker + 8 :])
                except ValueError:
                    continue
                stream = metric.get("tags", {}).get("stream")
                if metric.get("metric") == "record_count" and stream:
                    counts[stream] += int(metric["value"])
                elif metric.get("metric") == "sync_duration" and stream:
                    seconds[stream] += float(metric["value"])
    return dict(counts), dict(seconds)


# -- catalogs --------------------------------------------------------------------------------


def discovered_catalog(sandbox: SandboxProcess) -> dict[str, t.Any]:
    """The tap's catalog (``--discover``), once per benchmark run."""
    if "catalog" not in _CACHE:
        config = write_json("discover-config.json", sandbox.tap_config())
        output = subprocess.run(
            [sys.executable, "-m", "tap_klaviyo", "--config", str(config), "--discover"],
            capture_output=True,
            check=True,
            cwd=code_dir(),
            env=child_env(),
        )
        _CACHE["catalog"] = json.loads(output.stdout)
    return t.cast("dict[str, t.Any]", _CACHE["catalog"])


def select(catalog: dict[str, t.Any], streams: t.Collection[str]) -> dict[str, t.Any]:
    """A copy of the catalog with exactly ``streams`` selected (root breadcrumb)."""
    chosen = json.loads(json.dumps(catalog))
    found = set()
    for stream in chosen["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
                found.add(stream["tap_stream_id"])
    missing = set(streams) - found
    if missing:
        raise ValueError(f"not in the catalog: {sorted(missing)}")
    return chosen
