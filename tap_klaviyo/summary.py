"""The run's last lines on stderr: each stream's records, requests, time and how it ended,
the table versions activated, and one ``finished:`` line."""

from __future__ import annotations

import logging
import typing as t

from tap_klaviyo.client import RequestStats
from tap_klaviyo.errors import OutputClosedError, PermissionDeniedError, TapKlaviyoError
from tap_klaviyo.logs import plural
from tap_klaviyo.run import Cancelled

if t.TYPE_CHECKING:
    from tap_klaviyo.streams.base import KlaviyoStream


def describe_error(error: BaseException) -> str:
    """One line: a user's error as the tap words it, anything else by its type."""
    if isinstance(error, TapKlaviyoError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def outcome(error: BaseException, *, output_broken: bool) -> str:
    """How a stream that did not complete ended, for the run's summary."""
    if isinstance(error, OutputClosedError) or output_broken:
        return "stopped: stdout was closed"
    if isinstance(error, Cancelled):
        return "stopped: another stream failed"
    return f"failed: {describe_error(error)}"


def log_activations(logger: logging.Logger, streams: t.Iterable[KlaviyoStream]) -> None:
    """Per version activated, its rows and what it leaves out; first versions (none before
    in the state) in one line."""
    first = []
    for stream in streams:
        if stream.deletes.activation:
            logger.info("Deletes: %s: %s.", stream.name, stream.deletes.activation)
        elif stream.deletes.activated_rows is not None:
            first.append(f"{stream.name} {stream.deletes.activated_rows:,}")
    if first:
        logger.info(
            "Deletes: first table versions in this state (rows; a warehouse's rows of "
            "older versions are marked deleted): %s.",
            ", ".join(first),
        )


def end_on_denied_scopes(
    logger: logging.Logger, denied: t.Mapping[str, tuple[str, ...]], selected: list[str]
) -> None:
    """One summary line for the streams skipped for scopes; none synced: an error."""
    if not denied:
        return
    lacking = ", ".join(f"{name} ({' + '.join(s)})" for name, s in sorted(denied.items()))
    if selected and set(selected) <= set(denied):
        raise PermissionDeniedError(
            f"The API key lacks the scopes of every selected stream, so nothing was "
            f"synced: {lacking}. Add them to the key in Klaviyo (Settings > API keys)."
        )
    logger.warning("Streams skipped for missing scopes: %s.", lacking)


def log_summary(
    log: logging.Logger,
    streams: list[KlaviyoStream],
    stats: RequestStats,
    failure: BaseException | None,
    seconds: float,
) -> None:
    """The table of streams, the requests, and the ``finished:`` line."""
    shown = [s for s in streams if s.log_book.started or s.log_book.skipped or s.log_book.outcome]
    if shown:
        log.info("%-24s %12s %9s %9s  %s", "stream", "records", "requests", "time", "notes")
    for stream in shown:
        book = stream.log_book
        notes = book.outcome or (f"skipped: {book.skipped}" if book.skipped else "")
        if not notes and book.deletes_marked:
            notes = "rows Klaviyo no longer has: marked deleted"
        log.info(
            "%-24s %12s %9s %7.1f s  %s",
            stream.name, f"{book.records:,}", f"{stats.by_stream[stream.name]:,}",
            book.seconds(), notes,
        )  # fmt: skip
    if unstarted := [s.name for s in streams if s not in shown]:
        log.info("not started (the run stopped first): %s", ", ".join(unstarted))
    log.info("Requests: %d, retries: %d (429: %d)", stats.requests, stats.retries, stats.throttled)
    records = sum(stream.log_book.records for stream in streams)
    synced = [s for s in streams if s.log_book.ended is not None and not s.log_book.skipped]
    skipped = [s for s in streams if s.log_book.skipped]
    marked = [s for s in streams if s.log_book.deletes_marked]
    if failure is None:
        how = "ok"
    elif isinstance(failure, SystemExit | KeyboardInterrupt):
        how = "stopped on a signal (the last safe STATE was written)"
    else:
        how = "failed (the error follows)"
    log.info(
        "finished: %s, %s from %d of %s in %.1f s; %d skipped; deletes marked in %s",
        how, plural(records, "record"), len(synced), plural(len(streams), "stream"),
        seconds, len(skipped), plural(len(marked), "stream"),
    )  # fmt: skip
