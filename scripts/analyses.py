"""``make analyses``: a sandbox account loaded into the local PostgreSQL by tap-klaviyo |
target-postgres, the dbt project (transform/) built over it, a few lines of each analysis.

Where it goes (environment, set by the Makefile's variables): PGHOST, PGPORT, PGUSER,
PGPASSWORD, ANALYSES_DATABASE (created if missing), KLAVIYO_RAW_SCHEMA, DBT_POSTGRES_SCHEMA
(the models), KLAVIYO_FIVETRAN_SCHEMA (the dbt_klaviyo compatibility layer). The three schemas
are dropped first: each run is a new account. Nothing here talks to the real Klaviyo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.scenarios import MID_FIXED, MID_SIZE
from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import running_sandbox

TRANSFORM = Path(__file__).resolve().parents[1] / "transform"
TARGET = Path(sys.executable).parent / "target-postgres"
# (title, query): a few lines of each analysis; {schema} is the models' schema.
SHOWN = (
    ("Lifecycle and churn (klaviyo__persons)",
     "SELECT lifecycle_stage, count(*) AS profiles, round(avg(churn_probability), 2) AS churn, "
     "round(avg(predicted_clv), 2) AS predicted_clv FROM {schema}.klaviyo__persons "
     "GROUP BY 1 ORDER BY 2 DESC"),
    ("Campaigns (klaviyo__campaign_performance)",
     "SELECT campaign_name, channel, recipients, open_rate, reported_conversion_value, "
     "attributed_conversions, attributed_revenue FROM {schema}.klaviyo__campaign_performance "
     "ORDER BY recipients DESC NULLS LAST LIMIT 5"),
    ("Flows (klaviyo__flow_performance)",
     "SELECT flow_name, message_name, channel, recipients, click_rate, attributed_revenue "
     "FROM {schema}.klaviyo__flow_performance ORDER BY attributed_revenue DESC LIMIT 5"),
    ("Attribution by day (klaviyo__attributed_revenue_daily)",
     "SELECT day, source_type, sum(conversions) AS conversions, sum(revenue) AS revenue, "
     "currency FROM {schema}.klaviyo__attributed_revenue_daily GROUP BY 1, 2, 5 "
     "ORDER BY 1 DESC, 2 LIMIT 6"),
    ("Consent (klaviyo__consent)",
     "SELECT channel, consent, profiles, can_receive_marketing, suppressed "
     "FROM {schema}.klaviyo__consent ORDER BY 1, 3 DESC"),
    ("Segment growth (klaviyo__segment_growth)",
     "SELECT segment_name, day, members_added, net_members_changed, total_members, "
     "profile_count FROM {schema}.klaviyo__segment_growth ORDER BY day DESC, 1 LIMIT 5"),
    ("Products (klaviyo__products)",
     "SELECT product_id, product_name, catalog_title, orders, units, revenue, currency "
     "FROM {schema}.klaviyo__products ORDER BY revenue DESC LIMIT 5"),
    ("Sign-up forms (klaviyo__form_performance)",
     "SELECT form_name, variation_name, viewed_form_uniques, submits, round(submit_rate, 3) "
     "AS submit_rate FROM {schema}.klaviyo__form_performance "
     "ORDER BY submit_rate DESC NULLS LAST LIMIT 5"),
    ("Engagement (klaviyo__engagement_daily)",
     "SELECT day, metric_name, events, unique_profiles FROM {schema}.klaviyo__engagement_daily "
     "WHERE day <= current_date ORDER BY day DESC, events DESC LIMIT 5"),
)  # fmt: skip


def sizes(scale: float | None) -> Sizes:
    """The demo's account, or the benchmarks' mid-size account scaled (0.1: 20,000 profiles,
    200,000 events)."""
    if scale is None:
        return Sizes()
    scaled = {name: max(1, round(value * scale)) for name, value in MID_SIZE.items()}
    return Sizes(**scaled, **MID_FIXED)


def connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dbname=database, autocommit=True)  # PG* variables say where


def prepare(database: str, schemas: list[str]) -> None:
    """The database (created if missing), without the schemas of an earlier run."""
    with connect("postgres") as server:
        if not server.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone():
            server.execute(f'CREATE DATABASE "{database}"')
    with connect(database) as db:
        for schema in schemas:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def load(url: str, database: str, schema: str, tmp: Path, revision: str) -> None:
    """tap-klaviyo | target-postgres, the live pipe."""
    (tmp / "tap.json").write_text(
        json.dumps({"api_key": DEMO_API_KEY, "base_url": url, "report_timeframe_days": 365,
                    "revision": revision})
    )  # fmt: skip
    (tmp / "target.json").write_text(
        json.dumps({
            "host": os.environ.get("PGHOST", "127.0.0.1"),
            "port": int(os.environ.get("PGPORT", "5432")),
            "user": os.environ.get("PGUSER", "postgres"),
            "password": os.environ.get("PGPASSWORD", ""),
            "database": database,
            "default_target_schema": schema,
        })
    )  # fmt: skip
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_klaviyo", "--config", tmp / "tap.json"],
        stdout=subprocess.PIPE,
        stderr=(tmp / "tap.log").open("w"),
    )
    target = subprocess.run(
        [TARGET, "--config", tmp / "target.json"],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "target.log").open("w"),
        check=False,
    )
    if tap.wait() != 0 or target.returncode != 0:
        log = (tmp / ("tap.log" if tap.returncode else "target.log")).read_text()
        sys.exit(f"The load failed:\n{log[-3000:]}")


def build(dbt: str, database: str) -> float:
    """``dbt build`` of transform/ (models and their data tests); its seconds."""
    env = {
        **os.environ,
        "DBT_POSTGRES_HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "DBT_POSTGRES_PORT": os.environ.get("PGPORT", "5432"),
        "DBT_POSTGRES_USER": os.environ.get("PGUSER", "postgres"),
        "DBT_POSTGRES_PASSWORD": os.environ.get("PGPASSWORD", ""),
        "DBT_POSTGRES_DBNAME": database,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    started = time.monotonic()
    built = subprocess.run(
        [dbt, "build", "--profiles-dir", "profiles/postgres", "--no-version-check", "--quiet"],
        cwd=TRANSFORM,
        env=env,
        check=False,
    )
    if built.returncode != 0:
        sys.exit(f"dbt build failed (exit {built.returncode}); see its output above.")
    return time.monotonic() - started


def show(database: str, schema: str) -> None:
    with connect(database) as db:
        for title, query in SHOWN:
            cursor = db.execute(query.format(schema=f'"{schema}"'))
            names = [column.name for column in cursor.description or ()]
            print(f"\n{title}\n  " + " | ".join(names))
            for row in cursor.fetchall():
                print("  " + " | ".join("" if value is None else str(value) for value in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbt", default=".venv-dbt/bin/dbt", help="the dbt executable")
    parser.add_argument("--scale", type=float, help="the mid-size account at this scale")
    parser.add_argument(
        "--revision", default="2026-07-15", help="the API revision the tap reads (or 2026-10-15)"
    )
    args = parser.parse_args()
    database = os.environ.get("ANALYSES_DATABASE", "klaviyo_demo")
    raw = os.environ.get("KLAVIYO_RAW_SCHEMA", "klaviyo")
    models = os.environ.get("DBT_POSTGRES_SCHEMA", "klaviyo_analytics")
    fivetran = os.environ.get("KLAVIYO_FIVETRAN_SCHEMA", "klaviyo_fivetran")
    dbt = str(Path(args.dbt).resolve())
    prepare(database, [raw, models, fivetran])
    account = sizes(args.scale)
    with (
        running_sandbox(seed=1, sizes=account, rate_limits=False) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        print(f"Loading a sandbox account ({account}) into {database}.{raw}...", flush=True)
        started = time.monotonic()
        load(sandbox.url, database, raw, Path(tmp), args.revision)
        print(f"Loaded in {time.monotonic() - started:.0f} s; dbt build...", flush=True)
    seconds = build(dbt, database)
    print(f"dbt build: {seconds:.1f} s (models in {database}.{models}, the dbt_klaviyo layer in "
          f"{database}.{fivetran})")  # fmt: skip
    show(database, models)


if __name__ == "__main__":
    main()
