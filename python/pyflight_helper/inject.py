"""Loads flight-profiler's agent into a Linux target (Python < 3.14) from a fresh, private copy.

flight-profiler's client writes `lib/attach_params.data` into site-packages and dlopens the
installed `flight_profiler_agent.so`. Two problems follow in production:
- a process forked from one that already has the agent (every gunicorn/uvicorn/celery worker
  started after the master was attached) has that library mapped but no agent thread; dlopen of
  the same file is a no-op there, so the agent never starts (ERROR_FLIGHT_SERVER_NO_RESPONSE);
- the agent logs into the application's stderr, and its thread pools hold interpreter shutdown.

So we stage a private copy of the library (a new file, so dlopen really loads it and its
constructor runs; PyFlight's own loader, injector.py, has the target dlopen it; `attach` is staged
beside it for machines other than x86-64) in a directory the target can read, with our own parameters file pointing at
pyflight_agent/bootstrap.py instead of profiler_agent.py, the other in-target files beside it and
door.json (the policy: whether the agent may run code). Same native code and plugins, nothing
written into site-packages, no TCP port: the agent listens on its door (pyflight_agent/door.py).
The staged files (23 MB) are removed once the door answered (or attach failed), at the helper's
exit if it stops mid-attach (the attach runs in a daemon thread, whose `finally` never runs at
exit), and by the next attach if a helper was killed (SIGKILL); so are doors of processes gone.
"""

import atexit
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from . import errors, injector, quiet_native
from .errors import HelperError
from .target import ns_pid, own_namespaces, require_alive
from .wire import DOOR_DIR_PREFIX, DOOR_SOCKET

AGENT_FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyflight_agent")
# The files the bootstrap runs in the target: its own helpers, then the in-target calls (door.CALLS).
CORE_FILES = ("bootstrap.py", "door.py", "patches.py", "elf.py")
CALL_FILES = ("reads.py", "holders.py", "census.py", "exception_hook.py", "live_code.py")

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
ATTACH_LOCK_PREFIX = "pyflight-attach-"
# An attach takes at most its timeout (30 s by default); a staging dir older than this is left over.
STALE_AFTER_SECONDS = 600
# A door directory with no listener this long after it was made belongs to a process that is gone
# (or whose agent could not start: its `failed` file was read by then).
DOOR_STALE_AFTER_SECONDS = 120
_live_stagings = set()


def sweep_stale_stagings(root, now=None):
    """Removes what killed helpers and exited targets left: staging dirs whose target is gone or that
    are older than any attach can take, door dirs nobody listens on any more, and attach lock files
    of processes that are gone (judge 6: 5,451 of them had piled up in /tmp). Only our own
    prefixes; returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(root, name)
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue
        if name.startswith(STAGING_PREFIX):
            pid = name[len(STAGING_PREFIX):].split("-", 1)[0]
            stale = age > STALE_AFTER_SECONDS or not (pid.isdigit() and os.path.exists("/proc/%s" % pid))
        elif name.startswith(DOOR_DIR_PREFIX):
            stale = age > DOOR_STALE_AFTER_SECONDS and not _listening(os.path.join(path, DOOR_SOCKET))
        elif name.startswith(ATTACH_LOCK_PREFIX) and name.endswith(".lock"):
            pid = name[len(ATTACH_LOCK_PREFIX):-len(".lock")]
            if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
                try:
                    os.remove(path)  # nobody attaches to a process that is gone
                    removed.append(name)
                except OSError:
                    pass
            continue
        else:
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def _listening(path):
    """False only when nothing is bound there any more (ECONNREFUSED, ENOENT). A door whose agent is
    slow to accept (its backlog full on a loaded host: EAGAIN), or that this user may not enter, is
    not provably gone: under load another PyFlight's sweep took a live door for stale and removed it,
    and that session's every command then failed."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1)
    try:
        sock.connect(path)  # the door closes a connection that sends nothing; the agent logs no error
        return True
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True
    finally:
        sock.close()


@atexit.register
def _remove_live_stagings():
    for staging in list(_live_stagings):
        staging.remove()


class Staging(object):
    """The private copy; `target_path(name)` is where the target finds a staged file."""

    def __init__(self, pid, base_addr, allow_code=True):
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
            # The copy's own prints into the target's stdout/stderr (gilstat's `[*] …` lines) are
            # cut out of its code; the three loader lines stay (quiet_native.py).
            try:
                self.silenced = quiet_native.silence_file(os.path.join(self.dir, "flight_profiler_agent.so"))
            except (OSError, ValueError, struct.error) as exc:  # never a reason not to attach
                self.silenced = []
                sys.stderr.write("staging: the agent library's prints were not cut out: %r\n" % (exc,))
            for name in CORE_FILES + CALL_FILES:
                shutil.copy2(os.path.join(AGENT_FILES, name), os.path.join(self.dir, name))
            with open(os.path.join(self.dir, "door.json"), "w") as config:
                json.dump({"allowCode": bool(allow_code), "modules": list(CALL_FILES), "tmp": theirs}, config)
            # The port field is unused (the agent listens on its door); the base address is what
            # gilstat's symbol lookup adds its offsets to.
            with open(os.path.join(self.dir, "attach_params.data"), "w") as params:
                params.write("%s,%d,%d\n" % (self.target_path("bootstrap.py"), 0, base_addr))
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

    keep = False

    def remove(self):
        _live_stagings.discard(self)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class AttachLock(object):
    """Two helpers attaching to one process at once (two windows, the extension and the CLI) take
    turns, so the second finds the first one's door instead of loading a second agent. A lock file
    in the target's temporary directory, opened read-only (a file another user made still locks)."""

    def __init__(self, pid, deadline):
        self.path = os.path.join(_staging_root(pid)[0], "%s%d.lock" % (ATTACH_LOCK_PREFIX, pid))
        self.deadline = deadline
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError:
            return self  # cannot lock (read-only /tmp): attach anyway
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > self.deadline:
                    os.close(self.fd)
                    self.fd = None
                    raise HelperError(errors.ATTACH_TIMEOUT, "Another PyFlight is loading its agent into this process.",
                                      "Try again in a moment: the next attempt uses that agent.")
                time.sleep(0.05)

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def loaded_copies(pid):
    """Copies of the agent library staged for this very process and mapped in it: PyFlight loaded its
    agent here before (a copy inherited through fork was staged for the parent, so it does not count)."""
    mine = "/%s%d-" % (STAGING_PREFIX, pid)
    copies = []
    try:
        with open("/proc/%d/maps" % pid) as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6 and "flight_profiler_agent.so" in parts[5] and mine in parts[5]:
                    path = parts[5].strip()
                    if path not in copies:
                        copies.append(path)
    except OSError:
        pass
    return copies


def bootstrap_failure(pid, ns_pid):
    """(last line, text) of the `failed` file the bootstrap wrote into its door directory, or None.
    Only a file written since the process started counts: another process had the same pid before
    (killed, so its directory stayed), which inside PID namespaces sharing a /tmp is the rule, not
    the exception: every container's first process is pid 1."""
    root = _staging_root(pid)[0]
    started = process_start_time(pid)
    try:
        names = [n for n in os.listdir(root) if n.startswith("%s%d-" % (DOOR_DIR_PREFIX, ns_pid))]
    except OSError:
        return None
    for name in names:
        path = os.path.join(root, name, "failed")
        try:
            if started is not None and os.stat(path).st_mtime < started - 1:  # 1 s: clock-tick rounding
                continue
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return (lines[-1].strip() if lines else "unknown error"), text
    return None


def process_start_time(pid):
    """When process `pid` started (seconds since the epoch, from /proc/<pid>/stat and the boot time),
    or None when it cannot be read."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        ticks = int(stat[stat.rfind(b")") + 2:].split()[19])  # field 22, starttime
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def why_not_started(pid):
    """The likely reason an agent thread has not run yet, from the target's threads (/proc)."""
    states = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid), "rb") as f:
                stat = f.read()
            states.append(stat[stat.rfind(b")") + 2:][:1].decode())
    except OSError:
        return "Its thread waits for the GIL."
    if states and all(state in "tT" for state in states):
        return "The process is stopped (SIGSTOP) or held by a debugger: continue it (kill -CONT %d)." % pid
    running = sum(1 for state in states if state == "R")
    if running:
        return ("Its thread waits for the GIL, and %d thread%s of the process %s running: one may hold the GIL in a "
                "long native call. Read its native stacks (they need no agent) to see where."
                % (running, "" if running == 1 else "s", "is" if running == 1 else "are"))
    return ("Its thread waits for the GIL, while every thread of the process sleeps: one may hold the GIL in a "
            "blocking native call. Read its native stacks (they need no agent) to see where.")


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


def attach_command(staging, pid):
    """The command that runs the staged `attach` on `pid`.

    `attach` finds the library beside its own executable (realpath of /proc/self/exe) and has the
    target dlopen that path, so the path must name the same file for both. Where the target's /tmp
    is not ours (its own mount namespace: a container, systemd's PrivateTmp), `attach` runs inside the
    target's mount namespace (nsenter, as `docker exec` would) and, when the target has its own PID
    namespace too (a container's /proc shows only its pids), inside that with the target's own pid."""
    ours, theirs = staging.attach_binary, staging.target_path("attach")
    try:
        same_view = os.path.samefile(ours, theirs)
    except OSError:
        same_view = False
    if same_view:
        return [ours, str(pid)]
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise HelperError(errors.UNSUPPORTED_PLATFORM, "Process %d has a /tmp of its own (a container or PrivateTmp); loading "
                          "the agent there needs nsenter (util-linux), which is not installed." % pid, "Install util-linux.")
    command = [nsenter, "--target", str(pid), "--mount"]
    if "pid" in own_namespaces(pid):
        command.append("--pid")
        return command + ["--", theirs, str(ns_pid(pid))]
    return command + ["--", theirs, str(pid)]


def load_library(staging, pid, deadline):
    """Has process `pid` dlopen the staged library; returns the loader's output (for the log) or
    raises HelperError. On x86-64, PyFlight's own loader (injector.py), run as a process of its own,
    which chooses the thread (injector.borrow_thread); elsewhere flight-profiler's `attach` binary."""
    if os.uname().machine != "x86_64":
        code, output = run_bounded(attach_command(staging, pid), pid, deadline, None, HelperError(
            errors.ATTACH_TIMEOUT, "Loading the agent into process %d did not finish in time." % pid,
            "The process may be stopped (SIGSTOP) or traced by a debugger."))
        if code != 0:
            require_alive(pid, during="while PyFlight was loading its agent")
            raise attach_failure(pid, code, output)
        return output
    return run_injector(staging, pid, deadline)


def run_injector(staging, pid, deadline):
    """Runs injector.py on process `pid` (a host id: ptrace reaches into a container from outside,
    and the library is named as the target sees it). It is never killed: stopped in the middle of the
    call, the thread would return to address 0 with nobody to catch it. In a session of its own, so
    a signal to the helper's group does not reach it either; past the deadline it is left to finish."""
    command = [sys.executable, "-m", "pyflight_helper.injector", str(pid), staging.target_path("flight_profiler_agent.so")]
    sys.stderr.write("spawn: %s\n" % " ".join(command))
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()) + injector.STOP_SECONDS)
    except subprocess.TimeoutExpired:
        threading.Thread(target=proc.communicate, name="pyflight-injector-reaper", daemon=True).start()
        staging.keep = True  # the library may still be opened from it; the next attach's sweep removes it
        require_alive(pid, during="while PyFlight was loading its agent")
        raise HelperError(errors.ATTACH_TIMEOUT, "Loading the agent into process %d did not finish in time: a thread of it "
                          "is still inside the loader." % pid, why_not_started(pid) +
                          " PyFlight's loader stays until that call returns, then gives the thread back as it was.")
    output = out.decode("utf-8", "replace")
    sys.stderr.write("injector exited %d\n%s\n" % (proc.returncode, output[-4000:]))
    if proc.returncode == injector.LOADED:
        return output
    last = ([line for line in output.strip().splitlines() if line.strip()][-1:] or ["exit code %d" % proc.returncode])[0]
    if proc.returncode in (injector.DIED, injector.GONE):
        require_alive(pid, during="while PyFlight was loading its agent")
    raise injector_failure(pid, proc.returncode, last)


def injector_failure(pid, code, last):
    if code == injector.NO_PERMISSION:
        return HelperError(errors.PERMISSION_DENIED, "The kernel refused to let PyFlight trace process %d (ptrace)." % pid,
                           "Run as the process owner with kernel.yama.ptrace_scope=0 "
                           "(sudo sysctl kernel.yama.ptrace_scope=0), or as root; in a container add "
                           "--cap-add=SYS_PTRACE.")
    if code == injector.STOPPED:
        return HelperError(errors.ATTACH_FAILED, "Process %d is stopped (SIGSTOP, or Ctrl+Z in its terminal); nothing was "
                           "loaded." % pid, "Continue it (kill -CONT %d) and try again." % pid)
    if code == injector.CRASHED:
        return HelperError(errors.ATTACH_FAILED, "Loading the agent into process %d faulted inside the system's loader (%s); "
                           "the thread was put back as it was and the process runs on." % (pid, last),
                           "Please report it with `pyflight check %d`. The loader may still hold its lock: a later "
                           "import of a C extension in that process could wait; restart it when you can." % pid)
    if code == injector.GAVE_UP:
        return HelperError(errors.ATTACH_FAILED, "PyFlight did not load its agent into process %d: %s. Nothing was "
                           "changed." % (pid, last), "Try again in a moment; a process whose every thread computes inside "
                           "the C library the whole time cannot take an agent safely.")
    if code == injector.GONE:
        return HelperError(errors.ATTACH_FAILED, "The thread PyFlight chose in process %d ended before the load; nothing "
                           "was changed." % pid, "Try again.")
    return HelperError(errors.ATTACH_FAILED, "Loading the agent into process %d failed: %s." % (pid, last),
                       "See the PyFlight log for the loader's output.")


def attach_failure(pid, code, output):
    name = _ATTACH_EXIT.get(code, "exit code %d" % code)
    if "Cannot locate file" in output or "nsenter:" in output:
        last = [line for line in output.strip().splitlines() if line.strip()][-1:] or [""]
        return HelperError(errors.ATTACH_FAILED, "The agent's loader could not reach its files in process %d's view of "
                           "the filesystem: %s" % (pid, last[0].strip()),
                           "The process may run in a mount namespace of its own (a container): run PyFlight as root on "
                           "the host (it enters that namespace with nsenter). The PyFlight log has the loader's output.")
    if code == 1:
        return HelperError(errors.PERMISSION_DENIED, "The kernel refused to let PyFlight trace process %d (ptrace)." % pid,
                           "Run as the process owner with kernel.yama.ptrace_scope=0 "
                           "(sudo sysctl kernel.yama.ptrace_scope=0), or as root; in a container add "
                           "--cap-add=SYS_PTRACE.")
    last = [line for line in output.strip().splitlines() if line.strip()][-1:] or [""]
    return HelperError(errors.ATTACH_FAILED, "Loading the agent into process %d failed (%s). %s" % (pid, name, last[0].strip()),
                       "See the PyFlight log for the injector's output.")
