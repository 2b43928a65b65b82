"""Injecting the agent, by running flight_profiler's own client once, then finding its port.

We run `python -m flight_profiler.client <pid> --cmd help --no-color` rather than calling its
functions: they call exit() on every failure. Its stdout is the only failure report (exit code is 1
for every failure), so we map the known messages to our stable codes.
"""

import os
import subprocess
import sys
import time

from . import errors
from .errors import HelperError
from .target import check_same_interpreter, is_alive, require_alive
from .wire import find_agent_port, strip_ansi

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


def attach(pid, timeout=30.0, progress=None, cancelled=None):
    """Makes sure an agent runs in `pid` and returns (port, reused)."""
    progress = progress or (lambda stage, detail=None: None)
    require_alive(pid)
    check_same_interpreter(pid)
    progress("scanning")
    port = find_agent_port(pid)
    if port is not None:
        return port, True

    progress("injecting")
    command = _client_command(pid)
    sys.stderr.write("spawn: %s\n" % " ".join(command))  # the extension logs our stderr
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=_client_env())
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if cancelled is not None and cancelled.is_set():
            proc.kill()
            proc.wait()
            raise HelperError(errors.CANCELLED, "Attach was cancelled.")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            require_alive(pid, during="while PyFlight was attaching")
            raise HelperError(errors.ATTACH_TIMEOUT,
                              "The agent in process %d did not answer within %d s." % (pid, timeout),
                              "The process may hold the GIL in a long native call; try again later.")
        time.sleep(0.05)
    output = strip_ansi(proc.stdout.read().decode("utf-8", "replace"))
    sys.stderr.write("flight_profiler client exited %s\n%s\n" % (proc.returncode, output[-4000:]))

    if proc.returncode != 0:
        raise _classify_failure(pid, output)

    progress("connecting")
    port = find_agent_port(pid)
    if port is None:
        require_alive(pid, during="while PyFlight was attaching")
        raise HelperError(errors.ATTACH_FAILED, "The agent in process %d is not reachable." % pid,
                          "See the PyFlight log for the profiler's output.")
    return port, False


def _classify_failure(pid, output):
    if not is_alive(pid):
        return HelperError(errors.TARGET_EXITED, "Process %d exited while PyFlight was attaching." % pid,
                           "Start the program again and attach to the new process.")
    from .wire import port_range
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
