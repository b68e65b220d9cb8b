"""How each revision answers the other's requests, as Klaviyo does: 2026-07-15's campaign
filter is a 400 under 2026-10-15, a path a revision lacks is a 404, and both revisions serve
the same campaigns. (Both revisions' operations are checked against their specs in
sandbox/tests/test_endpoints_spec.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.server import Sandbox, running_sandbox

KEY = {"Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sizes = Sizes(profiles=30, events=100, lists=2, segments=2, campaigns=12, flows=1)
    with running_sandbox(seed=3, sizes=sizes, rate_limits=False) as running:
        yield running


def get(sandbox: Sandbox, path: str, revision: str) -> requests.Response:
    return requests.get(sandbox.url + path, headers={**KEY, "revision": revision}, timeout=10)


# --- each revision answers the other's requests as Klaviyo does -----------------------------


def test_the_2026_07_15_channel_filter_is_a_400_under_2026_10_15(sandbox: Sandbox) -> None:
    response = get(sandbox, "/api/campaigns?filter=equals(messages.channel,'email')", "2026-10-15")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": "filter"}
    assert "messages.channel" in error["detail"]


@pytest.mark.parametrize(
    ("path", "revision"),
    [
        ("/api/campaign-messages", "2026-07-15"),
        ("/api/campaign-messages", "2026-04-15"),
        ("/api/campaigns/x/campaign-audiences", "2026-07-15"),
    ],
)
def test_a_path_a_revision_does_not_have_is_a_404(
    sandbox: Sandbox, path: str, revision: str
) -> None:
    response = get(sandbox, path, revision)
    assert response.status_code == 404
    assert response.json()["errors"][0]["detail"] == "No valid revisions found for method."


def test_both_revisions_serve_the_same_campaigns(sandbox: Sandbox) -> None:
    old = set()
    for channel in ("email", "sms", "mobile_push"):
        for archived in ("true", "false"):
            query = f"equals(messages.channel,'{channel}'),equals(archived,{archived})"
            old |= {c["id"] for c in get(sandbox, f"/api/campaigns?filter={query}", "2026-07-15")
                    .json()["data"]}  # fmt: skip
    new = set()
    for archived in ("true", "false"):
        page = get(sandbox, f"/api/campaigns?filter=equals(archived,{archived})", "2026-10-15")
        new |= {c["id"] for c in page.json()["data"]}
    assert old == new == set(sandbox.account.truth("campaigns")["ids"])
