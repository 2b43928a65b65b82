"""PyFlight's own loader (injector.py) on real processes: the thread it borrows comes back exactly as
it was, signals that arrive meanwhile are delivered, a computing thread keeps computing right, and
it refuses what it cannot do without changing anything. Each target here was harmed by
flight-profiler's `attach` (docs/flight-profiler-notes.md): the SIGALRM target was left stopped
(state T) and died of SIGTRAP when continued; the bytes.find target returned a wrong index."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pyflight_helper import injector
from ready_target import SLEEPING_MAIN, start

HELPER_PATH = os.path.dirname(os.path.dirname(os.path.abspath(injector.__file__)))
# Small system libraries a bare Python has not loaded: what the loader is asked to load here.
CANDIDATES = ["/usr/lib/x86_64-linux-gnu/" + name for name in ("libgdbm.so.6", "libexpat.so.1", "libuuid.so.1", "libbz2.so.1.0")]

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the loader is x86-64 only")


# A 0.5 ms interval timer: a signal reaches the main thread during any load.
ALARMS = """
import signal, sys, time
count = [0]
signal.signal(signal.SIGALRM, lambda *a: count.__setitem__(0, count[0] + 1))
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
print("READY", flush=True)
while True:
    time.sleep(0.05)
    print(count[0], flush=True)
"""

# glibc's memchr keeps its state in vector registers; a load that loses them gives a wrong index.
FIND = """
import sys
data = bytearray(4 << 20); data[-7] = 1; data = bytes(data)
print("READY", flush=True)
n = 0
while True:
    got = data.find(b"\\x01")
    if got != len(data) - 7:
        print("WRONG %d after %d" % (got, n), flush=True)
        sys.exit(3)
    n += 1
"""


def _library(pid):
    with open("/proc/%d/maps" % pid) as f:
        mapped = f.read()
    for path in CANDIDATES:
        if os.path.exists(path) and path not in mapped:
            return path
    pytest.skip("no unloaded system library to load")


def _inject(pid, tid, library, user=None):
    command = [sys.executable, "-m", "pyflight_helper.injector", str(pid), library, "--thread", str(tid)]
    if user:
        command = [shutil.which("setpriv"), "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + command
    env = dict(os.environ, PYTHONPATH=HELPER_PATH)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, done.stdout


def _state(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return stat[stat.rfind(")") + 2]


def _wait_state(pid, want, seconds=10):
    deadline = time.monotonic() + seconds
    while _state(pid) != want and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) == want, "process %d is %s, not %s" % (pid, _state(pid), want)


def _snapshot(tid):
    """(general registers, FXSAVE area up to XMM15) of a thread, read while it is stopped."""
    injector.interrupt(tid, tid, time.monotonic() + 10)  # seizes it and waits for its stop
    try:
        regs = bytes(injector.get_regs(tid))
        _note, extended = injector.get_extended(tid)
        return regs, extended[:416]  # x87, MXCSR and XMM0-15 (the XSAVE header after it may differ)
    finally:
        injector.ptrace(injector.PTRACE_DETACH, tid)


def test_a_sleeping_thread_comes_back_with_every_register_as_it_was():
    proc = start(SLEEPING_MAIN)
    try:
        library = _library(proc.pid)
        before = _snapshot(proc.pid)
        code, out = _inject(proc.pid, proc.pid, library)
        assert code == injector.LOADED, out
        assert library in open("/proc/%d/maps" % proc.pid).read()
        time.sleep(0.2)  # back in its sleep, restarted
        after = _snapshot(proc.pid)
        assert after[0] == before[0], "general registers changed"
        assert after[1] == before[1], "x87/SSE state changed"
        _wait_state(proc.pid, "S")  # back in its sleep (a detach wakes it for a moment)
    finally:
        proc.kill()
        proc.wait()


def test_signals_that_arrive_during_the_load_are_delivered_and_the_process_runs_on():
    proc = start(ALARMS)
    try:
        library = _library(proc.pid)
        code, out = _inject(proc.pid, proc.pid, library)
        assert code == injector.LOADED, out
        first = int(proc.stdout.readline())
        time.sleep(0.5)
        assert _state(proc.pid) in "SR", "the process was left stopped"
        later = [int(proc.stdout.readline()) for _ in range(3)]
        assert later[-1] > first, "its SIGALRM handler stopped running"
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_computing_thread_borrowed_five_times_computes_right():
    proc = start(FIND)
    try:
        library = _library(proc.pid)
        for _ in range(5):
            code, out = _inject(proc.pid, proc.pid, library)
            assert code == injector.LOADED, out
        time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


def test_a_stopped_process_is_refused_and_left_stopped():
    proc = start(SLEEPING_MAIN)
    try:
        library = _library(proc.pid)
        os.kill(proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        code, out = _inject(proc.pid, proc.pid, library)
        assert code == injector.STOPPED, out
        assert library not in open("/proc/%d/maps" % proc.pid).read()
        # A tracer that goes leaves a group-stopped thread stopped; it is woken for a moment to re-stop.
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _state(proc.pid) == "T", "the stopped process was let run"
        time.sleep(0.3)
        assert _state(proc.pid) == "T", "the stopped process was let run"
        os.kill(proc.pid, signal.SIGCONT)
        _wait_state(proc.pid, "S")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_another_users_process_is_refused_for_permission():
    proc = start(SLEEPING_MAIN)
    try:
        code, out = _inject(proc.pid, proc.pid, _library(proc.pid), user=65534)
        assert code == injector.NO_PERMISSION, out
        _wait_state(proc.pid, "S")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_thread_that_blocks_sigsegv_is_not_borrowed():
    proc = start("""
import signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSEGV})
print("READY", flush=True)
time.sleep(3600)
""")
    try:
        assert injector.segv_blocked(proc.pid, proc.pid)
        code, out = _inject(proc.pid, proc.pid, _library(proc.pid))
        assert code == injector.GAVE_UP and "SIGSEGV" in out, out
    finally:
        proc.kill()
        proc.wait()
