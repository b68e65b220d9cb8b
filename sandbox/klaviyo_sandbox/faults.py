"""Fault injection: the failures a Klaviyo client meets in the wild, on purpose.

A plan such as ``500=0.01,503=0.01,429=0.02,reset=0.005,timeout=0.002`` gives each
kind a probability; one seeded draw per ``/api/`` request picks at most one kind.

- ``500``, ``503``, ``504``: a JSON:API server error from Klaviyo.
- ``502``, ``524``: an HTML error page from the CDN in front of the API.
- ``429``: a throttled response exactly like the rate limiter's.
- ``reset``: the connection is closed without any response.
- ``timeout``: the response comes after ``timeout_seconds`` (longer than any sane
  client timeout).
- ``html403``: a Cloudflare challenge page (``cf-mitigated: challenge``).
- ``badjson``: a 200 whose body is not JSON.
- ``truncate``: a 200 whose body stops mid-JSON (Content-Length promises more).
- ``emptynext``: a legal but nasty page: ``data: []`` while ``links.next`` goes on.
- ``shortnext``: legal too: a page of fewer records than asked for (half, at least one)
  while ``links.next`` goes on from its last record: a short page is not the last one.

The last four alter a successful response, so they apply only where one exists
(``emptynext`` and ``shortnext`` only to a paginated collection page); a drawn kind that does not
apply is not injected and not counted.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

SERVER_ERRORS = ("500", "502", "503", "504", "524")
INFRASTRUCTURE = (*SERVER_ERRORS, "429", "reset", "timeout", "html403")
BODY_FAULTS = ("badjson", "truncate", "emptynext", "shortnext")
KINDS = (*INFRASTRUCTURE, *BODY_FAULTS)
DEFAULT_TIMEOUT_SECONDS = 60.0


class FaultSpecError(ValueError):
    """A fault spec that cannot be read; the message says why."""


@dataclass
class FaultPlan:
    """Probabilities per fault kind, a seeded generator, and the injected counts."""

    probabilities: dict[str, float]
    seed: int = 0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()  # the admin thread reads counts while requests draw

    @classmethod
    def parse(
        cls, spec: str, seed: int = 0, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> FaultPlan:
        """Read ``kind=probability`` pairs separated by commas."""
        probabilities: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kind, sep, number = item.partition("=")
            if not sep or kind not in KINDS:
                raise FaultSpecError(f"unknown fault {item!r}; kinds: {', '.join(KINDS)}")
            try:
                probability = float(number)
            except ValueError:
                raise FaultSpecError(f"{item!r}: probability is not a number") from None
            if not 0.0 <= probability <= 1.0:
                raise FaultSpecError(f"{item!r}: probability must be between 0 and 1")
            probabilities[kind] = probability
        if sum(probabilities.values()) > 1.0:
            raise FaultSpecError("fault probabilities add up to more than 1")
        return cls(probabilities, seed, timeout_seconds)

    def arrived(self, method: str, path: str) -> None:
        """Called as each ``/api/`` request arrives, before its draw: a seam for a test that
        acts at one exact request (the request log records answers, so it cannot)."""

    def draw(self) -> str | None:
        """The fault for the next request, or None; one uniform draw per request."""
        with self._lock:
            point = self._random.random()
        for kind, probability in self.probabilities.items():
            if point < probability:
                return kind
            point -= probability
        return None

    def record(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: self.injected[kind] for kind in KINDS}


HTML_CHALLENGE = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><div class="main-wrapper" role="main"><h1>a.klaviyo.com</h1>
<p>Verifying you are human. This may take a few seconds.</p>
<noscript>Enable JavaScript and cookies to continue</noscript></div></body></html>
"""

CDN_ERROR_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>a.klaviyo.com | {status}:
{title}</title></head><body><div id="cf-error-details"><h1>Error {status}</h1>
<h2>{title}</h2><p>Ray ID: 7d1c2b3a4f5e6d7c</p></div></body></html>
"""

CDN_TITLES = {"502": "Bad gateway", "524": "A timeout occurred"}

NOT_JSON = b'{"data": [{"type": "profile", "id": <html>Internal proxy buffer overflow'
