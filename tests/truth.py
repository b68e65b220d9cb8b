"""The sandbox's ground truth for each stream, in the tap's terms (stream name, row keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from klaviyo_sandbox.data import Account
from klaviyo_sandbox.server import Sandbox
from tap_klaviyo.resources import RESOURCES


def data(sandbox: Sandbox) -> Account:
    """The sandbox's data layer (its ``Account``), where a test reads the ground truth."""
    account = sandbox.account
    assert isinstance(account, Account)
    return account


SUPPRESSION = "subscriptions.email.marketing.suppression.timestamp"
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)

# Stream -> the sandbox collection its rows are.
PLAIN = {
    "profiles": "profiles",
    "lists": "lists",
    "segments": "segments",
    "campaigns": "campaigns",
    "campaigns_detailed": "campaigns",
    "flows": "flows",
    "metrics": "metrics",
    "events": "events",
    "templates": "templates",
    "tags": "tags",
    "accounts": "accounts",
    "forms": "forms",
    "coupons": "coupons",
    "coupon_codes": "coupon-codes",  # every code is one coupon's
    "catalog_items": "catalog-items",
    "catalog_variants": "catalog-variants",
    "catalog_categories": "catalog-categories",
    "reviews": "reviews",
    "push_tokens": "push-tokens",
    "tag_groups": "tag-groups",
    "custom_object_types": "object-types",
}
# Streams of one row per parent, read by the parent's own request: a parent deleted between
# its listing and that request (a quirk of real accounts) has none.
DETAILED = {"lists_detailed": "lists", "segments_detailed": "segments"}
# Stream -> (parent collection, child collection).
CHILDREN = {
    "campaign_messages": ("campaigns", "campaign-messages"),
    "flow_actions": ("flows", "flow-actions"),
    "form_versions": ("forms", "form-versions"),
    "custom_object_records": ("object-types", "object-records"),
}


# Report streams (POSTs): their rows are numbers per grouping, checked apart, not by key.
REPORT_STREAMS = frozenset(r.name for r in RESOURCES if r.method == "POST")
# Every stream whose rows the truth names one by one.
KEYED_STREAMS = sorted(
    [*PLAIN, *DETAILED, *CHILDREN, "flow_messages", "list_members", "segment_members",
     "global_exclusions"]
)  # fmt: skip


def ids(sandbox: Sandbox, collection: str, **query: Any) -> set[str]:
    return set(sandbox.account.truth(collection, **query)["ids"])


def vanished(sandbox: Sandbox, collection: str) -> set[str]:
    """Parents listed, then deleted before their own request (none with quirks off)."""
    return set(getattr(sandbox.account, "vanished", {}).get(collection, ()))


def child_ids(sandbox: Sandbox, parent: str, child: str) -> set[str]:
    return {i for p in ids(sandbox, parent) for i in ids(sandbox, child, parent_id=p)}


def memberships(sandbox: Sandbox, group: str) -> set[tuple[str, str]]:
    collection = "list-profiles" if group == "lists" else "segment-profiles"
    return {(g, p) for g in ids(sandbox, group) for p in ids(sandbox, collection, parent_id=g)}


def expected_keys(sandbox: Sandbox, stream: str) -> set[Any]:
    """Every key the stream must emit in a full sync of the sandbox's current state."""
    if stream in PLAIN:
        return ids(sandbox, PLAIN[stream])
    if stream in DETAILED:
        return ids(sandbox, DETAILED[stream]) - vanished(sandbox, DETAILED[stream])
    if stream in CHILDREN:
        return child_ids(sandbox, *CHILDREN[stream])
    if stream == "flow_messages":
        actions = child_ids(sandbox, "flows", "flow-actions") - vanished(sandbox, "flow-actions")
        return {m for a in actions for m in ids(sandbox, "flow-messages", parent_id=a)}
    if stream == "list_members":
        return memberships(sandbox, "lists")
    if stream == "segment_members":
        return memberships(sandbox, "segments")
    if stream == "global_exclusions":
        return ids(sandbox, "profiles", field=SUPPRESSION, since=EPOCH)
    raise KeyError(stream)


def was_deleted(sandbox: Sandbox, stream: str, key: Any) -> bool:
    """Whether the sandbox's clock (its ``advance``) deleted the row ``key`` of ``stream``:
    a warehouse may still hold it (marked deleted after a complete read)."""
    account = data(sandbox)
    if stream in PLAIN:
        return key in account.deleted.get(PLAIN[stream], ())
    if stream in ("list_members", "segment_members"):
        groups, collection = (
            ("lists", "list-profiles") if stream == "list_members" else
            ("segments", "segment-profiles")
        )  # fmt: skip
        group, profile = key
        return (
            key in account.removed[collection]
            or group in account.deleted[groups]
            or profile in account.deleted["profiles"]
        )
    return False


def emitted_keys(stream: str, records: list[dict[str, Any]]) -> set[Any]:
    if stream == "list_members":
        return {(r["list_id"], r["profile_id"]) for r in records}
    if stream == "segment_members":
        return {(r["segment_id"], r["profile_id"]) for r in records}
    if stream == "global_exclusions":
        return {r["profile_id"] for r in records}
    return {r["id"] for r in records}


def assert_none_lost(sandbox: Sandbox, streams: set[str], runs: list[Any], *, across: str) -> None:
    """Every expected key of ``streams`` was emitted by one of ``runs`` (TapRuns)."""
    for stream in sorted(streams):
        keys = emitted_keys(stream, [record for run in runs for record in run.records[stream]])
        missing = expected_keys(sandbox, stream) - keys
        assert not missing, f"{stream}: {len(missing)} records lost across {across}"


def local_days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def flow_series(
    sandbox: Sandbox, metric_id: str, days: list[dt.date]
) -> dict[tuple[str, str], dict[str, float]]:
    """(flow message id, local day) -> that day's statistics, for every live flow message."""
    reports = data(sandbox).reports
    return {
        (message.dimensions["flow_message_id"], day.isoformat()): reports.flow_day(
            message.dimensions["flow_message_id"], day, metric_id
        )
        for message in reports.flow_messages()
        for day in days
    }


def segment_series(sandbox: Sandbox, days: list[dt.date]) -> dict[tuple[str, str], dict[str, int]]:
    """(segment id, local day) -> that day's membership statistics, for every segment."""
    account = data(sandbox)
    return {
        (segment_id, day.isoformat()): account.reports.segment_day(segment_id, day)
        for segment_id in account.segment_groups.ids
        if segment_id not in account.vanished["segments"]
        for day in days
    }
