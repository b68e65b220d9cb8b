"""Klaviyo's filter grammar: ``filter=op(field,value)`` strings into ``Condition``s.

Grammar (API digest section 1, "Filter, sort, fields, include")::

    filter := term ("," term)*                 top-level commas mean AND
    term   := "and(" term ("," term)* ")"      nesting flattens into the same AND
            | "has(" field ")"
            | operator "(" field "," value ")"
    value  := "quoted" | 'quoted' | [value, ...] | bare
    bare   := true | false | number | datetime (UNQUOTED: a quoted datetime is a string)

``parse`` knows only the grammar; ``parse_filter`` also checks every term against
the endpoint's allowed field/operator pairs and value types. Every failure raises
``InvalidQuery`` with ``parameter="filter"``, which the app turns into Klaviyo's
400 ``invalid`` "Invalid filter provided." error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from klaviyo_sandbox.endpoints import FilterField
from klaviyo_sandbox.model import Condition, FilterValue, InvalidQuery

OPERATORS = frozenset(
    {
        "equals",
        "any",
        "contains",
        "starts-with",
        "ends-with",
        "greater-than",
        "greater-or-equal",
        "less-than",
        "less-or-equal",
        "has",
        "contains-any",
        "contains-all",
    }
)
LIST_OPERATORS = frozenset({"any", "contains-any", "contains-all"})
INVALID_FILTER = "Invalid filter provided."
MAX_DEPTH = 8  # nesting guard: and(and(and(...))) deeper than this is surely garbage

_NAME = re.compile(r"[a-z][a-z-]*")
_FIELD = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$]*")
_BARE = re.compile(r"[^\s,()\[\]\"']+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?"
)

Scalar = str | int | float | bool | dt.datetime


def _invalid(reason: str) -> InvalidQuery:
    return InvalidQuery(f"{INVALID_FILTER} {reason}", "filter")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Condition, ...]:
        conditions = self._terms(depth=0)
        self._skip_space()
        if self.pos != len(self.text):
            raise _invalid(f"Unexpected {self.text[self.pos]!r} at position {self.pos}.")
        return tuple(conditions)

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        self._skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of filter"
            raise _invalid(f"Expected {char!r} at position {self.pos}, found {found}.")
        self.pos += 1

    def _match(self, pattern: re.Pattern[str], what: str) -> str:
        self._skip_space()
        found = pattern.match(self.text, self.pos)
        if not found:
            raise _invalid(f"Expected {what} at position {self.pos}.")
        self.pos = found.end()
        return found.group()

    def _terms(self, depth: int) -> list[Condition]:
        conditions = self._term(depth)
        while self._peek() == ",":
            self.pos += 1
            conditions += self._term(depth)
        return conditions

    def _term(self, depth: int) -> list[Condition]:
        if depth > MAX_DEPTH:
            raise _invalid("Filters are nested too deeply.")
        name = self._match(_NAME, "an operator")
        self._expect("(")
        if name == "and":
            conditions = self._terms(depth + 1)
        elif name in ("or", "not"):
            raise _invalid(f"'{name}' is not supported for this endpoint.")
        elif name not in OPERATORS:
            raise _invalid(f"'{name}' is not a valid operator.")
        elif name == "has":
            conditions = [Condition("has", self._match(_FIELD, "a field name"))]
        else:
            field = self._match(_FIELD, "a field name")
            self._expect(",")
            conditions = [Condition(name, field, self._value())]
        self._expect(")")
        return conditions

    def _value(self) -> FilterValue:
        if self._peek() == "[":
            self.pos += 1
            items = [self._scalar()]
            while self._peek() == ",":
                self.pos += 1
                items.append(self._scalar())
            self._expect("]")
            return items
        return self._scalar()

    def _scalar(self) -> Scalar:
        if self._peek() in ("'", '"'):
            return self._quoted()
        return _bare_value(self._match(_BARE, "a value"))

    def _quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(chars)
            if char == "\\" and self.pos < len(self.text):
                char = self.text[self.pos]
                self.pos += 1
            chars.append(char)
        raise _invalid("Unterminated string.")


def _bare_value(token: str) -> Scalar:
    if token in ("true", "false"):
        return token == "true"
    if _NUMBER.fullmatch(token):
        return int(token) if token.lstrip("-").isdigit() else float(token)
    found = _DATETIME.fullmatch(token)
    if found:
        return _datetime(found)
    raise _invalid(f"{token!r} is not a valid value: quote strings with \" or '.")


def _datetime(found: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    try:
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_timezone(offset),
        )
    except ValueError as error:
        raise _invalid(f"{found.group()!r} is not a valid datetime.") from error
    return moment.astimezone(dt.timezone.utc)


def _timezone(offset: str | None) -> dt.timezone:
    """Klaviyo reads a datetime without offset as UTC."""
    if offset in (None, "Z"):
        return dt.timezone.utc
    assert offset is not None
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if delta >= dt.timedelta(hours=24):
        raise _invalid(f"{offset!r} is not a valid UTC offset.")
    return dt.timezone(sign * delta)


def parse(text: str) -> tuple[Condition, ...]:
    """The grammar only: typed conditions, no check against an endpoint."""
    return _Parser(text).parse()


def parse_filter(text: str, fields: Mapping[str, FilterField]) -> tuple[Condition, ...]:
    """Parse and check every term against an endpoint's allowed filters.

    A list-valued ``equals`` (``equals(name,["a","b"])``) means membership, so it
    reaches the data layer as ``any``: the data layer only sees lists under ``any``.
    """
    conditions = parse(text)
    for condition in conditions:
        _check(condition, fields)
    return tuple(
        Condition("any", c.field, c.value) if c.op == "equals" and isinstance(c.value, list) else c
        for c in conditions
    )


def _check(condition: Condition, fields: Mapping[str, FilterField]) -> None:
    op, name, value = condition.op, condition.field, condition.value
    allowed = fields.get(name)
    if allowed is None:
        raise _invalid(f"'{name}' is not a valid field for this endpoint.")
    if op not in allowed.operators:
        raise _invalid(f"'{op}' is not a valid operator for '{name}'.")
    if isinstance(value, list):
        if op not in allowed.list:
            raise _invalid(f"'{op}' on '{name}' does not take a list.")
        for item in value:
            _check_value(item, name, allowed)
    elif op in LIST_OPERATORS or op not in allowed.single:
        raise _invalid(f"'{op}' on '{name}' takes a list of values.")
    elif allowed.kind != "none":
        _check_value(value, name, allowed)


def _check_value(value: FilterValue, name: str, allowed: FilterField) -> None:
    kind = allowed.kind
    if kind == "datetime" and isinstance(value, str):
        raise _invalid(f"'{name}' takes an unquoted datetime, not a string.")
    valid = {
        "string": isinstance(value, str),
        "datetime": isinstance(value, dt.datetime),
        "boolean": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if not valid:
        raise _invalid(f"{value!r} is not a valid {kind} for '{name}'.")
    if allowed.enum and value not in allowed.enum:
        raise _invalid(f"{value!r} is not an allowed value for '{name}'.")
