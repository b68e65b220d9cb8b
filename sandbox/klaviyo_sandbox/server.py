"""Run the sandbox: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from klaviyo_sandbox.app import STATE, AccountLike, KeyRing, SandboxState, create_app
from klaviyo_sandbox.faults import FaultPlan

SHUTDOWN_SECONDS = 1.0  # in-flight requests (an injected timeout) get this long at exit
# ``off`` starts every sandbox without its quirks (unless one is asked for), so a whole test
# suite or demo can run against the tidy shape as well.
QUIRKS_ENV = "KLAVIYO_SANDBOX_QUIRKS"


def default_quirks() -> bool:
    return os.environ.get(QUIRKS_ENV, "on").strip().lower() != "off"


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


def build_account(
    *,
    seed: int = 1,
    sizes: Any = None,
    now: dt.datetime | None = None,
    quirks: bool | None = None,
    timezone: str | None = None,
) -> AccountLike:
    """A seeded data-layer account (``Sizes()`` defaults when ``sizes`` is None; quirks as
    ``KLAVIYO_SANDBOX_QUIRKS`` says when ``quirks`` is None; the account's timezone is
    America/New_York unless ``timezone`` names another)."""
    from klaviyo_sandbox.data import ACCOUNT_TIMEZONE, Account, Sizes

    quirks = default_quirks() if quirks is None else quirks
    return Account(
        seed=seed,
        sizes=sizes or Sizes(),
        now=now,
        quirks=quirks,
        timezone=timezone or ACCOUNT_TIMEZONE,
    )


@dataclass(frozen=True)
class Listening:
    """Where a started sandbox listens: its sockets' addresses and a URL to reach it."""

    addresses: tuple[tuple[str, int], ...]
    """(host, port) of every bound socket, as the OS reports them (``0.0.0.0``, ``::1``)."""

    @property
    def url(self) -> str:
        """A base URL a local client can use: a wildcard bind is reached via loopback."""
        host, port = self.addresses[0]
        address = _ip(host)
        if address is not None and address.is_unspecified:
            host = "::1" if address.version == 6 else "127.0.0.1"
        return f"http://{_hostport(host, port)}"

    @property
    def shown(self) -> list[str]:
        """The bound addresses as ``host:port`` (IPv6 in brackets)."""
        return [_hostport(host, port) for host, port in self.addresses]

    @property
    def exposed(self) -> bool:
        """True when some socket accepts connections from other machines."""
        return not all(_is_loopback(host) for host, _ in self.addresses)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    return address is not None and address.is_loopback


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, Listening]:
    """Serve the app; returns the runner (to clean up) and where it listens."""
    runner = web.AppRunner(
        app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    # IPv6 socket names are (host, port, flowinfo, scope_id): keep host and port.
    addresses = tuple((str(name[0]), int(name[1])) for name in runner.addresses)
    return runner, Listening(addresses)


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
            runner, listening = self.loop.run_until_complete(
                start_site(self.app, self.host, self.port)
            )
            self.url = listening.url
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
    quirks: bool | None = None,
    timezone: str | None = None,
    keys: KeyRing | None = None,
    latency_ms: float = 0,
    rate_limits: bool = True,
    faults: FaultPlan | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Sandbox]:
    """Start a sandbox on a free port in a background thread; stop it on exit.

    Pass ``account`` to serve an existing one, or ``seed``/``sizes``/``now`` to build it.
    ``quirks`` None: as ``KLAVIYO_SANDBOX_QUIRKS`` says (on unless it is ``off``).
    """
    quirks = default_quirks() if quirks is None else quirks
    account = account or build_account(
        seed=seed, sizes=sizes, now=now, quirks=quirks, timezone=timezone
    )
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


async def serve(
    app: web.Application, host: str, port: int, ready: Callable[[Listening], None]
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM; ``ready`` hears where it listens."""
    runner, listening = await start_site(app, host, port)
    ready(listening)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):  # no signal handlers on some platforms
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
