"""Which thread `attach` borrows to load the agent (inject.quiet_thread): one blocked in a system
call, never one that computes — flight-profiler's injector restores only the general registers."""
import subprocess
import sys
import time

from pyflight_helper import inject
from ready_target import SLEEPING_MAIN, start

BUSY_MAIN_SLEEPING_THREAD = """
import threading, time
threading.Thread(target=lambda: time.sleep(3600), name="sleeper", daemon=True).start()
print("READY", flush=True)
while True:
    sum(i * i for i in range(10000))
"""

BUSY_ONLY = """
print("READY", flush=True)
while True:
    sum(i * i for i in range(10000))
"""



def _main_is_running(pid):
    with open("/proc/%d/task/%d/syscall" % (pid, pid)) as f:
        return f.read().startswith("running")


def test_a_busy_main_thread_is_passed_over_for_a_sleeping_one():
    proc = start(BUSY_MAIN_SLEEPING_THREAD)
    try:
        tid = inject.quiet_thread(proc.pid, time.monotonic() + 10)
        assert tid is not None and tid != proc.pid
        assert inject._blocked_syscall(proc.pid, tid)[0] in inject._QUIET_SYSCALLS[0]
        assert _main_is_running(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_a_sleeping_main_thread_is_borrowed():
    proc = start(SLEEPING_MAIN)
    try:
        assert inject.quiet_thread(proc.pid, time.monotonic() + 10) == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_with_every_thread_computing_it_gives_up_at_its_bound(monkeypatch):
    monkeypatch.setattr(inject, "QUIET_THREAD_SECONDS", 0.3)
    proc = start(BUSY_ONLY)
    try:
        started = time.monotonic()
        # A busy loop may still be caught in a rare system call (a page fault is not one); what must
        # hold is that it answers within its bound and never names a thread that was not blocked.
        tid = inject.quiet_thread(proc.pid, time.monotonic() + 10)
        assert time.monotonic() - started < 5
        assert tid in (None, proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_the_attach_command_names_the_borrowed_thread():
    class Staging:
        attach_binary = "/bin/true"

        @staticmethod
        def target_path(name):
            return "/bin/true"
    assert inject.attach_command(Staging, 1234, 1240) == ["/bin/true", "1240"]
    assert inject.attach_command(Staging, 1234) == ["/bin/true", "1234"]


def test_without_access_to_the_threads_it_answers_at_once(tmp_path):
    # Another user's process: /proc/<pid>/task/<tid>/syscall is not readable (ptrace access); the
    # attach then fails on its own, and the choice must not add a wait first.
    import os
    import shutil
    import pytest
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as another user")
    proc = start(SLEEPING_MAIN)
    try:
        helper_dir = os.path.dirname(os.path.dirname(os.path.abspath(inject.__file__)))
        code = ("import sys, time; sys.path.insert(0, %r); from pyflight_helper import inject; "
                "t = time.monotonic(); tid = inject.quiet_thread(%d, t + 10); print(tid, round(time.monotonic() - t, 2))"
                % (helper_dir, proc.pid))
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                             capture_output=True, text=True, timeout=30, cwd=str(tmp_path))
        assert out.returncode == 0, out.stderr
        tid, seconds = out.stdout.split()
        assert tid == "None" and float(seconds) < 1, out.stdout
    finally:
        proc.kill()
        proc.wait()
