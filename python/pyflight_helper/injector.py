"""PyFlight's own loader: makes one thread of a target call dlopen(library) and puts it back exactly
as it was. Linux x86-64; stdlib only (ctypes), run as its own process by inject.py:

    python -m pyflight_helper.injector <pid> <library path as the target sees it> [--thread <tid>]

It replaces flight-profiler's `attach` binary, which harmed targets in three measured ways
(docs/flight-profiler-notes.md, "The injector borrows a thread…"):
- it saved and restored only the general registers, so a thread stopped while it computed came back
  with other SSE/AVX values: a loop of `bytes.find` (glibc's memchr keeps its state in vector
  registers) returned a wrong index after every load, 6 of 6;
- it pushed onto the thread's stack right at its stack pointer, inside the 128 bytes leaf code may
  use without moving it (the red zone);
- any signal that reached the thread during the load (a SIGALRM timer, SIGCHLD) made it give up with
  the thread inside its code and a SIGSTOP sent: the process was left stopped, and died of SIGTRAP
  when continued, 3 of 3 with a 0.5 ms timer.

Here: PTRACE_SEIZE + PTRACE_INTERRUPT (no SIGSTOP that could be left pending); the general registers
and the whole extended state (PTRACE_GETREGSET NT_X86_XSTATE) are saved and given back; the library
path and a return address of 0 are written well below the red zone; dlopen is called with
orig_rax = -1 (the kernel does not treat the call as an interrupted system call); signals that arrive
during the call are delivered as they would have been; the call's `ret` to address 0 faults, which
the tracer sees before any handler and never delivers. The interrupted system call is then restarted
as the kernel would have (or returns EINTR where a restart would need the kernel's restart block,
which the call may have reused: every caller of such a call handles EINTR).

No code is written into the target; nothing is left in it but the library. Exit status: the
RESULT table; one line of explanation on stdout.
"""

import ctypes
import errno
import os
import signal
import struct
import sys
import time

from pyflight_agent import elf  # the helper's PYTHONPATH, which this process inherits

# Exit statuses, read by inject.py.
LOADED, NO_PERMISSION, GONE, DIED, NO_LOADER, DLOPEN_FAILED, CRASHED, STOPPED, GAVE_UP = 0, 2, 3, 4, 5, 6, 7, 8, 9
RESULT = {LOADED: "loaded", NO_PERMISSION: "no permission", GONE: "thread gone", DIED: "target died",
          NO_LOADER: "no dlopen", DLOPEN_FAILED: "dlopen failed", CRASHED: "fault in the loader",
          STOPPED: "process stopped", GAVE_UP: "gave up before the call"}

PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_DETACH = 7, 12, 13, 17
PTRACE_GETSIGINFO, PTRACE_GETREGSET, PTRACE_SETREGSET = 0x4202, 0x4204, 0x4205
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN = 0x4206, 0x4207, 0x4208
PTRACE_EVENT_STOP = 128
NT_PRFPREG, NT_X86_XSTATE = 2, 0x202
WALL = 0x40000000
RTLD_LAZY = 1
# Syscall returns the kernel turns into a restart (-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND)
# and the one that needs its restart block (-ERESTART_RESTARTBLOCK).
RESTART = (-512, -513, -514)
RESTART_BLOCK = -516
SIGSEGV_BIT = 1 << (signal.SIGSEGV - 1)
# System calls malloc makes while it holds an arena's lock (mmap, munmap, mprotect, brk, mremap,
# madvise): dlopen on that thread would call malloc and wait for that lock forever.
MALLOC_SYSCALLS = (9, 10, 11, 12, 25, 28)
# Below the stack pointer: the red zone (128 bytes) and room to spare.
STACK_GAP = 512
# How long the thread may take to stop, before the call (nothing has changed yet: give up).
STOP_SECONDS = 3.0

REGS = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
        "fs_base gs_base ds es fs gs").split()


class Regs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in REGS]


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


class PtraceError(OSError):
    pass


def ptrace(request, tid, addr=None, data=None):
    ctypes.set_errno(0)
    result = _libc.ptrace(request, tid, addr, data)
    if result == -1 and ctypes.get_errno():
        err = ctypes.get_errno()
        raise PtraceError(err, "ptrace(%#x): %s" % (request, os.strerror(err)))
    return result


def signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def get_regs(tid):
    regs = Regs()
    ptrace(PTRACE_GETREGS, tid, None, ctypes.byref(regs))
    return regs


def set_regs(tid, regs):
    ptrace(PTRACE_SETREGS, tid, None, ctypes.byref(regs))


def get_extended(tid):
    """(note type, bytes) of the thread's whole FPU/SSE/AVX state (XSAVE layout), or the legacy
    FXSAVE area where the kernel has no XSTATE regset."""
    for note, size in ((NT_X86_XSTATE, 1 << 16), (NT_PRFPREG, 512)):
        buf = ctypes.create_string_buffer(size)
        iov = IoVec(ctypes.cast(buf, ctypes.c_void_p), size)
        try:
            ptrace(PTRACE_GETREGSET, tid, ctypes.c_void_p(note), ctypes.byref(iov))
        except PtraceError:
            continue
        return note, buf.raw[:iov.len]
    raise PtraceError(errno.EIO, "cannot read the thread's FPU/vector state")


def set_extended(tid, saved):
    note, data = saved
    buf = ctypes.create_string_buffer(data, len(data))
    iov = IoVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
    ptrace(PTRACE_SETREGSET, tid, ctypes.c_void_p(note), ctypes.byref(iov))


# Signals that stop a whole process (group-stop): a thread stopped by one is left stopped.
GROUP_STOPS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


def wait(tid, deadline=None):
    """waitpid's status for a traced thread (None once it has no more to say). With a deadline
    (only before the call): raise Outcome(GAVE_UP) once it has passed."""
    while True:
        try:
            if deadline is None:
                return os.waitpid(tid, WALL)[1]
            got, status = os.waitpid(tid, WALL | os.WNOHANG)
        except InterruptedError:
            continue
        except ChildProcessError:
            return None
        if got:
            return status
        if time.monotonic() > deadline:
            raise Outcome(GAVE_UP, "thread %d did not stop within %.0f s (uninterruptible I/O?)" % (tid, STOP_SECONDS))
        time.sleep(0.0005)


def _is_c_library(path):
    return os.path.basename(path).startswith(("libc.so", "libc-", "libdl.so", "libdl-", "ld-musl-", "libc.musl"))


def loader_function(pid, maps):
    """(address, name) in process `pid` of dlopen (glibc 2.34+, musl; libdl before), else glibc's
    __libc_dlopen_mode, read from the ELF files mapped in it (`maps`, through /proc/<pid>/root)."""
    found = []
    for path, start in elf.first_starts(maps, _is_c_library).items():
        try:
            e_type, first_load, symbols = elf.elf_functions("/proc/%d/root%s" % (pid, path), ["dlopen", "__libc_dlopen_mode"])
        except (OSError, ValueError, IndexError, struct.error):
            continue
        bias = elf.load_bias(e_type, first_load, start)
        for name, value in symbols.items():
            found.append((name != "dlopen", bias + value, name, path))
    if not found:
        return None
    _, address, name, path = min(found)
    return address, "%s in %s" % (name, os.path.basename(path))


def segv_blocked(pid, tid):
    """True when SIGSEGV is blocked in the thread or ignored by the process: the fault that ends the
    call would then reset the process's SIGSEGV handler (the kernel forces such a signal through)."""
    try:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return bool((int(fields["SigBlk"], 16) | int(fields["SigIgn"], 16)) & SIGSEGV_BIT)
    except (OSError, KeyError, ValueError):
        return False


def _alive(pid, tid=None):
    """True while process `pid` (or its thread `tid`) runs (not a zombie)."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def interrupt(pid, tid, deadline):
    """Seizes the thread and waits for its stop; signals that come first are delivered. Raises
    Outcome: STOPPED for a process stopped by a signal (it is left so), GAVE_UP when it does not
    stop in time, GONE / DIED; nothing is changed in the target then."""
    ptrace(PTRACE_SEIZE, tid)
    ptrace(PTRACE_INTERRUPT, tid)
    while True:
        status = wait(tid, deadline)
        if status is None:
            raise Outcome(GONE, "thread %d is gone" % tid)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            # The thread ended after it was seized (a thread per request), or the whole process did.
            if _alive(pid):
                raise Outcome(GONE, "thread %d ended" % tid)
            raise Outcome(DIED, "the target died before the call")
        event, sig = status >> 16, os.WSTOPSIG(status)
        if event == PTRACE_EVENT_STOP:
            if sig in GROUP_STOPS:
                raise Outcome(STOPPED, "the process is stopped (%s); continue it first" % signal.Signals(sig).name)
            return
        ptrace(PTRACE_CONT, tid, None, ctypes.c_void_p(sig))  # a signal that was on its way: deliver it


class Outcome(Exception):
    def __init__(self, code, text):
        Exception.__init__(self, text)
        self.code = code


def write_memory(pid, address, data):
    fd = os.open("/proc/%d/mem" % pid, os.O_RDWR)
    try:
        if os.pwrite(fd, data, address) != len(data):
            raise PtraceError(errno.EIO, "short write into the target's stack")
    finally:
        os.close(fd)


def put_back(tid, saved, extended):
    """The registers as they were, the interrupted system call restarted as the kernel would have."""
    regs = Regs.from_buffer_copy(saved)
    if signed(regs.orig_rax) >= 0 and signed(regs.rax) == RESTART_BLOCK:
        regs.rax = (-errno.EINTR) & ((1 << 64) - 1)  # its restart block may have been reused by the call
    set_extended(tid, extended)
    set_regs(tid, regs)


def call_dlopen(pid, tid, loader, library):
    """Runs loader(library, RTLD_LAZY) on the stopped thread; (code, text)."""
    saved = get_regs(tid)
    extended = get_extended(tid)
    path = library.encode() + b"\x00"
    path_at = (saved.rsp - STACK_GAP - len(path)) & ~0xF
    return_slot = ((path_at - 64) & ~0xF) - 8  # at a call's entry, rsp + 8 is 16-byte aligned
    write_memory(pid, path_at, path)
    write_memory(pid, return_slot, b"\x00" * 8)
    regs = Regs.from_buffer_copy(saved)
    regs.rip, regs.rdi, regs.rsi, regs.rax = loader, path_at, RTLD_LAZY, 0
    regs.rsp = return_slot
    regs.orig_rax = (1 << 64) - 1  # not in a system call: no restart applied to the call
    regs.eflags &= ~(0x400 | 0x100)  # direction and trap flags clear, as a call expects
    set_regs(tid, regs)
    ptrace(PTRACE_CONT, tid)
    while True:
        status = wait(tid)
        if status is None or os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return DIED, "the target died during the load"
        event, sig = status >> 16, os.WSTOPSIG(status)
        if event == PTRACE_EVENT_STOP:
            # The process was stopped (SIGSTOP) during the call: stay stopped with it until continued.
            if sig in GROUP_STOPS:
                ptrace(PTRACE_LISTEN, tid)
            else:
                ptrace(PTRACE_CONT, tid)
            continue
        if sig == signal.SIGSEGV:
            now = get_regs(tid)
            put_back(tid, saved, extended)
            if now.rip == 0 and now.rsp == return_slot + 8:
                return (LOADED, "dlopen returned %#x" % now.rax) if now.rax else (DLOPEN_FAILED, "dlopen returned NULL")
            return CRASHED, "a fault at %#x inside the loader; the thread was put back" % now.rip
        ptrace(PTRACE_CONT, tid, None, ctypes.c_void_p(sig))  # deliver it, as it would have been


# System calls a thread waits in with the GIL released (Py_BEGIN_ALLOW_THREADS): epoll, poll,
# select, accept, read, recv, sleeps, waits. The best threads to borrow: the agent's constructor
# takes the GIL on the borrowed thread (PyGILState_Ensure), which such a thread can simply wait for.
QUIET_CALLS = frozenset((232, 281, 441, 7, 271, 23, 270, 43, 288, 0, 45, 47, 35, 230, 61, 247, 34, 128, 130))
FUTEX = 202
# What a stopped thread is doing, best first (Places.kind). "quiet": blocked in a quiet call;
# "python": running bytecode, holding the GIL (the constructor's PyGILState_Ensure returns at once);
# "lock": in a futex wait outside the runtime (a Python lock, or a C condition variable, which the
# constructor's own wait for the GIL could entangle); "native": computing in C outside the C
# library and the GIL's own code. Each later kind is accepted only after TIER_SECONDS more.
RANK = {"quiet": 0, "python": 0, "lock": 1, "native": 2}
TIER_SECONDS = 1.0


class Places:
    """Where, in the target, a borrowed thread must not be stopped (`maps`: elf.mappings).

    c_library: the C library's and the dynamic loader's code: outside a system call, a thread there
    may hold malloc's or the loader's own locks, which the call would enter again.
    runtime: CPython's runtime state (_PyRuntime), which holds the GIL's mutex and condition variable
    (3.12+: inside the main interpreter's state, which is in _PyRuntime) and the runtime's locks. A
    thread in a futex there waits for the GIL: borrowed, its constructor waits for the GIL again
    inside that wait, and with glibc's condition variable the thread that hands the GIL over then
    waits for the borrowed one, holding the GIL's mutex: the whole process hangs (CPython 3.13, a pool
    of threads computing, 40 minutes).
    eval_loop: _PyEval_EvalFrameDefault: a thread stopped in its own code runs bytecode and holds the
    GIL. gil_code: take_gil and drop_gil, where a thread holds the GIL's mutex."""

    def __init__(self, pid, maps):
        self.c_library = [(start, end) for start, end, perms, path in maps if "x" in perms and os.path.basename(path).startswith(
            ("libc.so", "libc-", "ld-linux", "ld-2.", "ld-musl-", "libc.musl", "libpthread"))]
        root = "/proc/%d/root" % pid
        try:
            objects, _ = elf.locate_sized(pid, ["_PyRuntime"], elf.OBJECT, root, maps)
            functions, _ = elf.locate_sized(pid, ["_PyEval_EvalFrameDefault", "take_gil", "drop_gil"], elf.FUNC, root, maps)
        except OSError:
            objects, functions = {}, {}
        self.runtime = _ranges(objects, ["_PyRuntime"])
        self.eval_loop = _ranges(functions, ["_PyEval_EvalFrameDefault"])
        self.gil_code = _ranges(functions, ["take_gil", "drop_gil"])

    def call_kind(self, call, first_argument):
        """What a thread blocked in system call `call` is doing: "quiet" (a wait with the GIL
        released), "lock" (a futex wait outside the runtime), "passing" (a short call: it will be
        elsewhere in a moment), or None: never borrowed there (malloc's calls; a futex wait on the
        runtime, the GIL's, also when the runtime was not found)."""
        if call in QUIET_CALLS:
            return "quiet"
        if call == FUTEX:
            return "lock" if self.runtime and not _inside(first_argument, self.runtime) else None
        return None if call in MALLOC_SYSCALLS else "passing"

    def kind(self, regs):
        """What a stopped thread is doing (a key of RANK), or None: no place for the call (any
        system call but a quiet one or a lock wait, the C library's code, the GIL's code)."""
        call = signed(regs.orig_rax)
        if call >= 0:
            kind = self.call_kind(call, regs.rdi)
            return kind if kind in RANK else None
        if _inside(regs.rip, self.c_library) or _inside(regs.rip, self.gil_code):
            return None
        return "python" if _inside(regs.rip, self.eval_loop) else "native"


def _ranges(found, names):
    return [(found[name][0], found[name][0] + max(1, found[name][1])) for name in names if name in found]


def _inside(address, ranges):
    return any(start <= address < end for start, end in ranges)


def _blocked_in(pid, tid):
    """(call, first argument) of a thread blocked in a system call, "running", or None (gone or
    unreadable)."""
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
            words = f.read().split()
    except OSError:
        return None
    try:
        return int(words[0]), int(words[1], 16)
    except (ValueError, IndexError):
        return "running"


def candidates(pid, places):
    """(threads blocked in a quiet call or running, threads in a futex wait outside the runtime) of
    a process, read from /proc (no stop), the main thread first. Threads waiting for the GIL or in
    malloc's system calls are left out."""
    try:
        tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return [], []
    quiet, running, locks = [], [], []
    for tid in tids:
        state = _blocked_in(pid, tid)
        kind = state if state in (None, "running") else places.call_kind(*state)
        {"quiet": quiet, "running": running, "passing": running, "lock": locks}.get(kind, []).append(tid)
    return quiet + running, locks


def borrow_thread(pid, places, deadline, only=None):
    """Seizes and stops a thread of `pid` where the call is safe; returns (tid, kind, tries). Kinds
    are accepted best first (RANK, TIER_SECONDS); a thread stopped anywhere not yet accepted is
    released at once. `only`: that thread and no other, in any place Places.kind accepts."""
    tries, skipped = 0, set()
    started = time.monotonic()
    while True:
        allowed = 2 if only else int((time.monotonic() - started) / TIER_SECONDS)
        tids, locks = ([only], []) if only else candidates(pid, places)
        if allowed >= 1 or not tids:
            tids += locks  # a lock wait, once nothing better showed (at once when no thread runs)
            allowed = max(allowed, 1)
        for tid in tids:
            if segv_blocked(pid, tid):
                skipped.add(tid)
                continue
            tries += 1
            try:
                interrupt(pid, tid, deadline)
                kind = places.kind(get_regs(tid))
                if kind is not None and RANK[kind] <= allowed:
                    return tid, kind, tries
                ptrace(PTRACE_DETACH, tid)
            except (PtraceError, Outcome) as exc:
                ended = getattr(exc, "errno", None) == errno.ESRCH or getattr(exc, "code", None) == GONE
                # The kernel refuses to seize a thread that is exiting with EPERM, not ESRCH (ptrace_attach
                # checks exit_state): seen in a loaded CI run with threads that come and go.
                ended = ended or (getattr(exc, "errno", None) == errno.EPERM and not _alive(pid, tid))
                if ended and not only:
                    continue  # the thread ended meanwhile: another one will do
                raise
        if not _alive(pid):
            raise Outcome(DIED, "the target died before the call")
        if time.monotonic() > deadline:
            if skipped and not tries:
                raise Outcome(GAVE_UP, "every thread of process %d blocks or ignores SIGSEGV, which ends the call" % pid)
            raise Outcome(GAVE_UP, "no thread of process %d stopped where the call is safe in %d tries (each was computing "
                          "inside the C library, waiting for the GIL, or in malloc's system calls)" % (pid, tries))
        time.sleep(0.002)


def inject(pid, library, only=None):
    """(code, text): loads `library` (a path as process `pid` sees it) on a thread it chooses
    (borrow_thread), or on thread `only`."""
    try:
        maps = elf.mappings(pid)  # read once: the loader's address, the C library's code, CPython's symbols
        loader = loader_function(pid, maps)
    except PermissionError as exc:
        return NO_PERMISSION, "cannot read process %d's memory map: %s" % (pid, exc)
    except FileNotFoundError:
        return DIED, "process %d is gone" % pid
    if loader is None:
        return NO_LOADER, "no dlopen or __libc_dlopen_mode in the C library mapped in process %d" % pid
    if only and segv_blocked(pid, only):
        return GAVE_UP, "thread %d blocks or ignores SIGSEGV, which ends the call" % only
    places = Places(pid, maps)
    print("loader: %s at %#x; CPython's runtime state %s, eval loop %s, GIL code %s" % (
        loader[1], loader[0], "found" if places.runtime else "not found (no futex wait is borrowed)",
        "found" if places.eval_loop else "not found", "found" if places.gil_code else "not found"))
    try:
        tid, kind, tries = borrow_thread(pid, places, time.monotonic() + STOP_SECONDS, only)
    except PtraceError as exc:
        if exc.errno == errno.EPERM and not _alive(pid):
            return DIED, "process %d exited" % pid  # (seizing an exiting task is EPERM too)
        if exc.errno == errno.EPERM and only and not _alive(pid, only):
            return GONE, "thread %d is gone" % only
        if exc.errno == errno.EPERM:
            return NO_PERMISSION, "the kernel refused to let PyFlight trace process %d (ptrace): %s" % (pid, exc)
        if exc.errno == errno.ESRCH:
            return GONE, "thread %d is gone" % only if only else "process %d is gone" % pid
        raise
    except Outcome as outcome:
        return outcome.code, str(outcome)
    print("borrowing thread %d (%s) after %d %s" % (tid, BORROWED[kind], tries, "stop" if tries == 1 else "stops"))
    try:
        code, text = call_dlopen(pid, tid, loader[0], library)
    except Outcome as outcome:
        code, text = outcome.code, str(outcome)
    try:
        ptrace(PTRACE_DETACH, tid)
    except PtraceError:
        pass  # gone
    return code, text


BORROWED = {"quiet": "waiting in a system call", "python": "running Python code, holding the GIL",
            "lock": "waiting on a lock or condition outside the interpreter", "native": "computing outside the C library"}


def main(argv):
    pid, library = int(argv[0]), argv[1]
    only = int(argv[3]) if argv[2:3] == ["--thread"] else None
    # A cancel or deadline must not end this process in the middle of the call (the thread would
    # return to address 0 with no tracer: the target would die). Signals wait; the call is short.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    code, text = inject(pid, library, only)
    print("%s: %s" % (RESULT[code], text))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
