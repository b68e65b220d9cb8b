"""Klaviyo's timestamps: one parser for every form the API sends, one form in every row.

Real accounts send the same instant as ``2025-12-23T00:40:38+00:00``, ``…38Z``,
``…38.276417+00:00``, ``2025-12-22T19:40:38-05:00`` or ``2025-12-23 00:40:38+00:00``. Every
comparison the tap makes (windows, bounds, bookmarks, signposts) is between aware UTC
datetimes parsed here, never between texts; rows carry the one form ``to_text`` writes.

Klaviyo's filters take whole seconds, so every bound the tap sends or applies is a whole
second (``floor_second``); a record's own timestamp keeps its fraction.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

UTC = dt.timezone.utc
# ``to_text``'s output, recognised without parsing: most values already come in this form.
_CANONICAL_LENGTHS = (25, 32)  # 2024-01-01T00:00:00+00:00, with .ffffff
_WHOLE_SECOND_Z = 20  # 2024-01-01T00:00:00Z
_FRACTION = re.compile(r"\.(\d+)")


def parse(value: str) -> dt.datetime:
    """Any RFC 3339 / ISO 8601 date-time (``T`` or space, ``Z`` or an offset, any fraction)
    as an aware UTC datetime; a value without an offset is taken as UTC. ValueError if the
    text is no date-time."""
    if _is_canonical(value):  # the rows' own form: already UTC, the cheapest to read
        return dt.datetime.fromisoformat(value)
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        # Python 3.10 takes only 3 or 6 fraction digits: pad or cut to microseconds.
        parsed = dt.datetime.fromisoformat(
            _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
        )
    return as_utc(parsed)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_text(value: dt.datetime) -> str:
    """The rows' one form: RFC 3339 in UTC with ``+00:00``, the fraction only when non-zero.

    Fixed width to the second and ``+`` sorting before ``.``: two such texts order as their
    instants do, which is what targets that compare bookmarks as text rely on.
    """
    return value.astimezone(UTC).isoformat()


def normalize(value: t.Any) -> t.Any:
    """A timestamp in the rows' one form; anything that is not a date-time text unchanged
    (a record is never blanked: the schema's type check is the target's to make)."""
    if not isinstance(value, str) or _is_canonical(value):
        return value
    if len(value) == _WHOLE_SECOND_Z and value[-1] == "Z":  # …T02:22:28Z: what Klaviyo sends most
        whole_second = value[:-1] + "+00:00"
        if _is_canonical(whole_second):
            try:
                dt.datetime.fromisoformat(whole_second)  # a date-time indeed
            except ValueError:
                return value
            return whole_second
    try:
        return to_text(parse(value))
    except ValueError:
        return value


def _is_canonical(value: str) -> bool:
    return (
        len(value) in _CANONICAL_LENGTHS
        and value.endswith("+00:00")
        and value[10] == "T"
        and (len(value) == 25 or value[19] == ".")
    )


def floor_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


# After every instant: the signpost of a stream without one.
NEVER = dt.datetime.max.replace(tzinfo=UTC)


def filter_text(value: dt.datetime) -> str:
    """The unquoted form Klaviyo's filters take, in whole seconds: 2024-01-01T00:00:00Z."""
    # isoformat, not strftime: strftime does not pad years before 1000.
    return floor_second(as_utc(value)).replace(tzinfo=None).isoformat() + "Z"


def from_millis(millis: float) -> dt.datetime:
    """singer-sdk's ``initialized_at`` (epoch milliseconds) as a datetime."""
    return dt.datetime.fromtimestamp(millis / 1000, UTC)
