"""Fault plans of the tests' own: deterministic where the sandbox's plan draws at random."""

from __future__ import annotations

from klaviyo_sandbox.faults import FaultPlan


class EveryOther(FaultPlan):
    """Every other API request (the first, the third, ...) draws ``kind``."""

    def __init__(self, kind: str) -> None:
        super().__init__({})
        self.kind, self.drawn = kind, 0

    def draw(self) -> str | None:
        with self._lock:
            self.drawn += 1
            return self.kind if self.drawn % 2 == 1 else None
