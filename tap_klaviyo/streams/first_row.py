"""The first row of a query, for where data begins: one row asked for."""

from __future__ import annotations

import typing as t

from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.records import Page
from tap_klaviyo.resources import Tier


def first_row(
    client: KlaviyoClient,
    path: str,
    params: t.Mapping[str, str],
    *,
    tier: Tier,
    stream: str,
    emits: str | None = None,
) -> tuple[dict[str, t.Any], Page] | None:
    """The query's first row and its page; None when there is none. Empty pages may come
    first and still link onward: they are followed."""
    for document in client.paginate(
        path, {**params, "page[size]": "1"}, tier=tier, endpoint=path, stream=stream
    ):
        page = Page(document)
        rows = page.objects(emits)
        if rows:
            return rows[0], page
    return None
