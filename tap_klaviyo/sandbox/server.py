"""Run the sandbox: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tap_klaviyo.sandbox.app import STATE, AccountLike, KeyRing, SandboxState, create_app
from tap_klaviyo.sandbox.faults import FaultPlan

SHUTDOWN_SECONDS = 1.0  # in-flight requests (an injected timeout) get this long at exit


@dataclass
class Sandbox:
    """A running sandbox: its base URL, its account and keys, and its statistics."""

    url: str
    account: AccountLike
    keys: KeyRing
    app: web.Application

    @property
    def state(self) -> SandboxState:
        return self.app[STATE]

    def requests(self) -> dict[str, Any]:
        """``total``, counts per (method, route, status), and the latest requests."""
        return self.state.log.snapshot()

    def fault_counts(self) -> dict[str, int]:
        faults = self.state.faults
        return faults.counts() if faults else {}

    def reset_limits(self) -> None:
        if self.state.limiter is not None:
            self.state.limiter.reset()


def build_account(
    *,
    seed: int = 1,
    sizes: Any = None,
    now: dt.datetime | None = None,
    quirks: bool = True,
) -> AccountLike:
    """A seeded data-layer account (``Sizes()`` defaults when ``sizes`` is None)."""
    from tap_klaviyo.sandbox.data import Account, Sizes

    return Account(seed=seed, sizes=sizes or Sizes(), now=now, quirks=quirks)


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve the app; returns the runner (to clean up) and the base URL."""
    runner = web.AppRunner(
        app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return runner, f"http://{shown_host}:{bound_port}"


class _ServerThread(threading.Thread):
    """An event loop of its own, serving the app until ``stop``."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        super().__init__(name="klaviyo-sandbox", daemon=True)
        self.app, self.host, self.port = app, host, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            runner, self.url = self.loop.run_until_complete(
                start_site(self.app, self.host, self.port)
            )
        except BaseException as error:  # reported to the starting thread
            self.error = error
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(runner.cleanup())
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join()


@contextmanager
def running_sandbox(
    account: AccountLike | None = None,
    *,
    seed: int = 1,
    sizes: Any = None,
    now: dt.datetime | None = None,
    quirks: bool = True,
    keys: KeyRing | None = None,
    latency_ms: float = 0,
    rate_limits: bool = True,
    faults: FaultPlan | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Sandbox]:
    """Start a sandbox on a free port in a background thread; stop it on exit.

    Pass ``account`` to serve an existing one, or ``seed``/``sizes``/``now`` to build it.
    """
    account = account or build_account(seed=seed, sizes=sizes, now=now, quirks=quirks)
    keys = keys or KeyRing()
    app = create_app(
        account,
        keys=keys,
        latency_ms=latency_ms,
        rate_limits=rate_limits,
        faults=faults,
        quirks=quirks,
    )
    thread = _ServerThread(app, host, port)
    thread.start()
    thread.ready.wait()
    if thread.error is not None:
        raise thread.error
    try:
        yield Sandbox(thread.url, account, keys, app)
    finally:
        thread.stop()


async def serve(app: web.Application, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve in the foreground until SIGINT or SIGTERM."""
    runner, url = await start_site(app, host, port)
    ready(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):  # no signal handlers on some platforms
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
