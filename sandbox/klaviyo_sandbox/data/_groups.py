"""List and segment membership, arithmetic in the profile index (counts are exact)."""

from __future__ import annotations

import bisect

from ._core import Keys, Run, Stream, Timeline, mix, salt


class Groups:
    """Membership of lists and segments: arithmetic in the profile index, so counts are exact.

    Base members of group ``g`` are the profiles with ``(a*p + b) mod 1009 < d``: the count
    over ``[0, n)`` is closed-form, and ``joined_group_at`` is a monotone timeline in ``p``
    so ``sort=joined_group_at`` is a skip-scan. ``advance`` adds joins as an overlay.
    """

    MODULUS = 1009

    def __init__(
        self, seed: int, ids: list[str], created: list[int], anchor: int, base: int
    ) -> None:
        self.ids = ids
        self.base = base
        self.position = {group_id: g for g, group_id in enumerate(ids)}
        self._params: list[tuple[int, int, int]] = []
        self.joined: list[Timeline] = []
        densities = (0.6, 0.25, 0.08, 0.4, 0.03, 0.9, 0.15, 0.5, 0.01, 0.3, 0.7, 0.05)
        for g, group_id in enumerate(ids):
            h = mix(salt(seed, f"group-{group_id}"))
            a = 1 + h % (self.MODULUS - 1)
            b = (h >> 20) % self.MODULUS
            d = max(1, int(densities[g % len(densities)] * self.MODULUS))
            self._params.append((a, b, d))
            self.joined.append(
                Timeline(
                    created[g], anchor - 900, base, (1, 1, 2, 1, 3), salt(seed, f"join-{group_id}")
                )
            )
        self.overlay_keys: list[list[tuple[int, int]]] = [[] for _ in ids]
        self.overlay_members: list[set[int]] = [set() for _ in ids]
        # Base members that left (removed, or their profile deleted); a rejoin is an overlay.
        self.left: list[set[int]] = [set() for _ in ids]
        self._base_counts: dict[int, int] = {}

    def base_member(self, g: int, p: int) -> bool:
        a, b, d = self._params[g]
        return p < self.base and (a * p + b) % self.MODULUS < d

    def member(self, g: int, p: int) -> bool:
        return p in self.overlay_members[g] or (self.base_member(g, p) and p not in self.left[g])

    def joined_at(self, g: int, p: int) -> int | None:
        for ts, member in self.overlay_keys[g]:
            if member == p:
                return ts
        if self.base_member(g, p) and p not in self.left[g]:
            return self.joined[g].at(p)
        return None

    def count(self, g: int) -> int:
        if g not in self._base_counts:
            a, b, d = self._params[g]
            periods, rest = divmod(self.base, self.MODULUS)
            tail = sum(1 for p in range(rest) if (a * p + b) % self.MODULUS < d)
            self._base_counts[g] = periods * d + tail
        return self._base_counts[g] - len(self.left[g]) + len(self.overlay_members[g])

    def joined_before(self, g: int, ts: int) -> int:
        """Members of group ``g`` who joined before ``ts`` (epoch seconds): its size then.

        Base joins are monotone in the profile index, so the first index joining at or
        after ``ts`` is a binary search, and the members below it a closed-form count."""
        a, b, d = self._params[g]
        bound = bisect.bisect_left(range(self.base), ts, key=self.joined[g].at)
        periods, rest = divmod(bound, self.MODULUS)
        base = periods * d + sum(1 for p in range(rest) if (a * p + b) % self.MODULUS < d)
        return base + sum(1 for joined, _ in self.overlay_keys[g] if joined < ts)

    def streams(self, g: int) -> list[Stream]:
        a, b, d = self._params[g]
        modulus = self.MODULUS

        left = self.left[g]

        def not_member(p: int) -> bool:
            return (a * p + b) % modulus >= d or p in left

        return [Run(0, self.base, self.joined[g].at, not_member), Keys(self.overlay_keys[g])]

    def join(self, g: int, p: int, ts: int) -> bool:
        if self.member(g, p):
            return False
        self.overlay_members[g].add(p)
        bisect.insort(self.overlay_keys[g], (ts, p))
        return True

    def leave(self, g: int, p: int) -> bool:
        """``p`` leaves group ``g`` (removed, or deleted); False when it was not a member."""
        if not self.member(g, p):
            return False
        if p in self.overlay_members[g]:
            self.overlay_members[g].discard(p)
            self.overlay_keys[g] = [key for key in self.overlay_keys[g] if key[1] != p]
        else:
            self.left[g].add(p)
        return True

    def memberships(self, p: int) -> list[str]:
        return [group_id for g, group_id in enumerate(self.ids) if self.member(g, p)]
