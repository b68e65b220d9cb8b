"""The operation table's vocabulary: rate-limit tiers, filter fields, page sizes, operations,
and which campaign model a revision gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# --- rate-limit tiers (API digest section 3) -------------------------------------------


@dataclass(frozen=True)
class Tier:
    """A rate-limit tier: requests per second (burst), per minute (steady), per day."""

    name: str
    burst: int
    steady: int
    daily: int | None = None


XS = Tier("XS", 1, 15)
S = Tier("S", 3, 60)
M = Tier("M", 10, 150)
L = Tier("L", 75, 750)
XL = Tier("XL", 350, 3500)
REPORTING = Tier("reporting", 1, 2, 225)


@dataclass(frozen=True)
class TierDrop:
    """A query value that moves the request to a lower tier, e.g. ``profile_count``."""

    parameter: str
    value: str
    tier: Tier


# --- filters ------------------------------------------------------------------------------

ValueKind = Literal["string", "datetime", "number", "boolean", "none"]


@dataclass(frozen=True)
class FilterField:
    """What one filter field accepts.

    ``single`` are the operators taking one value, ``list`` those taking a list
    (``any(id,["a","b"])``, ``equals(name,["x"])``), mirroring ``x-klaviyo-filters``.
    ``none`` fields take no value at all: ``has(profile)``.
    """

    kind: ValueKind
    single: frozenset[str] = frozenset()
    list: frozenset[str] = frozenset()
    enum: frozenset[str] = frozenset()

    @property
    def operators(self) -> frozenset[str]:
        return self.single | self.list


def ops(*names: str) -> frozenset[str]:
    return frozenset(names)


COMPARISONS = ops("greater-or-equal", "greater-than", "less-or-equal", "less-than")
COMPARISONS_OR_EQUALS = COMPARISONS | {"equals"}
TEXT_MATCH = ops("contains", "ends-with", "equals", "starts-with")
ANY_EQUALS = ops("any", "equals")
EQUALS = ops("equals")


def string_field(
    single: frozenset[str] = frozenset(),
    lists: frozenset[str] = frozenset(),
    enum: frozenset[str] = frozenset(),
) -> FilterField:
    return FilterField("string", single, lists, enum)


def datetime_field(ops: frozenset[str]) -> FilterField:
    return FilterField("datetime", ops)


def boolean_field(single: frozenset[str], lists: frozenset[str] = frozenset()) -> FilterField:
    return FilterField("boolean", single, lists)


HAS = FilterField("none", ops("has"))


# --- revisions: which campaign model a request gets ----------------------------------------

Model = Literal["2026-07-15", "2026-10-15"]
CLASSIC: Model = "2026-07-15"
OMNICHANNEL: Model = "2026-10-15"


def campaign_model(revision: str) -> Model:
    """The campaign model of a revision: the omnichannel one from 2026-10-15 on, and in the
    beta 2026-07-15.pre, whose campaign endpoints 2026-10-15 released."""
    return OMNICHANNEL if revision >= OMNICHANNEL or revision == "2026-07-15.pre" else CLASSIC


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSize:
    """Page sizes of a paginated operation; ``adjustable`` = it takes ``page[size]``."""

    default: int
    maximum: int
    adjustable: bool = True


Kind = Literal["collection", "single", "report"]


@dataclass(frozen=True)
class Operation:
    """One GET or POST operation of the API as the sandbox serves it.

    ``collection`` is the data layer's collection name; for reports it is the report
    type handed to ``Account.report``. ``page_size`` is None when the operation is not
    paginated (single GETs, reports, campaign messages, accounts).
    """

    operation_id: str
    method: Literal["GET", "POST"]
    path: str
    collection: str
    kind: Kind
    scopes: tuple[str, ...]
    tier: Tier
    page_size: PageSize | None = None
    filters: Mapping[str, FilterField] = field(default_factory=dict)
    sorts: frozenset[str] = frozenset()
    includes: frozenset[str] = frozenset()
    additional_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fieldsets: frozenset[str] = frozenset()
    tier_drops: tuple[TierDrop, ...] = ()
    extra_parameters: frozenset[str] = frozenset()
    # The campaign model the operation belongs to; None: every revision has it.
    model: Model | None = None
