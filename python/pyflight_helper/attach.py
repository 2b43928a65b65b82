"""Attaching: find the agent already in the target, or load one (see inject.py), then reach it.

On Linux with Python < 3.14 we load PyFlight's agent ourselves from a private copy (inject.py); it
listens on its door (pyflight_agent/door.py), which we wait for among the target's own sockets.
Never twice: an agent already in the process is used (its door, or flight-profiler's TCP port), and
a copy of ours that was loaded but has not opened its door yet (its thread still waits for the GIL,
or an earlier attempt was cancelled or timed out) is waited for, never loaded again; two helpers
attaching at once take turns (a lock file in the target's temporary directory).

Elsewhere (macOS, Python 3.14+, or PYFLIGHT_INJECT_WITH_CLIENT=1) we run `python -m
flight_profiler.client <pid> --cmd help --no-color` rather than calling its functions: they call
exit() on every failure. Its stdout is the only failure report (exit code is 1 for every failure),
so we map the known messages to our stable codes. That agent listens on a TCP port.
"""

import os
import re
import sys
import time

from . import errors
from . import capabilities
from .errors import HelperError
from . import inject
from .target import check_same_interpreter, is_alive, ns_pid, own_namespaces, require_alive, thread_ids
from .wire import call, find_agent, find_door, port_range, strip_ansi

# (substring of the client's output, code, message, hint); first match wins.
_CLIENT_FAILURES = [
    ("not exists", errors.PID_NOT_FOUND, "No process with PID {pid} is running.",
     "Pick a running process from the list."),
    ("owned by root", errors.PERMISSION_DENIED, "Process {pid} is owned by root.",
     "Run VS Code (or pyflight) as root to attach to root's processes."),
    ("ATTACH_FAILED", errors.PERMISSION_DENIED, "The kernel refused to let PyFlight trace process {pid} (ptrace).",
     "Run as the process owner with kernel.yama.ptrace_scope=0 (sudo sysctl kernel.yama.ptrace_scope=0), "
     "or as root; in a container add --cap-add=SYS_PTRACE."),
    ("can't locate python bin base addr", errors.VERSION_MISMATCH,
     "Process {pid} does not run the same Python binary as the helper.",
     "Set pyflight.pythonPath to the target's own interpreter."),
    ("No available debug port", errors.NO_FREE_PORT, "No free local port for the agent in {ports}.",
     "Free a port in that range or set PYFLIGHT_INJECT_START_PORT / PYFLIGHT_INJECT_END_PORT."),
    ("Higher Permission required", errors.PERMISSION_DENIED, "Not allowed to attach to process {pid}.",
     "Run as the process owner or as root."),
    ("not enabled on platform", errors.UNSUPPORTED_PLATFORM, "flight-profiler does not support this platform.",
     "PyFlight works on Linux x86_64 and macOS arm64."),
]


def _client_command(pid):
    return [sys.executable, "-m", "flight_profiler.client", str(pid), "--cmd", "help", "--no-color"]


def _client_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # ours, set to load the helper; the client does not need it
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["NO_COLOR"] = "1"
    return env


class _Stages(object):
    """Durations of each attach stage, logged and returned so slow attaches can be explained."""

    def __init__(self, pid):
        self.pid = pid
        self.durations = {}
        self._last = time.monotonic()

    def done(self, name):
        now = time.monotonic()
        self.durations[name] = round((now - self._last) * 1000, 1)
        self._last = now
        sys.stderr.write("attach %d: %s took %.1f ms\n" % (self.pid, name, self.durations[name]))


def describe(agent):
    """What the protocol says of an agent: where it is, and whether it refuses code (`allowCode`, from
    the door's own status: it is fixed when the agent loads, whoever loaded it)."""
    facts = agent.to_json()
    facts["allowCode"] = True
    if agent.kind == "door":
        try:
            facts["allowCode"] = call(agent, "agent.status", timeout=5).get("allowCode", True) is not False
        except (OSError, HelperError, ValueError, AttributeError):
            pass
    return facts


def open_target(pid):
    """Checks that `pid` can be read with this interpreter; returns the agent already in it (from an
    earlier attach), or None. Injects nothing."""
    require_alive(pid)
    check_same_interpreter(pid)
    return find_agent(pid)


def attach(pid, timeout=30.0, progress=None, cancelled=None, allow_code=True):
    """Makes sure an agent runs in `pid`; returns (agent, reused, stage durations in ms)."""
    progress = progress or (lambda stage, detail=None: None)
    stages = _Stages(pid)
    require_alive(pid)
    check_same_interpreter(pid)
    capabilities.require("agent")  # this interpreter's row of the table: tested, or refused with why
    progress("scanning")
    agent = find_agent(pid)
    stages.done("scan")
    if agent is not None:
        return agent, True, stages.durations
    deadline = time.monotonic() + timeout
    if not inject.supported():
        return _inject_with_client(pid, deadline, progress, cancelled, stages), False, stages.durations
    with inject.AttachLock(pid, deadline):
        agent = find_agent(pid)  # another helper may have loaded it while we waited for the lock
        if agent is not None:
            return agent, True, stages.durations
        loaded = inject.loaded_copies(pid)
        if loaded:
            # Ours is in the process already (an attempt that timed out or was cancelled, or another
            # helper's): wait for its door; loading a second agent would only add threads.
            sys.stderr.write("attach %d: an agent copy is mapped already (%s); waiting for its door\n" % (pid, loaded[0]))
            progress("connecting")
            door = _wait_for_door(pid, deadline, cancelled, already_loaded=True)
            stages.done("agent")
            return door, True, stages.durations
        door = _inject_private_copy(pid, deadline, progress, cancelled, stages, allow_code)
    return door, False, stages.durations


def _inject_private_copy(pid, deadline, progress, cancelled, stages, allow_code):
    if cancelled is not None and cancelled.is_set():
        raise HelperError(errors.CANCELLED, "Attach was cancelled.")
    staging = inject.Staging(pid, inject.python_base_address(pid), allow_code)
    try:
        stages.done("stage")
        progress("injecting")
        # From here a cancel waits for the injection to finish: killing `attach` mid-ptrace, or
        # removing the staged files before the agent read them, killed the target ("Unable to open
        # attach_params.data", found by the faults lane). The cancel is answered once the agent runs.
        inject.load_library(staging, pid, deadline)
        stages.done("inject")
        progress("connecting")
        door = _wait_for_door(pid, deadline, None)
        stages.done("agent")
        if cancelled is not None and cancelled.is_set():
            raise HelperError(errors.CANCELLED, "Attach was cancelled; the agent had already been loaded into process %d." % pid,
                              "It stays until the process exits; the next command that needs it uses it without loading again.")
        return door
    finally:
        staging.remove()


def _wait_for_door(pid, deadline, cancelled, already_loaded=False):
    """The library is loaded; its thread runs the bootstrap once it gets the GIL, which opens the door
    (or writes why it could not into its directory)."""
    me = ns_pid(pid)
    while True:
        door = find_door(pid)
        if door is not None:
            return door
        failure = inject.bootstrap_failure(pid, me)
        if failure:
            last_line, text = failure
            sys.stderr.write("agent bootstrap in process %d failed:\n%s\n" % (pid, text))
            raise HelperError(errors.ATTACH_FAILED, "PyFlight's agent could not start in process %d: %s" % (pid, last_line),
                              "The full traceback is in the PyFlight log. Check that flight-profiler is installed in "
                              "the environment the process runs in.")
        if cancelled is not None and cancelled.is_set():
            raise HelperError(errors.CANCELLED, "Attach was cancelled.")
        require_alive(pid, during="while PyFlight was loading its agent")
        if time.monotonic() > deadline:
            raise HelperError(errors.ATTACH_TIMEOUT,
                              ("PyFlight's agent is loaded in process %d but has not started yet." if already_loaded else
                               "The agent was loaded into process %d but did not start in time.") % pid,
                              why_not_started(pid) + " It is not loaded again: the next command waits for this one.")
        time.sleep(0.02)


def why_not_started(pid):
    """The real reason an agent loaded into `pid` has not opened its door, as far as it can be seen
    from outside: the process is stopped, a thread holds the GIL (which one, in which native call,
    from its native stack), or its threads are all asleep; and where the door was looked for when the
    process lives in namespaces of its own (a container)."""
    reason = inject.why_not_started(pid)
    holder = _gil_holder(pid) if "stopped" not in reason else None
    if holder is not None:
        tid, native, python = holder
        reason = ("Its thread waits for the GIL, which thread %d holds%s%s: the agent starts once that call returns. "
                  "The native stack of that thread (stack --native, no agent needed) shows where it is."
                  % (tid, " in the native call %s" % native if native else "", " (from Python %s)" % python if python else ""))
    kinds = own_namespaces(pid)
    if kinds:
        reason += (" The process runs in its own %s namespace%s (a container): PyFlight looked for its door under "
                   "/proc/%d/root/tmp, its own /tmp." % (", ".join(kinds), "" if len(kinds) == 1 else "s", pid))
    return reason


def _gil_holder(pid):
    """(host tid, innermost named native function, innermost Python function) of the thread that holds
    the GIL, from pystack's native read (the target pauses for its few milliseconds); None if none does
    or it cannot be read."""
    try:
        from .commands.stack import _pystack_threads, _pystack_threads_in_namespace

        read = _pystack_threads_in_namespace if "pid" in own_namespaces(pid) else _pystack_threads
        threads = read(pid, True)
    except Exception:  # a hint must never fail the report it is part of
        return None
    host = thread_ids(pid)
    for tid, _name, holds_gil, _gc, frames, native in threads:
        if holds_gil:
            return host.get(tid, tid), native_call(native), (frames[0][2] if frames else None)
    return None


def native_call(native):
    """The native call a thread is in, innermost first: the call the Python code made, not the C
    library's helper it happens to be in at that moment (a regex engine inside memmove, CI once) — the
    innermost named frame outside libc and the loader, else the innermost named one."""
    named = [f for f in native or [] if f.get("function") and f.get("function") not in ("???", "")]
    own = [f for f in named if not _C_LIBRARY.search(f.get("library") or "")]
    pick = (own or named or [None])[0]
    return pick.get("function") if pick else None


# glibc / musl and the dynamic loader: helpers every native call may be in at any moment.
_C_LIBRARY = re.compile(r"(^|/)(libc|libm|libpthread|ld-linux[^/]*|ld-musl[^/]*)([.-][^/]*)?\.so")


def _inject_with_client(pid, deadline, progress, cancelled, stages):
    """macOS and Python 3.14+: flight-profiler's own client (lldb / sys.remote_exec)."""
    progress("injecting")
    code, output = inject.run_bounded(_client_command(pid), pid, deadline, cancelled, HelperError(
        errors.ATTACH_TIMEOUT, "The agent in process %d did not answer in time." % pid,
        "The process may hold the GIL in a long native call; try again later."), env=_client_env())
    output = strip_ansi(output)
    sys.stderr.write("flight_profiler client exited %s\n%s\n" % (code, output[-4000:]))
    stages.done("inject")
    if code != 0:
        raise _classify_failure(pid, output)
    progress("connecting")
    agent = find_agent(pid)
    stages.done("agent")
    if agent is None:
        require_alive(pid, during="while PyFlight was loading its agent")
        raise HelperError(errors.ATTACH_FAILED, "The agent in process %d is not reachable." % pid,
                          "See the PyFlight log for the profiler's output.")
    return agent


def _classify_failure(pid, output):
    if not is_alive(pid):
        return HelperError(errors.TARGET_EXITED, "Process %d exited while PyFlight was loading its agent." % pid,
                           "Start the program again and attach to the new process.")
    for needle, code, message, hint in _CLIENT_FAILURES:
        if needle in output:
            return HelperError(code, message.format(pid=pid, ports="%d-%d" % port_range()), hint)
    if "ERROR_FLIGHT_SERVER_NO_RESPONSE" in output:
        return HelperError(errors.ATTACH_TIMEOUT,
                           "The agent was injected into process %d but never answered." % pid,
                           "The process may hold the GIL in a long native call, or flight-profiler failed to "
                           "import inside it (see the target's stderr).")
    last = [line for line in output.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
    return HelperError(errors.ATTACH_FAILED, "Attaching to process %d failed: %s" % (pid, last[0].strip()),
                       "See the PyFlight log for the profiler's full output.")
