"""The keys pass of a reconciliation (``tap_klaviyo.versions``): every primary key Klaviyo
has, as cheaply as the endpoint allows.

Only the key and ``created`` are asked for (a sparse fieldset: a fraction of a full row's
bytes), no additional fields (so no lowered tier), in the largest pages. Klaviyo serves one
cursor at a time per query, so the range of ``created`` (immutable: an object never moves
between windows while the pass runs, as it would on ``updated``) is cut into windows read in
parallel within the tier. A window's lower bound is ``greater-than`` one second early (the
filter has no ``greater-or-equal``): the keys created before the window's start are the
previous window's, and are left out here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import typing as t

from tap_klaviyo import timestamps
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.records import Page
from tap_klaviyo.resources import KeysPass, Resource

ONE_SECOND = dt.timedelta(seconds=1)
# Windows are of equal time, not of equal size: two per cursor balance the cursors' loads
# against the part-filled last page each window costs.
WINDOWS_PER_CURSOR = 2
Window = tuple[dt.datetime, dt.datetime]


def key_schema(schema: t.Mapping[str, t.Any], keys: t.Sequence[str]) -> dict[str, t.Any]:
    """The stream's schema cut to its primary keys: a target that upserts updates only these
    columns (and its own, the version's), so the other columns of the row stay as they are."""
    return {
        "type": "object",
        "properties": {key: schema["properties"][key] for key in keys},
        "required": list(keys),
    }


class KeyReader:
    """The keys of one resource, created in [its first, ``end``), ``filters`` applied too."""

    def __init__(
        self, client: KlaviyoClient, resource: Resource, filters: list[str], end: dt.datetime
    ) -> None:
        assert resource.keys_pass is not None
        self.client, self.resource, self.end = client, resource, end
        self.keys_pass: KeysPass = resource.keys_pass
        self.filters = filters

    def windows(self, count: int) -> list[Window]:
        """[first created, end) in ``count`` windows of whole seconds (none: no object)."""
        first = self.first_created()
        if first is None or first >= self.end:
            return []
        step = max((self.end - first) / count, ONE_SECOND)
        bounds = [first]
        while bounds[-1] < self.end:
            bounds.append(min(timestamps.floor_second(bounds[-1] + step), self.end))
        return list(itertools.pairwise(bounds))

    def first_created(self) -> dt.datetime | None:
        """The oldest object's ``created``, to its second (one request)."""
        field = self.keys_pass.created
        params = self.params(None)
        params.update({"sort": field, "page[size]": "1"})
        for document in self.client.paginate(
            self.resource.path,
            params,
            tier=self.resource.tier,
            endpoint=self.resource.path,
            stream=self.resource.name,
        ):
            rows = Page(document).objects(None)
            if rows:  # empty pages may come first and still link onward
                return timestamps.floor_second(timestamps.parse(rows[0]["attributes"][field]))
        return None

    def keys(self, window: Window) -> t.Iterator[list[dict[str, t.Any]]]:
        """The keys created in the window, a page at a time."""
        start, _ = window
        field = self.keys_pass.created
        for document in self.client.paginate(
            self.resource.path,
            self.params(window),
            tier=self.resource.tier,
            endpoint=self.resource.path,
            stream=self.resource.name,
        ):
            yield [
                {"id": row["id"]}
                for row in Page(document).objects(None)
                if timestamps.parse(row["attributes"][field]) >= start
            ]

    def params(self, window: Window | None) -> dict[str, str]:
        name, value = self.keys_pass.fieldset
        field = self.keys_pass.created
        filters = [*self.filters]
        start, end = window if window else (None, self.end)
        if start is not None:
            filters.append(f"greater-than({field},{timestamps.filter_text(start - ONE_SECOND)})")
        filters.append(f"less-than({field},{timestamps.filter_text(end)})")
        return {
            name: f"{value},{field}",
            "page[size]": str(self.resource.page_size or 100),
            "filter": ",".join(filters),
        }
