"""The one HTTP path to Klaviyo: auth, revision, pagination, budget, retries, errors.

Every request of every stream goes through ``KlaviyoClient.request``. The API key lives only
in the session's auth (``ApiKeyAuth``), which puts it in each request's ``Authorization``
header: never in a URL, a log line or an error message.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import requests.auth
import urllib3
from requests.adapters import HTTPAdapter

from tap_klaviyo import prefetch
from tap_klaviyo.answers import (
    Decode,
    Redirected,
    TransientError,
    connection_reason,
    endpoint_of,
    header_number,
    parse_answer,
)
from tap_klaviyo.budget import Bucket, Budget
from tap_klaviyo.errors import KlaviyoAPIError
from tap_klaviyo.resources import READ_ONLY_POSTS, Tier

logger = logging.getLogger("tap_klaviyo.client")

MAX_RETRY_WAIT = 120.0
MAX_THROTTLED = 30  # 429s waited out for one request before giving up
MAX_REDIRECTS = 5


@dataclass
class RequestStats:
    """What the client did, for logs, ``--test`` and benchmarks."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    by_stream: Counter[str] = field(default_factory=Counter)  # requests per stream named
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_retry(self, reason: str) -> None:
        with self.lock:
            self.retries += 1
            self.throttled += reason == "429"


@dataclass
class Attempts:
    """One request's failures so far, and whether it is to be tried again."""

    max_retries: int
    failures: int = 0
    throttles: int = 0  # 429s, waited out: a budget of their own
    timeouts: int = 0

    @property
    def retries(self) -> int:
        return self.failures + self.throttles

    def count(self, error: TransientError) -> bool:
        """Count a failure; True while the request is to be tried again."""
        if error.retry_after is not None:
            self.throttles += 1
        else:
            self.failures += 1
            self.timeouts += str(error) == "timeout"
        return self.failures < self.max_retries and self.throttles < MAX_THROTTLED


class ApiKeyAuth(requests.auth.AuthBase):
    """Klaviyo's private-key auth, as the session's own: with none, requests would look for
    a ``.netrc`` on every request, and a ``default`` entry there would replace the key (a 401
    for a valid key). Proxies from the environment still apply."""

    def __init__(self, api_key: str) -> None:
        self._header = f"Klaviyo-API-Key {api_key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


class KlaviyoClient:
    """A thread-safe Klaviyo API client for one account."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        revision: str,
        user_agent: str,
        timeout: float = 60,
        max_retries: int = 8,
        max_in_flight: int = 16,
        budget: Budget | None = None,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep  # the wait before a retry: tests pass their own, never waiting
        self.timeout = timeout
        self.max_retries = max_retries
        self.budget = budget or Budget()
        self.stats = RequestStats()
        # Requests on the wire at once, every stream's together (each stream also runs only
        # as many as its tier can use). Taken after the budget, so a request waiting for its
        # endpoint's budget never holds a place another endpoint's request could use.
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max_in_flight, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.auth = ApiKeyAuth(api_key)
        self._session.headers.update(
            {
                "revision": revision,
                "Accept": "application/vnd.api+json",
                "User-Agent": user_agent,
            }
        )

    # -- public API ------------------------------------------------------------------------

    def get(
        self,
        path_or_url: str,
        params: dict[str, str] | None = None,
        *,
        tier: Tier,
        endpoint: str | None = None,
        decode: Decode | None = None,
        stream: str | None = None,
    ) -> dict[str, t.Any]:
        return self.request(
            "GET",
            path_or_url,
            params=params,
            tier=tier,
            endpoint=endpoint,
            decode=decode,
            stream=stream,
        )

    def post(
        self, path: str, body: dict[str, t.Any], *, tier: Tier, stream: str | None = None
    ) -> dict[str, t.Any]:
        return self.request("POST", path, body=body, tier=tier, stream=stream)

    def paginate(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        tier: Tier,
        endpoint: str | None = None,
        decode: Decode | None = None,
        stream: str | None = None,
    ) -> t.Iterator[dict[str, t.Any]]:
        """Yield each page (the whole JSON:API document), following ``links.next``; a 200's
        body through ``decode`` when given."""
        endpoint = endpoint or path
        document = self.get(
            path, params, tier=tier, endpoint=endpoint, decode=decode, stream=stream
        )
        seen: set[str] = set()
        while True:
            next_url = (document.get("links") or {}).get("next")
            # Handed over, not kept: the page is freed as soon as the reader is done with it.
            page, document = [document], {}
            yield page.pop()
            if not next_url:
                return
            if not self._same_origin(next_url):
                raise KlaviyoAPIError(
                    f"Klaviyo's next page for {path} points to another host; stopping rather "
                    "than sending the API key there."
                )
            if next_url in seen:
                raise KlaviyoAPIError(
                    f"Klaviyo returned the same next page twice for {path}; stopping "
                    "rather than looping. Re-run the sync; if it persists, report it to Klaviyo."
                )
            seen.add(next_url)
            document = self.get(
                next_url, tier=tier, endpoint=endpoint, decode=decode, stream=stream
            )

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, t.Any] | None = None,
        tier: Tier,
        endpoint: str | None = None,
        decode: Decode | None = None,
        stream: str | None = None,
    ) -> dict[str, t.Any]:
        """Send one request with the budget and retries; return the parsed JSON body.

        ``endpoint`` names the operation the budget counts against (``/api/lists/{id}``:
        Klaviyo's limits are per endpoint, not per list); ``stream`` the stream it is
        counted for in the run's summary.
        """
        url = self._absolute(path_or_url)
        endpoint = endpoint or endpoint_of(url)
        if method != "GET" and not (method == "POST" and endpoint_of(url) in READ_ONLY_POSTS):
            raise ValueError(f"{method} {endpoint} would write to the account; the tap only reads")
        attempts, redirects = Attempts(self.max_retries), 0
        retrying: tuple[str, float] | None = None  # the last failure, and when it came
        while True:
            bucket = self.budget.acquire(endpoint, tier)
            if retrying is not None:
                # Logged once the wait is over: the jittered delay plus the endpoint's own
                # budget (15 a minute for some) is the real one.
                reason, failed_at = retrying
                logger.info(
                    "Retrying %s %s after %.1f s (retry %d): %s",
                    method, endpoint, time.monotonic() - failed_at, attempts.retries, reason,
                )  # fmt: skip
            try:
                with self._in_flight:
                    response, content = self._send(method, url, params, body, stream=stream)
                # Out of the slot (the page may wait for room: another request may go), a
                # parallel read makes its page when it has room for it.
                prefetch.body_received(len(content))
                document, remaining, reset = self._answer(response, content, decode)
            except Redirected as redirect:
                redirects += 1
                url, params = self._redirect_target(redirect.location, redirects), None
            except TransientError as error:
                retrying = (str(error), time.monotonic())
                self._wait_or_give_up(f"{method} {endpoint}", error, attempts, bucket)
            else:
                if remaining == 0 and reset:
                    # Another client spent this window: wait for it rather than get a 429.
                    bucket.pause(reset)
                return document

    # -- internals -------------------------------------------------------------------------

    def _wait_or_give_up(
        self, request: str, error: TransientError, attempts: Attempts, bucket: Bucket
    ) -> None:
        """Throttling is waited out (Retry-After says how long, and the whole endpoint
        waits, not only this thread); failures are retried after a backoff, up to a limit."""
        reason = str(error)
        self.stats.count_retry(reason)
        if not attempts.count(error):
            raise KlaviyoAPIError(self._gave_up(request, attempts, reason)) from None
        wait = self._wait_before_retry(attempts.failures, error.retry_after)
        if error.retry_after is not None:
            bucket.pause(wait)
        self._sleep(wait)

    def _gave_up(self, request: str, attempts: Attempts, reason: str) -> str:
        """The one line for a request that kept failing: what the user can change, if any."""
        cause = "Klaviyo may be having trouble"
        if reason.startswith(("connection refused", "name not resolved")):
            cause = (
                f"nothing answers at {self.base_url}: check 'base_url' (default "
                "https://a.klaviyo.com) and this machine's network"
            )
        elif attempts.timeouts and attempts.timeouts == attempts.failures:
            cause = (
                f"every attempt took longer than 'request_timeout' ({self.timeout:g} s): "
                "raise it (default 60) if Klaviyo is slow to answer"
            )
        return (
            f"{request} failed {attempts.retries} times (last: {reason}); {cause}. Re-run "
            "later: the state saved so far resumes where this run stopped."
        )

    def _redirect_target(self, location: str, hops: int) -> str:
        """A redirect is followed on our own origin only (as ``links.next`` is): elsewhere,
        another host's body would be taken for Klaviyo's data."""
        if not self._same_origin(location):
            raise KlaviyoAPIError(
                f"Klaviyo's answer redirects to another host ({urlsplit(location).netloc}); "
                "the tap does not follow it. Check 'base_url' (e.g. https://a.klaviyo.com)."
            )
        if hops > MAX_REDIRECTS:
            raise KlaviyoAPIError(
                f"Klaviyo redirected the request more than {MAX_REDIRECTS} times; check "
                "'base_url' (e.g. https://a.klaviyo.com)."
            )
        return location

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _absolute(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + path_or_url

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        body: dict[str, t.Any] | None,
        *,
        stream: str | None = None,
    ) -> tuple[requests.Response, bytes]:
        """One attempt: the response and its body."""
        with self.stats.lock:
            self.stats.requests += 1
            if stream:
                self.stats.by_stream[stream] += 1
        logger.debug("%s %s %s", method, endpoint_of(url), params or "")
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=orjson.dumps(body) if body is not None else None,
                headers={"Content-Type": "application/vnd.api+json"} if body else None,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,  # followed by ``request``, on our origin only
            )
            try:
                # The body in one read: ``response.content`` would read it 10 KiB at a time
                # in Python. Reading may fail too (cut-off responses).
                content = response.raw.read(decode_content=True)
            finally:
                response.close()  # a no-op once read: the connection is back in the pool
        except requests.exceptions.SSLError:
            host = urlsplit(url).hostname
            raise KlaviyoAPIError(
                f"The TLS certificate of {host} could not be verified; the tap does not send "
                "the API key over an unverified connection. Check 'base_url' and the system's "
                "CA certificates."
            ) from None
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise TransientError("timeout") from None
        except (requests.ConnectionError, urllib3.exceptions.ProtocolError) as error:
            raise TransientError(connection_reason(error, url)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            raise TransientError(type(error).__name__) from None
        return response, content

    @staticmethod
    def _answer(
        response: requests.Response, content: bytes, decode: Decode | None
    ) -> tuple[dict[str, t.Any], int | None, float | None]:
        """The parsed body (through ``decode`` when given) and the steady window's
        ``RateLimit-*`` reading."""
        headers = response.headers
        if response.is_redirect:
            raise Redirected(urljoin(response.url, headers["Location"]))
        return (
            parse_answer(response, content, decode),
            header_number(headers.get("RateLimit-Remaining")),
            header_number(headers.get("RateLimit-Reset")),
        )

    def _wait_before_retry(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 1.0), MAX_RETRY_WAIT)
        # Exponential backoff with full jitter: 0.5 s, 1 s, 2 s... capped.
        return random.uniform(0.25, min(0.5 * 2 ** (attempt - 1), 30.0))
