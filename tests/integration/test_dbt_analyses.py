"""The dbt project (``transform/``) over a real load: a sandbox account, tap | target-postgres,
``dbt build``; the models equal what the sandbox's own truth says (revenue and conversions per
campaign and flow message, consent counts, segment growth per day, each person's stage and
churn decile, ordered products and their catalog items, sign-up forms). The same account read
under revision 2026-10-15 (its campaign tables alone) builds the same campaign models. Then the
next day's run: the sandbox's ``advance``, a second load, an incremental ``dbt build``, equal
to a ``--full-refresh`` run in other schemas.

dbt gets a virtualenv of its own from ``transform/requirements.txt``, cached across runs like
Meltano's (tests/integration/test_meltano.py) and keyed by the file's contents and Python's version.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import venv
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.data import _omnichannel as omnichannel
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.resources import REVISION_2026_10
from tests.conftest import POSTGRES_DSN, tap_config, target_config
from tests.integration.test_meltano import CACHE, run, succeeded
from tests.singer import run_tap, select_only
from tests.truth import data, expected_keys, local_days, segment_series

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
TRANSFORM = REPO / "transform"
TARGET = Path(sys.executable).parent / "target-postgres"
SIZES = Sizes(
    profiles=300, events=3000, lists=3, segments=3, campaigns=16, flows=4, templates=2, tags=2
)
# What the models read (flow_actions and lists: the parents of flow_messages and members).
STREAMS = {
    "accounts", "profiles", "events", "metrics", "campaigns", "campaign_messages", "flows",
    "flow_actions", "flow_messages", "campaign_values_reports", "flow_values_reports", "lists",
    "list_members", "segments", "segments_detailed", "segment_members", "segment_series_reports",
    "catalog_items", "forms", "form_versions", "form_values_reports", "form_series_reports",
}  # fmt: skip
# Under revision 2026-10-15, what the campaign models read, and those models.
CAMPAIGN_STREAMS = {
    "accounts", "events", "campaigns", "campaign_messages", "campaign_variations",
    "campaign_values_reports", "flows", "flow_actions", "flow_messages", "flow_values_reports",
}  # fmt: skip
CAMPAIGN_MODELS = ("+klaviyo__campaign_performance", "+klaviyo__flow_performance",
                   "+klaviyo__attributed_revenue_daily", "+campaign")  # fmt: skip
SERIES_DAYS = 10
CONVERSION = "Placed Order"
# The columns dbt_klaviyo reads from each table (its get_*_columns macros, pass-through
# columns aside), which the compatibility layer must have.
FIVETRAN_COLUMNS = {
    "event": {"_fivetran_deleted", "_fivetran_synced", "_variation", "campaign_id", "datetime",
              "flow_id", "flow_message_id", "id", "metric_id", "person_id", "timestamp", "type",
              "uuid", "property_value", "property_attribution"},
    "person": {"_fivetran_deleted", "_fivetran_synced", "address_1", "address_2", "city",
               "country", "created", "email", "first_name", "id", "last_name", "latitude",
               "longitude", "organization", "phone_number", "region", "timezone", "title",
               "updated", "zip", "last_event_date"},
    "campaign": {"_fivetran_deleted", "_fivetran_synced", "campaign_type", "created",
                 "email_template_id", "from_email", "from_name", "id", "name", "send_time",
                 "sent_at", "status", "status_id", "status_label", "subject", "updated",
                 "archived", "scheduled"},
    "flow": {"_fivetran_deleted", "_fivetran_synced", "created", "id", "name", "status",
             "updated", "archived", "trigger_type"},
    "metric": {"_fivetran_deleted", "_fivetran_synced", "created", "id", "integration_id",
               "integration_category", "integration_name", "name", "updated"},
}  # fmt: skip
FIVETRAN_TABLES = {"event": "events", "person": "profiles", "campaign": "campaigns",
                   "flow": "flows", "metric": "metrics"}  # fmt: skip


@pytest.fixture(scope="module")
def dbt() -> Path:
    """The ``dbt`` executable of the cached virtualenv, built (once) if missing."""
    requirements = TRANSFORM / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    root = CACHE / f"dbt-venv-{digest}-py{version}"
    executable, stamp = root / "bin" / "dbt", root / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs build it once
        if not (stamp.exists() and executable.exists()):
            venv.EnvBuilder(with_pip=True, clear=True).create(root)
            pip: list[str | Path] = [
                root / "bin" / "python",
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                requirements,
            ]
            succeeded(run(pip, cwd=CACHE, timeout=600, env=clean_env()))
            stamp.write_text(digest)
    return executable


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    return {**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1", **extra}


class Warehouse:
    """A test's schemas in the local PostgreSQL: the raw load, the models, the layer."""

    def __init__(self, postgres: Any, tmp: Path) -> None:
        pid = os.getpid()
        self.db, self.tmp = postgres, tmp
        # The runs: the daily load built incrementally and in full, and the same account
        # read under revision 2026-10-15 into a load of its own.
        self.raw = f"dbt_raw_{pid}"
        self.raws = {"incremental": self.raw, "full": self.raw,
                     REVISION_2026_10: f"dbt_raw_2026_10_{pid}"}  # fmt: skip
        self.models = {"incremental": f"dbt_models_{pid}", "full": f"dbt_full_{pid}",
                       REVISION_2026_10: f"dbt_models_2026_10_{pid}"}  # fmt: skip
        self.fivetran = {"incremental": f"dbt_fivetran_{pid}", "full": f"dbt_fivetran_full_{pid}",
                         REVISION_2026_10: f"dbt_fivetran_2026_10_{pid}"}  # fmt: skip

    @property
    def schemas(self) -> list[str]:
        return [*set(self.raws.values()), *self.models.values(), *self.fivetran.values()]

    def drop(self) -> None:
        for schema in self.schemas:
            self.db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def rows(self, query: str, *params: Any) -> list[tuple]:
        return self.db.execute(query, params).fetchall()

    def load(
        self, sandbox: Sandbox, catalog: dict, state: dict | None, number: int, *,
        run_as: str = "incremental", **settings: Any,
    ) -> dict:  # fmt: skip
        """tap | target-postgres into ``run_as``'s raw schema; the STATE the target confirmed."""
        config = tap_config(
            sandbox, report_timeframe_days=365, series_report_days=SERIES_DAYS, **settings
        )
        tap_run = run_tap(config, catalog=catalog, state=state)
        assert tap_run.returncode == 0, tap_run.stderr[-3000:]
        settings_file = self.tmp / f"target-{run_as}.json"
        settings_file.write_text(json.dumps(target_config(self.raws[run_as])))
        target = subprocess.run(
            [TARGET, "--config", settings_file],
            input=tap_run.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        (self.tmp / f"target-{number}.log").write_text(target.stderr)
        assert target.returncode == 0, target.stderr[-3000:]
        confirmed: dict = json.loads(target.stdout.strip().splitlines()[-1])
        return confirmed

    def dbt(self, dbt: Path, run_as: str, *args: str) -> None:
        """A dbt command (``build``: the models and their data tests, which pass) on the
        project, into the ``run_as`` schemas."""
        from psycopg.conninfo import conninfo_to_dict

        dsn = conninfo_to_dict(POSTGRES_DSN)
        env = clean_env(
            DBT_POSTGRES_HOST=str(dsn.get("host", "127.0.0.1")),
            DBT_POSTGRES_PORT=str(dsn.get("port", 5432)),
            DBT_POSTGRES_USER=str(dsn.get("user", "postgres")),
            DBT_POSTGRES_PASSWORD=str(dsn.get("password", "")),
            DBT_POSTGRES_DBNAME=str(dsn.get("dbname", "test")),
            DBT_POSTGRES_SCHEMA=self.models[run_as],
            KLAVIYO_RAW_SCHEMA=self.raws[run_as],
            KLAVIYO_FIVETRAN_SCHEMA=self.fivetran[run_as],
        )
        built = run(
            [dbt, *args, "--project-dir", TRANSFORM, "--profiles-dir",
             TRANSFORM / "profiles" / "postgres", "--target-path", self.tmp / "target",
             "--log-path", self.tmp / "logs", "--no-version-check"],
            cwd=TRANSFORM, timeout=600, env=env,
        )  # fmt: skip
        succeeded(built)

    def rows_written(self, model: str) -> int:
        """The rows the last build wrote into ``model`` (dbt's run_results.json)."""
        results = json.loads((self.tmp / "target" / "run_results.json").read_text())
        (written,) = (
            r["adapter_response"]["rows_affected"]
            for r in results["results"]
            if r["unique_id"] == f"model.klaviyo_analyses.{model}"
        )
        return int(written)

    def table(self, run_as: str, model: str, columns: str) -> list[tuple]:
        return self.rows(f'SELECT {columns} FROM "{self.models[run_as]}"."{model}"')


@pytest.fixture
def warehouse(postgres: Any, tmp_path: Path) -> Iterator[Warehouse]:
    assert TARGET.exists(), "target-postgres is not installed in the test environment"
    schemas = Warehouse(postgres, tmp_path)
    schemas.drop()
    try:
        yield schemas
    finally:
        schemas.drop()


# --- the sandbox's truth, computed apart from the models ------------------------------------


def synced_events(sandbox: Sandbox) -> Iterator[int]:
    """The events a sync holds: the seeded ones up to the account's creation (the
    future-dated come on later days) and those ``advance`` added."""
    account = data(sandbox)
    events = account.events
    for e in range(events.total):
        if e >= events.base or events.datetime_of(e) <= account.anchor:
            yield e


def attributed_truth(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    """(message id, local day) -> conversions and revenue Klaviyo credits to the message
    (an event's first attribution), for the live messages."""
    account = data(sandbox)
    live = expected_keys(sandbox, "campaign_messages") | expected_keys(sandbox, "flow_messages")
    zone = ZoneInfo(account.timezone)
    found: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"conversions": 0, "revenue": Decimal(0)}
    )
    for e in synced_events(sandbox):
        credits = account.attributions.credits(e)
        if not credits:
            continue
        message = credits[0].campaign_message or credits[0].flow_message
        if message is None or message not in live:
            continue
        day = dt.datetime.fromtimestamp(account.events.datetime_of(e), zone).date().isoformat()
        row = found[message, day]
        row["conversions"] += 1
        row["revenue"] += Decimal(str(account.events.value(e) or 0))
    return found


def per_message(daily: dict[tuple[str, str], dict[str, Any]]) -> dict[str, tuple[int, Decimal]]:
    totals: dict[str, tuple[int, Decimal]] = {}
    for (message, _), row in daily.items():
        conversions, revenue = totals.get(message, (0, Decimal(0)))
        totals[message] = (conversions + row["conversions"], revenue + row["revenue"])
    return totals


PROFILE_FIELDS = frozenset({"subscriptions", "predictive_analytics"})


def profile_truth(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """Each synced profile's attributes with consent and predictions, as Klaviyo builds them."""
    profiles = data(sandbox).profiles
    return {
        key: profiles.build(p, PROFILE_FIELDS)["attributes"]
        for key in expected_keys(sandbox, "profiles")
        if (p := profiles.index_of_id(key)) is not None
    }


def activity_truth(sandbox: Sandbox, as_of: dt.datetime) -> tuple[dict[str, int], Counter[str]]:
    """Each profile's last event by ``as_of`` (epoch seconds), and its orders by then
    (conversion-metric events)."""
    account = data(sandbox)
    last: dict[str, int] = {}
    orders: Counter[str] = Counter()
    for e in synced_events(sandbox):
        profile = account.profiles.id(account.events.profile_of(e))
        at = account.events.datetime_of(e)
        if at > utc(as_of).timestamp():
            continue
        last[profile] = max(at, last.get(profile, at))
        metric = account.events.metric_of(e)
        orders[profile] += metric is not None and metric.name == CONVERSION
    return last, orders


def epoch(text: str | None) -> int | None:
    return None if text is None else int(dt.datetime.fromisoformat(text).timestamp())


def utc(naive: dt.datetime) -> dt.datetime:
    """A timestamp as target-postgres stores it (UTC, without zone), with its zone."""
    return naive.replace(tzinfo=dt.timezone.utc)


def stage(last_activity: int, orders: int, as_of: dt.datetime) -> str:
    """The README's lifecycle stages: lapsed past 180 days, at risk past 90, else by orders."""
    now = utc(as_of).timestamp()
    if last_activity < now - 180 * 86400:
        return "lapsed"
    if last_activity < now - 90 * 86400:
        return "at_risk"
    return {0: "prospect", 1: "new_customer"}.get(orders, "repeat_customer")


def decile(probability: float | None) -> int | None:
    if probability is None:
        return None
    return min(10, max(1, int(Decimal(str(probability)) * 10) + 1))


# --- the checks -------------------------------------------------------------------------------


def check_attribution(sandbox: Sandbox, warehouse: Warehouse, run_as: str = "incremental") -> None:
    daily = attributed_truth(sandbox)
    assert daily, "the sandbox credits no conversion to a live message"
    expected = per_message(daily)
    found: dict[str, tuple[int, Decimal]] = {}
    for model, key in (("klaviyo__campaign_performance", "campaign_message_id"),
                       ("klaviyo__flow_performance", "flow_message_id")):  # fmt: skip
        for message, conversions, revenue in warehouse.table(
            run_as, model, f"{key}, attributed_conversions, attributed_revenue"
        ):
            if conversions:
                assert message not in found, f"{message}: credited on two channels"
                found[message] = (conversions, revenue)
    assert found == expected
    rows = warehouse.table(
        run_as, "klaviyo__attributed_revenue_daily",
        "message_id, day::text, conversions, revenue, currency, timezone",
    )  # fmt: skip
    assert {(m, d): (c, r) for m, d, c, r, _, _ in rows} == {
        key: (row["conversions"], row["revenue"]) for key, row in daily.items()
    }
    assert {(currency, zone) for *_, currency, zone in rows} == {("USD", data(sandbox).timezone)}


def check_consent(sandbox: Sandbox, warehouse: Warehouse, profiles: dict) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for attributes in profiles.values():
        for channel in ("email", "sms"):
            expected[channel, attributes["subscriptions"][channel]["marketing"]["consent"]] += 1
    rows = warehouse.table("incremental", "klaviyo__consent", "channel, consent, profiles")
    assert {(channel, consent): count for channel, consent, count in rows} == expected
    history = warehouse.table("incremental", "klaviyo__consent_daily", "channel, consent, profiles")
    assert sorted(history) == sorted(rows)


def check_segment_growth(sandbox: Sandbox, warehouse: Warehouse) -> None:
    rows = warehouse.table(
        "incremental", "klaviyo__segment_growth",
        "segment_id, day, members_added, members_removed, net_members_changed, total_members, "
        "profile_count",
    )  # fmt: skip
    # The series' days (a snapshot taken past local midnight may add a day of its own).
    series = [row for row in rows if row[5] is not None]
    last = max(row[1] for row in series)
    expected = segment_series(sandbox, local_days(last - dt.timedelta(SERIES_DAYS - 1), last))
    found = {
        (segment, day.isoformat()): {
            "members_added": added, "members_removed": removed,
            "net_members_changed": net, "total_members": total,
        }
        for segment, day, added, removed, net, total, _ in series
    }  # fmt: skip
    assert found == expected
    # The day's snapshot: the segment's members at the run.
    groups = data(sandbox).segment_groups
    counts = {segment: count for segment, *_, count in rows if count is not None}
    assert counts == {s: groups.count(groups.position[s]) for s, _ in expected}


def check_persons(sandbox: Sandbox, warehouse: Warehouse, profiles: dict) -> None:
    columns = ("profile_id", "lifecycle_stage", "churn_probability", "churn_decile", "orders",
               "email_consent", "lists_count", "segments_count", "as_of")  # fmt: skip
    rows = [
        dict(zip(columns, row, strict=True))
        for row in warehouse.table("incremental", "klaviyo__persons", ", ".join(columns))
    ]
    assert {row["profile_id"] for row in rows} == set(profiles)
    (as_of,) = {row["as_of"] for row in rows}
    last_event, orders = activity_truth(sandbox, as_of)
    account = data(sandbox)
    stages: Counter[str] = Counter()
    for row in rows:
        profile = row["profile_id"]
        attributes, p = profiles[profile], account.profiles.index_of_id(profile)
        assert p is not None
        moments = [m for m in (last_event.get(profile), epoch(attributes["last_event_date"])) if m]
        last_activity = max(moments) if moments else epoch(attributes["created"])
        assert last_activity is not None
        predicted = attributes["predictive_analytics"]["churn_probability"]
        expected = {
            "lifecycle_stage": stage(last_activity, orders[profile], as_of),
            "orders": orders[profile],
            "churn_probability": None if predicted is None else Decimal(str(predicted)),
            "churn_decile": decile(predicted),
            "email_consent": attributes["subscriptions"]["email"]["marketing"]["consent"],
            "lists_count": len(account.list_groups.memberships(p)),
            "segments_count": len(account.segment_groups.memberships(p)),
        }
        assert {name: row[name] for name in expected} == expected, profile
        stages[row["lifecycle_stage"]] += 1
    assert len(stages) >= 4, stages  # the account spans the stages


def check_fivetran_layer(warehouse: Warehouse) -> None:
    schema = warehouse.fivetran["incremental"]
    for table, columns in FIVETRAN_COLUMNS.items():
        found = {
            row[0]
            for row in warehouse.rows(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                schema, table,
            )
        }  # fmt: skip
        assert columns <= found, f"{table}: missing {sorted(columns - found)}"
        (count,) = warehouse.rows(f'SELECT count(*) FROM "{schema}"."{table}"')
        (raw,) = warehouse.rows(f'SELECT count(*) FROM "{warehouse.raw}".{FIVETRAN_TABLES[table]}')
        assert count == raw, table
    ((credited,),) = warehouse.rows(
        f'SELECT count(*) FROM "{schema}".event WHERE type IS NOT NULL AND campaign_id IS NOT NULL'
    )
    assert credited > 0


def check_readme_queries(warehouse: Warehouse) -> None:
    """The README's example queries, pointed at the test's models, each return rows."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What data you get", 1)[1].split("\n## ", 1)[0]
    # Those of the models; those over the raw tables run in test_postgres.
    blocks = [
        block
        for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL)
        if "klaviyo_analytics." in block
    ]
    assert len(blocks) >= 6
    for block in blocks:
        query = block.replace("klaviyo_analytics.", f'"{warehouse.models["incremental"]}".')
        assert warehouse.rows(query), block


def check_docs(dbt: Path, warehouse: Warehouse) -> None:
    """``dbt docs generate`` works, and every model of the analyses has a description (on
    the manifest the build just wrote: compiling again would find nothing new)."""
    warehouse.dbt(dbt, "incremental", "docs", "generate", "--no-compile")
    manifest = json.loads((warehouse.tmp / "target" / "manifest.json").read_text())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    assert len(models) >= 20
    for node in models:
        if node["name"].startswith("klaviyo__"):
            assert node["description"], node["name"]
    catalog = json.loads((warehouse.tmp / "target" / "catalog.json").read_text())
    assert {node["unique_id"] for node in models} <= set(catalog["nodes"])


def check_products(sandbox: Sandbox, warehouse: Warehouse) -> None:
    """Each ordered product's orders, units, revenue and customers (the conversion events'
    ``Items``), and its catalog item: the one whose external id is its ProductID or SKU."""
    account = data(sandbox)
    catalog = account.storefront.tables["catalog-items"]
    items = {
        catalog.by_id[key].attributes["external_id"]: key
        for key in expected_keys(sandbox, "catalog_items")
    }
    expected: dict[str, dict[str, Any]] = {}
    for e in synced_events(sandbox):
        metric = account.events.metric_of(e)
        if metric is None or metric.name != CONVERSION:
            continue
        profile = account.profiles.id(account.events.profile_of(e))
        for line in account.events.build(e)["attributes"]["event_properties"]["Items"]:
            product, sku = str(line["ProductID"]), line["SKU"]
            row = expected.setdefault(product, {
                "catalog_item_id": items.get(product, items.get(sku)),
                "orders": set(), "units": 0, "revenue": Decimal(0), "customers": set(),
            })  # fmt: skip
            row["orders"].add(e)
            row["units"] += line["Quantity"]
            row["revenue"] += Decimal(str(line["RowTotal"]))
            row["customers"].add(profile)
    columns = ("product_id", "catalog_item_id", "orders", "units", "revenue", "customers")
    found = {
        product: dict(zip(columns[1:], rest, strict=True))
        for product, *rest in warehouse.table(
            "incremental", "klaviyo__products", ", ".join(columns)
        )
    }
    assert found == {
        product: {**row, "orders": len(row["orders"]), "customers": len(row["customers"])}
        for product, row in expected.items()
    }
    matched = {row["catalog_item_id"] for row in found.values()} - {None}
    assert matched, "no ordered product is in the sandbox's catalog"


FORM_COUNTS = ("viewed_form", "viewed_form_uniques", "submits", "closed_form")


def form_truth(
    sandbox: Sandbox, days: list[dt.date]
) -> dict[tuple[str | None, str], dict[str, Any]]:
    """(form id, version id) -> its statistics summed over ``days``, with the submit rate."""
    store = data(sandbox).storefront
    live_forms = expected_keys(sandbox, "forms")
    found: dict[tuple[str | None, str], dict[str, Any]] = {}
    for version in store.form_versions():
        if version.parent not in live_forms:
            continue
        totals = {name: sum(store.form_day(version.id, day)[name] for day in days)
                  for name in FORM_COUNTS}  # fmt: skip
        uniques = totals["viewed_form_uniques"]
        found[version.parent, version.id] = {
            **totals,
            "submit_rate": totals["submits"] / uniques if uniques else 0.0,
        }
    return found


def check_forms(sandbox: Sandbox, warehouse: Warehouse) -> None:
    """The forms' values (the report's timeframe) and series (its days), per version."""
    columns = ("form_id", "form_version_id", "report_timeframe_start", "report_timeframe_end",
               *FORM_COUNTS, "submit_rate")  # fmt: skip
    rows = warehouse.table("incremental", "klaviyo__form_performance", ", ".join(columns))
    zone = ZoneInfo(data(sandbox).timezone)
    ((start, end),) = {(row[2], row[3]) for row in rows}
    first, last = (utc(moment).astimezone(zone).date() for moment in (start, end))
    expected = form_truth(sandbox, local_days(first, last - dt.timedelta(1)))
    assert_forms(rows, expected)

    daily = ("form_id", "form_version_id", "day", *FORM_COUNTS, "submit_rate")
    rows = warehouse.table("incremental", "klaviyo__form_performance_daily", ", ".join(daily))
    days = sorted({row[2] for row in rows})
    assert days == local_days(days[-1] - dt.timedelta(SERIES_DAYS - 1), days[-1])
    for day in days:
        assert_forms(
            [(form, version, *rest) for form, version, on, *rest in rows if on == day],
            form_truth(sandbox, [day]),
        )


def assert_forms(rows: list[tuple], expected: dict[tuple[str | None, str], dict[str, Any]]) -> None:
    """Each row (form, version, anything else, the counts and the submit rate) against the
    truth: counts equal, the rate within float rounding (Klaviyo's JSON number)."""
    found = {(row[0], row[1]): row[-len(FORM_COUNTS) - 1 :] for row in rows}
    assert found.keys() == expected.keys()
    for key, (*counts, rate) in found.items():
        assert counts == [expected[key][name] for name in FORM_COUNTS], key
        assert float(rate) == pytest.approx(expected[key]["submit_rate"], abs=1e-12), key


def check_revision_2026_10(dbt: Path, sandbox: Sandbox, warehouse: Warehouse) -> None:
    """The same account's campaign models' streams, read under revision 2026-10-15, build
    the same campaign models: the same attribution, the same rows (in that revision's status
    words), and one row more per extra channel of a multi-channel message, with nothing
    credited to it."""
    run_as = REVISION_2026_10
    discovered = run_tap(tap_config(sandbox, revision=run_as), "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = select_only(json.loads(discovered.stdout), CAMPAIGN_STREAMS)
    warehouse.load(sandbox, catalog, None, 2, run_as=run_as, revision=run_as)
    warehouse.dbt(dbt, run_as, "build", "--select", *CAMPAIGN_MODELS)
    check_attribution(sandbox, warehouse, run_as)

    view = omnichannel.View(data(sandbox).seed, data(sandbox).catalog)
    channels = set()  # each live message's channels in 2026-10-15, in 2026-07-15's words
    for message in expected_keys(sandbox, "campaign_messages"):
        for variation in view.tables[omnichannel.VARIATIONS].children(message):
            channel = variation.attributes["definition"]["details"]["channel"]
            channels.add((message, "mobile_push" if channel == "push" else channel))
    old, new = (campaign_rows(warehouse, name) for name in ("incremental", run_as))
    assert set(new) == channels
    assert set(old) < set(new), "no multi-channel message in the account"
    for key, row in new.items():
        if key not in old:
            assert row["recipients"] is None, key
            assert row["attributed_conversions"] == 0, key
            continue
        before = old[key]
        assert row.pop("campaign_status") == omnichannel.STATUSES.get(
            before.pop("campaign_status"), "cancelled"
        )
        assert row == before, key

    old_campaigns, new_campaigns = (
        fivetran_campaigns(warehouse, name) for name in ("incremental", run_as)
    )
    assert new_campaigns.keys() == old_campaigns.keys()
    for campaign, row in new_campaigns.items():
        before = old_campaigns[campaign]
        status = omnichannel.STATUSES.get(before.pop("status"), "cancelled")
        assert row.pop("status") == status, campaign
        assert row.pop("scheduled") is None  # 2026-10-15 does not say when
        before.pop("scheduled")
        assert row == before, campaign


def campaign_rows(warehouse: Warehouse, run_as: str) -> dict[tuple[str, str], dict[str, Any]]:
    """klaviyo__campaign_performance by (message, channel)."""
    rows = table_dicts(warehouse, warehouse.models[run_as], "klaviyo__campaign_performance")
    return {(row["campaign_message_id"], row["channel"]): row for row in rows}


def fivetran_campaigns(warehouse: Warehouse, run_as: str) -> dict[str, dict[str, Any]]:
    """The compatibility layer's campaigns by id, without the load's time."""
    rows = table_dicts(warehouse, warehouse.fivetran[run_as], "campaign")
    for row in rows:
        del row["_fivetran_synced"], row["status_label"]
    return {row["id"]: row for row in rows}


def table_dicts(warehouse: Warehouse, schema: str, table: str) -> list[dict[str, Any]]:
    """A table's rows as dicts, times to the second: the sandbox adds sub-second noise to
    2026-07-15's top-level timestamps (as Klaviyo's vary), not to those inside a JSON object."""
    cursor = warehouse.db.execute(f'SELECT * FROM "{schema}"."{table}"')
    names = [column.name for column in cursor.description]
    return [
        {
            name: value.replace(microsecond=0) if isinstance(value, dt.datetime) else value
            for name, value in zip(names, row, strict=True)
        }
        for row in cursor.fetchall()
    ]


def model_names(warehouse: Warehouse, run_as: str) -> list[str]:
    rows = warehouse.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        warehouse.models[run_as],
    )
    return sorted(row[0] for row in rows)


def differences(warehouse: Warehouse, model: str) -> int:
    one, other = (f'"{warehouse.models[run_as]}"."{model}"' for run_as in ("incremental", "full"))
    (count,) = warehouse.rows(
        f"SELECT count(*) FROM ((SELECT * FROM {one} EXCEPT ALL SELECT * FROM {other}) "
        f"UNION ALL (SELECT * FROM {other} EXCEPT ALL SELECT * FROM {one})) AS differing"
    )
    return int(count[0])


def test_models_equal_the_truth_and_a_full_refresh(dbt: Path, warehouse: Warehouse) -> None:
    with running_sandbox(seed=31, sizes=SIZES, rate_limits=False) as sandbox:
        discovered = run_tap(tap_config(sandbox), "--discover")
        assert discovered.returncode == 0, discovered.stderr[-2000:]
        catalog = select_only(json.loads(discovered.stdout), STREAMS)
        state = warehouse.load(sandbox, catalog, None, 0)
        warehouse.dbt(dbt, "incremental", "build")

        profiles = profile_truth(sandbox)
        check_attribution(sandbox, warehouse)
        check_consent(sandbox, warehouse, profiles)
        check_segment_growth(sandbox, warehouse)
        check_persons(sandbox, warehouse, profiles)
        check_products(sandbox, warehouse)
        check_forms(sandbox, warehouse)
        check_fivetran_layer(warehouse)
        check_readme_queries(warehouse)
        check_docs(dbt, warehouse)
        check_revision_2026_10(dbt, sandbox, warehouse)

        # The next day's run: new events and profiles, deleted campaigns and flows.
        changes = sandbox.account.advance(3600)
        assert changes["deleted"]["campaigns"], "the sandbox deleted no campaign"
        warehouse.load(sandbox, catalog, state, 1)
        warehouse.dbt(dbt, "incremental", "build")
        check_attribution(sandbox, warehouse)
        # Incremental: the events of the second load, not all of them again.
        ((events,),) = warehouse.rows(f'SELECT count(*) FROM "{warehouse.raw}".events')
        assert 0 < warehouse.rows_written("int_klaviyo__events") < events

        # The same models from scratch (their data tests ran on the incremental build).
        warehouse.dbt(dbt, "full", "run", "--full-refresh")
        models = model_names(warehouse, "incremental")
        assert models == model_names(warehouse, "full")
        assert {"int_klaviyo__events", "klaviyo__engagement_daily"} <= set(models)
        for model in models:
            assert differences(warehouse, model) == 0, model
