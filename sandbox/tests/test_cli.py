"""``tap-klaviyo-sandbox``: its help, its banner, and the process itself."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.cli import SIZE_FLAGS, banner, build_parser
from klaviyo_sandbox.data import Sizes
from klaviyo_sandbox.faults import KINDS
from klaviyo_sandbox.server import Listening

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def help_text() -> str:
    parser = build_parser()
    # Wide enough that every option and its whole help share one line.
    parser.formatter_class = lambda prog: argparse.HelpFormatter(
        prog, width=10_000, max_help_position=100
    )
    return parser.format_help()


def _line(help_text: str, option: str) -> str:
    (line,) = [line for line in help_text.splitlines() if line.lstrip().startswith(option + " ")]
    return line


def test_every_option_has_help() -> None:
    for action in build_parser()._actions:
        assert action.help, action.option_strings


def test_sizes_show_their_own_defaults(help_text: str) -> None:
    assert "Sizes()" not in help_text
    assert set(SIZE_FLAGS) == set(vars(Sizes()))
    for name, default in vars(Sizes()).items():
        assert _line(help_text, f"--{name} N").endswith(f"(default: {default})")
    assert _line(help_text, "--profiles N").endswith("(default: 1000)")


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("--host HOST", ["loopback", "(default: 127.0.0.1)"]),
        ("--port N", ["free", "(default: 0)"]),
        ("--seed N", ["same seed", "(default: 1)"]),
        ("--latency-ms MS", ["milliseconds", "(default: 0)"]),
        ("--rate-limits {klaviyo,off}", ["Retry-After", "off: never", "(default: klaviyo)"]),
        ("--now DATETIME", ["ISO 8601", "UTC"]),
    ],
)
def test_option_help(help_text: str, option: str, words: list[str]) -> None:
    line = _line(help_text, option)
    for word in words:
        assert word in line


def test_quirks_help_says_what_the_quirks_are(help_text: str) -> None:
    line = _line(help_text, "--quirks {on,off}")
    for quirk in [
        "mixed timestamp forms",
        "repeated greater-than bounds",
        "out-of-order archived campaigns",
        "duplicate metric names",
        "vanished parents",
        "events without a metric",
        "float report statistics",
        "HTML CDN pages",
        "off: one tidy shape",
        "(default: on)",
    ]:
        assert quirk in line


def test_faults_help_lists_every_kind(help_text: str) -> None:
    line = _line(help_text, "--faults KIND=P,...")
    assert f"kinds: {', '.join(KINDS)} " in line


def test_description_is_plain_text(help_text: str) -> None:
    assert "``" not in help_text
    assert "Klaviyo" in help_text.split("options:", maxsplit=1)[0]


def test_banner_shows_the_bound_address_and_warns_off_loopback() -> None:
    local = banner(Listening((("127.0.0.1", 8080),)))
    assert "bound to: 127.0.0.1:8080" in local
    assert "warning" not in local
    everywhere = Listening((("0.0.0.0", 8080),))
    assert everywhere.url == "http://127.0.0.1:8080"  # reached via loopback
    text = banner(everywhere)
    assert "bound to: 0.0.0.0:8080" in text
    assert text.splitlines()[-1].startswith("tap-klaviyo-sandbox: warning: bound to 0.0.0.0:8080")


@pytest.mark.parametrize(
    ("addresses", "url", "exposed"),
    [
        ((("::1", 9),), "http://[::1]:9", False),
        ((("::", 9),), "http://[::1]:9", True),
        ((("127.0.0.1", 9), ("::1", 9)), "http://127.0.0.1:9", False),
        ((("192.168.1.5", 9),), "http://192.168.1.5:9", True),
    ],
)
def test_listening(addresses: tuple[tuple[str, int], ...], url: str, exposed: bool) -> None:
    listening = Listening(addresses)
    assert listening.url == url
    assert listening.exposed is exposed


def test_help_runs_as_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "klaviyo_sandbox.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=REPO,
    )
    assert result.stdout.startswith("usage: tap-klaviyo-sandbox")
    assert "(default: 1000)" in result.stdout


def test_cli_prints_the_url_first() -> None:
    command = [sys.executable, "-m", "klaviyo_sandbox.cli", "--port", "0", "--profiles", "20"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert requests.get(url + "/__sandbox/health", timeout=5).json()["status"] == "ok"
        finally:
            process.terminate()
            process.wait(timeout=10)
        assert process.returncode == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert DEMO_API_KEY in stderr
        assert f"bound to: {url.removeprefix('http://')}" in stderr
        assert "warning" not in stderr


@pytest.mark.parametrize(
    "flags",
    [["--rate-limits", "maybe"], ["--faults", "500=7"], ["--latency-ms", "-1"], ["--key", "x"]],
)
def test_cli_rejects_bad_flags(flags: list[str]) -> None:
    command = [sys.executable, "-m", "klaviyo_sandbox.cli", *flags]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=30, check=False, cwd=REPO
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
