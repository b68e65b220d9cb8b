"""Nothing Klaviyo sends is dropped: fields no schema lists land in ``extra_attributes``.

- On the typed event path: a page with an attribute the types do not know is parsed the
  generic way, and the attribute is in the row's ``extra_attributes``.
- Against the quirky sandbox: live profiles' ``anonymous_id`` and ``whatsapp_bsuid`` are
  columns with the values the sandbox sent; templates' ``thumbnail_url`` (no schema lists
  it) is in ``extra_attributes`` of every template, named in one line of the run's log.
"""

from __future__ import annotations

import json
import typing as t

import orjson

from klaviyo_sandbox.server import Sandbox
from tap_klaviyo import typed_pages
from tap_klaviyo.records import Page
from tap_klaviyo.streams.base import KlaviyoStream
from tests.conftest import tap_config
from tests.e2e.test_typed_pages import EVENT, lines_of, page_of, variant
from tests.singer import quiet_tap, run_tap, select_only


def test_an_unknown_event_attribute_lands_in_extra_attributes_off_the_typed_path(
    sandbox: Sandbox,
) -> None:
    stream = quiet_tap(tap_config(sandbox)).streams["events"]
    assert isinstance(stream, KlaviyoStream)
    assert stream.decode is typed_pages.decode_events
    known = page_of(EVENT)
    assert typed_pages.decode_events(known) is not None  # the typed path takes it
    body = page_of(variant(attributes__unique_id="order-1001"))
    assert typed_pages.decode_events(body) is None  # the generic path takes this one
    (message,) = lines_of(stream, Page(orjson.loads(body)))
    record = message["record"]
    assert record["extra_attributes"] == {"unique_id": "order-1001"}
    assert "unique_id" not in record
    (plain,) = lines_of(stream, Page(orjson.loads(known)))
    assert plain["record"].get("extra_attributes") is None


def test_live_profile_fields_are_columns_and_unlisted_ones_kept(quirky_sandbox: Sandbox) -> None:
    config = tap_config(quirky_sandbox)
    catalog = json.loads(run_tap(config, "--discover").stdout)
    run = run_tap(config, catalog=select_only(catalog, {"profiles", "templates"}))
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in ("profiles", "templates"):
        column = run.schemas[stream]["properties"]["extra_attributes"]
        assert column == {"type": ["object", "null"], "additionalProperties": True}

    sent = sandbox_profiles(quirky_sandbox, {p["id"] for p in run.records["profiles"]})
    for row in run.records["profiles"]:
        attributes = sent[row["id"]]
        assert row["anonymous_id"] == attributes["anonymous_id"]
        assert row["whatsapp_bsuid"] == attributes["whatsapp_bsuid"]
        assert row.get("extra_attributes") is None  # every other field has its column
    assert any(row["anonymous_id"] for row in run.records["profiles"])
    assert any(row["whatsapp_bsuid"] for row in run.records["profiles"])

    templates = run.records["templates"]
    assert templates
    for row in templates:
        assert row["extra_attributes"] == {
            "thumbnail_url": f"https://cdn.example.com/templates/{row['id']}.png"
        }
    named = [line for line in run.stderr.splitlines() if "extra_attributes" in line]
    assert len(named) == 1, named  # one line per stream and run
    assert f"thumbnail_url ({len(templates):,} records)" in named[0]


def sandbox_profiles(sandbox: Sandbox, ids: set[str]) -> dict[str, dict[str, t.Any]]:
    """The attributes the sandbox serves for each profile."""
    account: t.Any = sandbox.account
    found = {}
    for profile_id in ids:
        (obj,) = account.get("profiles", profile_id).data
        found[profile_id] = obj["attributes"]
    return found
