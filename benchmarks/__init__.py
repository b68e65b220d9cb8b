"""Benchmarks of tap-klaviyo against the local Klaviyo sandbox (``make bench``).

Not part of the test suite: every scenario starts its own sandbox process and runs the tap
(or the plain singer-sdk baseline in ``benchmarks.baseline_tap``) as a subprocess, so the
tap's CPU time and peak RSS are measured alone (``os.wait4``). Nothing here calls the real
Klaviyo API. ``python -m benchmarks --help`` lists the scenarios and their sizes.
"""
