"""One spelling of a message's channel across tables: Klaviyo writes a flow message's email
channel ``Email`` (a default-on quirk of the sandbox), campaign messages and reports
``email``; the tap writes flow messages' lowercased."""

from __future__ import annotations

from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.data._account import Account
from tap_klaviyo.records import flow_message_row

SIZES = Sizes(
    profiles=20, events=20, lists=1, segments=1, campaigns=2, flows=3, templates=2, tags=1
)


def sent_channels(quirks: bool) -> set[str]:
    account = Account(seed=5, sizes=SIZES, quirks=quirks)
    return {item.attributes["channel"] for item in account.catalog.flow_messages.items}


def test_the_sandbox_spells_flow_messages_email_channel_as_klaviyo_does() -> None:
    quirky, tidy = sent_channels(quirks=True), sent_channels(quirks=False)
    assert "Email" in quirky
    assert "email" not in quirky
    assert "email" in tidy
    assert {channel.lower() for channel in quirky} == tidy


def test_flow_messages_channel_is_lowercased() -> None:
    row = flow_message_row({"type": "flow-message", "id": "m1", "attributes": {"channel": "Email"}})
    assert row["channel"] == "email"
    sms = flow_message_row({"type": "flow-message", "id": "m2", "attributes": {"channel": "sms"}})
    assert sms["channel"] == "sms"
