"""Security: the API key never leaks, TLS is always verified, plain http only to loopback, the
key never goes in a URL (nor to another origin), and the tap never writes to the account.

The leak test runs every mode of the tap (sync, discover, test, about, ``--config ENV``, and
the error paths: unknown and revoked keys, missing scopes, throttling, CDN pages, server
errors, bad settings and files) at DEBUG with a sentinel key, and greps every byte of stdout
and stderr, STATE included, for the key and for fragments of it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klaviyo_sandbox.app import ALL_SCOPES
from klaviyo_sandbox.endpoints import OPERATIONS
from klaviyo_sandbox.faults import FaultPlan
from klaviyo_sandbox.server import Sandbox, running_sandbox
from tap_klaviyo.budget import Budget
from tap_klaviyo.client import KlaviyoClient
from tap_klaviyo.config_checks import check_base_url, is_loopback, resolve_api_key
from tap_klaviyo.errors import ConfigError, KlaviyoAPIError
from tap_klaviyo.resources import READ_ONLY_POSTS, S
from tests.conftest import SMALL, tap_config
from tests.local_server import Responder, local_server
from tests.singer import TapRun, run_tap_cli, select_only

SENTINEL = "pk_SnTl7Zq9X4w3K5v8Y2m4N6b1C0dFgHjQwE"
UNKNOWN_SENTINEL = "pk_UnKn0wn9X4w3K5v8Y2m4N6b1C0dFgHjQwE"
RESTRICTED_SENTINEL = "pk_ReStR1cT9X4w3K5v8Y2m4N6b1C0dFgHjQw"
DEBUG = {"TAP_KLAVIYO_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
REPORT_ROUTES = READ_ONLY_POSTS


def fragments(key: str) -> set[str]:
    """The key, and pieces of it long enough to identify it."""
    body = key.removeprefix("pk_")
    pieces = {key, body, key[-8:], key[-12:], body[:10], body[8:20]}
    return {piece for piece in pieces if len(piece) >= 6}


def assert_no_leak(run: TapRun, *keys: str) -> None:
    output = run.stdout + "\n" + run.stderr
    for key in keys:
        for fragment in fragments(key):
            assert fragment not in output, f"{fragment!r} of the API key was printed"
    for line in run.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue  # --discover and --about print indented JSON or text: grepped above
        if isinstance(message, dict) and message.get("type") == "STATE":
            assert not any(f in json.dumps(message) for k in keys for f in fragments(k))


REVOKED_SENTINEL = "pk_ReVoKeD9X4w3K5v8Y2m4N6b1C0dFgHjQwE"


def test_sentinels_are_well_formed() -> None:
    for key in (SENTINEL, UNKNOWN_SENTINEL, RESTRICTED_SENTINEL, REVOKED_SENTINEL):
        assert resolve_api_key({"api_key": key}) == key


# --- the leak test ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[Sandbox]:
    """A sandbox that knows the sentinel (every scope) and a restricted sentinel."""
    with running_sandbox(seed=31, sizes=SMALL, rate_limits=False, faults=FaultPlan({})) as running:
        running.keys.add(SENTINEL, ALL_SCOPES)
        running.keys.add(RESTRICTED_SENTINEL, ["profiles:read", "lists:read", "metrics:read"])
        yield running


@pytest.fixture(scope="module")
def catalog(guarded: Sandbox) -> dict[str, Any]:
    run = run_tap_cli(tap_config(guarded, api_key=SENTINEL), "--discover", env=DEBUG)
    assert run.returncode == 0, run.stderr[-2000:]
    assert_no_leak(run, SENTINEL)
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def full_sync(guarded: Sandbox) -> TapRun:
    """Every stream, at DEBUG, with the sentinel key."""
    run = run_tap_cli(tap_config(guarded, api_key=SENTINEL, report_timeframe_days=365), env=DEBUG)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_a_debug_sync_never_prints_the_key(full_sync: TapRun, guarded: Sandbox) -> None:
    # The grep means something only if DEBUG output, HTTP included, was really produced.
    debug_lines = [line for line in full_sync.stderr.splitlines() if "| DEBUG" in line]
    assert len(debug_lines) > 100
    assert any("tap_klaviyo.client" in line for line in debug_lines)
    assert any("urllib3" in line for line in debug_lines), "no HTTP-level debug output"
    assert full_sync.states
    assert sum(map(len, full_sync.records.values())) > 1000
    assert_no_leak(full_sync, SENTINEL)


def test_the_key_is_never_in_a_url(full_sync: TapRun, guarded: Sandbox) -> None:
    log = guarded.requests()
    assert log["requests"]
    for request in log["requests"]:
        for fragment in fragments(SENTINEL):
            assert fragment not in request["path"] + "?" + request["query"]
    # It travelled in the Authorization header instead: the sandbox authenticated it.
    assert any(request["key"] == "…" + SENTINEL[-4:] for request in log["requests"])


def test_the_tap_only_reads(full_sync: TapRun, guarded: Sandbox) -> None:
    """Read-only by construction: GETs, and POSTs only to the three reporting endpoints."""
    routes = {(op.method, op.path) for op in OPERATIONS}
    counts = guarded.requests()["counts"]
    assert counts
    methods = set()
    for entry in counts:
        method, route = entry["method"], entry["route"]
        methods.add(method)
        assert (method, route) in routes, f"{method} {route} is not an API operation"
        assert method == "GET" or (method == "POST" and route in REPORT_ROUTES), entry
    assert methods == {"GET", "POST"}  # the reports were read too


@pytest.mark.parametrize(
    "args",
    [
        ["--discover"],
        ["--test"],
        ["--about"],
        ["--about", "--format", "json"],
        ["--about", "--format", "markdown"],
    ],
    ids=" ".join,
)
def test_other_modes_never_print_the_key(guarded: Sandbox, args: list[str]) -> None:
    run = run_tap_cli(tap_config(guarded, api_key=SENTINEL), *args, env=DEBUG)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout or run.stderr
    assert_no_leak(run, SENTINEL)


def test_config_from_the_environment_never_prints_the_key(
    guarded: Sandbox, catalog: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "catalog.json").write_text(json.dumps(select_only(catalog, {"tags", "lists"})))
    env = {
        **os.environ,
        **DEBUG,
        "TAP_KLAVIYO_API_KEY": SENTINEL,
        "TAP_KLAVIYO_BASE_URL": guarded.url,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo", "--config", "ENV",
         "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    run = TapRun(completed.returncode, completed.stdout, completed.stderr)
    assert run.returncode == 0, run.stderr[-2000:]
    assert '"stream":"tags"' in run.stdout.replace(" ", "")
    assert_no_leak(run, SENTINEL)


def _errors(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("tap-klaviyo: error:")]


@pytest.mark.parametrize(
    "case",
    [
        (UNKNOWN_SENTINEL, [], {}, "invalid or revoked"),
        (UNKNOWN_SENTINEL, ["--test"], {}, "invalid or revoked"),
        (RESTRICTED_SENTINEL, [], {"fail_on_missing_scope": True}, "403"),
        (SENTINEL, [], {"start_date": "last tuesday"}, "'start_date'"),
        (SENTINEL, [], {"base_url": "http://example.com"}, "'base_url'"),
        (SENTINEL, [], {"revision": "latest"}, "'revision'"),
        (SENTINEL, [], {"max_retries": -1}, "'max_retries'"),
        (SENTINEL + "X", [], {}, "pk_ followed by 34"),  # too long: not a key, never echoed
        (SENTINEL[:-1] + "!", [], {}, "pk_ followed by 34"),
        (" " + SENTINEL[:20] + " " + SENTINEL[20:], [], {}, "pk_ followed by 34"),
        (SENTINEL[3:], [], {}, "pk_ followed by 34"),
        (SENTINEL[-6:], [], {}, "public key"),  # a 6-character "public key"
    ],
    ids=[
        "unknown key", "unknown key --test", "missing scope, strict", "bad start_date",
        "http base_url", "bad revision", "bad max_retries", "key too long", "bad character",
        "key with a space", "key without pk_", "public key",
    ],
)  # fmt: skip
def test_error_paths_never_print_the_key(
    guarded: Sandbox, catalog: dict[str, Any], case: tuple[str, list[str], dict[str, Any], str]
) -> None:
    key, args, settings, words = case
    config = {**tap_config(guarded, api_key=key, max_retries=2), **settings}
    selection = select_only(catalog, {"segments", "lists"})
    run = run_tap_cli(config, *args, catalog=None if args else selection, env=DEBUG)
    assert run.returncode != 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = _errors(run)
    assert len(errors) == 1, run.stderr[-2000:]
    assert words in errors[0]
    assert_no_leak(run, key, SENTINEL)


def test_a_key_revoked_before_the_run_is_never_printed(
    guarded: Sandbox, catalog: dict[str, Any]
) -> None:
    revoked = REVOKED_SENTINEL
    guarded.keys.add(revoked, ALL_SCOPES)
    guarded.keys.revoke(revoked)
    run = run_tap_cli(
        tap_config(guarded, api_key=revoked), catalog=select_only(catalog, {"lists"}), env=DEBUG
    )
    assert run.returncode == 1
    assert "invalid or revoked" in _errors(run)[0]
    assert_no_leak(run, revoked)


def test_a_missing_scope_warning_never_prints_the_key(
    guarded: Sandbox, catalog: dict[str, Any]
) -> None:
    run = run_tap_cli(
        tap_config(guarded, api_key=RESTRICTED_SENTINEL),
        catalog=select_only(catalog, {"segments", "lists"}),
        env=DEBUG,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"Skipping streams? [^:]*'segments'", run.stderr)
    assert_no_leak(run, RESTRICTED_SENTINEL)


@pytest.mark.parametrize(
    ("spec", "exit_code"),
    [("429=0.5", 0), ("html403=1.0", 1), ("500=1.0", 1), ("badjson=1.0", 1), ("502=1.0", 1)],
)
def test_http_error_paths_never_print_the_key(
    guarded: Sandbox, catalog: dict[str, Any], spec: str, exit_code: int
) -> None:
    guarded.state.faults = FaultPlan.parse(spec, seed=3)
    try:
        run = run_tap_cli(
            tap_config(guarded, api_key=SENTINEL, max_retries=2),
            catalog=select_only(catalog, {"tags", "lists"}),
            env=DEBUG,
        )
    finally:
        guarded.state.faults = FaultPlan({})
    assert run.returncode == exit_code, run.stderr[-2000:]
    assert "Retrying" in run.stderr
    assert_no_leak(run, SENTINEL)


def test_broken_files_never_print_the_key(tmp_path: Path, guarded: Sandbox) -> None:
    broken = tmp_path / "config.json"
    broken.write_text('{"api_key": "' + SENTINEL + '", "base_url": ')  # cut off
    completed = subprocess.run(
        [sys.executable, "-m", "tap_klaviyo", "--config", str(broken)],
        capture_output=True, text=True, env={**os.environ, **DEBUG}, check=False,
    )  # fmt: skip
    run = TapRun(completed.returncode, completed.stdout, completed.stderr)
    assert run.returncode == 2
    assert "not valid JSON" in _errors(run)[0]
    assert_no_leak(run, SENTINEL)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=6, max_size=60))
def test_a_rejected_key_is_never_echoed(candidate: str) -> None:
    try:
        accepted = resolve_api_key({"api_key": candidate})
    except ConfigError as error:
        message = str(error)
        stripped = candidate.strip()
        if len(stripped) >= 6 and stripped not in GENERIC_MESSAGES:
            assert stripped not in message
    else:
        assert accepted == candidate.strip()
        assert accepted.startswith("pk_")


def _generic_messages() -> str:
    texts = []
    for sample in ("x" * 8, "AbC123"):
        try:
            resolve_api_key({"api_key": sample})
        except ConfigError as error:
            texts.append(str(error))
    return "\n".join(texts)


GENERIC_MESSAGES = _generic_messages()


# --- plain http only to loopback -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://a.klaviyo.com",
        "http://10.0.0.1:8080",
        "http://0.0.0.0:8080",
        "http://192.168.1.20",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://127.0.0.1@evil.example",
        "http://evil.example#@127.0.0.1",
        "ftp://127.0.0.1",
        "127.0.0.1:8080",
        "file:///etc/passwd",
    ],
)
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://[::1]:8080",
        "http://localhost:1",
        "https://a.klaviyo.com",
        "https://10.0.0.1",
    ],
)
def test_https_anywhere_and_http_to_loopback_are_accepted(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


hostnames = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True
)


@settings(max_examples=200, deadline=None)
@given(hostnames, st.integers(min_value=1, max_value=65535))
def test_http_only_reaches_loopback_hosts(host: str, port: int) -> None:
    url = f"http://{host}:{port}"
    if is_loopback(host):
        assert check_base_url(url) == url
    else:
        with pytest.raises(ConfigError):
            check_base_url(url)
    assert check_base_url(f"https://{host}:{port}") == f"https://{host}:{port}"


# --- TLS is always verified ------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: trusted by nobody unless told."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tap-klaviyo test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


EMPTY = json.dumps({"data": [], "links": {"next": None}}).encode()


def always(status: int, body: bytes) -> Responder:
    return lambda method, path: (status, {"Content-Type": "application/vnd.api+json"}, body)


def _run_cli(config: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> TapRun:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        completed = subprocess.run(
            [sys.executable, "-m", "tap_klaviyo", "--config", str(path), *args],
            capture_output=True, text=True, check=False, timeout=120,
            env={**os.environ, **DEBUG, **(env or {})},
        )  # fmt: skip
    return TapRun(completed.returncode, completed.stdout, completed.stderr)


@pytest.mark.parametrize(
    "settings",
    [{}, {"verify_ssl": False, "ssl_verify": False, "verify": False, "insecure": True}],
    ids=["default", "asked to skip verification"],
)
def test_an_untrusted_certificate_is_refused(
    certificate: tuple[Path, Path], settings: dict[str, Any]
) -> None:
    with local_server(always(200, EMPTY), tls=certificate) as (url, seen):
        env = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}  # requests' own trust store
        run = _run_cli({"api_key": SENTINEL, "base_url": url, "max_retries": 2, **settings},
                       "--test", env=env)  # fmt: skip
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert len(_errors(run)) == 1
    assert seen == [], "a request went through an unverified TLS connection"
    assert_no_leak(run, SENTINEL)


def test_a_trusted_certificate_carries_the_key_over_tls(certificate: tuple[Path, Path]) -> None:
    cert_file, _ = certificate
    with local_server(always(200, EMPTY), tls=certificate) as (url, seen):
        run = _run_cli({"api_key": SENTINEL, "base_url": url}, "--test",
                       env={"REQUESTS_CA_BUNDLE": str(cert_file)})  # fmt: skip
    assert_the_key_went_in_its_header(run, seen)
    assert all(SENTINEL not in path for _, path, _ in seen)


def test_a_netrc_default_entry_never_replaces_the_key(tmp_path: Path) -> None:
    """requests applies a ``.netrc`` entry to a session without auth of its own, and a
    ``default`` entry matches every host: it replaced the key (a 401 for a valid key)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password elsewhere\n")
    with local_server(always(200, EMPTY)) as (url, seen):
        run = _run_cli({"api_key": SENTINEL, "base_url": url}, "--test",
                       env={"NETRC": str(netrc)})  # fmt: skip
    assert_the_key_went_in_its_header(run, seen)


def assert_the_key_went_in_its_header(run: TapRun, seen: list[Any]) -> None:
    """The run succeeded, each request carried the key in its Authorization header, and no
    output shows it."""
    assert run.returncode == 0, run.stderr[-2000:]
    assert seen
    assert all(
        headers.get("Authorization") == f"Klaviyo-API-Key {SENTINEL}" for *_, headers in seen
    )
    assert_no_leak(run, SENTINEL)


# --- the key goes to the configured origin only ----------------------------------------------


def test_a_next_link_to_another_origin_never_gets_the_key() -> None:
    """A ``links.next`` pointing elsewhere (another host or port, or https downgraded to
    http) must not receive the Authorization header: the key goes to ``base_url`` only."""
    with local_server(always(200, EMPTY), host="127.0.0.1") as (elsewhere, elsewhere_seen):
        foreign = elsewhere.replace("127.0.0.1", "localhost") + "/api/tags?page%5Bcursor%5D=x"
        first = json.dumps({"data": [], "links": {"next": foreign}}).encode()
        with local_server(always(200, first)) as (url, seen):
            client = KlaviyoClient(
                api_key=SENTINEL, base_url=url, revision="2026-07-15", user_agent="t",
                max_retries=1, budget=Budget(enabled=False),
            )  # fmt: skip
            try:
                for _ in client.paginate("/api/tags", tier=S):
                    pass
            except KlaviyoAPIError as error:
                assert_no_leak(TapRun(1, "", str(error)), SENTINEL)
    assert len(seen) == 1
    for _, _, headers in elsewhere_seen:
        assert SENTINEL not in json.dumps(headers), "the key was sent to another origin"


# --- read-only by construction (client level) ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/profiles"),
        ("POST", "/api/events"),
        ("PATCH", "/api/profiles/01ABC"),
        ("DELETE", "/api/lists/XyZ123"),
        ("PUT", "/api/campaigns/01ABC"),
        ("POST", "/api/data-privacy-deletion-jobs"),
    ],
)
def test_the_client_refuses_to_write(method: str, path: str) -> None:
    with local_server(always(200, EMPTY)) as (url, seen):
        client = KlaviyoClient(
            api_key=SENTINEL, base_url=url, revision="2026-07-15", user_agent="t",
            max_retries=1, budget=Budget(enabled=False),
        )  # fmt: skip
        send: Callable[[], Any] = (
            (lambda: client.post(path, {"data": {}}, tier=S))
            if method == "POST"
            else (lambda: client.request(method, path, tier=S))
        )
        with pytest.raises(ValueError, match="read"):
            send()
    assert seen == [], f"{method} {path} reached the server"
