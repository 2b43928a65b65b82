"""Facts about the target process, read without touching it (Linux /proc, macOS ps)."""

import os
import re
import sys

from .errors import NOT_PYTHON, PERMISSION_DENIED, PID_NOT_FOUND, TARGET_EXITED, VERSION_MISMATCH, HelperError


# The same rule as src/common/pythonExecutable.ts: python, python3, python3.13t, python3.12d, Python.
_PYTHON_EXECUTABLE = re.compile(r"^python(\d+(\.\d+)*)?[dmtw]*$", re.IGNORECASE)


def is_python_executable(path):
    return bool(_PYTHON_EXECUTABLE.match(os.path.basename(path)))


def is_alive(pid):
    """True while the process exists and is not a zombie (a zombie has already exited)."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
        except OSError:
            return False
        state = stat[stat.rfind(b")") + 2:][:1]
        return state not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def require_alive(pid, during=None):
    if not is_alive(pid):
        if during:
            raise HelperError(TARGET_EXITED, "Process %d exited %s." % (pid, during),
                              "Start the program again and attach to the new process.")
        raise HelperError(PID_NOT_FOUND, "No process with PID %d is running." % pid,
                          "Pick a running process from the list, or check the PID.")


def check_same_interpreter(pid):
    """flight_profiler only attaches from the very same interpreter binary as the target."""
    if not sys.platform.startswith("linux"):
        return
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except PermissionError:
        raise HelperError(PERMISSION_DENIED, "Not allowed to inspect process %d." % pid,
                          "Run VS Code (or pyflight) as the user that owns the process, or as root.")
    except FileNotFoundError:
        require_alive(pid)
        raise
    mine = os.path.realpath(sys.executable)
    if os.path.realpath(exe) != mine:
        if not is_python_executable(exe):
            raise HelperError(NOT_PYTHON, "Process %d is not a Python interpreter (%s)." % (pid, exe),
                              "Pick a Python process.")
        raise HelperError(VERSION_MISMATCH,
                          "Process %d runs %s but the helper runs %s." % (pid, exe, mine),
                          "Set pyflight.pythonPath to the target's own interpreter (its venv's bin/python).")
