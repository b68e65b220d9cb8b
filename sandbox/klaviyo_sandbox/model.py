"""Types shared by the sandbox's HTTP layer (``app``) and data layer (``data``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

FilterValue = str | int | float | bool | dt.datetime | list[Any] | None
Resource = dict[str, Any]
"""A JSON:API resource object (or any JSON object the layers hand each other)."""


@dataclass(frozen=True)
class Condition:
    """One parsed filter term, e.g. ``greater-than(updated,2024-01-01T00:00:00Z)``.

    ``op`` is Klaviyo's operator name (equals, any, contains, starts-with, ends-with,
    greater-than, greater-or-equal, less-than, less-or-equal, has, contains-any,
    contains-all); ``field`` is the dotted field name as written in the filter;
    ``value`` is already typed: aware UTC datetimes for unquoted datetimes, str for
    quoted strings, bool/int/float, a list for ``any``, None for ``has``.
    """

    op: str
    field: str
    value: FilterValue = None


@dataclass(frozen=True)
class Query:
    """A collection request, after the HTTP layer has validated it."""

    collection: str
    parent_id: str | None = None
    conditions: tuple[Condition, ...] = ()
    sort: str | None = None
    descending: bool = False
    after: str | None = None
    size: int = 20
    additional_fields: frozenset[str] = frozenset()
    include: frozenset[str] = frozenset()


@dataclass
class Page:
    """One page: resource objects (without ``links``), included objects, next position."""

    data: list[Resource]
    included: list[Resource] = field(default_factory=list)
    after: str | None = None


class NotFound(Exception):
    """The resource (or the parent of a related collection) does not exist."""


class InvalidQuery(Exception):
    """The request is well-formed HTTP but Klaviyo would answer 400 ``invalid``."""

    def __init__(self, detail: str, parameter: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parameter = parameter
