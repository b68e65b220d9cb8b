"""``tap-klaviyo-sandbox``: serve a seeded fake Klaviyo account over HTTP.

The first line on stdout is the base URL (flushed at once, so a parent process can
read it); a short summary follows on stderr. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from tap_klaviyo.sandbox.app import DEMO_API_KEY, REVISION, KeyRing, create_app
from tap_klaviyo.sandbox.faults import FaultPlan, FaultSpecError
from tap_klaviyo.sandbox.server import build_account, serve

SIZE_FLAGS = (
    "profiles",
    "events",
    "lists",
    "segments",
    "campaigns",
    "flows",
    "metrics",
    "templates",
    "tags",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit status 2 (argparse adds a usage block)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _iso_datetime(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _non_negative(kind: Callable[[str], float]) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        return value

    return convert


def _key(text: str) -> tuple[str, list[str]]:
    key, sep, scopes = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=scope1,scope2, got {text!r}")
    return key, [scope for scope in scopes.split(",") if scope]


def _fault_plan(text: str) -> FaultPlan:
    try:
        return FaultPlan.parse(text)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tap-klaviyo-sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_non_negative(int), default=0, help="0 = a free port")
    parser.add_argument("--seed", type=int, default=1)
    for name in SIZE_FLAGS:
        parser.add_argument(f"--{name}", type=_non_negative(int), help="default: Sizes()")
    parser.add_argument("--now", type=_iso_datetime, help="the account clock's anchor (ISO)")
    parser.add_argument("--latency-ms", type=_non_negative(float), default=0.0)
    parser.add_argument("--rate-limits", choices=("klaviyo", "off"), default="klaviyo")
    parser.add_argument("--faults", type=_fault_plan, help="e.g. 500=0.01,429=0.02,reset=0.005")
    parser.add_argument("--quirks", choices=("on", "off"), default="on")
    parser.add_argument(
        "--key",
        type=_key,
        action="append",
        default=[],
        metavar="KEY=SCOPES",
        help="a restricted key, e.g. pk_…=profiles:read,lists:read (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    keys = KeyRing()
    for key, scopes in args.key:
        try:
            keys.add(key, scopes)
        except ValueError as error:
            parser.error(f"--key: {error}")
    sizes = _sizes(args)
    faults: FaultPlan | None = args.faults
    if faults is not None:
        faults = FaultPlan(faults.probabilities, seed=args.seed)
    quirks = args.quirks == "on"
    account = build_account(seed=args.seed, sizes=sizes, now=args.now, quirks=quirks)
    app = create_app(
        account,
        keys=keys,
        latency_ms=args.latency_ms,
        rate_limits=args.rate_limits == "klaviyo",
        faults=faults,
        quirks=quirks,
    )
    try:
        asyncio.run(serve(app, args.host, args.port, _announce))
    except KeyboardInterrupt:
        pass
    except OSError as error:  # e.g. the port is taken
        print(f"tap-klaviyo-sandbox: error: {error}", file=sys.stderr)
        return 1
    return 0


def _sizes(args: argparse.Namespace) -> object | None:
    given = {name: getattr(args, name) for name in SIZE_FLAGS if getattr(args, name) is not None}
    if not given:
        return None
    from tap_klaviyo.sandbox.data import Sizes

    return Sizes(**given)


def _announce(url: str) -> None:
    print(url, flush=True)
    print(
        f"Klaviyo sandbox (revision {REVISION}) at {url}\n"
        f"  demo key: {DEMO_API_KEY}\n"
        f"  admin:    {url}/__sandbox/health, /summary, /truth/<collection>, /requests\n"
        "  stop with Ctrl-C",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
