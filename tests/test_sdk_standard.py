"""singer-sdk's standard tap tests, run against a sandbox of their own."""

from __future__ import annotations

import atexit
from contextlib import ExitStack

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from klaviyo_sandbox.app import DEMO_API_KEY
from klaviyo_sandbox.server import running_sandbox
from tap_klaviyo.tap import TapKlaviyo
from tests.conftest import SMALL

# The test class is built at import time with its config, so its sandbox starts here too.
_stack = ExitStack()
atexit.register(_stack.close)
_sandbox = _stack.enter_context(running_sandbox(seed=3, sizes=SMALL, rate_limits=False))

TestTapKlaviyo = get_tap_test_class(
    TapKlaviyo,
    config={"api_key": DEMO_API_KEY, "base_url": _sandbox.url, "report_timeframe_days": 365},
    suite_config=SuiteConfig(max_records_limit=250),
)
