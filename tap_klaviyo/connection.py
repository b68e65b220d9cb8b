"""``--test``: check the API key, then whether each stream's scope is granted, with one
small GET per stream (no report POST: the reports' daily quota is kept for syncs)."""

from __future__ import annotations

import typing as t

from tap_klaviyo.account import describe_account
from tap_klaviyo.errors import PermissionDeniedError
from tap_klaviyo.run import RunContext
from tap_klaviyo.summary import end_on_denied_scopes

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream

TEST_HELP = (
    "Check the API key and each stream's scope with one small GET per stream (no report "
    "POST: the reports' daily quota is kept for syncs), print the values reports' "
    "conversion metric, write no records. Exits non-zero when the key is rejected or "
    "lacks every stream's scope. --test=schema prints the streams' SCHEMA messages."
)


def check_connection(run: RunContext, streams: list[KlaviyoStream]) -> None:
    """One line per stream: ok, its missing scope, or why its sync would skip it."""
    logger = run.logger
    logger.info("Testing the connection to %s", run.settings.label)
    logger.info("%-18s %s", "account", describe_account(run))
    denied: dict[str, tuple[str, ...]] = {}
    for stream in streams:
        try:
            stream.probe()
        except PermissionDeniedError as error:
            denied[stream.name] = lacking = stream.lacking_scopes(error)
            logger.warning("%-18s missing scope: %s", stream.name, " + ".join(lacking))
            continue
        metric = describe_conversion_metric(run) if stream.resource.conversion_metric else None
        if metric is not None and not metric[1]:  # its sync would skip it
            logger.warning("%-18s would be skipped: %s", stream.name, metric[0])
            continue
        logger.info("%-18s ok (%s)", stream.name, " + ".join(stream.resource.scopes))
        if metric is not None:
            logger.info("%-18s %s", stream.name, metric[0])
    end_on_denied_scopes(logger, denied, [stream.name for stream in streams])


def describe_conversion_metric(run: RunContext) -> tuple[str, bool]:
    """The values reports' conversion metric for ``--test``, and whether there is one."""
    configured = run.settings.conversion_metric_id
    if configured:
        return f"conversion metric: {configured} (set by 'conversion_metric_id')", True
    try:
        choice = run.conversion_metric
    except PermissionDeniedError:
        return "conversion metric: not chosen, the key lacks the scope metrics:read", False
    return choice.describe(), choice.chosen is not None
