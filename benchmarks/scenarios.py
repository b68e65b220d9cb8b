"""The issue's scenarios, each a function of the plan (sizes) returning its table rows.

1. CPU: events at latency 0 and no rate limits, output to /dev/null; profiles the same way
   (the second-largest stream, whose records are the largest).
2. Latency hidden: the same events at 250 ms latency and Klaviyo's tiers.
3. Profiles at the real tiers, with and without predictive analytics, in steady state.
4. A full default sync of a mid-size account (every stream), and the same account's core
   streams (those the baseline has).
5. The baseline (``benchmarks.baseline_tap``: SDK defaults) on the same core streams.
6. Deletes: the day after a first sync of profiles and list and segment members, a normal
   incremental run against a reconciliation run (the pass that finds what Klaviyo deleted).
7. Late events: a daily run's events under each design that catches events arriving up to 7
   days late (a 7-day trailing re-read; a second read of the day now 7 days old alone; a
   day's trailing re-read plus that second read, the tap's default), scaled down from 1M
   events a day.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import typing as t
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.baseline_tap import STREAM_NAMES as CORE_STREAMS
from benchmarks.floor import event_pages, floor_us_per_event
from benchmarks.harness import (
    SandboxOptions,
    SandboxProcess,
    TapRun,
    child_env,
    code_dir,
    discovered_catalog,
    log_dir,
    run_tap,
    select,
    stream_counts,
    write_json,
)
from benchmarks.report import FLOOR_RATIO_TARGET, Row
from tap_klaviyo import versions
from tap_klaviyo.config_schema import DEFAULTS
from tap_klaviyo.resources import EVENTS, PROFILES, L, M, Resource, Tier

# A mid-size account (the example); scenario 4/5 scale it by ``Plan.mid_scale``.
MID_SIZE = {
    "profiles": 200_000,
    "events": 2_000_000,
    "campaigns": 200,
    "flows": 50,
    "lists": 100,
    "segments": 20,
}
# Not scaled: an account has about this many metrics, templates and tags whatever its size.
MID_FIXED = {"metrics": 30, "templates": 50, "tags": 30}
BURST_PERIOD_MARGIN = 80  # seconds: one more minute window, and its burst, for scenario 3


@dataclass
class Plan:
    """Sizes of every scenario; ``FULL`` is ``make bench``, ``QUICK`` the smoke run."""

    name: str
    events_cpu: int  # scenario 1
    events_latency: int  # scenario 2
    profiles_cpu: int  # scenario 1's profiles row
    latency_ms: float = 250
    steady_warmup: float = 15  # scenario 3: seconds before the measured span
    steady_span: float = 120  # scenario 3: at least this long a steady state is measured
    mid_scale: float = 0.1  # scenario 4/5
    mid_fixed: dict[str, int] = field(default_factory=lambda: dict(MID_FIXED))
    max_workers: int = DEFAULTS["max_workers"]  # the tap's defaults unless told otherwise
    max_buffered_pages: int = DEFAULTS["max_buffered_pages"]
    speed_seconds: float = 10  # sandbox speed: seconds of paging per concurrency
    late_events_per_day: int = 10_000  # scenario 7 (1/100 of the 1M a day it extrapolates to)
    scenarios: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "sandbox")

    def tap_settings(self, **more: t.Any) -> dict[str, t.Any]:
        return {
            "max_workers": self.max_workers,
            "max_buffered_pages": self.max_buffered_pages,
            **more,
        }

    def mid_sizes(self) -> dict[str, int]:
        sizes = {name: max(1, round(value * self.mid_scale)) for name, value in MID_SIZE.items()}
        return {**sizes, **self.mid_fixed}


FULL = Plan(name="full", events_cpu=1_000_000, events_latency=1_000_000, profiles_cpu=100_000)
QUICK = Plan(
    name="quick",
    events_cpu=50_000,
    events_latency=50_000,
    profiles_cpu=5_000,
    steady_warmup=3,
    steady_span=10,
    mid_scale=0.005,
    mid_fixed={"metrics": 8, "templates": 10, "tags": 8},
    speed_seconds=2,
    late_events_per_day=1_000,
)


def per_second(tier: Tier, page_size: int) -> float:
    """The tier's steady ceiling in records per second."""
    return tier.steady * page_size / 60


def tap_argv(config: str, catalog: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "tap_klaviyo", "--config", config]
    return [*argv, "--catalog", catalog] if catalog else argv


def row_from(run: TapRun, scenario: str, stream: str, **fields: t.Any) -> Row:
    records = run.records
    row = Row(
        scenario=scenario,
        stream=stream,
        records=records,
        wall=run.wall,
        rate=records / run.wall if run.wall else None,
        cpu_us=run.cpu / records * 1e6 if records else None,
        rss_mb=run.max_rss_kib / 1024,
        throttled=run.throttled,
        requests=run.total_requests,
        per_stream=dict(run.metric_records),
        **fields,
    )
    if run.exit_code != 0 and not run.stopped:
        row.failed = True
        row.notes.append(f"FAILED (exit {run.exit_code}; log {run.stderr_path})")
    return row


def sandbox_note(run: TapRun) -> str:
    return f"sandbox CPU {run.sandbox_cpu:.0f} s ({run.sandbox_cpu / run.wall:.0%} of a core)"


# -- 1 and 2: events ---------------------------------------------------------------------------


def cpu_run(
    plan: Plan,
    scenario: str,
    resource: Resource,
    count: int,
    options: SandboxOptions,
    *,
    floor: bool = False,
    **settings: t.Any,
) -> Row:
    """One stream's run (``count`` records in the sandbox), stdout to /dev/null; with the
    orjson floor of its pages (events only) when ``floor``."""
    stream = resource.name
    options.sizes = {stream: count}
    slug = f"s{scenario.split(maxsplit=1)[0]}-{stream}" + (
        "-" + "-".join(settings) if settings else ""
    )
    with SandboxProcess(options, name=f"{slug}-sandbox") as sandbox:
        catalog = write_json(
            f"{stream}-catalog.json", select(discovered_catalog(sandbox), [stream])
        )
        config = write_json(
            f"{slug}-config.json", sandbox.tap_config(**plan.tap_settings(**settings))
        )
        run = run_tap(tap_argv(str(config), str(catalog)), name=f"{slug}-tap", sandbox=sandbox)
        expected = sandbox.summary()[stream]
        floor_us = floor_us_per_event(event_pages(sandbox.url)) if floor else None
    row = row_from(
        run, scenario, stream, ceiling=per_second(resource.tier, resource.page_size or 0)
    )
    row.notes.append(f"{count:,} {stream}, {options.describe()}, stdout to /dev/null")
    row.notes.append(sandbox_note(run))
    if floor_us and row.cpu_us:
        row.floor_us = floor_us
        row.notes.append(
            f"{row.cpu_us / floor_us:.2f}x the orjson parse-and-write floor "
            f"({floor_us:.1f} µs/event; target: within {FLOOR_RATIO_TARGET}x)"
        )
    if run.records != expected:
        row.notes.append(f"records differ from the sandbox's {expected:,}")
    return row


def scenario_1(plan: Plan) -> list[Row]:
    options = SandboxOptions(latency_ms=0, rate_limits=False)
    # What attributions (on by default) cost: the same run without ``include=attributions``.
    return [
        cpu_run(plan, "1 CPU", EVENTS, plan.events_cpu, options, floor=True),
        cpu_run(
            plan,
            "1 CPU, no attributions",
            EVENTS,
            plan.events_cpu,
            options,
            event_attributions=False,
        ),
        # Profiles (predictions on, the default): their CPU per record. Without the tap's
        # budget, which would pace them at their tier (the sandbox's limits are off here).
        cpu_run(
            plan, "1 CPU, profiles", PROFILES, plan.profiles_cpu, options, rate_limit_budget=False
        ),
    ]


def scenario_2(plan: Plan, first: Row | None) -> list[Row]:
    options = SandboxOptions(latency_ms=plan.latency_ms, rate_limits=True)
    row = cpu_run(plan, "2 latency", EVENTS, plan.events_latency, options)
    if first is not None and first.wall and row.wall and first.records == row.records:
        row.notes.insert(0, f"wall {row.wall / first.wall:.2f}x scenario 1")
    return [row]


# -- 3: profiles in steady state ---------------------------------------------------------------


def scenario_3(plan: Plan) -> list[Row]:
    rows = []
    for predictions, tier in ((True, M), (False, L)):
        ceiling = per_second(tier, 100)
        # At M the tap uses up each minute's window and waits: its output comes in bursts, and
        # the rate is taken over whole bursts, which needs about one more period of run.
        extra = BURST_PERIOD_MARGIN if tier is M and plan.steady_span >= 120 else 1
        stop_at = plan.steady_warmup + plan.steady_span + extra
        # Twice what the tier lets through in the run (the first minute's window included):
        # the tap never runs out of profiles.
        profiles = int((ceiling * stop_at + tier.steady * 100) * 2)
        options = SandboxOptions(
            sizes={"profiles": profiles}, latency_ms=plan.latency_ms, rate_limits=True
        )
        label = "with" if predictions else "without"
        with SandboxProcess(options, name=f"s3-{label}-sandbox") as sandbox:
            catalog = write_json(
                "profiles-catalog.json", select(discovered_catalog(sandbox), ["profiles"])
            )
            settings = plan.tap_settings(profile_predictive_analytics=predictions)
            config = write_json(f"s3-{label}-config.json", sandbox.tap_config(**settings))
            run = run_tap(
                tap_argv(str(config), str(catalog)),
                name=f"s3-{label}-tap",
                sandbox=sandbox,
                pipe_stdout=True,
                stop_after=stop_at,
            )
        ended = run.timeline[-1][0] if run.timeline else 0.0
        row = row_from(run, "3 steady", f"profiles, {label} predictions", ceiling=ceiling)
        row.rate, how = run.steady_rate(plan.steady_warmup, plan.steady_span)
        fixed = run.records_between(plan.steady_warmup, plan.steady_warmup + plan.steady_span)
        row.notes.append(
            f"tier {tier.name} ({tier.steady}/min x 100); records/s {how}, stopped at "
            f"{run.wall:.0f} s; {options.describe()}"
        )
        if "bursts" in how:
            row.notes.append(
                f"over the fixed span [{plan.steady_warmup:g} s, "
                f"{plan.steady_warmup + plan.steady_span:g} s]: {fixed / plan.steady_span:,.0f}/s"
            )
        if not run.stopped:
            row.notes.append(f"the run ended by itself at {ended:.0f} s (too few profiles?)")
        if plan.steady_span < 120:
            row.steady = False
            row.notes.append("span under 2 minutes: not a steady-state figure")
        rows.append(row)
    return rows


# -- 4 and 5: a full sync of a mid-size account, tap and baseline -------------------------------


def mid_options(plan: Plan) -> SandboxOptions:
    # Quirks off: the SDK-defaults baseline stops at the first mixed timestamp form (its sort
    # check compares text), and 4 and 5 must read the same account.
    return SandboxOptions(
        sizes=plan.mid_sizes(), latency_ms=plan.latency_ms, rate_limits=True, quirks=False
    )


def scale_note(plan: Plan) -> str:
    sizes = ", ".join(f"{value:,} {name}" for name, value in plan.mid_sizes().items())
    return f"scale {plan.mid_scale:g} of the mid-size account: {sizes}"


def scenario_4(plan: Plan) -> list[Row]:
    rows = []
    options = mid_options(plan)
    with SandboxProcess(options, name="s4-all-sandbox") as sandbox:
        config = write_json("s4-config.json", sandbox.tap_config(**plan.tap_settings()))
        run = run_tap(tap_argv(str(config)), name="s4-all-tap", sandbox=sandbox)
    row = row_from(run, "4 full sync", f"all {len(run.metric_records)} streams (tap)")
    row.notes += [scale_note(plan), options.describe(), "default settings (predictions on)"]
    row.notes.append(_slowest_streams(run))
    rows.append(row)
    rows.append(_slowest_alone(plan, options, run, row))
    with SandboxProcess(options, name="s4-core-sandbox") as sandbox:
        catalog = write_json("core-catalog.json", select(discovered_catalog(sandbox), CORE_STREAMS))
        config = write_json("s4-core-config.json", sandbox.tap_config(**plan.tap_settings()))
        run = run_tap(tap_argv(str(config), str(catalog)), name="s4-core-tap", sandbox=sandbox)
    row = row_from(run, "4 core", f"{len(CORE_STREAMS)} core streams (tap)")
    row.notes.append("the baseline's streams, same account")
    row.notes.append(_per_stream(run))
    rows.append(row)
    return rows


def scenario_5(plan: Plan, core: Row | None) -> list[Row]:
    options = mid_options(plan)
    with SandboxProcess(options, name="s5-sandbox") as sandbox:
        config = write_json("s5-config.json", sandbox.tap_config())
        argv = [sys.executable, "-m", "benchmarks.baseline_tap", "--config", str(config)]
        run = run_tap(argv, name="s5-baseline", sandbox=sandbox)
    row = row_from(run, "5 baseline", f"{len(CORE_STREAMS)} core streams (SDK defaults)")
    row.is_tap = False
    if core is not None and core.wall and row.wall and core.cpu_us and row.cpu_us:
        row.notes.insert(
            0,
            f"tap is {row.wall / core.wall:.1f}x faster (wall) and uses "
            f"{row.cpu_us / core.cpu_us:.1f}x less CPU per record than this",
        )
        theirs = core.per_stream
        differ = {
            name: (count, theirs.get(name))
            for name, count in run.metric_records.items()
            if theirs.get(name) != count
        }
        if differ:
            row.notes.append(f"records differ from the tap's (baseline, tap): {differ}")
    row.notes.append("plain writer, sequential, no budget, SDK backoff; same account as 4")
    row.notes.append(_per_stream(run))
    return [row]


def _slowest_alone(plan: Plan, options: SandboxOptions, full: TapRun, full_row: Row) -> Row:
    """The full sync's two slowest streams, each run alone on a fresh account: streams run
    at once, so the full sync should take little more than the slowest of them alone."""
    durations = stream_counts(full.stderr_path)[1]
    candidates = sorted(durations, key=lambda name: -durations[name])[:2]
    alone: dict[str, TapRun] = {}
    for name in candidates:
        with SandboxProcess(options, name=f"s4-{name}-sandbox") as sandbox:
            catalog = write_json(
                f"s4-{name}-catalog.json", select(discovered_catalog(sandbox), [name])
            )
            config = write_json(f"s4-{name}-config.json", sandbox.tap_config(**plan.tap_settings()))
            alone[name] = run_tap(
                tap_argv(str(config), str(catalog)), name=f"s4-{name}-tap", sandbox=sandbox
            )
    slowest = max(alone, key=lambda name: alone[name].wall)
    row = row_from(alone[slowest], "4 slowest alone", f"{slowest} (tap)")
    row.notes.append(
        "alone: " + ", ".join(f"{name} {run.wall:.0f} s" for name, run in alone.items())
    )
    if full_row.wall and row.wall:
        row.notes.insert(
            0,
            f"the full sync took {full_row.wall / row.wall:.2f}x the slowest stream alone "
            "(target: at most 1.2x)",
        )
    return row


def _per_stream(run: TapRun) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(run.metric_records.items()))


def _slowest_streams(run: TapRun) -> str:
    """The streams that took longest, from their end-of-stream lines."""
    durations = stream_counts(run.stderr_path)[1]
    slowest = sorted(durations.items(), key=lambda item: -item[1])[:4]
    return "slowest: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in slowest)


# -- 6: deletes, a reconciliation run against a normal incremental run --------------------------

RECONCILED_STREAMS = ("profiles", "list_members", "segment_members")


def scenario_6(plan: Plan) -> list[Row]:
    """The same account and state, the day after a first sync: a normal run, then the run
    past ``reconcile_every_days`` (the state's last pass made 8 days old)."""
    options = mid_options(plan)
    rows = []
    with SandboxProcess(options, name="s6-sandbox") as sandbox:
        catalog = write_json(
            "s6-catalog.json", select(discovered_catalog(sandbox), RECONCILED_STREAMS)
        )
        config = write_json("s6-config.json", sandbox.tap_config(**plan.tap_settings()))
        state = _first_sync(tap_argv(str(config), str(catalog)))
        changes = sandbox.admin("advance?seconds=86400", method="POST")
        deleted = len(changes["deleted"]["profiles"])
        removed = sum(len(ids) for ids in changes["removed"]["list-profiles"].values())
        runs: dict[str, tuple[TapRun, int, Counter[str]]] = {}
        for label, run_state in (("incremental", state), ("reconciliation", _aged(state))):
            sandbox.reset_limits()
            state_path = write_json(f"s6-{label}-state.json", run_state)
            bytes_before, routes_before = sandbox.body_bytes(), sandbox.route_counts()
            run = run_tap(
                [*tap_argv(str(config), str(catalog)), "--state", str(state_path)],
                name=f"s6-{label}-tap",
                sandbox=sandbox,
            )
            routes = sandbox.route_counts() - routes_before
            runs[label] = (run, sandbox.body_bytes() - bytes_before, routes)
    normal, normal_bytes, _ = runs["incremental"]
    for label, (run, body_bytes, routes) in runs.items():
        row = row_from(run, "6 deletes", f"{label} run: profiles + members")
        row.notes.append(f"{body_bytes / 1e6:,.1f} MB of responses")
        row.notes.append(
            "requests: "
            + ", ".join(f"{route} {count:,}" for route, count in sorted(routes.items()))
        )
        if label == "reconciliation" and normal.total_requests and normal.wall:
            row.notes.insert(
                0,
                f"{run.total_requests / normal.total_requests:.1f}x the requests, "
                f"{body_bytes / max(normal_bytes, 1):.1f}x the bytes, "
                f"{run.wall / normal.wall:.1f}x the wall of the incremental run",
            )
            row.notes.append("records count the full rows only (not the ids of the pass)")
        else:
            row.notes.append(
                f"the day after a first sync: {deleted:,} profiles deleted, {removed:,} list "
                f"members removed; {scale_note(plan)}; {options.describe()}"
            )
        row.notes.append(_per_stream(run))
        rows.append(row)
    return rows


def _first_sync(argv: list[str]) -> dict[str, t.Any]:
    """A sync to the end, not measured: its last STATE."""
    output = log_dir() / "s6-first.jsonl"
    with output.open("wb") as stdout, (log_dir() / "s6-first.stderr").open("wb") as stderr:
        subprocess.run(
            argv, stdout=stdout, stderr=stderr, check=True, cwd=code_dir(), env=child_env()
        )
    last = None
    with output.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"STATE"'):
                last = line
    assert last is not None, "the first sync wrote no STATE"
    return t.cast("dict[str, t.Any]", json.loads(last)["value"])


def _aged(state: dict[str, t.Any]) -> dict[str, t.Any]:
    """The state with every last reconciliation 8 days old: the next run reconciles."""
    aged = json.loads(json.dumps(state))
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
    for stream in RECONCILED_STREAMS:
        aged["bookmarks"][stream][versions.RECONCILED_AT] = when.isoformat()
    return aged


# -- 7: late events, the daily cost of each design -------------------------------------------

DAY_SECONDS = 86_400
EVENTS_A_DAY = 1_000_000  # the account the figures are extrapolated to
# Days the sandbox's base events span (each metric's from 730 days back, less its index).
EVENT_HISTORY_DAYS = 725
LATE_DESIGNS: tuple[tuple[str, dict[str, int]], ...] = (
    ("7-day trailing re-read", {"lookback_window": 7 * DAY_SECONDS, "late_events_days": 0}),
    ("second read alone (fails: a day late waits 7)", {"lookback_window": 0}),
    ("1-day re-read + second read (default)", {}),
)


def scenario_7(plan: Plan) -> list[Row]:
    """One daily run of events from the same state (bookmark a day old, the second read at 8
    days back) under each design, at latency 0 and no limits, and a run with nothing to read
    again (bookmark now: start-up, discovery of the range, the future-dated events) for the
    fixed cost. Extrapolated to 1M events a day: fixed cost + (run - fixed) x scale, since
    requests, bytes and CPU grow with the events read, which is what the designs differ in."""
    options = SandboxOptions(
        sizes={"events": plan.late_events_per_day * EVENT_HISTORY_DAYS},
        latency_ms=0,
        rate_limits=False,
    )
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    day = dt.timedelta(days=1)
    zulu = "%Y-%m-%dT%H:%M:%SZ"
    measured: list[tuple[str, TapRun, int]] = []
    with SandboxProcess(options, name="s7-sandbox") as sandbox:
        catalog = write_json("s7-catalog.json", select(discovered_catalog(sandbox), ["events"]))
        since, until = (now - 2 * day).strftime(zulu), (now - day).strftime(zulu)
        per_day = sandbox.admin(f"truth/events?since={since}&until={until}")["count"]
        for label, settings, bookmark in (
            ("fixed cost (nothing to read again)", {"lookback_window": 0}, now),
            *((label, settings, now - day) for label, settings in LATE_DESIGNS),
        ):
            events = {"replication_key": "datetime", "replication_key_value": bookmark.isoformat()}
            events["read_again_to"] = (bookmark - 7 * day).isoformat()
            state = write_json("s7-state.json", {"bookmarks": {"events": events}})
            config = write_json(
                "s7-config.json", sandbox.tap_config(**plan.tap_settings(**settings))
            )
            bytes_before = sandbox.body_bytes()
            run = run_tap(
                [*tap_argv(str(config), str(catalog)), "--state", str(state)],
                name=f"s7-{label.split(maxsplit=1)[0]}-tap",
                sandbox=sandbox,
            )
            measured.append((label, run, sandbox.body_bytes() - bytes_before))
    (_, fixed, fixed_bytes), *designs = measured
    scale = EVENTS_A_DAY / max(per_day, 1)
    rows = [row_from(fixed, "7 late events", f"events: {measured[0][0]}")]
    rows[0].notes.append(
        f"{fixed_bytes / 1e6:,.1f} MB; {per_day:,} events a day; {options.describe()}"
    )
    for label, run, body_bytes in designs:
        row = row_from(run, "7 late events", f"events: {label}")

        def scaled(value: float, base: float) -> float:
            return base + max(value - base, 0) * scale

        # Pages of 1,000 events, plus the windows' last pages (their number does not grow
        # with the events: at this scale most windows are one short page).
        page_size = EVENTS.page_size or 1000
        requests = run.total_requests + (run.records - fixed.records) * scale / page_size
        minutes = requests / EVENTS.tier.steady
        row.notes.append(
            f"{(run.records - fixed.records) / max(per_day, 1):.1f} days of events read again "
            f"or new; {body_bytes / 1e6:,.1f} MB of responses; at 1M events a day "
            f"(x{scale:,.0f}): {requests:,.0f} requests, "
            f"{scaled(body_bytes, fixed_bytes) / 1e9:,.1f} GB, "
            f"{scaled(run.cpu, fixed.cpu) / 60:,.1f} min of tap CPU, at least {minutes:,.1f} "
            f"min at the XL tier ({EVENTS.tier.steady:,}/min)"
        )
        rows.append(row)
    return rows
