"""Every singer-sdk internal the tap relies on, in one place.

singer-sdk has no public hook for what the tap must do on its hot path and at its edges:
write finished RECORD lines without a message object, keep bookmarks that follow parallel
windows, end a failed sync with its safe state, test scopes instead of syncing a record. Each
private method or final method used for that is overridden or called here only, each
override handing over to a public method of the tap's own (declared abstract here, so the
tap's classes must define it); the SDK's private modules are imported here only (ruff's
TID251 enforces it). ``tests/unit/test_sdk_compat.py`` pins the signature and finality of
every method in ``PINNED``, and that the SDK still uses each attribute there, against the
installed SDK: an upgrade that moves one fails loudly in CI instead of quietly changing
behaviour.
"""

from __future__ import annotations

import abc
import typing as t
from types import FrameType

from singer_sdk import Stream, Tap
from singer_sdk.helpers._state import StateWriter
from singer_sdk.streams._state import StreamStateManager

# singer-sdk's STATE writer, which the tap's own (``output.StateLines``) extends: exported
# from here, the one module that imports the SDK's private modules.
__all__ = ["PINNED", "Context", "StateWriter", "StreamInternals", "TapInternals"]

Context = t.Mapping[str, t.Any]

# (SDK class, attribute) -> why the tap depends on it.
PINNED: dict[tuple[type, str], str] = {
    (Tap, "sync_all"): "final: streams run at once; a failed sync hands the target its last "
    "safe STATE first",
    (Tap, "_reset_state_progress_markers"): "what the SDK's sync_all does before its streams",
    (Tap, "state_writer"): "STATE lines serialized under the writer's lock (streams run at once)",
    (StateWriter, "write_state"): "the STATE writer the tap's own extends (output.StateLines)",
    (Tap, "run_connection_test"): "final: --test checks each stream's scope, syncs nothing",
    (Tap, "_validate_config"): "the tap's own one-line checks run before the SDK's, and a "
    "setting's alias fills it in the SDK's config (``_config``, set just before)",
    (Tap, "_config"): "the config the SDK validates: a setting's alias is filled in there",
    (Tap, "_handle_termination"): "SIGTERM/SIGINT write the last safe STATE, whole lines",
    (Stream, "_increment_stream_state"): "bookmarks capped at the sync's start, ties once",
    (Stream, "_write_record_message"): "finished RECORD lines, built on the fetch threads",
    (Stream, "_write_starting_replication_value"): "every partition's start, read up front",
    (Stream, "_write_state_message"): "a STATE every 30 s of a long stream, not only every "
    "10,000 records",
    (Stream, "_finalize_state"): "a child's parent is finalized when its last row is written",
    (Stream, "partitions"): "a child's partitions are its parents: listing them sends requests",
    (Stream, "state_manager"): "a record written by the fast path marks the state unflushed",
    (StreamStateManager, "is_flushed"): "False: a STATE must follow the records written",
    (Stream, "_stream_version"): "the table version the SDK's own RECORD messages carry",
    (Stream, "_write_activate_version_message"): "ACTIVATE_VERSION after a complete read, "
    "under the stream maps' aliases (the SDK writes it before the records, full tables only)",
}


class StreamInternals(Stream):
    """The SDK's private stream methods, each handed over to a public one of the tap."""

    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        self.on_record_for_state(latest_record, context)

    def _write_record_message(self, record: dict[str, t.Any] | memoryview) -> None:
        self.write_record(record)

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        # Public: the tap has no SDK child streams (children list their own parents), so
        # the SDK's walk over them per record is skipped.
        return ()

    # -- what the tap's streams call of the SDK --------------------------------------------

    def sdk_increment_state(self, record: dict[str, t.Any], context: Context | None) -> None:
        Stream._increment_stream_state(self, record, context=context)

    def sdk_write_record(self, record: dict[str, t.Any]) -> None:
        Stream._write_record_message(self, record)

    def mark_state_unflushed(self) -> None:
        self.state_manager.is_flushed = False

    def write_starting_value(self, context: Context | None) -> None:
        """Record the partition's starting bookmark now, on the stream's thread."""
        self._write_starting_replication_value(context)

    def write_state_now(self) -> None:
        """A STATE message now, if anything changed since the last."""
        self._write_state_message()

    def write_activate_version(self, version: int) -> None:
        """An ACTIVATE_VERSION message for this stream (each of its stream maps) now."""
        self._write_activate_version_message(version)

    def set_record_version(self, version: int | None) -> None:
        """The table version the SDK's own RECORD messages carry (stream maps, flattening)."""
        self._stream_version = version

    def finalize_partition(self, context: Context) -> None:
        """One partition is complete: its progress markers become its bookmark."""
        self._finalize_state(self.get_context_state(context))

    # -- the tap's own ---------------------------------------------------------------------

    @abc.abstractmethod
    def on_record_for_state(self, record: dict[str, t.Any], context: Context | None) -> None:
        """A record was written: move the bookmark (``sdk_increment_state``) as it allows."""

    @abc.abstractmethod
    def write_record(self, record: dict[str, t.Any] | memoryview) -> None:
        """Write one record: a finished RECORD line, or a row (``sdk_write_record``)."""


class TapInternals(Tap):
    """The SDK's final and private tap methods, each handed over to a public one."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        warnings = self.check_settings()
        # The schema requires ``api_key``; its alias satisfies it, as the tap's own checks
        # accept: the SDK validates a copy of the config given with the alias filled in.
        aliased = self.aliased_config(self._config)
        if aliased is not self._config:
            self._config = aliased
        return [*warnings, *super()._validate_config(raise_errors=raise_errors)]

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.on_signal(signum)

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK, see PINNED
        self.sync()

    def run_connection_test(self) -> bool:  # type: ignore[misc]  # final in the SDK
        return self.test_connection()

    # -- what the tap calls of the SDK -----------------------------------------------------

    @property
    def state_dict(self) -> dict[str, t.Any]:
        """The tap's state as a plain dict: it carries the report quota and the account
        beside the bookmarks (the SDK types it as bookmarks alone)."""
        return t.cast("dict[str, t.Any]", self.state)

    def reset_progress_markers(self) -> None:
        """What the SDK's ``sync_all`` does before its streams: the tap has no SDK parent
        streams (children list their own parents), so its replication-method fixes for
        them do not apply."""
        self._reset_state_progress_markers()

    # -- the tap's own ---------------------------------------------------------------------

    @abc.abstractmethod
    def check_settings(self) -> list[str]:
        """The tap's own checks of the config, before the SDK's: one line per problem."""

    @abc.abstractmethod
    def aliased_config(self, config: dict[str, t.Any]) -> dict[str, t.Any]:
        """The config with a setting's alias filled in."""

    @abc.abstractmethod
    def on_signal(self, signum: int) -> None:
        """SIGTERM/SIGINT."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Sync every selected stream (the SDK's ``sync_all``)."""

    @abc.abstractmethod
    def test_connection(self) -> bool:
        """``--test`` (the SDK's ``run_connection_test``)."""
