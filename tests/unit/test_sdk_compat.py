"""The singer-sdk internals the tap relies on (``tap_klaviyo.sdk_compat``), pinned against the
installed SDK: an upgrade that renames, re-signs or un-finals one fails here, loudly, before
any behaviour changes quietly."""

from __future__ import annotations

import inspect
import typing as t

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.streams._state import StreamStateManager

from tap_klaviyo.sdk_compat import PINNED, StateWriter, StreamInternals, TapInternals
from tap_klaviyo.streams.base import KlaviyoStream
from tap_klaviyo.tap import TapKlaviyo

# (class, name) -> (kind, final, signature) as singer-sdk 0.54 has them.
EXPECTED: dict[tuple[type, str], tuple[str, bool, str]] = {
    (Tap, "sync_all"): ("function", True, "(self) -> 'None'"),
    (Tap, "run_connection_test"): ("function", True, "(self) -> 'bool'"),
    (Tap, "_validate_config"): (
        "function",
        False,
        "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
    ),
    (Tap, "_handle_termination"): (
        "function",
        False,
        "(self, signum: 'int', frame: 'FrameType | None') -> 'None'",
    ),
    (Stream, "_increment_stream_state"): (
        "function",
        False,
        "(self, latest_record: 'types.Record', *, context: 'types.Context | None' = None)"
        " -> 'None'",
    ),
    (Stream, "_write_record_message"): (
        "function",
        False,
        "(self, record: 'types.Record') -> 'None'",
    ),
    (Stream, "_write_starting_replication_value"): (
        "function",
        False,
        "(self, context: 'types.Context | None') -> 'None'",
    ),
    (Tap, "_reset_state_progress_markers"): ("function", False, "(self) -> 'None'"),
    (Tap, "state_writer"): ("property", False, "(self) -> 'StateWriter'"),
    (StateWriter, "write_state"): ("function", False, "(self, state: 'types.TapState') -> 'None'"),
    (Stream, "_write_state_message"): ("function", False, "(self) -> 'None'"),
    (Stream, "_finalize_state"): (
        "function",
        False,
        "(self, state: 'dict | None' = None) -> 'None'",
    ),
    (Stream, "partitions"): ("property", False, "(self) -> 'list[dict] | None'"),
    (Stream, "state_manager"): ("property", False, "(self) -> 'StreamStateManager'"),
    (Stream, "_write_activate_version_message"): (
        "function",
        False,
        "(self, full_table_version: 'int') -> 'None'",
    ),
}


# Attributes the tap reads or sets: (class, name) -> the SDK code that sets or reads it.
ATTRIBUTES: dict[tuple[type, str], t.Callable[..., t.Any]] = {
    (Stream, "_stream_version"): Stream._generate_record_messages,
    (StreamStateManager, "is_flushed"): StreamStateManager.__init__,
    (Tap, "_config"): Tap._validate_config,
}


def by_name(key: tuple[type, str]) -> tuple[str, str]:
    return key[0].__name__, key[1]


METHODS = sorted(EXPECTED, key=by_name)
ATTRIBUTE_NAMES = sorted(ATTRIBUTES, key=by_name)


def _described(cls: type, name: str) -> tuple[str, bool, str]:
    attribute = inspect.getattr_static(cls, name)
    function = attribute.fget if isinstance(attribute, property) else attribute
    assert callable(function)
    kind = "property" if isinstance(attribute, property) else type(attribute).__name__
    return kind, bool(getattr(function, "__final__", False)), str(inspect.signature(function))


def test_every_pinned_internal_is_listed_with_a_reason() -> None:
    assert set(PINNED) == set(EXPECTED) | set(ATTRIBUTES)
    assert all(reason for reason in PINNED.values())


@pytest.mark.parametrize(("cls", "name"), METHODS)
def test_the_sdk_still_has_it_as_the_tap_uses_it(cls: type, name: str) -> None:
    assert _described(cls, name) == EXPECTED[(cls, name)]


@pytest.mark.parametrize(("cls", "name"), ATTRIBUTE_NAMES)
def test_the_sdk_still_uses_the_attribute_as_the_tap_does(cls: type, name: str) -> None:
    assert f"self.{name}" in inspect.getsource(ATTRIBUTES[(cls, name)])


def test_a_written_record_marks_the_state_unflushed() -> None:
    # The fast path writes records itself; the SDK's flag says STATE must follow them.
    source = inspect.getsource(t.cast(t.Any, Stream).state_manager.fget)
    assert "StreamStateManager" in source
    assert "self.is_flushed = True" in inspect.getsource(StreamStateManager.__init__)


def test_only_sdk_compat_overrides_private_or_final_methods() -> None:
    """Every override of a private or final SDK method lives in sdk_compat; the tap's own
    classes use its hooks (``partitions`` is public, and overridden where it belongs)."""
    for (sdk_class, name), (_, final, _) in EXPECTED.items():
        if not (name.startswith("_") or final):
            continue
        ours = TapInternals if sdk_class is Tap else StreamInternals
        for cls in (TapKlaviyo, KlaviyoStream):
            if issubclass(cls, sdk_class):
                owner = next(c for c in cls.__mro__ if name in vars(c))
                assert owner in (ours, sdk_class), f"{owner.__name__} overrides {name}"
