"""What the reports compute: the statistics Klaviyo names, the groupings, and the pure
functions behind every row (a message's numbers from its hash, the filters and the
``group_by`` a report takes)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson

from ..model import InvalidQuery
from ._core import mix, salt, unit

STATISTICS = frozenset(
    {
        "average_order_value", "bounce_rate", "bounced", "bounced_or_failed",
        "bounced_or_failed_rate", "click_rate", "click_to_open_rate", "clicks", "clicks_unique",
        "conversion_rate", "conversion_uniques", "conversion_value", "conversions", "delivered",
        "delivery_rate", "failed", "failed_rate", "message_segment_count_sum", "open_rate", "opens",
        "opens_unique", "recipients", "revenue_per_recipient", "spam_complaint_rate",
        "spam_complaints", "text_message_credit_usage_amount", "text_message_roi",
        "text_message_spend", "unsubscribe_rate", "unsubscribe_uniques", "unsubscribes",
    }
)  # fmt: skip
CAMPAIGN_GROUPS = (
    "campaign_id", "campaign_message_id", "campaign_message_name", "group", "group_name",
    "send_channel", "tag_id", "tag_name", "text_message_format", "variation", "variation_name",
)  # fmt: skip
FLOW_GROUPS = (
    "flow_id", "flow_message_id", "flow_message_name", "flow_name", "send_channel", "tag_id",
    "tag_name", "text_message_format", "variation", "variation_name",
)  # fmt: skip
FORM_GROUPS = ("form_id", "form_version_id")
SEND_CHANNEL = {
    "email": "email",
    "sms": "sms",
    "mobile_push": "push-notification",
    "push": "push-notification",
}
COUNTS = frozenset(
    {
        "bounced", "bounced_or_failed", "clicks", "clicks_unique", "conversion_uniques",
        "conversions", "delivered", "failed", "message_segment_count_sum", "opens",
        "opens_unique", "recipients", "spam_complaints", "text_message_credit_usage_amount",
        "unsubscribe_uniques", "unsubscribes",
    }
)  # fmt: skip
_TERM = re.compile(r"(equals|contains-any|contains-all)\(\s*([\w$]+)\s*,\s*(.+?)\s*\)$")


def checked_statistics(
    attributes: dict[str, Any], allowed: Collection[str] = STATISTICS
) -> list[str]:
    statistics = attributes.get("statistics")
    if not isinstance(statistics, list) or not statistics:
        raise InvalidQuery("'statistics' is a required field.", "statistics")
    unknown = [name for name in statistics if name not in allowed]
    if unknown:
        raise InvalidQuery(f"'{unknown[0]}' is not a valid choice for statistics.", "statistics")
    return statistics


def group_by_of(
    attributes: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> list[str]:
    group_by = attributes.get("group_by") or [*required, "send_channel"]
    bad = [name for name in group_by if name not in allowed]
    if bad or not set(required) <= set(group_by):
        raise InvalidQuery(
            f"group_by must include {' and '.join(required)}; allowed: {', '.join(allowed)}.",
            "group_by",
        )
    return list(group_by)


_SEGMENT_FILTER = re.compile(r"(equals|any)\(\s*segment_id\s*,\s*(.+?)\s*\)$")


def segment_filter(text: Any) -> set[str] | None:
    """``equals(segment_id,"x")`` or ``any(segment_id,["x","y"])``: the segments chosen."""
    if not text:
        return None
    match = _SEGMENT_FILTER.match(str(text).strip())
    if match is None:
        raise InvalidQuery(
            f"Invalid filter: {text} (allowed: equals or any on segment_id).", "filter"
        )
    try:
        value = orjson.loads(match.group(2).replace("'", '"'))
    except orjson.JSONDecodeError as error:
        raise InvalidQuery(f"Invalid filter value: {match.group(2)}", "filter") from error
    values = value if isinstance(value, list) else [value]
    if (match.group(1) == "any") != isinstance(value, list) or len(values) > 100:
        raise InvalidQuery("equals takes one segment id, any a list of at most 100.", "filter")
    return {str(v) for v in values}


def values_document(
    report_type: str,
    statistics: list[str],
    points: Sequence[tuple[dict[str, Any], Mapping[str, float]]],
) -> dict[str, Any]:
    """A values report: for each group, each statistic's value over the timeframe."""
    results = [
        {"groupings": grouping, "statistics": {name: point[name] for name in statistics}}
        for grouping, point in points
    ]
    return {"type": report_type, "attributes": {"results": results}}


def report_links(report_type: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    if report_type.startswith("campaign"):
        ids = dict.fromkeys(r["groupings"]["campaign_id"] for r in results)
        return {"campaigns": {"data": [{"type": "campaign", "id": i} for i in ids]}}
    flows = dict.fromkeys(r["groupings"]["flow_id"] for r in results)
    messages = dict.fromkeys(r["groupings"]["flow_message_id"] for r in results)
    return {
        "flows": {"data": [{"type": "flow", "id": i} for i in flows]},
        "flow-messages": {"data": [{"type": "flow-message", "id": i} for i in messages]},
    }


def statistics_of(
    h: int, recipients: int, channel: str, metric_id: str, settled: float = 1.0
) -> dict[str, float]:
    """All 31 statistics of one message, mutually consistent. ``settled`` is the share of
    its conversions already counted: a day's keep arriving for days after it."""
    r = [unit(mix(h ^ salt(0, f"{metric_id}-{k}"))) for k in range(10)]
    bounced = int(recipients * 0.03 * r[0])
    failed = int(recipients * 0.01 * r[1])
    delivered = recipients - bounced - failed
    opens_unique = int(delivered * (0.15 + 0.35 * r[2])) if channel == "email" else 0
    opens = opens_unique + int(opens_unique * 0.8 * r[3])
    clicks_unique = int((opens_unique if channel == "email" else delivered) * (0.03 + 0.15 * r[4]))
    clicks = clicks_unique + int(clicks_unique * 0.5 * r[5])
    conversion_uniques = int(clicks_unique * (0.05 + 0.2 * r[6]) * settled)
    conversions = conversion_uniques + int(conversion_uniques * 0.3 * r[7])
    conversion_value = round(conversions * (30 + 120 * r[8]), 2)
    unsubscribe_uniques = int(delivered * 0.004 * r[9])
    unsubscribes = unsubscribe_uniques + (1 if unsubscribe_uniques > 3 else 0)
    spam = int(delivered * 0.0005 * r[0])
    texts = channel == "sms"
    segments = delivered + int(delivered * 0.4 * r[3]) if texts else 0
    spend = round(segments * 0.0107, 2)

    def ratio(a: float, b: float) -> float:
        return round(a / b, 6) if b else 0.0

    return {
        "recipients": recipients,
        "delivered": delivered,
        "delivery_rate": ratio(delivered, recipients),
        "bounced": bounced,
        "bounce_rate": ratio(bounced, recipients),
        "failed": failed,
        "failed_rate": ratio(failed, recipients),
        "bounced_or_failed": bounced + failed,
        "bounced_or_failed_rate": ratio(bounced + failed, recipients),
        "opens": opens,
        "opens_unique": opens_unique,
        "open_rate": ratio(opens_unique, delivered),
        "clicks": clicks,
        "clicks_unique": clicks_unique,
        "click_rate": ratio(clicks_unique, delivered),
        "click_to_open_rate": ratio(clicks_unique, opens_unique),
        "conversions": conversions,
        "conversion_uniques": conversion_uniques,
        "conversion_rate": ratio(conversion_uniques, delivered),
        "conversion_value": conversion_value,
        "revenue_per_recipient": ratio(conversion_value, delivered),
        "average_order_value": ratio(conversion_value, conversions),
        "unsubscribes": unsubscribes,
        "unsubscribe_uniques": unsubscribe_uniques,
        "unsubscribe_rate": ratio(unsubscribe_uniques, delivered),
        "spam_complaints": spam,
        "spam_complaint_rate": ratio(spam, delivered),
        "message_segment_count_sum": segments,
        "text_message_credit_usage_amount": segments,
        "text_message_spend": spend,
        "text_message_roi": ratio(conversion_value - spend, spend),
    }


def filter_terms(text: Any, allowed: tuple[str, ...]) -> list[tuple[str, str, list[str]]]:
    """Parse ``and(equals(campaign_id,"x"),contains-any(send_channel,["email"]))``."""
    if not text:
        return []
    body = str(text).strip()
    if body.startswith("and(") and body.endswith(")"):
        body = body[4:-1]
    terms = []
    for raw in re.split(r",(?=\s*(?:equals|contains-any|contains-all)\()", body):
        match = _TERM.match(raw.strip())
        if match is None or match.group(2) not in allowed:
            raise InvalidQuery(f"Invalid filter: {raw.strip()}", "filter")
        op, name, value = match.groups()
        try:
            parsed = orjson.loads(value.replace("'", '"'))
        except orjson.JSONDecodeError as error:
            raise InvalidQuery(f"Invalid filter value: {value}", "filter") from error
        terms.append((op, name, parsed if isinstance(parsed, list) else [parsed]))
    return terms


def term_matches(dimensions: dict[str, Any], term: tuple[str, str, list[str]]) -> bool:
    op, name, values = term
    actual = dimensions.get(name)
    if op == "contains-all":
        return all(value == actual for value in values)
    return actual in values
