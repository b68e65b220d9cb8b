"""The collections generated per index on demand: profiles, events, list and segment members.

``Lazy`` turns a query into a ``Plan`` (key streams, a window, per-index checks) and builds
one object by id; memory does not grow with their size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..model import Condition, NotFound, Query, Resource
from ._attributions import Attributions
from ._core import Keys, Stream, iso
from ._events import Events
from ._groups import Groups
from ._metrics import Metric
from ._pages import Plan, resolve, sortable, window
from ._profiles import LIST_SUPPRESSION, SUPPRESSION, Profiles

IDENTIFIERS = frozenset({"id", "email", "phone_number", "external_id", "profile_id"})


class Lazy:
    """Plans and single objects of the generated collections."""

    def __init__(
        self,
        *,
        profiles: Profiles,
        events: Events,
        lists: Groups,
        segments: Groups,
        attributions: Attributions,
        metric: Callable[[str], Metric | None],
    ) -> None:
        self.profiles, self.events, self.attributions = profiles, events, attributions
        self.lists, self.segments = lists, segments
        self.metric = metric

    # --- profiles --------------------------------------------------------------------

    def profile_plan(self, q: Query) -> Plan:
        profiles = self.profiles
        sort = q.sort or "id"
        fields = frozenset({"id", "created"} if sort in ("id", "created") else {sort})
        bounds, residual = window(q, fields - {"id"})
        candidates = self._candidates(q.conditions)
        streams: list[Stream] | None
        if candidates is not None:
            streams = [self._keys(candidates, lambda p: profiles.value(sort, p), sort)]
        else:
            streams = profiles.streams(sort)
            if streams is None:  # e.g. sort=email: no arithmetic order, so it costs O(profiles)
                streams = [self._keys(range(profiles.total), lambda p: None, sort)]
        needed = (
            {"subscriptions"}
            if any(c.field.startswith("subscriptions.") for c in residual)
            else set()
        )
        extra = frozenset(needed) - q.additional_fields
        checks = []
        if profiles.overlay.deleted:
            checks.append(lambda p: p not in profiles.overlay.deleted)
        if any(c.field.startswith("subscriptions.email.marketing.suppression.") for c in residual):
            checks.append(lambda p: profiles.suppression(p) is not None)
        if any(
            c.field.startswith("subscriptions.email.marketing.list_suppressions.") for c in residual
        ):
            checks.append(lambda p: profiles.list_suppression(p) is not None)

        def build(p: int, _: Any) -> Resource:
            return self.profile(p, q.additional_fields | extra, q.include)

        def finish(obj: Resource) -> Resource:
            for name in extra:
                obj["attributes"].pop(name, None)
            return obj

        return Plan(sort, streams, bounds, fields, build, checks, residual, finish=finish)

    def one_profile(
        self, id: str, additional_fields: frozenset[str], include: frozenset[str]
    ) -> Resource:
        p = self.profiles.index_of_id(id)
        if p is None:
            raise NotFound(f"A profile with id {id} does not exist.")
        return self.profile(p, additional_fields, include)

    def profile(
        self, p: int, additional_fields: frozenset[str], include: frozenset[str]
    ) -> Resource:
        obj = self.profiles.build(p, additional_fields)
        relationships = obj["relationships"]
        for name in include & {"push-tokens", "conversations"}:
            relationships[name] = {"data": []}
        if "lists" in include:
            relationships["lists"] = {
                "data": [{"type": "list", "id": i} for i in self.lists.memberships(p)]
            }
        if "segments" in include:
            segments = self.segments.memberships(p)
            relationships["segments"] = {"data": [{"type": "segment", "id": i} for i in segments]}
        return obj

    def _keys(self, indices: Iterable[int], value: Callable[[int], Any], sort: str) -> Keys:
        """Explicit keys for candidate sets and for sorts without a monotone layout."""
        keys = []
        for p in indices:
            found = value(p)
            if found is None and sort not in (SUPPRESSION, LIST_SUPPRESSION, "joined_group_at"):
                found = sortable(resolve(self.profiles.build(p), sort))
            if found is not None:
                keys.append((found, p))
        return Keys(keys)

    def _candidates(self, conditions: tuple[Condition, ...]) -> set[int] | None:
        """Profiles named by an identifier filter, decoded from the ids themselves."""
        result: set[int] | None = None
        for condition in conditions:
            if condition.field not in IDENTIFIERS or condition.op not in ("equals", "any"):
                continue
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            found = {
                p
                for value in values
                for p in self.profiles.indices_for(condition.field, str(value))
            }
            result = found if result is None else result & found
        return result

    # --- events ----------------------------------------------------------------------

    def event_plan(self, q: Query) -> Plan:
        events = self.events
        fields = frozenset({"datetime", "timestamp"})
        bounds, rest = window(q, fields)
        metric = None
        checks: list[Callable[[int], bool]] = []
        residual = []
        for condition in rest:
            if condition.field == "metric_id" and condition.op == "equals":
                metric = self.metric(str(condition.value))
                if metric is None:
                    checks.append(lambda e: False)
            elif condition.field == "profile_id" and condition.op == "equals":
                wanted = self.profiles.index_of_id(str(condition.value))
                checks.append(lambda e, wanted=wanted: events.profile_of(e) == wanted)  # type: ignore[misc]
            elif condition.op == "has" and condition.field == "metric":
                if events.orphans:  # quirks: a few events have no resolvable metric
                    checks.append(events.resolvable)
            elif condition.op == "has" and condition.field == "profile":
                continue  # every sandbox event has one
            else:
                residual.append(condition)

        def build(e: int, ts: Any) -> Resource:
            return self.event(e, ts, q.include)

        return Plan("datetime", events.streams(metric), bounds, fields, build, checks, residual)

    def one_event(
        self, id: str, additional_fields: frozenset[str], include: frozenset[str]
    ) -> Resource:
        e = self.events.index_of_id(id)
        if e is None:
            raise NotFound(f"An event with id {id} does not exist.")
        return self.event(e, None, include)

    def event(self, e: int, ts: int | None, include: frozenset[str]) -> Resource:
        obj = self.events.build(e, ts)
        if "attributions" in include:
            obj["relationships"]["attributions"] = {"data": self.attributions.refs(e)}
        return obj

    # --- list and segment members ----------------------------------------------------

    def member_plan(self, q: Query, groups: Groups) -> Plan:
        g = groups.position.get(q.parent_id or "")
        if g is None:
            raise NotFound(f"A resource with id {q.parent_id} does not exist.")
        fields = frozenset({"joined_group_at"})
        bounds, residual = window(q, fields)
        candidates = self._candidates(q.conditions)
        if candidates is not None:
            streams: list[Stream] = [
                self._keys(candidates, lambda p: groups.joined_at(g, p), "joined_group_at")
            ]
        else:
            streams = groups.streams(g)

        def member_resolve(obj: Resource, name: str) -> list[Any]:
            return resolve(obj, "id" if name == "profile_id" else name)

        def build(p: int, joined: Any) -> Resource:
            obj = self.profiles.build(p, q.additional_fields)
            obj["attributes"]["joined_group_at"] = iso(joined)
            obj["relationships"] = {name: {} for name in ("lists", "segments", "push-tokens")}
            return obj

        return Plan(
            "joined_group_at",
            streams,
            bounds,
            fields,
            build,
            residual=residual,
            resolve=member_resolve,
        )
