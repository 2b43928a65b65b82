"""Which thread PyFlight's loader borrows (injector.borrow_thread), on every CPython found here.

The agent's constructor takes the GIL on the borrowed thread (PyGILState_Ensure). A thread stopped
while it waited for the GIL took it again inside that wait, and the thread handing the GIL over then
waited for it inside glibc's condition variable, holding the GIL's mutex: the whole process hung
(CPython 3.13, four threads computing: the first load, 1 of 1; docs/flight-profiler-notes.md). The
library loaded here does what the constructor does (gil_ctor.c: PyGILState_Ensure, Release).
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pyflight_helper import injector

from machine_pythons import interpreters

HELPER_PATH = os.path.dirname(os.path.dirname(os.path.abspath(injector.__file__)))

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the loader is x86-64 only")

GIL_CTOR = r"""
extern int PyGILState_Ensure(void);
extern void PyGILState_Release(int);
__attribute__((constructor)) static void take_the_gil(void) { PyGILState_Release(PyGILState_Ensure()); }
"""

# Four threads and the main thread computing: at any moment all but one wait for the GIL.
POOL = r"""
import re, signal, sys, threading
TEXT = "alice@example.com paid 4111-1111-1111-1111 from 10.0.0.1 " * 20
RULES = [re.compile(p) for p in (r"[\w.]+@[\w.]+", r"\d{4}-\d{4}-\d{4}-\d{4}", r"\d+\.\d+\.\d+\.\d+")]
done = [0]
def work():
    while True:
        t = TEXT
        for rule in RULES:
            t = rule.sub("***", t)
        done[0] += 1
# The handler before READY: SIGUSR1's default action ends the process (a loaded machine let the test's
# first signal arrive before a handler installed after READY).
signal.signal(signal.SIGUSR1, lambda *a: print(done[0], flush=True))
for i in range(4):
    threading.Thread(target=work, daemon=True).start()
print("READY", flush=True)
work()
"""

# Nobody runs: the main thread waits on an Event, three threads on an empty queue (futex waits on
# Python locks, with the GIL released).
IDLE = r"""
import queue, signal, threading
q = queue.Queue()
for i in range(3):
    threading.Thread(target=q.get, daemon=True).start()
signal.signal(signal.SIGUSR1, lambda *a: print("alive", flush=True))
print("READY", flush=True)
threading.Event().wait()
"""

# A busy main thread beside one that sleeps.
BUSY_AND_SLEEPING = r"""
import signal, threading, time
threading.Thread(target=lambda: time.sleep(3600), name="sleeper", daemon=True).start()
signal.signal(signal.SIGUSR1, lambda *a: print("alive", flush=True))
print("READY", flush=True)
while True:
    sum(i * i for i in range(10000))
"""

# One thread, inside a C builtin for good (never in the eval loop, never in a system call; its
# signal handlers would run only after the builtin returns).
IN_A_BUILTIN = r"""
print("READY", flush=True)
sum(range(10 ** 14))
"""


@pytest.fixture(scope="module")
def gil_library(tmp_path_factory):
    """A factory of fresh copies of the library (a path dlopen has not seen runs its constructor)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc) to build the test library")
    folder = tmp_path_factory.mktemp("gil_ctor")
    (folder / "gil_ctor.c").write_text(GIL_CTOR)
    built = folder / "gil_ctor.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(built), str(folder / "gil_ctor.c")], check=True)
    count = [0]

    def fresh():
        count[0] += 1
        copy = folder / ("gil_ctor_%d.so" % count[0])
        shutil.copyfile(built, copy)
        return str(copy)
    return fresh


def _start(python, code):
    if python is None:
        pytest.skip("this interpreter is not installed here")
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(0.3)
    return proc


def _load(pid, library):
    """(exit code, output) of the loader, bounded: a hang is reported as one, the loader killed."""
    command = [sys.executable, "-m", "pyflight_helper.injector", str(pid), library]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONPATH=HELPER_PATH))
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail("the loader did not return in 60 s: the target hangs\n" + out)
    return proc.returncode, out


def _cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[11])  # utime


def _answers(proc):
    """The target still runs Python: its SIGUSR1 handler (main thread, with the GIL) prints a line."""
    os.kill(proc.pid, signal.SIGUSR1)
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("python", interpreters())
def test_a_pool_of_computing_threads_takes_the_library_and_runs_on(python, gil_library):
    proc = _start(python, POOL)
    try:
        before = int(_answers(proc))
        for _ in range(4):
            library = gil_library()
            code, out = _load(proc.pid, library)
            assert code == injector.LOADED, out
            assert library in open("/proc/%d/maps" % proc.pid).read()
        assert int(_answers(proc)) > before, "the pool stopped working"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("python", interpreters())
def test_an_idle_process_lends_a_thread_that_waits_on_a_lock_at_once(python, gil_library):
    proc = _start(python, IDLE)
    try:
        code, out = _load(proc.pid, gil_library())
        assert code == injector.LOADED, out
        assert "(%s) after 1 stop" % injector.BORROWED["lock"] in out, out
        assert _answers(proc) == "alive"
    finally:
        proc.kill()
        proc.wait()


def test_a_thread_that_never_leaves_a_builtin_is_borrowed_after_the_better_kinds_had_their_time(gil_library):
    proc = _start(sys.executable, IN_A_BUILTIN)
    try:
        code, out = _load(proc.pid, gil_library())
        assert code == injector.LOADED, out
        assert "(%s)" % injector.BORROWED["native"] in out, out
        cpu = _cpu_ticks(proc.pid)
        time.sleep(0.5)
        assert _cpu_ticks(proc.pid) > cpu and proc.poll() is None, "the builtin stopped computing"
    finally:
        proc.kill()
        proc.wait()


# Threads that end within a fraction of a millisecond: they end between the list and the stop, and
# after they are seized, before they stop (waitpid then says the thread exited; the loader said "the
# target died", 4 of 5 runs of this test, and once in a loaded CI run).
CHURN = r"""
import signal, threading, time
signal.signal(signal.SIGUSR1, lambda *a: print("alive", flush=True))
print("READY", flush=True)
while True:
    threads = [threading.Thread(target=time.sleep, args=(0.0002 * (i % 3),)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""


@pytest.mark.parametrize("source, loads, borrowed", [
    (BUSY_AND_SLEEPING, 1, "quiet"),  # a sleeping thread is preferred to a busy main thread
    (CHURN, 30, None),  # threads that end during the choice, before or after they are seized, are passed over
], ids=["a sleeping thread before a busy main", "threads that come and go"])
def test_the_loader_takes_the_best_thread_that_is_still_there(source, loads, borrowed, gil_library):
    proc = _start(sys.executable, source)
    try:
        for _ in range(loads):
            code, out = _load(proc.pid, gil_library())
            assert code == injector.LOADED, out
        if borrowed:
            assert "(%s)" % injector.BORROWED[borrowed] in out and "borrowing thread %d " % proc.pid not in out, out
        assert _answers(proc) == "alive"
    finally:
        proc.kill()
        proc.wait()


def test_a_process_whose_threads_all_block_sigsegv_is_refused_unchanged(gil_library):
    proc = _start(sys.executable, """
import signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSEGV})
print("READY", flush=True)
time.sleep(3600)
""")
    try:
        library = gil_library()
        code, out = _load(proc.pid, library)
        assert code == injector.GAVE_UP and "SIGSEGV" in out, out
        assert library not in open("/proc/%d/maps" % proc.pid).read()
    finally:
        proc.kill()
        proc.wait()


def test_the_runtime_state_and_the_eval_loop_are_found_in_every_interpreter():
    """What the choice rests on: _PyRuntime (where a GIL wait's futex is) and _PyEval_EvalFrameDefault,
    in the executable or its libpython, stripped builds too (both are in .dynsym)."""
    for param in interpreters():
        python = param.values[0]
        if python is None:
            continue
        proc = subprocess.Popen([python, "-c", "print('READY', flush=True); import time; time.sleep(60)"],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "READY"
            from pyflight_agent import elf
            places = injector.Places(proc.pid, elf.mappings(proc.pid))
            assert places.runtime and places.eval_loop, python
            assert all(end - start > 100 for start, end in places.runtime + places.eval_loop), python
        finally:
            proc.kill()
            proc.wait()


def test_the_attach_command_names_the_process():
    # Off x86-64, flight-profiler's `attach` is run on the process as a whole.
    from pyflight_helper import inject

    class Staging:
        attach_binary = "/bin/true"

        @staticmethod
        def target_path(name):
            return "/bin/true"
    assert inject.attach_command(Staging, 1234) == ["/bin/true", "1234"]


def test_a_thread_the_kernel_will_not_seize_because_it_is_exiting_is_passed_over(monkeypatch):
    """PTRACE_SEIZE of a thread that is exiting fails with EPERM, not ESRCH (the kernel's
    ptrace_attach checks exit_state): a loaded CI run's threads-that-come-and-go load said "no
    permission". Such a thread is passed over; EPERM for a thread that runs on is still no permission."""
    proc = _start(sys.executable, IDLE)
    try:
        from pyflight_agent import elf
        places = injector.Places(proc.pid, elf.mappings(proc.pid))
        live = sorted(int(t) for t in os.listdir("/proc/%d/task" % proc.pid))
        gone = max(live) + 100000  # no such thread: as one that has exited by the time it is looked at
        seize = injector.interrupt

        def refused_if(tids):
            def interrupt(pid, tid, deadline):
                if tid in tids:
                    raise injector.PtraceError(1, "ptrace(0x4206): Operation not permitted")
                return seize(pid, tid, deadline)
            return interrupt

        monkeypatch.setattr(injector, "candidates", lambda pid, places: ([gone] + live, []))
        monkeypatch.setattr(injector, "interrupt", refused_if({gone}))
        tid, _kind, tries = injector.borrow_thread(proc.pid, places, time.monotonic() + 10)
        injector.ptrace(injector.PTRACE_DETACH, tid)
        assert tid in live and tries >= 2

        monkeypatch.setattr(injector, "interrupt", refused_if({live[0]}))
        monkeypatch.setattr(injector, "candidates", lambda pid, places: ([live[0]], []))
        with pytest.raises(injector.PtraceError):
            injector.borrow_thread(proc.pid, places, time.monotonic() + 10)
        assert _answers(proc) == "alive"
    finally:
        proc.kill()
        proc.wait()
