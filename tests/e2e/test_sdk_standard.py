"""singer-sdk's standard tap tests, run against a sandbox of their own."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import running_sandbox
from tap_klaviyo.tap import TapKlaviyo
from tests.conftest import SMALL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The test class is built at import time with its config: it gets the sandbox's address
# now, and the sandbox starts only when this module's tests run.
PORT = _free_port()


@pytest.fixture(scope="module", autouse=True)
def sandbox() -> Iterator[None]:
    with running_sandbox(seed=3, sizes=SMALL, rate_limits=False, port=PORT):
        yield


TestTapKlaviyo = get_tap_test_class(
    TapKlaviyo,
    config={
        "api_key": DEMO_API_KEY,
        "base_url": f"http://127.0.0.1:{PORT}",
        "rate_limit_budget": False,  # the sandbox has none: rate limits are tested elsewhere
        "report_timeframe_days": 365,
    },
    suite_config=SuiteConfig(max_records_limit=250),
)
