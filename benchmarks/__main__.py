"""``python -m benchmarks`` (``make bench``): run the scenarios, print one table, save it.

    python -m benchmarks                 # the full run (about 25-30 minutes on 2 cores)
    python -m benchmarks --quick         # a small smoke run (about 2 minutes)
    python -m benchmarks --only 1,2      # some scenarios: 1 2 3 4 5 6 7 sandbox
    python -m benchmarks --events 500000 --profiles 20000 --mid-scale 0.05 --span 180
    python -m benchmarks --snapshot      # measure the committed HEAD, immune to edits meanwhile

Each scenario prints its row when it ends; the whole table, the targets and the sandbox
speed go to stdout and to ``benchmarks/results.md`` (``results-quick.md`` for ``--quick``;
``--output`` to change).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import subprocess
import sys
import time
import typing as t
from pathlib import Path

from benchmarks import sandbox_speed, scenarios
from benchmarks.harness import git, log_dir, snapshot_head, use_code
from benchmarks.report import COLUMNS, Row, markdown, results_table, verdicts

DEFAULT_OUTPUT = Path(__file__).with_name("results.md")
QUICK_OUTPUT = Path(__file__).with_name("results-quick.md")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", help="comma-separated scenarios: 1,2,3,4,5,6,7,sandbox")
    parser.add_argument("--events", type=int, help="events of scenarios 1 and 2")
    parser.add_argument("--profiles", type=int, help="profiles of scenario 1")
    parser.add_argument("--span", type=float, help="scenario 3: seconds of steady state")
    parser.add_argument("--warmup", type=float, help="scenario 3: seconds before the span")
    parser.add_argument("--mid-scale", type=float, help="scenarios 4/5: share of mid-size")
    parser.add_argument("--latency-ms", type=float, help="latency of scenarios 2-5")
    parser.add_argument("--max-workers", type=int)
    parser.add_argument("--max-buffered-pages", type=int)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="measure the committed HEAD (git archive to a temporary directory), not the "
        "work tree: nothing committed or edited meanwhile changes a long run",
    )
    parser.add_argument("--output", type=Path, help=f"default: {DEFAULT_OUTPUT.name}")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> scenarios.Plan:
    plan = dataclasses.replace(scenarios.QUICK if args.quick else scenarios.FULL)
    overrides = {
        "events_cpu": args.events,
        "events_latency": args.events,
        "profiles_cpu": args.profiles,
        "steady_span": args.span,
        "steady_warmup": args.warmup,
        "mid_scale": args.mid_scale,
        "latency_ms": args.latency_ms,
        "max_workers": args.max_workers,
        "max_buffered_pages": args.max_buffered_pages,
    }
    plan = dataclasses.replace(plan, **{k: v for k, v in overrides.items() if v is not None})
    if args.only:
        plan.scenarios = tuple(part.strip() for part in args.only.split(","))
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    started = time.monotonic()
    if args.snapshot:
        directory, head = snapshot_head()
        use_code(directory)
        measured = f"commit {head} (snapshot in {directory})"
    else:
        measured = revision()
    print(f"tap-klaviyo benchmarks ({plan.name} run) of {measured}", flush=True)
    print(f"logs in {log_dir()}", flush=True)
    print(markdown(COLUMNS, []), flush=True)
    rows: list[Row] = []

    def emit(new: list[Row]) -> None:
        for row in new:
            rows.append(row)
            print("| " + " | ".join(row.cells()) + " |", flush=True)

    def first(prefix: str) -> Row | None:
        return next((row for row in rows if row.scenario.startswith(prefix)), None)

    # In this order: 2 and 5 compare with rows of 1 and 4.
    numbered: dict[str, t.Callable[[], list[Row]]] = {
        "1": lambda: scenarios.scenario_1(plan),
        "2": lambda: scenarios.scenario_2(plan, first("1 ")),
        "3": lambda: scenarios.scenario_3(plan),
        "4": lambda: scenarios.scenario_4(plan),
        "5": lambda: scenarios.scenario_5(plan, first("4 core")),
        "6": lambda: scenarios.scenario_6(plan),
        "7": lambda: scenarios.scenario_7(plan),
    }
    for number, scenario in numbered.items():
        if number in plan.scenarios:
            emit(scenario())
    speed = []
    if "sandbox" in plan.scenarios:
        speed = sandbox_speed.run(
            plan.speed_seconds, latency_ms=plan.latency_ms, clients=plan.max_workers
        )
    elapsed = time.monotonic() - started

    document = render(plan, rows, speed, elapsed=elapsed, argv=argv, measured=measured)
    print("\n" + document)
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    output.write_text(document + "\n", encoding="utf-8")
    print(f"written to {output}")
    return 1 if any(row.failed for row in rows) else 0


def render(
    plan: scenarios.Plan,
    rows: list[Row],
    speed: list[sandbox_speed.SpeedRow],
    *,
    elapsed: float,
    argv: list[str] | None,
    measured: str,
) -> str:
    command = " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)])
    parts = [
        "# tap-klaviyo benchmarks",
        "",
        f"`{command}` ({plan.name} run, {elapsed / 60:.1f} min) of {measured} on "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Tap settings: "
        f"max_workers {plan.max_workers}, max_buffered_pages {plan.max_buffered_pages}.",
        "",
        results_table(rows),
        "",
        "## Targets",
        "",
        *(verdict.line() for verdict in verdicts(rows)),
    ]
    if speed:
        parts += ["", "## Sandbox speed", "", sandbox_speed.speed_table(speed)]
    parts += [
        "",
        "## How to read it",
        "",
        "- records: RECORD messages the tap wrote (its end-of-stream lines; piped "
        "and counted line by line in scenario 3, which is stopped after a fixed time).",
        "- CPU µs/record: user + system CPU of the tap process (`os.wait4`), start-up "
        "included, divided by records. Peak RSS: the tap process's own high-water mark (`VmHWM`, "
        "sampled while it runs).",
        "- % of ceiling: records/s over the tier's steady ceiling in records/s (events XL "
        "3,500/min x 1,000 = 58,333/s; profiles M 150/min x 100 = 250/s with predictions, "
        "L 750/min x 100 = 1,250/s without).",
        "- Scenario 3's records/s is the steady state only. Where the tap uses up each "
        "minute's window and then waits (M), its output comes in bursts and the rate is taken "
        "over whole bursts (from one burst's start to a later one's, 2 minutes or more apart): "
        "a fixed span would weigh the bursts by their phase (the note gives it for comparison). "
        "Where the output is continuous (L), over the fixed span after the warm-up.",
        "- 429s and requests: what the sandbox answered during the run "
        "(`GET /__sandbox/requests`, before/after).",
        "- The sandbox runs in its own process (one core at most) on the same 2 cores as the "
        "tap; its own speed, at latency 0 and at scenario 2's latency, is in Sandbox speed. "
        "It sets the pace of scenarios 1 and 2, far below the API's ceiling. "
        "Scenarios 4 and 5 are scaled (see the notes) to keep `make bench` "
        "under 25 minutes; both run the same scaled account.",
    ]
    return "\n".join(parts)


def revision() -> str:
    """The commit measured (``+changes`` when the work tree differs from it)."""
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"commit {head}{'+changes' if dirty else ''}"


if __name__ == "__main__":
    sys.exit(main())
