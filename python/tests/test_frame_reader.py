"""frame_reader reads the same stacks as pystack (which it replaces for Python frames on 3.11),
from a real target whose threads sit still (sleeping, waiting on a lock, inside a generator, in a
method, in a function with a non-ASCII name, which pystack 1.7.2 garbles), and its line-table decoding agrees with CPython's
own for every instruction of real code objects."""

import subprocess
import sys
import textwrap
import time

import pytest

from pyflight_helper import frame_reader

TARGET = textwrap.dedent('''
    import os, threading, time

    LOCK = threading.Lock()
    LOCK.acquire()

    class Worker:
        def wait_for_lock(self):
            with LOCK:
                pass

    def gen():
        time.sleep(600)
        yield 1

    def in_generator():
        for _ in gen():
            pass

    def façade_sleep():
        time.sleep(600)

    for fn in (Worker().wait_for_lock, in_generator, façade_sleep):
        threading.Thread(target=fn, daemon=True).start()
    time.sleep(0.3)
    print(os.getpid(), flush=True)
    time.sleep(600)
''')

needs_311 = pytest.mark.skipif(not frame_reader.layout().ok, reason="the direct reader serves CPython 3.11 on Linux only")


def _pystack_view(pid):
    from pystack.engine import get_process_threads

    out = {}
    for thread in get_process_threads(pid, stop_process=True):
        frames = []
        frame = thread.frame
        while frame is not None:
            frames.append((frame.code.filename, frame.code.location.lineno, frame.code.scope))
            frame = frame.next
        out[thread.tid] = (bool(thread.holds_the_gil), list(reversed(frames)))
    return out


@needs_311
def test_reads_what_pystack_reads():
    target = subprocess.Popen([sys.executable, "-c", TARGET], stdout=subprocess.PIPE)
    try:
        pid = int(target.stdout.readline())
        time.sleep(0.3)  # the main thread goes from its print into its sleep
        direct = frame_reader.read_threads(pid)
        assert direct is not None, "the helper's own interpreter: the direct reader must serve it"
        mine = {tid: (gil, frames) for tid, gil, _gc, frames in direct}
        theirs = _pystack_view(pid)
        # pystack 1.7.2 reads a non-ASCII function name as NUL bytes; ours is the real name.
        fixed = {tid: (gil, [(f, line, "façade_sleep" if name.strip("\x00") == "" else name) for f, line, name in frames])
                 for tid, (gil, frames) in theirs.items()}
        assert mine == fixed
        functions = {frames[0][2] for _gil, frames in mine.values() if frames}
        assert {"wait_for_lock", "gen", "façade_sleep"} <= functions
        assert all(frames for _gil, frames in mine.values())
    finally:
        target.kill()
        target.wait()


def _all_codes(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_linetable"):
            yield from _all_codes(const)


@needs_311
def test_line_table_matches_cpython():
    import threading

    source = open(threading.__file__).read()
    checked = 0
    for code in _all_codes(compile(source, threading.__file__, "exec")):
        for index, (line, *_cols) in enumerate(code.co_positions()):
            if line is not None:
                assert frame_reader.line_of(code.co_linetable, code.co_firstlineno, index) == line, (code.co_name, index)
                checked += 1
    assert checked > 1000


def test_unknown_pid_gives_none():
    assert frame_reader.read_threads(2 ** 22 + 12345) is None
