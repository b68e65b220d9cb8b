"""Variants real Klaviyo accounts send, applied when ``Account.quirks`` is on (the default).

This module holds the presentation-level one: mixed timestamp forms. Every timestamp
attribute of a rendered object is written, per record and field, in one of several
forms of the same instant (``+00:00``, ``Z``, microseconds, milliseconds with ``Z``,
another offset, a space separator). The choice hashes seed, record id and field, so it
is stable across requests and the same record reads the same in ``data`` and
``included``. Ground truth, filters and sorts never see these forms: they run on the
canonical values before an object is rendered.

Known simplification: the sub-second part is extra precision of the rendered instant
only; the sandbox keeps filtering, sorting and paging on whole seconds.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from ._core import salt

# Timestamp attributes per resource type, as dotted paths under ``attributes``; ``*``
# walks a list. Only attributes the sandbox can render non-null are listed (whatsapp and
# ``valid_until`` are always null), because every path costs a lookup per object.
_SUBSCRIPTIONS = (
    "subscriptions.email.marketing.consent_timestamp",
    "subscriptions.email.marketing.last_updated",
    "subscriptions.email.marketing.suppression.*.timestamp",
    "subscriptions.email.marketing.list_suppressions.*.timestamp",
    "subscriptions.email.open_tracking.consent_timestamp",
    "subscriptions.email.open_tracking.last_updated",
    "subscriptions.email.open_tracking.created_timestamp",
    "subscriptions.sms.marketing.consent_timestamp",
    "subscriptions.sms.marketing.last_updated",
    "subscriptions.sms.transactional.consent_timestamp",
    "subscriptions.sms.transactional.last_updated",
    "subscriptions.mobile_push.marketing.consent_timestamp",
)
_CREATED_UPDATED = ("created", "updated")
TIMESTAMP_FIELDS: dict[str, tuple[str, ...]] = {
    "profile": (
        "created",
        "updated",
        "last_event_date",
        "joined_group_at",
        "predictive_analytics.expected_date_of_next_order",
        *_SUBSCRIPTIONS,
    ),
    "event": ("datetime",),
    "list": _CREATED_UPDATED,
    "segment": _CREATED_UPDATED,
    "flow": _CREATED_UPDATED,
    "flow-action": _CREATED_UPDATED,
    "flow-message": _CREATED_UPDATED,
    "metric": _CREATED_UPDATED,
    "template": _CREATED_UPDATED,
    "campaign": ("created_at", "scheduled_at", "updated_at", "send_time", "send_strategy.datetime"),
    "campaign-message": ("created_at", "updated_at", "send_times.*.datetime"),
}
# Profiles and events are built per request; catalog items share their nested dicts
# between renders, so nested paths in those are rewritten on copies.
BUILT_FRESH = frozenset({"profile", "event"})
FORMS = ("canonical", "z", "micro", "milli_z", "offset", "space")
_GOLDEN = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1
_OFFSETS = ((dt.timedelta(hours=-5), "-05:00"), (dt.timedelta(hours=2), "+02:00"))


def restamp(text: Any, h: int, fraction: int) -> Any:
    """``text`` (canonical ``YYYY-MM-DDTHH:MM:SS+00:00``) in the form ``h`` picks.

    Half stay canonical; the rest split evenly over the other five forms. Anything not
    canonical (None, dates, an already varied value) comes back unchanged, so applying
    this twice is harmless. ``fraction`` is the record's extra microseconds.
    """
    if not isinstance(text, str) or len(text) != 25 or text[10] != "T" or text[19:] != "+00:00":
        return text
    form = h % 10
    if form < 5:
        return text
    if form == 5:
        return text[:19] + "Z"
    if form == 6:
        return f"{text[:19]}.{fraction:06d}+00:00"
    if form == 7:
        return f"{text[:19]}.{fraction // 1000:03d}Z"
    if form == 8:  # naive arithmetic: a third of the cost of astimezone()
        shift, suffix = _OFFSETS[(h >> 32) & 1]
        return (dt.datetime.fromisoformat(text[:19]) + shift).isoformat() + suffix
    return f"{text[:10]} {text[11:]}"


def form_of(text: str) -> str:
    """Which of ``FORMS`` a rendered timestamp is in (for tests and checks)."""
    if text[10] == " ":
        return "space"
    if text.endswith("Z"):
        return "milli_z" if "." in text else "z"
    if "." in text:
        return "micro"
    return "canonical" if text.endswith("+00:00") else "offset"


Trie = dict[str, Any]
"""Timestamp fields as a trie: a leaf is the field's salt (int), ``*`` walks a list."""


def _trie(seed: int, kind: str, names: tuple[str, ...]) -> Trie:
    root: Trie = {}
    for name in names:
        node = root
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = salt(seed, f"stamp-{kind}-{name}")
    return root


class Stamps:
    """Rewrites the timestamps of rendered objects into mixed forms of the same instant."""

    def __init__(self, seed: int) -> None:
        self._salt = salt(seed, "stamps")
        tries = {kind: _trie(seed, kind, names) for kind, names in TIMESTAMP_FIELDS.items()}
        # top-level fields inline (all an event has), deeper ones by group or by copy
        self._top = {
            kind: tuple((name, sub) for name, sub in trie.items() if isinstance(sub, int))
            for kind, trie in tries.items()
        }
        self._deep = {
            kind: {name: sub for name, sub in trie.items() if not isinstance(sub, int)}
            for kind, trie in tries.items()
        }
        # built-fresh objects are rewritten in place, parent dict by parent dict
        self._groups = {kind: tuple(_groups(self._deep[kind])) for kind in BUILT_FRESH}

    def vary(self, obj: dict[str, Any]) -> None:
        """Rewrite ``obj``'s timestamps in place (its ``attributes`` dict is its own)."""
        kind = obj.get("type", "")
        top = self._top.get(kind)
        attributes = obj.get("attributes")
        if top is None or not isinstance(attributes, dict):
            return
        # one hash per record (crc32 and a multiply), one multiply per field: this runs
        # on every object of every page
        key = (zlib.crc32(str(obj["id"]).encode()) ^ self._salt) * _GOLDEN & _M64
        key ^= key >> 29
        for name, field_salt in top:
            value = attributes.get(name)
            if value is not None:
                h = (((key ^ field_salt) * _GOLDEN) & _M64) >> 24
                if h % 10 >= 5:  # below 5: canonical, nothing to rewrite
                    attributes[name] = restamp(value, h, (key >> 40) % 1_000_000)
        if kind in BUILT_FRESH:
            _in_place(attributes, self._groups[kind], key)
            return
        for name, sub in self._deep[kind].items():
            value = attributes.get(name)
            if value is not None:
                attributes[name] = _copied(value, sub, key)


Group = tuple[tuple[str, ...], bool, tuple[tuple[str, int], ...]]
"""(path to a parent, whether it is a list of parents, its timestamp leaves)."""


def _groups(trie: Trie, path: tuple[str, ...] = ()) -> list[Group]:
    found: list[Group] = []
    for each, node in ((False, trie), (True, trie.get("*", {}))):
        leaves = tuple((name, sub) for name, sub in node.items() if isinstance(sub, int))
        if leaves and path:
            found.append((path, each, leaves))
    for name, sub in trie.items():
        if isinstance(sub, dict) and name != "*":
            found += _groups(sub, (*path, name))
    return found


def _in_place(attributes: dict[str, Any], groups: tuple[Group, ...], key: int) -> None:
    """The nested timestamps of a built-fresh object, restamped where they are."""
    fraction = (key >> 40) % 1_000_000
    for path, each, leaves in groups:
        node: Any = attributes
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        parents: list[dict[str, Any]]
        if each:
            parents = [i for i in node if isinstance(i, dict)] if isinstance(node, list) else []
        else:
            parents = [node] if isinstance(node, dict) else []
        for parent in parents:
            for name, field_salt in leaves:
                value = parent.get(name)
                if value is not None:
                    h = (((key ^ field_salt) * _GOLDEN) & _M64) >> 24
                    if h % 10 >= 5:
                        parent[name] = restamp(value, h, fraction)


def _copied(node: Any, trie: Trie, key: int) -> Any:
    """``node`` with the timestamps ``trie`` names restamped, copied where anything
    changes: catalog items share their nested dicts and lists between renders."""
    if isinstance(node, list):
        each = trie.get("*")
        if each is None:
            return node
        items = [_copied(item, each, key) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict):
        return node
    out = None
    for name, sub in trie.items():
        value = node.get(name)
        if value is None:
            continue
        if isinstance(sub, int):
            h = (((key ^ sub) * _GOLDEN) & _M64) >> 24
            new = value if h % 10 < 5 else restamp(value, h, (key >> 40) % 1_000_000)
        else:
            new = _copied(value, sub, key)
        if new is not value:
            out = dict(node) if out is None else out
            out[name] = new
    return node if out is None else out
