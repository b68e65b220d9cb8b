"""``tap-klaviyo-sandbox``: serve a seeded fake Klaviyo account over HTTP.

The first line on stdout is the base URL (flushed at once, so a parent process can
read it); a short summary follows on stderr. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import NoReturn

from klaviyo_sandbox.app import DEMO_API_KEY, REVISION, KeyRing, create_app
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import KINDS, FaultPlan, FaultSpecError
from klaviyo_sandbox.server import Listening, build_account, serve

PROG = "tap-klaviyo-sandbox"
# Plain text for --help: the module docstring's markup is for readers of the code.
DESCRIPTION = (
    "Serve a seeded fake Klaviyo account over HTTP, answering like Klaviyo's API "
    f"(revision {REVISION}). The first line on stdout is the base URL; a summary "
    "follows on stderr. Ctrl-C or SIGTERM stops it."
)
# Every Sizes field is a flag, with its real default in the help.
SIZE_DEFAULTS = {field.name: field.default for field in fields(Sizes)}
SIZE_FLAGS = tuple(SIZE_DEFAULTS)
QUIRKS_HELP = (
    "on: the oddities of the real service: mixed timestamp forms, repeated "
    "greater-than bounds, out-of-order archived campaigns, duplicate "
    "metric names, vanished parents (listed, then 404 on their detail), events "
    "without a metric, float report statistics, HTML CDN pages; off: one tidy shape "
    "(default: %(default)s)"
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


def build_parser() -> argparse.ArgumentParser:
    """The command's parser; ``--help`` shows every option with its real default."""
    parser = _Parser(prog=PROG, description=DESCRIPTION)
    _add_server_options(parser)
    _add_account_options(parser)
    _add_behaviour_options(parser)
    return parser


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; anything but loopback exposes the sandbox (and its public "
        "demo key and admin routes) to other machines (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_non_negative(int),
        default=0,
        metavar="N",
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )


def _add_account_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="N",
        help="seed of the generated account and of the fault draws; the same seed "
        "serves the same data (default: %(default)s)",
    )
    for name, default in SIZE_DEFAULTS.items():
        parser.add_argument(
            f"--{name}",
            type=_non_negative(int),
            metavar="N",
            help=f"how many {name} the account holds (default: {default})",
        )
    parser.add_argument(
        "--now",
        type=_iso_datetime,
        metavar="DATETIME",
        help="where the generated history ends: an ISO 8601 datetime, UTC when it has "
        "no offset (default: now, to the minute)",
    )
    parser.add_argument(
        "--timezone",
        type=_timezone,
        default="America/New_York",
        metavar="IANA",
        help="the account's timezone, where reports cut days (default: %(default)s)",
    )


def _add_behaviour_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--latency-ms",
        type=_non_negative(float),
        default=0.0,
        metavar="MS",
        help="delay added to every /api/ request, in milliseconds (default: %(default)g)",
    )
    parser.add_argument(
        "--rate-limits",
        choices=("klaviyo", "off"),
        default="klaviyo",
        help="klaviyo: Klaviyo's per-endpoint burst, steady and daily windows, with "
        "RateLimit-* headers and 429 Retry-After; off: never throttle "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--faults",
        type=_fault_plan,
        metavar="KIND=P,...",
        help="inject failures with these probabilities, e.g. 500=0.01,429=0.02,reset=0.005; "
        f"kinds: {', '.join(KINDS)} (default: none)",
    )
    parser.add_argument("--quirks", choices=("on", "off"), default="on", help=QUIRKS_HELP)
    parser.add_argument(
        "--key",
        type=_key,
        action="append",
        default=[],
        metavar="KEY=SCOPES",
        help="add a restricted key, e.g. pk_…=profiles:read,lists:read (repeatable; the "
        f"full-access demo key {DEMO_API_KEY} always works)",
    )


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"not an IANA timezone: {text!r} (e.g. Europe/Copenhagen)"
        ) from None
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
    account = build_account(
        seed=args.seed, sizes=sizes, now=args.now, quirks=quirks, timezone=args.timezone
    )
    app = create_app(
        account,
        keys=keys,
        latency_ms=args.latency_ms,
        rate_limits=args.rate_limits == "klaviyo",
        faults=faults,
        quirks=quirks,
    )
    try:
        asyncio.run(serve(app, args.host, args.port, announce))
    except KeyboardInterrupt:
        pass
    except OSError as error:  # e.g. the port is taken
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _sizes(args: argparse.Namespace) -> Sizes | None:
    given = {name: getattr(args, name) for name in SIZE_FLAGS if getattr(args, name) is not None}
    return Sizes(**given) if given else None


def announce(listening: Listening) -> None:
    """The URL on stdout (first, flushed: a parent reads it), then the banner on stderr."""
    print(listening.url, flush=True)
    print(banner(listening), file=sys.stderr, flush=True)


def banner(listening: Listening) -> str:
    url = listening.url
    lines = [
        f"Klaviyo sandbox (revision {REVISION}) at {url}",
        f"  bound to: {', '.join(listening.shown)}",
        f"  demo key: {DEMO_API_KEY}",
        f"  admin:    {url}/__sandbox/health, /summary, /truth/<collection>, /requests",
        "  stop with Ctrl-C",
    ]
    if listening.exposed:
        # The demo key is published and the admin routes take no key at all.
        lines.append(
            f"{PROG}: warning: bound to {', '.join(listening.shown)}, not loopback only: "
            "other machines can reach it, its demo key and its admin routes"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
