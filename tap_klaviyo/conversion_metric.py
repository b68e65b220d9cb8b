"""The metric the values reports measure conversions by: an account may have several of one
name (an e-commerce integration's "Placed Order" and one sent through the API)."""

from __future__ import annotations

import datetime as dt
import typing as t

from tap_klaviyo import timestamps


class ConversionMetric(t.NamedTuple):
    """The metric the values reports measure conversions by, and the others of its name."""

    name: str
    chosen: dict[str, t.Any] | None
    candidates: list[dict[str, t.Any]]

    def describe(self) -> str:
        """One line for the log and ``--test``."""
        if self.chosen is None:
            return (
                f"the account has no metric named '{self.name}' to measure conversions; set "
                "'conversion_metric_id' (or 'conversion_metric_name') to the metric to use"
            )
        chosen = f"conversion metric '{self.name}': {describe_metric(self.chosen)}"
        if len(self.candidates) == 1:
            return chosen
        others = ", ".join(describe_metric(m) for m in self.candidates if m is not self.chosen)
        return (
            f"{chosen}, chosen of {len(self.candidates)} metrics with that name (one not sent "
            f"through the API first, then the oldest; the others: {others}); set "
            "'conversion_metric_id' to use another"
        )


def choose_conversion_metric(metrics: t.Iterable[dict[str, t.Any]], name: str) -> ConversionMetric:
    """Real accounts have several metrics of one name (an e-commerce integration's "Placed
    Order" and one sent through the API): prefer the integration's, then the oldest."""
    candidates = sorted((m for m in metrics if m.get("name") == name), key=_preference)
    return ConversionMetric(name, candidates[0] if candidates else None, candidates)


def _preference(metric: dict[str, t.Any]) -> tuple[bool, dt.datetime, str]:
    created = metric.get("created")
    return (
        integration_name(metric).lower() == "api",
        timestamps.parse(created) if created else timestamps.NEVER,
        metric["id"],
    )


def integration_name(metric: dict[str, t.Any]) -> str:
    """The metric's source ("Shopify", "API"); ``category`` may be a text or an object."""
    integration = metric.get("integration")
    if not isinstance(integration, dict):
        return str(integration or "unknown integration")
    if str(integration.get("key") or "").lower() == "api":
        return "API"
    return str(integration.get("name") or integration.get("key") or "unknown integration")


def describe_metric(metric: dict[str, t.Any]) -> str:
    return f"{metric['id']} ({integration_name(metric)}, created {metric.get('created') or '?'})"
