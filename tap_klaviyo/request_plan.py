"""What a GET of one resource asks Klaviyo: its path, its query parameters (page size,
includes, additional fields, sort, partition and time filters) and the rate-limit tier it
falls in. Pure: the settings and the resource decide it, so the streams, the ids pass of a
reconciliation and the tests build requests the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t
from dataclasses import dataclass

from tap_klaviyo import timestamps
from tap_klaviyo.resources import Increment, Resource, Tier
from tap_klaviyo.settings import Settings

Context = t.Mapping[str, t.Any]

# A ``greater-than`` bound one second early is ``greater-or-equal`` to the second: records
# sharing the bookmark's second are read again, not lost.
ONE_SECOND = dt.timedelta(seconds=1)


def time_filters(
    increment: Increment, start: dt.datetime | None, end: dt.datetime | None
) -> list[str]:
    """Klaviyo's filters for [start, end) on the increment's field, either bound optional."""
    field = increment.filter_field
    filters = []
    if start is not None:
        if increment.lower == "greater-than":
            start -= ONE_SECOND
        filters.append(f"{increment.lower}({field},{timestamps.filter_text(start)})")
    if end is not None and increment.upper:
        filters.append(f"{increment.upper}({field},{timestamps.filter_text(end)})")
    return filters


@dataclass(frozen=True)
class RequestPlan:
    """How the requests of one resource are built, under one run's settings."""

    resource: Resource
    settings: Settings

    @functools.cached_property
    def additional_fields(self) -> list[str]:
        """The additional fields the settings turn on."""
        return [
            f.name for f in self.resource.additional_fields if getattr(self.settings, f.setting)
        ]

    @functools.cached_property
    def tier(self) -> Tier:
        """The tier the request really falls in: some additional fields lower it."""
        lowered = (
            f.tier
            for f in self.resource.additional_fields
            if f.tier and f.name in self.additional_fields
        )
        return next(lowered, self.resource.tier)

    @functools.cached_property
    def workers(self) -> int:
        """Requests in flight at once (time windows, parents): as many as the tier can use."""
        return self.tier.workers(self.settings.max_workers)

    @functools.cached_property
    def include(self) -> list[str]:
        resource = self.resource
        turned_on = (
            n for n, setting in resource.optional_includes if getattr(self.settings, setting)
        )
        return [*resource.include, *turned_on]

    def path(self, context: Context | None) -> str:
        """The endpoint's path, a child's with its parent's id."""
        return self.resource.path.format(id=(context or {}).get(self.resource.parent_key or ""))

    def params(
        self,
        context: Context | None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> dict[str, str]:
        """The query of one partition's rows in [start, end) (bounds on the increment)."""
        resource = self.resource
        params: dict[str, str] = dict(resource.params)
        if resource.page_size:
            params["page[size]"] = str(resource.page_size)
        if self.include:
            params["include"] = ",".join(self.include)
        if self.additional_fields:
            of_type = resource.additional_fields[0].of_type
            params[f"additional-fields[{of_type}]"] = ",".join(self.additional_fields)
        filters = self.partition_filters(context)
        if resource.increment:
            params["sort"] = resource.increment.filter_field
            filters.extend(time_filters(resource.increment, start, end))
        if filters:
            params["filter"] = ",".join(filters)
        return params

    def partition_filters(self, context: Context | None) -> list[str]:
        """The filters of the table's partition ``context``; a parent's, where its children
        are read through a filter on it."""
        resource = self.resource
        if resource.parent_filter and context:
            return [resource.parent_filter.format(id=context[resource.parent_key or ""])]
        found = (p.filters for p in resource.partitions if dict(p.context) == context)
        return list(next(found, ()))

    def increment_filters(self, start: dt.datetime | None) -> list[str]:
        """The filters of every row from ``start`` on (the ids pass's lower bound)."""
        increment = self.resource.increment
        return time_filters(increment, start, None) if increment and start else []
