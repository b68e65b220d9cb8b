"""Events, generated lazily by index: one monotone stream per metric (``_metrics``).

Event ``e`` belongs to the metric whose index range contains it; inside that range the
``datetime`` is non-decreasing (groups of 3-10 events share a second, and the last ~0.1%
are future-dated, as Klaviyo accepts). Sorting all events by datetime is a k-way merge
of the metric streams by ``(datetime, e)``; filtering by metric is one stream.

With quirks, some base events leave their stream's metric by arithmetic in ``e`` (so
counts stay closed-form): every ``ORPHAN_PERIOD``-th has no resolvable metric, and from
the duplicate's creation every ``DUPLICATE_PERIOD``-th "Placed Order" belongs to a second
metric of that name (an API integration). Their datetimes and properties do not change.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._core import (
    DAY,
    Keys,
    Run,
    Stream,
    Timeline,
    base62,
    iso,
    mix,
    salt,
    unbase62,
    uuid_text,
)
from ._metrics import (
    EMAIL_KIND,
    LIST_KIND,
    ORDER_KIND,
    PRODUCT_KIND,
    SITE_KIND,
    SMS_KIND,
    Metric,
)
from ._profiles import Profiles
from ._words import PRODUCTS, SMS_BODIES, SUBJECTS

_ID_SPACE = 2**62
ORPHAN_PERIOD = 200  # about 0.5% of the base events have no resolvable metric
DUPLICATE_PERIOD = 4  # the duplicate "Placed Order" takes every 4th after its creation
_DUPLICATE_REST = 1  # orphans sit at rests = 3 (mod 4): the two sets never overlap


@dataclass(frozen=True)
class MetricStream:
    """Events ``[lo, hi)`` of one metric; the last ``future`` ones are future-dated."""

    metric: Metric
    lo: int
    hi: int
    past: Timeline
    ahead: Timeline

    def at(self, e: int) -> int:
        j = e - self.lo
        if j < self.past.n:
            return self.past.at(j)
        return self.ahead.at(j - self.past.n)


@dataclass
class NewEvent:
    ts: int
    metric: int
    profile: int


@dataclass
class EventOverlay:
    events: dict[int, NewEvent] = field(default_factory=dict)
    keys: list[tuple[int, int]] = field(default_factory=list)


class Events:
    """``metrics[:layout]`` own the base streams; the rest (the quirks' duplicate and
    vanished metrics) own no stream. ``duplicate`` takes part of its namesake's stream."""

    def __init__(
        self,
        seed: int,
        count: int,
        anchor: int,
        metrics: Sequence[Metric],
        profiles: Profiles,
        *,
        layout: int | None = None,
        duplicate: Metric | None = None,
        orphans: bool = False,
    ) -> None:
        self.base = count
        self.metrics = list(metrics)
        self.profiles = profiles
        self.overlay = EventOverlay()
        self._profiles = max(1, profiles.base)  # events only point at base profiles
        self._salt = salt(seed, "event")
        self._multiplier = mix(salt(seed, "event-id")) | 1
        self._inverse = pow(self._multiplier, -1, _ID_SPACE)
        self._offset = mix(salt(seed, "event-offset")) % _ID_SPACE
        owners = self.metrics[: len(self.metrics) if layout is None else layout]
        self.streams_by_metric = self._layout(seed, count, anchor, owners)
        self._starts = [s.lo for s in self.streams_by_metric]
        self.orphans = orphans and count > 0
        # rest 3 (mod 4) keeps orphans off the duplicate's rest 1
        self.orphan_rest = DUPLICATE_PERIOD * (salt(seed, "orphans") % 50) + 3
        self.duplicate = duplicate
        self._original = -1
        self._duplicate_from = count
        original = next((m for m in owners if duplicate and m.name == duplicate.name), None)
        if duplicate is not None and original is not None:
            stream = self.streams_by_metric[original.index]
            self._original = original.index
            self._duplicate_from = Run(stream.lo, stream.hi, stream.at).position(
                (duplicate.created, -1)
            )

    @staticmethod
    def _layout(seed: int, count: int, anchor: int, metrics: list[Metric]) -> list[MetricStream]:
        total_share = sum(m.share for m in metrics) or 1.0
        sizes = [int(count * m.share / total_share) for m in metrics]
        if sizes:
            sizes[0] += count - sum(sizes)
        streams, lo = [], 0
        for metric, n in zip(metrics, sizes, strict=True):
            future = max(1 if n >= 200 else 0, n // 1000)
            group_salt = mix(salt(seed, "event-groups") ^ metric.index)
            pattern = tuple(3 + (group_salt >> (4 * k)) % 8 for k in range(10))
            past = Timeline(
                anchor - (730 - metric.index) * DAY,
                anchor - 60,
                n - future,
                pattern,
                salt(seed, f"events-{metric.index}"),
            )
            ahead = Timeline(anchor + DAY, anchor + 30 * DAY, future, (1,), group_salt)
            streams.append(MetricStream(metric, lo, lo + n, past, ahead))
            lo += n
        return streams

    @property
    def total(self) -> int:
        return self.base + len(self.overlay.events)

    # --- orderings -------------------------------------------------------------------

    def streams(self, metric: Metric | None = None) -> list[Stream]:
        if metric is None:
            runs: list[Stream] = [
                Run(s.lo, s.hi, s.at) for s in self.streams_by_metric if s.hi > s.lo
            ]
        else:
            runs = self._metric_runs(metric)
        keys = self.overlay.keys
        if metric is not None:
            events = self.overlay.events
            keys = [key for key in keys if events[key[1]].metric == metric.index]
        return [*runs, Keys(keys)]

    def _metric_runs(self, metric: Metric) -> list[Stream]:
        stream = self.span(metric)
        if stream is None:
            return []
        if self.duplicate is not None and metric.index == self.duplicate.index:
            return [Run(self._duplicate_from, stream.hi, stream.at, self._not_duplicate)]
        skip = self._strays_of(metric)
        return [Run(stream.lo, stream.hi, stream.at, skip)] if stream.hi > stream.lo else []

    def _strays_of(self, metric: Metric) -> Callable[[int], bool] | None:
        """What a metric's stream skips: its orphans and what the duplicate took."""
        if metric.index == self._original:
            return self._stray
        return self.orphan if self.orphans else None

    def span(self, metric: Metric) -> MetricStream | None:
        """The stream holding a metric's base events (the duplicate's is its namesake's)."""
        if self.duplicate is not None and metric.index == self.duplicate.index:
            return self.streams_by_metric[self._original] if self._original >= 0 else None
        if metric.index < len(self.streams_by_metric):
            return self.streams_by_metric[metric.index]
        return None

    def orphan(self, e: int) -> bool:
        """A base event whose metric cannot be resolved (``relationships.metric`` null)."""
        return self.orphans and e < self.base and e % ORPHAN_PERIOD == self.orphan_rest

    def resolvable(self, e: int) -> bool:
        return not self.orphan(e)

    def _taken(self, e: int) -> bool:
        return self._duplicate_from <= e < self.base and e % DUPLICATE_PERIOD == _DUPLICATE_REST

    def _not_duplicate(self, e: int) -> bool:
        return not self._taken(e)

    def _stray(self, e: int) -> bool:
        return self.orphan(e) or self._taken(e)

    def count(self, metric: Metric, lo: int, hi: int) -> int:
        """Base events of ``metric`` among indices ``[lo, hi)`` of its span: closed-form."""
        if hi <= lo:
            return 0
        if self.duplicate is not None and metric.index == self.duplicate.index:
            return _residues(max(lo, self._duplicate_from), hi, DUPLICATE_PERIOD, _DUPLICATE_REST)
        n = hi - lo
        if self.orphans:
            n -= _residues(lo, hi, ORPHAN_PERIOD, self.orphan_rest)
        if metric.index == self._original:
            n -= _residues(max(lo, self._duplicate_from), hi, DUPLICATE_PERIOD, _DUPLICATE_REST)
        return n

    def members(self, metric: Metric, lo: int, hi: int) -> Iterator[int] | range:
        """The base events of ``metric`` among indices ``[lo, hi)`` of its span."""
        if self.duplicate is not None and metric.index == self.duplicate.index:
            return (e for e in range(max(lo, self._duplicate_from), hi) if self._taken(e))
        skip = self._strays_of(metric)
        if skip is None:
            return range(lo, hi)
        return (e for e in range(lo, hi) if not skip(e))

    def _stream_of(self, e: int) -> MetricStream:
        return self.streams_by_metric[bisect.bisect_right(self._starts, e) - 1]

    def metric_of(self, e: int) -> Metric | None:
        """The event's metric; None when it cannot be resolved (a quirk)."""
        if e >= self.base:
            return self.metrics[self.overlay.events[e].metric]
        metric = self._stream_of(e).metric
        if self.orphans and e % ORPHAN_PERIOD == self.orphan_rest:
            return None
        if metric.index == self._original and self._taken(e):
            return self.duplicate
        return metric

    def kind_of(self, e: int) -> int:
        """The shape of the event's properties: its stream's metric, resolvable or not."""
        if e >= self.base:
            return self.metrics[self.overlay.events[e].metric].kind
        return self._stream_of(e).metric.kind

    def datetime_of(self, e: int) -> int:
        if e >= self.base:
            return self.overlay.events[e].ts
        return self.streams_by_metric[bisect.bisect_right(self._starts, e) - 1].at(e)

    def profile_of(self, e: int) -> int:
        if e >= self.base:
            return self.overlay.events[e].profile
        return mix(self._salt ^ e) % self._profiles

    # --- identity --------------------------------------------------------------------

    def id(self, e: int) -> str:
        return base62((e * self._multiplier + self._offset) % _ID_SPACE, 11)

    def index_of_id(self, text: str) -> int | None:
        number = unbase62(text) if len(text) == 11 else None
        if number is None:
            return None
        e = ((number - self._offset) * self._inverse) % _ID_SPACE
        return e if e < self.total else None

    # --- records ---------------------------------------------------------------------

    def value(self, e: int) -> float | None:
        """``$value`` of the event (None when it has none), without building it."""
        h = mix(self._salt ^ e ^ 0x5A5A)
        return _value(self.kind_of(e), h)

    def build(self, e: int, ts: int | None = None) -> dict[str, Any]:
        metric = self.metric_of(e)
        kind = metric.kind if metric is not None else self.kind_of(e)
        if ts is None:
            ts = self.datetime_of(e)
        h = mix(self._salt ^ e ^ 0x5A5A)
        profile = (
            self.overlay.events[e].profile
            if e >= self.base
            else mix(self._salt ^ e) % self._profiles
        )
        return {
            "type": "event",
            "id": base62((e * self._multiplier + self._offset) % _ID_SPACE, 11),
            "attributes": {
                "timestamp": ts,
                "event_properties": _properties(kind, h, e, ts),
                "datetime": iso(ts),
                "uuid": uuid_text(h, h * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF),
            },
            "relationships": {
                "profile": {"data": {"type": "profile", "id": self.profiles.id(profile)}},
                "metric": {"data": None if metric is None else {"type": "metric", "id": metric.id}},
                "attributions": {},
            },
        }


def _residues(lo: int, hi: int, period: int, rest: int) -> int:
    """How many ``x`` in ``[lo, hi)`` have ``x % period == rest``."""
    if hi <= lo:
        return 0
    return (hi - 1 - rest) // period - (lo - 1 - rest) // period


def _items(h: int) -> list[tuple[int, int]]:
    """(product, quantity) lines of an order, from the event hash."""
    return [((h >> (8 * k)) % len(PRODUCTS), 1 + (h >> (8 * k + 5)) % 3) for k in range(1 + h % 3)]


def _value(kind: int, h: int) -> float | None:
    if kind == ORDER_KIND:
        if (h >> 40) % 20 == 0:  # some integrations send orders without $value
            return None
        return round(sum(PRODUCTS[p][1] * q for p, q in _items(h)), 2)
    if kind == PRODUCT_KIND and (h >> 44) % 2:
        product, quantity = _items(h)[0]
        return round(PRODUCTS[product][1] * quantity, 2)
    return None


def _properties(kind: int, h: int, e: int, ts: int) -> dict[str, Any]:
    value = _value(kind, h)
    if kind == EMAIL_KIND:
        properties: dict[str, Any] = {
            "Subject": SUBJECTS[h % len(SUBJECTS)],
            "Campaign Name": f"Campaign {(h >> 8) % 40}",
            "$message": base62(h >> 16, 6),
            "Email Domain": ("gmail.com", "yahoo.com", "outlook.com")[(h >> 24) % 3],
            "$event_id": f"{ts}:{e}",
        }
        if (h >> 30) % 4 == 0:
            properties["$flow"] = base62(h >> 34, 6)
        return properties
    if kind == ORDER_KIND:
        lines = _items(h)
        properties = {
            "$event_id": str(1000 + e),
            "ItemNames": [PRODUCTS[p][0] for p, _ in lines],
            "Items": [
                {
                    "ProductID": 7_000 + p,
                    "SKU": f"SKU-{p:04d}",
                    "ProductName": PRODUCTS[p][0],
                    "Quantity": q,
                    "ItemPrice": PRODUCTS[p][1],
                    "RowTotal": round(PRODUCTS[p][1] * q, 2),
                }
                for p, q in lines
            ],
            "Discount Codes": ["WELCOME10"] if (h >> 50) % 5 == 0 else [],
            "$currency_code": "USD",
        }
        if value is not None:
            properties["$value"] = value
        return properties
    if kind == PRODUCT_KIND:
        product, quantity = _items(h)[0]
        name, price = PRODUCTS[product]
        properties = {
            "ProductName": name,
            # the same key is an int for some events and a string for others
            "ProductID": 7_000 + product if (h >> 45) % 2 else f"{7_000 + product}",
            "Price": int(price) if price.is_integer() else price,
            "Quantity": quantity,
            "URL": f"https://shop.example.com/products/{product}",
            "$event_id": f"{ts}:{e}",
        }
        if value is not None:
            properties["$value"] = value
        return properties
    if kind == SITE_KIND:
        return {
            "page": f"https://shop.example.com/{('', 'collections/all', 'cart', 'blog')[h % 4]}",
            "os": ("iOS", "Android", "Windows", "Mac OS X")[(h >> 4) % 4],
            "$is_session_activity": (h >> 8) % 2 == 0,
            "$use_ip": True,
        }
    if kind == SMS_KIND:
        return {
            "Message Body": SMS_BODIES[h % len(SMS_BODIES)].format(link="https://kvo.io/x"),
            "$message": base62(h >> 16, 6),
            "From Number": "+15555550100",
            "Message Format": ("SMS", "MMS")[(h >> 12) % 2],
            "$event_id": f"{ts}:{e}",
        }
    if kind == LIST_KIND:
        return {"List": f"List {(h >> 4) % 12}", "$source": -9, "$event_id": f"{ts}:{e}"}
    return {"note": "custom event", "score": (h % 1000) / 10, "$event_id": f"{ts}:{e}"}
