"""State files from older formats, read into singer-sdk's, so an upgrade never crashes a sync.

Accepted besides singer-sdk's own format: a bare timestamp per stream
(``{"bookmarks": {"events": "2024-01-01T00:00:00Z"}}``) and singer-io tap-klaviyo's
``{"bookmarks": {"events": {"since": ...}}}`` (or the field name as key), timestamps as ISO
strings or epoch seconds. Bookmarks of streams this tap does not have are dropped, with a
warning each; those of streams read whole every run now (campaigns, flows, lists, segments,
templates, flow_messages were incremental) are dropped silently. The tap's own keys of a
stream's entry (a reconciliation pass, where its rows begin: ``tap_klaviyo.versions``) are
kept as they are, and so is the state's ``account_id`` (``TapKlaviyo.check_account``).
"""

from __future__ import annotations

import copy
import datetime as dt
import typing as t

from tap_klaviyo import timestamps
from tap_klaviyo.errors import InputFileError

LEGACY_KEYS = ("since", "updated", "updated_at", "datetime", "timestamp", "date")
BOOKMARK_KEYS = ("replication_key", "replication_key_value", "partitions")


def migrate(
    state: t.Any, replication_keys: t.Mapping[str, str | None]
) -> tuple[dict[str, t.Any], list[str]]:
    """The state in singer-sdk's format, and a warning per bookmark that could not be kept.
    ``state`` itself is left as it was."""
    if not isinstance(state, dict) or not isinstance(state.get("bookmarks", {}), dict):
        raise InputFileError(
            'The state file must hold a JSON object like {"bookmarks": {"events": {...}}}.'
        )
    warnings: list[str] = []
    bookmarks: dict[str, t.Any] = {}
    for stream, entry in state.get("bookmarks", {}).items():
        if stream not in replication_keys:
            warnings.append(f"The state has a bookmark for unknown stream '{stream}': ignored.")
            continue
        migrated = _migrate_entry(copy.deepcopy(entry), replication_keys[stream])
        if migrated is None:
            warnings.append(f"The state's bookmark for '{stream}' is not readable: ignored.")
            continue
        bookmarks[stream] = migrated
    return {**state, "bookmarks": bookmarks}, warnings


def _migrate_entry(entry: t.Any, key: str | None) -> dict[str, t.Any] | None:
    if isinstance(entry, dict) and ("replication_key_value" in entry or "partitions" in entry):
        checked = _checked(entry)  # singer-sdk's own format
        if checked is None or key is not None:
            return checked
        # A full table now: no bookmark to resume from.
        return {name: value for name, value in checked.items() if name not in BOOKMARK_KEYS}
    if isinstance(entry, dict) and not any(k in entry for k in (key, *LEGACY_KEYS)):
        return entry  # e.g. an empty entry, or a full-table stream's
    if key is None:
        return {}
    if isinstance(entry, dict):
        raw = next((entry[k] for k in (key, *LEGACY_KEYS) if k in entry), None)
    else:
        raw = entry  # a bare timestamp
    value = _timestamp(raw)
    return None if value is None else {"replication_key": key, "replication_key_value": value}


def _checked(entry: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """singer-sdk's format, with each bookmark a readable timestamp; None when it is not."""
    partitions = entry.get("partitions", [])
    if not isinstance(partitions, list) or not all(
        isinstance(p, dict) and isinstance(p.get("context"), dict) for p in partitions
    ):
        return None
    for bookmark in (entry, *partitions):
        if bookmark.get("replication_key_value") is None:
            continue
        value = _timestamp(bookmark["replication_key_value"])
        if value is None:
            return None
        bookmark["replication_key_value"] = value
    return entry


def _timestamp(raw: t.Any) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return timestamps.to_text(dt.datetime.fromtimestamp(raw, timestamps.UTC))
    if isinstance(raw, str) and raw.strip():
        try:
            return timestamps.to_text(timestamps.parse(raw))
        except ValueError:
            return None
    return None
