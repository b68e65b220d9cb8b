"""``make demo``: start the sandbox, sync every stream into ./output, print row counts.

Nothing here talks to the real Klaviyo: the sandbox is a local server with the demo key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import running_sandbox
from tap_klaviyo.resources import RESOURCES

OUTPUT = Path("output")


def write_outputs(stdout: bytes) -> tuple[Counter[str], dict]:
    """One JSON Lines file per stream; returns row counts and the final state."""
    OUTPUT.mkdir(exist_ok=True)
    counts: Counter[str] = Counter()
    state: dict = {}
    files = {}
    try:
        for line in stdout.splitlines():
            message = json.loads(line)
            if message["type"] == "RECORD":
                stream = message["stream"]
                if stream not in files:
                    files[stream] = (OUTPUT / f"{stream}.jsonl").open("w", encoding="utf-8")
                files[stream].write(json.dumps(message["record"]) + "\n")
                counts[stream] += 1
            elif message["type"] == "STATE":
                state = message["value"]
    finally:
        for handle in files.values():
            handle.close()
    return counts, state


def main() -> None:
    with running_sandbox(seed=1) as sandbox, tempfile.TemporaryDirectory() as tmp:
        print(f"Sandbox running at {sandbox.url} (demo key {DEMO_API_KEY})", file=sys.stderr)
        config = Path(tmp) / "config.json"
        config.write_text(
            json.dumps({"api_key": DEMO_API_KEY, "base_url": sandbox.url, "account_name": "demo"})
        )
        started = time.monotonic()
        tap = subprocess.run(
            [sys.executable, "-m", "tap_klaviyo", "--config", str(config)],
            stdout=subprocess.PIPE,
            check=False,
        )
        elapsed = time.monotonic() - started
        if tap.returncode != 0:
            sys.exit(f"The tap failed (exit {tap.returncode}); see the log above.")
        counts, state = write_outputs(tap.stdout)
        (OUTPUT / "state.json").write_text(json.dumps(state, indent=2))
        summary = sandbox.account.summary()

    print(f"\nSynced {sum(counts.values()):,} rows in {elapsed:.1f}s into {OUTPUT}/")
    print("(Klaviyo's real rate-limit tiers apply: most of that time is the XS and S tiers.)\n")
    print(f"  {'stream':<26}{'rows':>10}")
    for stream in sorted(resource.name for resource in RESOURCES):
        print(f"  {stream:<26}{counts[stream]:>10,}")
    print(f"\nSandbox account: {json.dumps(summary)}")
    print(f"Resume state: {OUTPUT / 'state.json'} (pass it with --state for the next run)")
    print("The analyses (dbt models) over such a load in PostgreSQL: make analyses")


if __name__ == "__main__":
    main()
