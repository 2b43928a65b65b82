"""Loads flight-profiler's agent into a Linux target (Python < 3.14) from a fresh, private copy.

flight-profiler's client writes `lib/attach_params.data` into site-packages and dlopens the
installed `flight_profiler_agent.so`. Two problems follow in production:
- a process forked from one that already has the agent (every gunicorn/uvicorn/celery worker
  started after the master was attached) has that library mapped but no agent thread; dlopen of
  the same file is a no-op there, so the agent never starts (ERROR_FLIGHT_SERVER_NO_RESPONSE);
- the agent logs into the application's stderr, and its thread pools hold interpreter shutdown.

So we stage a private copy of `attach` + the library (a new file, so dlopen really loads it and its
constructor runs) in a directory the target can read, with our own parameters file pointing at
`agent_bootstrap.py` instead of profiler_agent.py. Same native code and protocol, nothing written
into site-packages. The staged files (23 MB) are removed once the agent answered (or attach
failed), at the helper's exit if it stops mid-attach (the attach runs in a daemon thread, whose
`finally` never runs at exit), and by the next attach if a helper was killed (SIGKILL).
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import errors
from .errors import HelperError
from .target import require_alive

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent_bootstrap.py")

# flight_profiler/utils/render_util.py EXIT_CODE_HINTS, by the attach binary's exit code.
_ATTACH_EXIT = {1: "ATTACH_FAILED", 10: "ERROR_IN_EXECUTE_DLOPEN", 12: "DLOPEN_RETURN_ZERO",
                15: "ERROR_IN_VERIFY_SO_LOCATION"}


def supported():
    """Linux, Python < 3.14; PYFLIGHT_INJECT_WITH_CLIENT=1 forces flight-profiler's own client
    (to compare, or if a system refuses our staged copy)."""
    if os.environ.get("PYFLIGHT_INJECT_WITH_CLIENT") == "1":
        return False
    return sys.platform.startswith("linux") and sys.version_info < (3, 14)


def python_base_address(pid):
    """First mapping of the target's interpreter binary (what flight-profiler's locate script reads)."""
    exe = os.path.realpath("/proc/%d/exe" % pid)
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == exe:
                return int(parts[0].split("-")[0], 16)
    raise HelperError(errors.VERSION_MISMATCH, "Cannot find the interpreter's mapping in process %d." % pid,
                      "The target must run the same Python binary as the helper.")


def _staging_root(pid):
    """(path for us, path as the target sees it): the target's own /tmp, even in another mount
    namespace (systemd PrivateTmp, containers), reached through /proc/<pid>/root."""
    through_proc = "/proc/%d/root/tmp" % pid
    if os.path.isdir(through_proc) and os.access(through_proc, os.W_OK):
        return through_proc, "/tmp"
    return tempfile.gettempdir(), tempfile.gettempdir()


STAGING_PREFIX = "pyflight-agent-"
# An attach takes at most its timeout (30 s by default); a staging dir older than this is left over.
STALE_AFTER_SECONDS = 600
_live_stagings = set()


def sweep_stale_stagings(root, now=None):
    """Removes staging dirs left by helpers that were killed: their target is gone, or they are
    older than any attach can take. Only our own prefix; returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(STAGING_PREFIX):
            continue
        path = os.path.join(root, name)
        pid = name[len(STAGING_PREFIX):].split("-", 1)[0]
        try:
            old = now - os.lstat(path).st_mtime > STALE_AFTER_SECONDS
        except OSError:
            continue
        if old or not (pid.isdigit() and os.path.exists("/proc/%s" % pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


@atexit.register
def _remove_live_stagings():
    for staging in list(_live_stagings):
        staging.remove()


class Staging(object):
    """The private copy; `target_path(name)` is where the target finds a staged file."""

    def __init__(self, pid, port, base_addr):
        import flight_profiler

        lib = os.path.join(os.path.dirname(flight_profiler.__file__), "lib")
        ours, theirs = _staging_root(pid)
        sweep_stale_stagings(ours)
        self.dir = tempfile.mkdtemp(prefix="%s%d-" % (STAGING_PREFIX, pid), dir=ours)
        _live_stagings.add(self)
        self.theirs = os.path.join(theirs, os.path.basename(self.dir))
        try:
            os.chmod(self.dir, 0o755)  # a target of another user must read the library and the bootstrap
            for name in ("attach", "flight_profiler_agent.so"):
                shutil.copy2(os.path.join(lib, name), os.path.join(self.dir, name))
            shutil.copy2(BOOTSTRAP, os.path.join(self.dir, "agent_bootstrap.py"))
            with open(os.path.join(self.dir, "attach_params.data"), "w") as params:
                params.write("%s,%d,%d\n" % (self.target_path("agent_bootstrap.py"), port, base_addr))
            for name in os.listdir(self.dir):
                os.chmod(os.path.join(self.dir, name), 0o755 if name == "attach" else 0o644)
        except BaseException:
            self.remove()
            raise

    def target_path(self, name):
        return os.path.join(self.theirs, name)

    @property
    def attach_binary(self):
        return os.path.join(self.dir, "attach")

    def remove(self):
        _live_stagings.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_bounded(command, pid, deadline, cancelled, timed_out, env=None):
    """Runs a command that injects into `pid` until it exits, the deadline (then `timed_out`, a
    HelperError, unless the target is gone) or a cancel; returns (exit code, output)."""
    sys.stderr.write("spawn: %s\n" % " ".join(command))  # the extension logs our stderr
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    chunks = []
    while True:
        try:
            out, _ = proc.communicate(timeout=0.02)  # drains the pipe while waiting
            chunks.append(out)
            break
        except subprocess.TimeoutExpired:
            pass
        if (cancelled is not None and cancelled.is_set()) or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            if cancelled is not None and cancelled.is_set():
                raise HelperError(errors.CANCELLED, "Attach was cancelled.")
            require_alive(pid, during="while PyFlight was loading its agent")
            raise timed_out
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def run_attach_binary(staging, pid, deadline, cancelled):
    """Runs the staged `attach` (ptrace + dlopen); returns (exit code, output)."""
    return run_bounded([staging.attach_binary, str(pid)], pid, deadline, cancelled, HelperError(
        errors.ATTACH_TIMEOUT, "Loading the agent into process %d did not finish in time." % pid,
        "The process may be stopped (SIGSTOP) or traced by a debugger."))


def attach_failure(pid, code, output):
    name = _ATTACH_EXIT.get(code, "exit code %d" % code)
    if code == 1:
        return HelperError(errors.PERMISSION_DENIED, "The kernel refused to let PyFlight trace process %d (ptrace)." % pid,
                           "Run as the process owner with kernel.yama.ptrace_scope=0 "
                           "(sudo sysctl kernel.yama.ptrace_scope=0), or as root; in a container add "
                           "--cap-add=SYS_PTRACE.")
    last = [line for line in output.strip().splitlines() if line.strip()][-1:] or [""]
    return HelperError(errors.ATTACH_FAILED, "Loading the agent into process %d failed (%s). %s" % (pid, name, last[0].strip()),
                       "See the PyFlight log for the injector's output.")
