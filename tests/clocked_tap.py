"""``python -m tests.clocked_tap SECONDS [tap arguments]``: the tap, its clock SECONDS ahead.

A test that lets days pass on the sandbox (``advance(..., move_clock=86400)``) runs the tap
with the same clock: the sync starts (``initialized_at``, from ``time.time``) when the
sandbox says it is, so its bookmarks and windows live in the sandbox's time.
"""

from __future__ import annotations

import runpy
import sys
import time


def main() -> None:
    offset = float(sys.argv[1])
    wall = time.time
    time.time = lambda: wall() + offset
    sys.argv = ["tap-klaviyo", *sys.argv[2:]]
    runpy.run_module("tap_klaviyo", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
