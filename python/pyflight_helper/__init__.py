"""PyFlight helper: runs with the target's interpreter and speaks JSON lines on stdio.

See docs/helper-protocol.md. Must stay importable on Python 3.8+ and must not import
flight_profiler at module level (the `hello` request reports whether it is importable).
"""

HELPER_VERSION = "0.1.0"
