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


# --- Namespaces: a target in a container seen from its node ---------------------------------------
# A process in its own PID namespace knows itself and its threads by other numbers than the host
# does: its agent, threading's native_id, pystack and py-spy (which read them from its memory) give
# the namespace's numbers; /proc, signals and ptrace take the host's. /proc/<pid>/status `NSpid`
# lists a process's (or thread's) pid in each namespace from the host's down to its own.


def ns_ids(pid, tid=None):
    """[host id, …, id in the innermost namespace] of a process (or one of its threads)."""
    path = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%d/status" % (pid, tid)
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return [pid if tid is None else tid]


def ns_pid(pid):
    """The pid process `pid` has in its own (innermost) pid namespace: what its agent calls itself."""
    return ns_ids(pid)[-1]


def namespace_of(pid, kind):
    """The inode of the target's namespace of `kind` (pid, mnt, net, …), or None when unreadable."""
    try:
        return os.stat("/proc/%d/ns/%s" % (pid, kind)).st_ino
    except OSError:
        return None


def own_namespaces(pid):
    """The namespace kinds in which the target is not where this helper is: ["pid", "mnt", "net"]…"""
    kinds = []
    for kind in ("pid", "mnt", "net"):
        theirs = namespace_of(pid, kind)
        try:
            ours = os.stat("/proc/self/ns/%s" % kind).st_ino
        except OSError:
            continue
        if theirs is not None and theirs != ours:
            kinds.append(kind)
    return kinds


def thread_ids(pid):
    """{tid in the target's own namespace: host tid} of its threads; identity outside a namespace."""
    out = {}
    try:
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        return out
    for tid in tids:
        out[ns_ids(pid, tid)[-1]] = tid
    return out
