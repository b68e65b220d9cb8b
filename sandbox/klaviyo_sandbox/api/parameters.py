"""The query parameters of one request, validated against its operation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from klaviyo_sandbox.endpoints import Operation
from klaviyo_sandbox.filters import parse_filter
from klaviyo_sandbox.model import Condition, InvalidQuery

from .errors import invalid

UNPAGINATED_SIZE = 1000  # campaign messages and accounts come in one response


@dataclass(frozen=True)
class Parameters:
    """The validated query parameters of one request."""

    conditions: tuple[Condition, ...] = ()
    sort: str | None = None
    descending: bool = False
    size: int = UNPAGINATED_SIZE
    cursor: str | None = None
    include: frozenset[str] = frozenset()
    additional_fields: frozenset[str] = frozenset()
    fieldsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def single_values(request: web.Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query.items():
        if name in values:
            raise invalid(f"'{name}' may be given only once.", name)
        values[name] = value
    return values


def allowed_parameters(op: Operation) -> set[str]:
    """The query parameters an operation takes; any other one is a 400."""
    allowed = {f"fields[{kind}]" for kind in op.fieldsets} | set(op.extra_parameters)
    allowed |= {f"additional-fields[{kind}]" for kind in op.additional_fields}
    if op.filters:
        allowed.add("filter")
    if op.sorts:
        allowed.add("sort")
    if op.includes:
        allowed.add("include")
    if op.page_size is not None:
        allowed.add("page[cursor]")
        if op.page_size.adjustable:
            allowed.add("page[size]")
    return allowed


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_parameters(op: Operation, values: Mapping[str, str]) -> Parameters:
    allowed = allowed_parameters(op)
    for name in values:
        if name not in allowed:
            raise invalid(f"'{name}' is not a valid query parameter for this endpoint.", name)
    sort, descending = _sort(op, values.get("sort"))
    return Parameters(
        conditions=_conditions(op, values.get("filter")),
        sort=sort,
        descending=descending,
        size=_page_size(op, values.get("page[size]")),
        cursor=values.get("page[cursor]"),
        include=_listed(values.get("include"), op.includes, "include"),
        additional_fields=frozenset().union(
            *(
                _listed(values.get(f"additional-fields[{kind}]"), allowed_values, kind)
                for kind, allowed_values in op.additional_fields.items()
            )
        ),
        fieldsets={
            name[len("fields[") : -1]: tuple(_split(value))
            for name, value in values.items()
            if name.startswith("fields[")
        },
    )


def _conditions(op: Operation, text: str | None) -> tuple[Condition, ...]:
    if text is None:
        return ()
    try:
        return parse_filter(text, op.filters)
    except InvalidQuery as error:
        raise invalid(error.detail, "filter") from None


def _sort(op: Operation, text: str | None) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    name = text.removeprefix("-")
    if name not in op.sorts:
        raise invalid(f"'{text}' is not a valid sort for this endpoint.", "sort")
    return name, text.startswith("-")


def _page_size(op: Operation, text: str | None) -> int:
    if op.page_size is None:
        return UNPAGINATED_SIZE
    if text is None:
        return op.page_size.default
    maximum = op.page_size.maximum
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise invalid(f"Page size must be an integer between 1 and {maximum}.", "page[size]")
    return int(text)


def _listed(text: str | None, allowed: frozenset[str], parameter: str) -> frozenset[str]:
    if text is None:
        return frozenset()
    values = _split(text)
    unknown = [value for value in values if value not in allowed]
    if unknown or not values:
        name = parameter if parameter == "include" else f"additional-fields[{parameter}]"
        raise invalid(f"'{text}' is not a valid value for '{name}'.", name)
    return frozenset(values)
