"""Metrics: the account's metric list (names, integrations, kinds), and with quirks the
second "Placed Order" of an API integration, object-shaped categories, and a metric that
vanished after being listed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ._core import DAY, iso, mix, salt, short_id
from ._words import METRICS

EMAIL_KIND, ORDER_KIND, PRODUCT_KIND, SITE_KIND, SMS_KIND, LIST_KIND, CUSTOM_KIND = range(7)
_ORDER_METRICS = {
    "Placed Order",
    "Started Checkout",
    "Fulfilled Order",
    "Cancelled Order",
    "Refunded Order",
}
DUPLICATED = "Placed Order"
CATEGORY_IDS = {"Internal": 1, "eCommerce": 3, "API": 15}


def metric_kind(name: str) -> int:
    if name in _ORDER_METRICS:
        return ORDER_KIND
    if name in ("Ordered Product", "Viewed Product"):
        return PRODUCT_KIND
    if name == "Active on Site":
        return SITE_KIND
    if "Text Message" in name:
        return SMS_KIND
    if name.endswith("List"):
        return LIST_KIND
    return EMAIL_KIND if "Email" in name else CUSTOM_KIND


@dataclass(frozen=True)
class Metric:
    index: int
    id: str
    name: str
    integration: dict[str, Any]
    created: int
    updated: int
    share: float
    kind: int

    def resource(self) -> dict[str, Any]:
        return {
            "type": "metric",
            "id": self.id,
            "attributes": {
                "name": self.name,
                "created": iso(self.created),
                "updated": iso(self.updated),
                "integration": self.integration,
            },
            "relationships": {"flow-triggers": {}},
        }


def make_metrics(seed: int, count: int, anchor: int) -> list[Metric]:
    metrics, used = [], set()
    for index in range(count):
        if index < len(METRICS):
            name, (key, label, category), share = METRICS[index]
        else:
            name, key, label, category, share = f"Custom Metric {index}", "api", "API", "API", 0.5
        h = mix(salt(seed, "metric") ^ index)
        metric_id = short_id(h)
        while metric_id in used:
            h = mix(h)
            metric_id = short_id(h)
        used.add(metric_id)
        integration = {
            "object": "integration",
            "id": short_id(mix(salt(seed, f"integration-{key}"))),
            "key": key,
            "name": label,
            "category": category,
        }
        created = anchor - (760 - index) * DAY
        metric = Metric(
            index, metric_id, name, integration, created, created + 3600, share, metric_kind(name)
        )
        metrics.append(metric)
    return metrics


def _free_id(seed: int, kind: str, used: set[str]) -> str:
    h = mix(salt(seed, kind))
    while short_id(h) in used:
        h = mix(h)
    return short_id(h)


def api_integration(seed: int) -> dict[str, Any]:
    return {
        "object": "integration",
        "id": short_id(mix(salt(seed, "integration-api"))),
        "key": "api",
        "name": "API",
        "category": "API",
    }


def object_categories(metrics: list[Metric]) -> list[Metric]:
    """Every third metric (never "Placed Order") reports its category as an object."""
    varied = []
    for metric in metrics:
        integration = metric.integration
        if metric.index % 3 == 2 and metric.name != DUPLICATED:
            name = integration["category"]
            category = {"id": CATEGORY_IDS.get(name, 99), "category": name}
            integration = {**integration, "category": category}
        varied.append(replace(metric, integration=integration))
    return varied


def duplicate_metric(seed: int, metrics: list[Metric], anchor: int) -> Metric | None:
    """A second "Placed Order", from the API integration, created long after the first."""
    original = next((m for m in metrics if m.name == DUPLICATED), None)
    if original is None:
        return None
    created = anchor - 200 * DAY
    metric_id = _free_id(seed, "metric-duplicate", {m.id for m in metrics})
    return Metric(
        index=len(metrics),
        id=metric_id,
        name=DUPLICATED,
        integration=api_integration(seed),
        created=created,
        updated=created + 3600,
        share=original.share,
        kind=original.kind,
    )


def vanished_metric(seed: int, metrics: list[Metric], anchor: int) -> Metric:
    """Listed by GET /api/metrics, yet gone for metric-aggregates: deleted meanwhile."""
    created = anchor - 90 * DAY
    metric_id = _free_id(seed, "metric-vanished", {m.id for m in metrics})
    return Metric(
        index=len(metrics),
        id=metric_id,
        name="Submitted Quiz",
        integration=api_integration(seed),
        created=created,
        updated=created + 3600,
        share=0.0,  # never chosen for new events
        kind=CUSTOM_KIND,
    )
