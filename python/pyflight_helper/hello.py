"""`hello`: what this interpreter is and whether flight_profiler is importable in it."""

import os
import platform
import sys

from . import HELPER_VERSION, capabilities


def _flight_profiler_info():
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8 is not supported by flight-profiler anyway
        return {"installed": False, "error": "Python %s is too old" % platform.python_version()}
    try:
        installed_version = version("flight_profiler")
    except PackageNotFoundError:
        return {"installed": False, "error": "No distribution named flight-profiler in this environment."}
    try:
        import flight_profiler  # noqa: F401  (the agent imports it inside the target too)
    except Exception as exc:  # a broken install should be reported, not crash the helper
        return {"installed": False, "version": installed_version, "error": "%s: %s" % (type(exc).__name__, exc)}
    return {"installed": True, "version": installed_version, "location": os.path.dirname(flight_profiler.__file__)}


def _capabilities():
    """The row, or None when the table cannot be read (a package that left it out): hello must answer."""
    try:
        return capabilities.report()
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write("capabilities: the table is unreadable (%s: %s)\n" % (type(exc).__name__, exc))
        return None


def hello():
    return {
        "helperVersion": HELPER_VERSION,
        "helperPid": os.getpid(),
        "python": {
            "executable": sys.executable,
            "realExecutable": os.path.realpath(sys.executable),
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "prefix": sys.prefix,
            "basePrefix": getattr(sys, "base_prefix", sys.prefix),
            "isVenv": getattr(sys, "base_prefix", sys.prefix) != sys.prefix,
        },
        "flightProfiler": _flight_profiler_info(),
        # This interpreter's row of the capability table (capabilities.json): the target's, as it is the same binary.
        "capabilities": _capabilities(),
        "platform": sys.platform,
        "machine": platform.machine(),
    }
