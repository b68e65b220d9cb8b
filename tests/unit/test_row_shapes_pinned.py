"""Unit tests pinning the rows each table's shape makes of Klaviyo's JSON:API objects
(``tap_klaviyo.records``, issue 28): what lands in each column, from the object itself or
from its page's ``included`` objects. The end-to-end tests check these rows against the
sandbox, but in the tap's own process only for some tables; these run each shape
in-process, so `make mutate` tests every one (tests/MUTANTS.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tap_klaviyo import records
from tap_klaviyo.records import Page


def resource(
    kind: str, ident: str, attributes: dict[str, Any] | None = None, **relationships: Any
) -> dict[str, Any]:
    """A JSON:API resource object; a relationship given as a str, a list of str or None is
    its ``data`` (ids of ``kind`` its name), anything else is the relationship as given."""
    related: dict[str, Any] = {}
    for keyword, value in relationships.items():
        name = keyword.replace("_", "-")
        if isinstance(value, str):
            related[name] = {"data": {"type": name, "id": value}}
        elif isinstance(value, list):
            related[name] = {"data": [{"type": name, "id": i} for i in value]}
        elif value is None:
            related[name] = {"data": None}
        else:
            related[name] = value
    found: dict[str, Any] = {"type": kind, "id": ident, "attributes": attributes}
    if related:
        found["relationships"] = related
    return found


def page(data: Any, *included: dict[str, Any], **document: Any) -> Page:
    return Page({"data": data, "included": list(included), **document})


# --- Page: the objects of one document and its included ones -------------------------------


def test_a_page_names_only_the_included_objects_of_the_type_asked() -> None:
    found = page(
        [],
        resource("metric", "m1", {"name": "Placed Order"}),
        resource("metric", "m2", None),
        resource("list", "l1", {"name": "Newsletter"}),
    )
    assert found.names("metric") == {"m1": "Placed Order", "m2": None}
    assert found.names("list") == {"l1": "Newsletter"}
    assert found.names("metric") == {"m1": "Placed Order", "m2": None}  # kept, not re-read
    assert Page({"data": []}).names("metric") == {}


def test_a_pages_objects_are_its_data_as_a_list_or_its_included_of_a_type() -> None:
    one, two = resource("event", "e1"), resource("event", "e2")
    metric = resource("metric", "m1")
    assert page([one, two], metric).objects() == [one, two]
    assert page(one).objects() == [one]  # a single GET
    assert page([one], metric, two).objects("metric") == [metric]
    assert Page({"data": [one]}).objects("metric") == []


def test_an_included_object_is_found_by_type_and_id() -> None:
    message = resource("campaign-message", "cm1")
    found = page([], message, resource("flow-message", "cm2"))
    assert found.included("campaign-message", "cm1") is message
    assert found.included("campaign-message", "cm2") is None
    assert found.included("campaign-message", None) is None
    assert Page({"data": []}).included("campaign-message", "cm1") is None


def test_an_included_objects_referrer_is_the_data_object_listing_it() -> None:
    first = resource("campaign-message", "cm1", campaign_variations=["v1", "v2"])
    second = resource(
        "campaign-message", "cm2", campaign_variations=["v3"], campaign="c1", template=None
    )
    links_only = resource("campaign-message", "cm3", campaign_variations={"links": {}})
    unrelated = resource("campaign-message", "cm4", campaign_variations_x=None)
    found = page([first, second, links_only, unrelated, resource("x", "cm5")])
    assert found.referrer("campaign-variations", "v2") is first
    assert found.referrer("campaign-variations", "v3") is second
    assert found.referrer("campaign", "c1") is None  # to-one: not a list of children
    assert found.referrer("campaign-variations", "v9") is None
    assert page([]).referrer("campaign-variations", "v1") is None


def test_a_pages_next_url_is_its_next_link() -> None:
    assert page([], links={"next": "https://a.klaviyo.com/api/events?page=2"}).next_url == (
        "https://a.klaviyo.com/api/events?page=2"
    )
    assert page([], links={"self": "x"}).next_url is None
    assert page([], links=None).next_url is None


# --- the generic row ----------------------------------------------------------------------


def test_relationship_columns_are_named_singular_with_their_id_suffix() -> None:
    assert records.relationship_column("metric", to_many=False) == "metric_id"
    assert records.relationship_column("campaign-messages", to_many=True) == (
        "campaign_message_ids"
    )
    assert records.relationship_column("tags", to_many=True) == "tag_ids"


def test_a_row_hoists_attributes_and_names_each_related_id() -> None:
    event = resource(
        "event",
        "e1",
        {"datetime": "2026-01-01T00:00:00+00:00", "id": "not the id"},
        metric="m1",
        profile=None,
        attributions=["a1", "a2"],
        tags=[],
        flow={"links": {"self": "x"}},  # only links: not included, no column
        variation=None,
    )
    event["relationships"]["template"] = None
    assert records.to_record(event) == {
        "id": "not the id",  # an attribute of that name wins, as Klaviyo's own id would
        "datetime": "2026-01-01T00:00:00+00:00",
        "metric_id": "m1",
        "profile_id": None,
        "attribution_ids": ["a1", "a2"],
        "tag_ids": [],
        "variation_id": None,
    }
    assert records.to_record({"type": "list", "id": "l1"}) == {"id": "l1"}


# --- one timestamp form in every row ------------------------------------------------------

SCHEMA = {
    "properties": {
        "id": {"type": "string"},
        "updated": {"type": ["string", "null"], "format": "date-time"},
        "location": {"type": "object", "properties": {"zip": {"type": "string"}}},
        "subscriptions": {
            "type": "object",
            "properties": {
                "email": {
                    "properties": {
                        "consent_timestamp": {"format": "date-time"},
                        "list_suppressions": {
                            "items": {"properties": {"timestamp": {"format": "date-time"}}}
                        },
                    }
                }
            },
        },
        "send_times": {"type": "array", "items": {"format": "date-time"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "empty": {"type": "object"},
    }
}


def test_the_timestamp_tree_names_every_date_time_field_of_the_schema() -> None:
    assert records.timestamp_tree(SCHEMA) == {
        "updated": True,
        "subscriptions": {
            "email": {
                "consent_timestamp": True,
                "list_suppressions": {records.ITEMS: {"timestamp": True}},
            }
        },
        "send_times": {records.ITEMS: True},
    }
    assert records.timestamp_tree({}) == {}


def test_every_timestamp_of_a_row_is_rewritten_in_the_rows_form() -> None:
    tree = records.timestamp_tree(SCHEMA)
    row: dict[str, Any] = {
        "id": "2026-01-01T00:00:00Z",  # not a timestamp column: as sent
        "updated": "2026-01-02T03:04:05Z",
        "location": {"zip": "2026-01-01T00:00:00Z"},
        "subscriptions": {
            "email": {
                "consent_timestamp": "2026-01-02T03:04:05.5Z",
                "list_suppressions": [{"timestamp": "2026-01-02T03:04:05Z"}, "a variant"],
            }
        },
        "send_times": ["2026-01-02T03:04:05Z", None],
        "tags": ["2026-01-01T00:00:00Z"],
    }
    records.normalize_timestamps(row, tree)
    assert row == {
        "id": "2026-01-01T00:00:00Z",
        "updated": "2026-01-02T03:04:05+00:00",
        "location": {"zip": "2026-01-01T00:00:00Z"},
        "subscriptions": {
            "email": {
                "consent_timestamp": "2026-01-02T03:04:05.500000+00:00",
                "list_suppressions": [{"timestamp": "2026-01-02T03:04:05+00:00"}, "a variant"],
            }
        },
        "send_times": ["2026-01-02T03:04:05+00:00", None],
        "tags": ["2026-01-01T00:00:00Z"],
    }
    nulls: dict[str, Any] = {"updated": None, "subscriptions": None}
    records.normalize_timestamps(nulls, tree)
    assert nulls == {"updated": None, "subscriptions": None}


# --- events: metric name and attribution --------------------------------------------------

ATTRIBUTION = resource(
    "attribution",
    "a1",
    None,
    attributed_event="e0",
    campaign="c1",
    campaign_message="cm1",
    flow=None,
    flow_message={"links": {}},
    flow_message_variation="v1",
)


def test_an_event_row_names_its_metric_from_the_page() -> None:
    event = resource("event", "e1", {"uuid": "u"}, metric="m1")
    metrics = page([event], resource("metric", "m1", {"name": "Opened Email"}))
    expected = {"id": "e1", "uuid": "u", "metric_id": "m1"}
    assert records.event_row(event, metrics) == {**expected, "metric_name": "Opened Email"}
    assert records.event_row(event) == {**expected, "metric_name": None}
    assert records.event_row(event, page([event])) == {**expected, "metric_name": None}
    no_metric = resource("event", "e2", {}, metric=None)
    assert records.event_row(no_metric, metrics)["metric_name"] is None


def test_an_attributed_event_has_the_first_attributions_ids_as_columns() -> None:
    event = resource("event", "e1", {}, metric="m1", attributions=["a1", "a2"])
    row = records.event_row(event, page([event], ATTRIBUTION))
    first = {
        "id": "a1",
        "event_id": "e0",
        "campaign_id": "c1",
        "campaign_message_id": "cm1",
        "flow_id": None,
        "flow_message_id": None,
        "variation_id": "v1",
    }
    unknown = {"id": "a2", **dict.fromkeys(records.ATTRIBUTION_RELATIONSHIPS.values())}
    assert row == {
        "id": "e1",
        "metric_id": "m1",
        "attribution_ids": ["a1", "a2"],
        "metric_name": None,
        **{f"attributed_{k}": v for k, v in first.items() if k != "id"},
        "attributions": [first, unknown],
    }


def test_an_unattributed_event_has_null_attribution_columns() -> None:
    nulls = {f"attributed_{c}": None for c in records.ATTRIBUTION_COLUMNS}
    assert records.attribution_columns([], page([])) == {**nulls, "attributions": None}
    assert records.attribution_columns(["a1"], None) == {
        **nulls,
        "attributions": [{"id": "a1", **dict.fromkeys(records.ATTRIBUTION_RELATIONSHIPS.values())}],
    }
    event = resource("event", "e1", {}, metric="m1")  # attributions not requested
    assert "attributions" not in records.event_row(event, page([event], ATTRIBUTION))


# --- campaigns and their messages ----------------------------------------------------------

DEFINITION = {
    "channel": "email",
    "label": "Spring",
    "content": {"subject": "Hi", "preview_text": "P", "from_email": "a@b.c", "body": None},
}
MESSAGE_COLUMNS = {
    "channel": "email",
    "label": "Spring",
    "subject": "Hi",
    "preview_text": "P",
    "from_email": "a@b.c",
    "from_label": None,
    "body": None,
    "title": None,
}


def test_a_campaign_message_has_its_definitions_content_as_columns() -> None:
    message = resource("campaign-message", "cm1", {"definition": DEFINITION}, campaign="c1")
    assert records.campaign_message_row(message) == {
        "id": "cm1",
        "definition": DEFINITION,
        "campaign_id": "c1",
        **MESSAGE_COLUMNS,
    }
    bare = records.campaign_message_row(resource("campaign-message", "cm2", {"definition": None}))
    assert bare == {"id": "cm2", "definition": None, **dict.fromkeys(MESSAGE_COLUMNS)}


@pytest.mark.parametrize(
    ("method", "messages", "is_ab_test"),
    [("static", ["cm1"], False), ("ab_test_campaign", ["cm1"], True), (None, ["cm1", "cm2"], True)],
)
def test_a_detailed_campaign_carries_its_included_messages(
    method: str | None, messages: list[str], is_ab_test: bool
) -> None:
    strategy = {"method": method} if method else None
    campaign = resource(
        "campaign", "c1", {"send_strategy": strategy}, campaign_messages=[*messages, "cm9"]
    )
    included = [
        resource("campaign-message", i, {"definition": DEFINITION}, campaign="c1") for i in messages
    ]
    row = records.campaign_detailed_row(campaign, page([campaign], *included))
    assert row == {
        "id": "c1",
        "send_strategy": strategy,
        "campaign_message_ids": [*messages, "cm9"],  # cm9 not included: no message row
        "messages": [records.campaign_message_row(m) for m in included],
        "message_count": len(messages),
        "is_ab_test": is_ab_test,
    }


def test_a_detailed_campaign_without_its_page_has_no_messages() -> None:
    campaign = resource("campaign", "c1", {}, campaign_messages=["cm1"])
    assert records.campaign_detailed_row(campaign) == {
        "id": "c1",
        "campaign_message_ids": ["cm1"],
        "messages": [],
        "message_count": 0,
        "is_ab_test": False,
    }


# --- messages and variations of revision 2026-10-15 --------------------------------------

VARIATION_DEFINITION = {
    "name": "Email variation",
    "details": {"channel": "email", "template_id": "t1", "subject": "Hi", "title": "T"},
}


def variation(ident: str, definition: Any = VARIATION_DEFINITION) -> dict[str, Any]:
    return resource("campaign-variation", ident, {"definition": definition})


def test_an_omnichannel_message_names_its_definition_and_its_variations_channels() -> None:
    definition = {
        "name": "Spring",
        "status": "Draft",
        "send_options": {"send_strategy": {"method": "static"}},
    }
    message = resource(
        "message", "m1", {"definition": definition}, campaign_variations=["v1", "v2", "v9"]
    )
    sms = variation("v2", {"details": {"channel": "sms"}})
    row = records.omnichannel_message_row(message, page([message], variation("v1"), sms))
    assert row == {
        "id": "m1",
        "definition": definition,
        "campaign_variation_ids": ["v1", "v2", "v9"],
        "name": "Spring",
        "status": "Draft",
        "send_strategy": {"method": "static"},
        "channels": ["email", "sms"],
    }
    alone = records.omnichannel_message_row(
        resource("message", "m2", {}, campaign_variations=["v1"])
    )
    assert alone == {
        "id": "m2",
        "campaign_variation_ids": ["v1"],
        "name": None,
        "status": None,
        "send_strategy": None,
        "channels": [],
    }


def test_a_variation_names_its_message_and_campaign_from_the_page() -> None:
    message = resource("message", "m1", {}, campaign_variations=["v1"], campaign="c1")
    orphan = resource("message", "m2", {}, campaign_variations=["v2"], campaign=None)
    found = page([message, orphan])
    content = {"template_id": "t1", "subject": "Hi", "title": "T"}
    nulls = dict.fromkeys(records.VARIATION_CONTENT_COLUMNS)
    row = records.campaign_variation_row(variation("v1"), found)
    assert row == {
        "id": "v1",
        "definition": VARIATION_DEFINITION,
        "campaign_message_id": "m1",
        "campaign_id": "c1",
        "name": "Email variation",
        "channel": "email",
        **nulls,
        **content,
    }
    assert records.campaign_variation_row(variation("v2", {}), found) == {
        "id": "v2",
        "definition": {},
        "campaign_message_id": "m2",
        "campaign_id": None,
        "name": None,
        "channel": None,
        **nulls,
    }
    assert records.campaign_variation_row(variation("v3", None), found) == {
        "id": "v3",
        "definition": None,
        "name": None,
        "channel": None,
        **nulls,
    }
    assert "campaign_message_id" not in records.campaign_variation_row(variation("v1"))


# --- flows -------------------------------------------------------------------------------


def test_a_flow_action_names_its_type() -> None:
    action = resource("flow-action", "fa1", {"definition": {"type": "send-email"}})
    assert records.flow_action_row(action)["action_type"] == "send-email"
    assert records.flow_action_row(resource("flow-action", "fa2", {}))["action_type"] is None


@pytest.mark.parametrize(
    ("attributes", "channel", "name"),
    [
        ({"channel": "Email", "name": "Welcome"}, "email", "Welcome"),
        ({"definition": {"channel": "SMS", "name": "From definition"}}, "sms", "From definition"),
        ({"channel": None, "definition": {"channel": "Push"}}, "push", None),
        ({"name": None, "definition": {"name": "kept null"}}, None, None),
        ({"channel": 3}, 3, None),
    ],
)
def test_a_flow_messages_channel_is_spelt_as_campaigns_spell_it(
    attributes: dict[str, Any], channel: Any, name: str | None
) -> None:
    row = records.flow_message_row(resource("flow-message", "fm1", attributes))
    assert (row["channel"], row["name"]) == (channel, name)


# --- members and global exclusions --------------------------------------------------------


def test_a_member_row_is_the_profile_and_when_it_joined() -> None:
    member = resource("profile", "p1", {"email": "a@b.c", "joined_group_at": "2026", "x": 1})
    assert records.member_row(member) == {
        "profile_id": "p1",
        "email": "a@b.c",
        "joined_group_at": "2026",
    }
    assert records.member_row(resource("profile", "p2", None)) == {
        "profile_id": "p2",
        "email": None,
        "joined_group_at": None,
    }


def test_a_global_exclusion_is_the_latest_suppression() -> None:
    marketing = {
        "suppression": [
            {"reason": "USER_SUPPRESSED", "timestamp": "2026-01-02T00:00:00Z"},
            {"reason": "HARD_BOUNCE", "timestamp": "2026-03-01T00:00:00+02:00"},
            {"reason": "SPAM_COMPLAINT", "timestamp": "2026-02-28T23:00:00Z"},
            {"reason": "UNDATED"},
        ],
        "list_suppressions": [{"list_id": "l1"}],
    }
    attributes = {
        "email": "a@b.c",
        "phone_number": "+1",
        "subscriptions": {"email": {"marketing": marketing}},
    }
    assert records.global_exclusion_row(resource("profile", "p1", attributes)) == {
        "profile_id": "p1",
        "email": "a@b.c",
        "phone_number": "+1",
        "reason": "SPAM_COMPLAINT",  # 23:00 UTC is after 22:00 UTC (midnight at +02:00)
        "timestamp": "2026-02-28T23:00:00Z",
        "list_suppressions": [{"list_id": "l1"}],
    }


def test_a_global_exclusion_without_a_suppression_has_no_reason() -> None:
    expected = {
        "profile_id": "p1",
        "email": None,
        "phone_number": None,
        "reason": None,
        "timestamp": None,
        "list_suppressions": None,
    }
    for attributes in (None, {"subscriptions": {"email": {"marketing": None}}}):
        assert records.global_exclusion_row(resource("profile", "p1", attributes)) == expected
    undated = {"subscriptions": {"email": {"marketing": {"suppression": [{"reason": "R"}]}}}}
    row = records.global_exclusion_row(resource("profile", "p1", undated))
    assert (row["reason"], row["timestamp"]) == ("R", None)
