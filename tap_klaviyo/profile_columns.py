"""Profile properties as columns (``profile_properties_as_columns``): the custom keys of
``properties`` as typed columns of ``profiles``, found at ``--discover`` in a sample.

The sample is the ``profile_properties_sample`` most recently updated profiles, read with
only ``properties`` in each (``fields[profile]=properties``, 100 a page, the L tier): one
request per 100 profiles. Each key seen there becomes a column:

- its name is ``property_`` and the key in lowercase, each run of characters other than
  ``a-z`` and ``0-9`` one ``_`` (``"Favorite Color"`` and ``"$source"`` are
  ``property_favorite_color`` and ``property_source``), cut to 55 characters; keys that map
  to one name are told apart by ``_2``, ``_3``... in the keys' sorted order;
- its type is boolean where every sampled value is one, number where every one is a number
  (integers and decimals alike: a key Klaviyo holds as 3 on one profile and 3.5 on another
  is one column), else string; always nullable. A key with an object or a list among its
  values is no column.

The catalog keeps each column's key in its ``description``, so a sync reads the columns the
discovery chose (and samples again only without a catalog). A key that is not a column
(seen after the discovery, or nested), or a value that does not fit its column's type, stays
in ``properties``: nothing is lost.
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from dataclasses import dataclass

from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.errors import PermissionDeniedError
from tap_klaviyo.logs import plural
from tap_klaviyo.records import Page
from tap_klaviyo.resources import PROFILES

PREFIX = "property_"
MAX_NAME = 55  # Postgres keeps 63 characters of a name: room for a ``_<n>`` suffix
PAGE_SIZE = 100
DESCRIBED = "Klaviyo profile property "
UNSAFE = re.compile(r"[^a-z0-9]+")

# The JSON types a column may have, narrowest first, and the values each one takes.
FITS: dict[str, t.Callable[[t.Any], bool]] = {
    "boolean": lambda value: isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "string": lambda value: isinstance(value, str),
}


def column_name(key: str) -> str:
    """The column of a property key, before collisions are told apart."""
    slug = UNSAFE.sub("_", key.lower()).strip("_")[: MAX_NAME - len(PREFIX)].rstrip("_")
    return PREFIX + (slug or "_")


def column_type(values: t.Iterable[t.Any]) -> str | None:
    """Boolean or number where every non-null value is one, else string; None for objects
    and lists (those keys stay in ``properties``)."""
    given = [value for value in values if value is not None]
    if any(isinstance(value, (dict, list)) for value in given):
        return None
    for kind in ("boolean", "number"):
        if given and all(FITS[kind](value) for value in given):
            return kind
    return "string"


@dataclass(frozen=True)
class Column:
    name: str
    key: str
    kind: str

    def schema(self) -> dict[str, t.Any]:
        return {"type": [self.kind, "null"], "description": DESCRIBED + json.dumps(self.key)}


@dataclass(frozen=True)
class PropertyColumns:
    """The columns chosen, and how a profile row moves its properties into them."""

    columns: tuple[Column, ...]

    @classmethod
    def from_sample(cls, properties: t.Iterable[t.Mapping[str, t.Any]]) -> PropertyColumns:
        values: dict[str, list[t.Any]] = {}
        for found in properties:
            for key, value in (found or {}).items():
                values.setdefault(key, []).append(value)
        kinds = {key: column_type(seen) for key, seen in values.items()}
        return cls.named({key: kind for key, kind in kinds.items() if kind})

    @classmethod
    def named(cls, kinds: t.Mapping[str, str]) -> PropertyColumns:
        """Columns for these keys, each name told apart from the others' (and the row's
        own columns, which never begin with ``property_``)."""
        taken: set[str] = set()
        columns = []
        for key in sorted(kinds):
            base = name = column_name(key)
            number = 1
            while name in taken:
                number += 1
                name = f"{base}_{number}"
            taken.add(name)
            columns.append(Column(name, key, kinds[key]))
        return cls(tuple(columns))

    @classmethod
    def from_schema(cls, schema: t.Mapping[str, t.Any]) -> PropertyColumns:
        """The columns a discovered catalog's ``profiles`` schema holds."""
        columns = []
        for name, node in (schema.get("properties") or {}).items():
            description = str(node.get("description") or "")
            if name.startswith(PREFIX) and description.startswith(DESCRIBED):
                kind = next(k for k in _types(node) if k != "null")
                columns.append(Column(name, json.loads(description[len(DESCRIBED) :]), kind))
        return cls(tuple(columns))

    def schema(self) -> dict[str, dict[str, t.Any]]:
        return {column.name: column.schema() for column in self.columns}

    def apply(self, row: dict[str, t.Any]) -> None:
        """Move each column's property out of ``properties`` when its value fits the type;
        the others (and every value that does not fit) stay there."""
        properties = row.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        for column in self.columns:
            value = properties.get(column.key)
            if value is None:
                properties.pop(column.key, None)
                row[column.name] = None
            elif FITS[column.kind](value):
                row[column.name] = properties.pop(column.key)
            else:
                row[column.name] = None


def _types(node: t.Mapping[str, t.Any]) -> list[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else list(kind or ())


def sample_params(size: int) -> dict[str, str]:
    """The sample's request: only ``properties``, the most recently updated first."""
    return {
        "fields[profile]": "properties",
        "page[size]": str(min(size, PAGE_SIZE)),
        "sort": "-updated",
    }


def discover(
    client: KlaviyoClient,
    size: int,
    catalog_schema: t.Mapping[str, t.Any] | None,
    logger: logging.Logger,
) -> PropertyColumns | None:
    """The columns of the catalog's ``profiles`` schema in a sync, else found in a sample
    of ``size`` profiles (--discover); None without the scope profiles:read."""
    if catalog_schema is not None:
        return PropertyColumns.from_schema(catalog_schema)
    found: list[t.Any] = []
    requests = 0
    try:
        for document in client.paginate(
            PROFILES.path, sample_params(size), tier=PROFILES.tier, endpoint=PROFILES.path
        ):
            requests += 1
            found.extend(
                (row.get("attributes") or {}).get("properties")
                for row in Page(document).objects(None)
            )
            if len(found) >= size:
                break
    except PermissionDeniedError:
        logger.warning("Profile properties as columns: the key lacks profiles:read; no columns.")
        return None
    columns = PropertyColumns.from_sample(found[:size])
    logger.info(
        "Profile properties as columns: %s from %s sampled in %s: %s",
        plural(len(columns.columns), "column"), plural(min(len(found), size), "profile"),
        plural(requests, "request"),
        ", ".join(f"{c.key!r} -> {c.name} ({c.kind})" for c in columns.columns) or "none",
    )  # fmt: skip
    return columns
