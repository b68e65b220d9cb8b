"""Response documents: Klaviyo's ``links``, sparse fieldsets, the next page's URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from .parameters import Parameters


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _resource_path(base: str, kind: str, id: str) -> str:
    return f"{base}/api/{kind}s/{id}/"


def with_links(resource: dict[str, Any], base: str) -> dict[str, Any]:
    """Add Klaviyo's ``links`` to a resource object and to its relationships."""
    kind, id = resource.get("type"), resource.get("id")
    if not isinstance(kind, str) or not isinstance(id, str):
        return resource
    self_url = _resource_path(base, kind, id)
    linked = {**resource, "links": {"self": self_url}}
    relationships = resource.get("relationships")
    if isinstance(relationships, dict):
        linked["relationships"] = {
            name: (
                relation
                if not isinstance(relation, dict) or "links" in relation
                else {
                    **relation,
                    "links": {
                        "self": f"{self_url}relationships/{name}/",
                        "related": f"{self_url}{name}/",
                    },
                }
            )
            for name, relation in relationships.items()
        }
    return linked


def _sparse(resource: dict[str, Any], fieldsets: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    names = fieldsets.get(resource.get("type", ""))
    attributes = resource.get("attributes")
    if names is None or not isinstance(attributes, dict):
        return resource
    kept: dict[str, Any] = {}
    for name in names:
        _keep(attributes, kept, name.split("."))
    return {**resource, "attributes": kept}


def _keep(source: dict[str, Any], target: dict[str, Any], path: list[str]) -> None:
    """Copy the value at a dotted path (``location.city``) from source to target."""
    head, rest = path[0], path[1:]
    if head not in source:
        return
    if not rest:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        child = target.get(head)
        if not isinstance(child, dict):
            child = target[head] = {}
        _keep(source[head], child, rest)


def present(
    resources: list[dict[str, Any]], base: str, parameters: Parameters
) -> list[dict[str, Any]]:
    return [_sparse(with_links(resource, base), parameters.fieldsets) for resource in resources]


def next_url(request: web.Request, cursor: str) -> str:
    """The request's own URL, every parameter kept, with the new ``page[cursor]``."""
    pairs = [(name, value) for name, value in request.query.items() if name != "page[cursor]"]
    pairs.append(("page[cursor]", cursor))
    return f"{base_url(request)}{request.path}?{urlencode(pairs, quote_via=quote)}"
