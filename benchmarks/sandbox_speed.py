"""How fast the sandbox itself is (it caps what the tap scenarios can show).

- Throughput: pages/s and records/s of ``GET /api/events`` at ``page[size]=1000``
  (``include=metric``, as the tap asks), no rate limits, each client walking the cursor
  chain of its own time window: at latency 0 with 1 and 4 clients, and at scenario 2's
  latency with as many clients as the tap has workers (the most any client could show).
- Concurrency: 64 requests at once at ``--latency-ms 200`` must take about 200 ms, not 64x.

The client is aiohttp in this process; the sandbox runs in its own process, whose CPU time
per page is reported too.
"""

from __future__ import annotations

import asyncio
import time
import typing as t
from dataclasses import dataclass

import aiohttp
import orjson

from benchmarks.harness import SandboxOptions, SandboxProcess
from benchmarks.report import markdown
from klaviyo_sandbox.app import DEMO_API_KEY, REVISION

HEADERS = {
    "Authorization": f"Klaviyo-API-Key {DEMO_API_KEY}",
    "revision": REVISION,
    "Accept": "application/vnd.api+json",
}
SPEED_COLUMNS = ("measurement", "result", "detail")


@dataclass
class SpeedRow:
    measurement: str
    result: str
    detail: str

    def cells(self) -> list[str]:
        return [self.measurement, self.result, self.detail]


def speed_table(rows: t.Sequence[SpeedRow]) -> str:
    return markdown(SPEED_COLUMNS, (row.cells() for row in rows))


def run(
    seconds: float, events: int = 1_000_000, *, latency_ms: float = 250, clients: int = 32
) -> list[SpeedRow]:
    """Throughput at latency 0 (1 and 4 clients), and at scenario 2's latency with as many
    clients as the tap has workers: what any client could get from this sandbox there."""
    rows = []
    for latency, counts in ((0.0, (1, 4)), (latency_ms, (clients,))):
        options = SandboxOptions(sizes={"events": events}, latency_ms=latency, rate_limits=False)
        with SandboxProcess(options, name=f"speed-sandbox-{latency:g}") as sandbox:
            for count in counts:
                rows.append(_throughput_row(sandbox, count, latency, seconds))
    with SandboxProcess(
        SandboxOptions(latency_ms=200, rate_limits=False), name="speed-latency-sandbox"
    ) as sandbox:
        cold, warm = asyncio.run(_concurrent(sandbox.url, 64))
        rows.append(
            SpeedRow(
                "64 concurrent requests at --latency-ms 200",
                f"{warm * 1000:.0f} ms ({warm / 0.2:.2f}x the latency)",
                f"warm connections; {cold * 1000:.0f} ms with 64 new connections; "
                f"sequential would take {64 * 0.2 * 1000:,.0f} ms",
            )
        )
    return rows


def _throughput_row(
    sandbox: SandboxProcess, clients: int, latency_ms: float, seconds: float
) -> SpeedRow:
    cpu = sandbox.cpu_seconds()
    pages, records, wall = asyncio.run(_throughput(sandbox.url, clients, seconds))
    cpu = sandbox.cpu_seconds() - cpu
    return SpeedRow(
        f"events page[size]=1000, latency {latency_ms:g} ms, {clients} client(s)",
        f"{pages / wall:,.1f} pages/s, {records / wall:,.0f} records/s",
        f"{pages} pages in {wall:.1f} s; sandbox CPU "
        f"{cpu / max(pages, 1) * 1000:.0f} ms/page ({cpu / wall:.0%} of a core)",
    )


async def _throughput(url: str, clients: int, seconds: float) -> tuple[int, int, float]:
    """Walk ``clients`` cursor chains (disjoint time windows) for ``seconds``."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:
        first = await _get(session, f"{url}/api/events?sort=datetime&page[size]=1")
        last = await _get(session, f"{url}/api/events?sort=-datetime&page[size]=1")
        low = first["data"][0]["attributes"]["timestamp"]
        high = last["data"][0]["attributes"]["timestamp"] + 1
        bounds = [low + (high - low) * index // clients for index in range(clients + 1)]
        started = time.monotonic()
        deadline = started + seconds
        counts = await asyncio.gather(
            *(
                _walk(session, url, _iso(bounds[index]), _iso(bounds[index + 1]), deadline)
                for index in range(clients)
            )
        )
        wall = time.monotonic() - started
    return sum(pages for pages, _ in counts), sum(records for _, records in counts), wall


async def _walk(
    session: aiohttp.ClientSession, url: str, low: str, high: str, deadline: float
) -> tuple[int, int]:
    next_url: str | None = (
        f"{url}/api/events?page[size]=1000&include=metric&sort=datetime"
        f"&filter=greater-or-equal(datetime,{low}),less-than(datetime,{high})"
    )
    pages = records = 0
    while next_url and time.monotonic() < deadline:
        document = await _get(session, next_url)
        pages += 1
        records += len(document["data"])
        next_url = document["links"]["next"]
    return pages, records


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, t.Any]:
    async with session.get(url) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"sandbox answered {response.status}: {body[:200]!r}")
        return t.cast("dict[str, t.Any]", orjson.loads(body))


def _iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


async def _concurrent(url: str, requests: int) -> tuple[float, float]:
    """Seconds for ``requests`` requests at once: on new connections, then on warm ones."""
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:
        target = f"{url}/api/metrics"
        timings = []
        for _ in range(2):
            started = time.monotonic()
            await asyncio.gather(*(_get(session, target) for _ in range(requests)))
            timings.append(time.monotonic() - started)
    return timings[0], timings[1]
