"""Building blocks of the data layer: hashing, ids, time, filters, keyset streams.

Every lazy record is a pure function of ``(seed, kind, index)``; ordering is expressed as
*keys* ``(value, index)``, strictly increasing along each stream, so a page is a k-way
merge of streams started just after the previous page's last key (keyset pagination).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from ..model import Condition, InvalidQuery

UTC = dt.timezone.utc
DAY = 86_400
INF = float("inf")

Key = tuple[Any, Any]
"""A sort key ``(value, index)``; ``value`` is int seconds, a number or a string."""

# --- hashing -------------------------------------------------------------------------------

_M64 = (1 << 64) - 1
UNIT = 1.0 / (1 << 53)


def mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash of an int."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def salt(seed: int, kind: str) -> int:
    """A per-(seed, kind) constant; records then hash as ``mix(salt ^ index)``."""
    value = seed & _M64
    for char in kind:
        value = mix(value ^ ord(char))
    return value


def unit(h: int) -> float:
    """A float in [0, 1) from a 64-bit hash."""
    return (h >> 11) * UNIT


# --- ids -----------------------------------------------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_INDEX = {c: i for i, c in enumerate(CROCKFORD)}
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_INDEX = {c: i for i, c in enumerate(BASE62)}
# two characters per lookup: encoding ids is on the hot path of every page
_PAIRS32 = [a + b for a in CROCKFORD for b in CROCKFORD]
_PAIRS62 = [a + b for a in BASE62 for b in BASE62]


def base32(value: int, width: int) -> str:
    """Crockford base32, most significant first, exactly ``width`` characters."""
    even = width - width % 2
    text = "".join([_PAIRS32[(value >> shift) & 1023] for shift in range(5 * even - 10, -1, -10)])
    return CROCKFORD[(value >> (5 * even)) & 31] + text if width % 2 else text


def unbase32(text: str) -> int | None:
    value = 0
    for char in text:
        digit = _CROCKFORD_INDEX.get(char)
        if digit is None:
            return None
        value = value * 32 + digit
    return value


def base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width // 2):
        value, rest = divmod(value, 3844)
        chars.append(_PAIRS62[rest])
    if width % 2:
        chars.append(BASE62[value % 62])
    return "".join(reversed(chars))


def unbase62(text: str) -> int | None:
    value = 0
    for char in text:
        digit = _BASE62_INDEX.get(char)
        if digit is None:
            return None
        value = value * 62 + digit
    return value


def ulid(ms: int, randomness: int) -> str:
    """A 26-character ULID: 48-bit milliseconds then 80 bits, Crockford base32."""
    return base32((ms << 80) | (randomness & ((1 << 80) - 1)), 26)


def short_id(h: int) -> str:
    """A 6-character id like Klaviyo's list, flow and metric ids (``Y6nRLr``)."""
    return base62(h % 62**6, 6)


def uuid_text(h1: int, h2: int) -> str:
    text = f"{(h1 << 64) | h2:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


# --- time ----------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def iso(ts: int) -> str:
    """Klaviyo's timestamp form: second resolution, ``+00:00`` offset."""
    return dt.datetime.fromtimestamp(ts, UTC).isoformat()


def iso_or_none(ts: int | None) -> str | None:
    return None if ts is None else iso(ts)


def epoch(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class Timeline:
    """Non-decreasing whole seconds for positions ``0..n-1`` spread over ``[start, end)``.

    Positions come in groups (sizes cycling through ``groups``) that share one second,
    because real exports are full of ties; group starts are jittered so the gaps look
    organic. ``at`` is O(1), so ordering questions are answered by binary search.
    """

    start: int
    end: int
    n: int
    groups: tuple[int, ...]
    salt: int
    # Derived in __post_init__: the group of each position of a block, the block's length,
    # and the seconds between group starts.
    _group_of: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _block: int = field(init=False, repr=False, compare=False)
    _step: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offsets: list[int] = []
        for number, size in enumerate(self.groups):
            offsets.extend([number] * size)
        object.__setattr__(self, "_group_of", tuple(offsets))
        object.__setattr__(self, "_block", len(offsets))
        count = self._group(self.n - 1) + 1 if self.n else 1
        object.__setattr__(self, "_step", (self.end - self.start) / count)

    def _group(self, j: int) -> int:
        block, offset = divmod(j, self._block)
        return block * len(self.groups) + self._group_of[offset]

    def at(self, j: int) -> int:
        g = self._group(j)
        return self.start + int((g + 0.9 * unit(mix(self.salt ^ g))) * self._step)


# --- filters -------------------------------------------------------------------------------


def walk(node: Any, path: Sequence[str]) -> list[Any]:
    """Values at a dotted path; a list on the way fans out (any-element semantics)."""
    values = [node]
    for part in path:
        found: list[Any] = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict) and part in item:
                    found.append(item[part])
        values = found
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def _comparable(actual: Any, wanted: Any) -> tuple[Any, Any] | None:
    if isinstance(wanted, dt.datetime):
        if isinstance(actual, str):
            try:
                return epoch(dt.datetime.fromisoformat(actual)), epoch(wanted)
            except ValueError:
                return None
        if isinstance(actual, int | float) and not isinstance(actual, bool):
            return actual, epoch(wanted)
        return None
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return (actual, wanted) if type(actual) is type(wanted) else None
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return actual, wanted
    if isinstance(wanted, str) and isinstance(actual, str):
        return actual, wanted
    return None


def _equal(actual: Any, wanted: Any) -> bool:
    pair = _comparable(actual, wanted)
    return pair is not None and pair[0] == pair[1]


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "greater-than": lambda a, b: a > b,
    "greater-or-equal": lambda a, b: a >= b,
    "less-than": lambda a, b: a < b,
    "less-or-equal": lambda a, b: a <= b,
}


def _strings(values: list[Any]) -> list[str]:
    return [value for value in values if isinstance(value, str)]


def _options(wanted: Any) -> list[Any]:
    return wanted if isinstance(wanted, list) else [wanted]


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[list[Any], Any], bool]:
    def test(values: list[Any], wanted: Any) -> bool:
        pairs = (_comparable(value, wanted) for value in values)
        return any(pair is not None and compare(*pair) for pair in pairs)

    return test


# Each operator: does any value found at the condition's field satisfy it? (``equals`` with
# a list means any of them, as ``any`` does.)
_TESTS: dict[str, Callable[[list[Any], Any], bool]] = {
    "has": lambda values, _: any(value not in (None, "", [], {}) for value in values),
    "any": lambda values, wanted: any(
        _equal(value, option) for value in values for option in _options(wanted)
    ),
    "contains": lambda values, wanted: (
        isinstance(wanted, str)
        and (any(wanted in value for value in _strings(values)) or wanted in values)
    ),
    "starts-with": lambda values, wanted: any(
        value.startswith(str(wanted)) for value in _strings(values)
    ),
    "ends-with": lambda values, wanted: any(
        value.endswith(str(wanted)) for value in _strings(values)
    ),
    "contains-any": lambda values, wanted: any(option in values for option in _options(wanted)),
    "contains-all": lambda values, wanted: all(option in values for option in _options(wanted)),
    **{op: _ordered(compare) for op, compare in _ORDER.items()},
}
_TESTS["equals"] = _TESTS["any"]


def satisfies(values: list[Any], condition: Condition) -> bool:
    """Does any value found at the condition's field satisfy it?"""
    test = _TESTS.get(condition.op)
    if test is None:
        raise InvalidQuery(f"Unsupported operator {condition.op}.", "filter")
    return test(values, condition.value)


def condition_number(value: Any) -> float:
    """A filter value on a timeline field as epoch seconds (datetimes or numbers)."""
    if isinstance(value, dt.datetime):
        return epoch(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise InvalidQuery("Invalid filter value.", "filter")


class _Extreme:
    """Below (or above) every value, numbers and strings alike: open window ends."""

    def __init__(self, above: bool) -> None:
        self.above = above

    def __lt__(self, other: object) -> bool:
        return not self.above and other is not self

    def __gt__(self, other: object) -> bool:
        return self.above and other is not self

    def __le__(self, other: object) -> bool:
        return not self.above or other is self

    def __ge__(self, other: object) -> bool:
        return self.above or other is self

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return hash(self.above)


BOTTOM, TOP = _Extreme(above=False), _Extreme(above=True)


@dataclass
class Window:
    """The open key interval ``(low, high)`` a query may still return."""

    low: Key = (BOTTOM, BOTTOM)
    high: Key = (TOP, TOP)

    def narrow(self, condition: Condition, as_number: bool = True) -> bool:
        """Fold a range condition on the sort field into the window; False if not one."""
        if condition.op not in _ORDER:
            return False
        bound = condition_number(condition.value) if as_number else condition.value
        if condition.op == "greater-than":
            self.low = max(self.low, (bound, INF))
        elif condition.op == "greater-or-equal":
            self.low = max(self.low, (bound, -INF))
        elif condition.op == "less-than":
            self.high = min(self.high, (bound, -INF))
        else:
            self.high = min(self.high, (bound, INF))
        return True


# --- streams -------------------------------------------------------------------------------


class Run:
    """Indices ``[lo, hi)`` whose ``value`` is non-decreasing; ``skip`` drops some cheaply."""

    def __init__(
        self,
        lo: int,
        hi: int,
        value: Callable[[int], Any],
        skip: Callable[[int], bool] | None = None,
    ) -> None:
        self.lo, self.hi, self.value, self.skip = lo, hi, value, skip

    def position(self, key: Key) -> int:
        """First index whose key is strictly greater than ``key`` (binary search)."""
        lo, hi = self.lo, self.hi
        value = self.value
        while lo < hi:
            mid = (lo + hi) // 2
            if (value(mid), mid) > key:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def ascending(self, window: Window) -> Iterator[Key]:
        value, skip, high = self.value, self.skip, window.high
        for i in range(self.position(window.low), self.hi):
            if skip is not None and skip(i):
                continue
            key = (value(i), i)
            if key >= high:
                return
            yield key

    def descending(self, window: Window) -> Iterator[Key]:
        value, skip, low = self.value, self.skip, window.low
        # first index not below ``high``, then walk down
        start = self.position((window.high[0], window.high[1])) - 1
        for i in range(start, self.lo - 1, -1):
            if skip is not None and skip(i):
                continue
            key = (value(i), i)
            if key >= window.high:
                continue
            if key <= low:
                return
            yield key


class Keys:
    """An explicit sorted list of keys: overlays, candidate sets, small tables."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = sorted(keys)

    def ascending(self, window: Window) -> Iterator[Key]:
        keys = self.keys
        for position in range(bisect.bisect_right(keys, window.low), len(keys)):
            if keys[position] >= window.high:
                return
            yield keys[position]

    def descending(self, window: Window) -> Iterator[Key]:
        keys = self.keys
        for position in range(bisect.bisect_left(keys, window.high) - 1, -1, -1):
            if keys[position] <= window.low:
                return
            yield keys[position]


Stream = Run | Keys


def merged(streams: Sequence[Stream], window: Window, descending: bool) -> Iterator[Key]:
    if descending:
        return heapq.merge(*(s.descending(window) for s in streams), reverse=True)
    return heapq.merge(*(s.ascending(window) for s in streams))


# --- cursor tokens -------------------------------------------------------------------------


def encode_token(sort: str, descending: bool, key: Key) -> str:
    return orjson.dumps([sort, descending, key[0], key[1]]).decode()


def decode_token(token: str, sort: str, descending: bool) -> Key:
    """The key a page ended on; anything else is Klaviyo's "Invalid cursor provided."."""
    try:
        name, direction, value, index = orjson.loads(token)
    except (orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise InvalidQuery("Invalid cursor provided.", "page[cursor]") from error
    if name != sort or direction is not descending or not isinstance(index, int | float):
        raise InvalidQuery("Invalid cursor provided.", "page[cursor]")
    return (value, index)
