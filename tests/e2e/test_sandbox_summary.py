"""The sandbox's ``/__sandbox/summary`` counts what its ground truth lists, before and after
an hour of activity with its deletes (profiles leave their lists, a list goes with its
members)."""

from __future__ import annotations

import json
import urllib.request

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tests.truth import ids, memberships

SIZES = Sizes(profiles=400, events=200, lists=6, segments=5, campaigns=8, flows=5, tags=5)
COLLECTIONS = (
    "lists", "segments", "campaigns", "campaign-messages", "flows", "flow-actions",
    "flow-messages", "metrics", "templates", "tags",
)  # fmt: skip


def summary(sandbox: Sandbox) -> dict:
    with urllib.request.urlopen(f"{sandbox.url}/__sandbox/summary") as answer:
        return json.loads(answer.read())


def truth_counts(sandbox: Sandbox) -> dict[str, int]:
    counts = {name: len(ids(sandbox, name)) for name in ("profiles", *COLLECTIONS)}
    counts["list-profiles"] = len(memberships(sandbox, "lists"))
    counts["segment-profiles"] = len(memberships(sandbox, "segments"))
    return counts


def test_the_summary_matches_the_truth_after_deletes() -> None:
    with running_sandbox(seed=31, sizes=SIZES, rate_limits=False, quirks=True) as sandbox:
        before = summary(sandbox)
        assert {k: before[k] for k in truth_counts(sandbox)} == truth_counts(sandbox)
        changes = sandbox.account.advance(3600)
        assert changes["deleted"]["lists"], "an hour deletes a list, with its members"
        after = summary(sandbox)
        assert {k: after[k] for k in truth_counts(sandbox)} == truth_counts(sandbox)
