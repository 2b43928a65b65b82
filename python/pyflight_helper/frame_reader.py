"""Reads a CPython 3.11 target's Python stacks word by word: about 0.5 ms where pystack takes 15+.

pystack copies every memory map it touches whole, on every call; on 3.11 that includes each
thread's 8 MB C stack (where `_PyCFrame` lives), so a stack read cost ~2 ms per thread and most of a
live stack view's round trip. This reader copies only the words it follows (thread states, frames,
code objects, their strings) and keeps what code objects say (file, name, line table) per code
object, so a refresh costs a few hundred small reads.

It is used only when it can be sure of the target's memory layout: the target runs the very same
libpython / python binary as the helper (same file, same inode: the helper is started with the
target's interpreter), that interpreter is 3.11, and every structure offset below checked out
against the helper's own interpreter state at start-up. Anything else — another version, a doubt,
a failed read — gives `None` and the caller uses pystack, which knows every version.
Like pystack, the target is paused (ptrace) for the read, so no thread is caught mid-switch.
"""

import ctypes
import ctypes.util
import errno
import gc
import os
import struct
import sys

# CPython 3.11, 64-bit: offsets in PyThreadState, _PyCFrame, _PyInterpreterFrame, PyCodeObject and
# _PyRuntimeState (Include/cpython/pystate.h, Include/internal/pycore_frame.h, Include/cpython/code.h,
# Include/internal/pycore_runtime.h). Each is verified in this process before use (_self_check).
_TS_NEXT, _TS_INTERP, _TS_CFRAME, _TS_NATIVE_ID, _TS_SIZE = 8, 16, 56, 160, 168
_CF_CURRENT_FRAME = 8
_FR_CODE, _FR_PREVIOUS, _FR_PREV_INSTR, _FR_SIZE = 32, 48, 56, 64
_CO_FIRSTLINENO, _CO_FILENAME, _CO_NAME, _CO_LINETABLE, _CO_CODE_ADAPTIVE = 72, 112, 120, 136, 184
_RT_INTERPRETERS_HEAD, _RT_TSTATE_CURRENT = 40, 576
_IS_NEXT = 0
_ASCII_DATA, _COMPACT_DATA, _STATE = 48, 72, 32  # PyASCIIObject / PyCompactUnicodeObject
_BYTES_SIZE, _BYTES_DATA = 16, 32  # PyBytesObject: ob_size, ob_sval
_MAX_DEPTH = 4096

_PTRACE_DETACH, _PTRACE_SEIZE, _PTRACE_INTERRUPT = 17, 0x4206, 0x4207
_WALL = 0x40000000


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Unreadable(Exception):
    """A read failed or looked wrong: the caller falls back to pystack."""


class _Layout(object):
    """What this helper's own interpreter tells about the target's (same binary)."""

    def __init__(self):
        self.ok = False
        self.runtime_file = None  # (path, inode, file offset of _PyRuntime)
        self.threads_head = None  # offset of interp->threads.head, found in this process
        self.gc_collecting = None  # offset of interp->gc.collecting, or None if not found
        self.libc = None


_layout = None


def _maps(pid):
    out = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, int(parts[2], 16), int(parts[4]), parts[5].strip()))
    return out


def _file_of(addr, maps):
    for start, end, offset, inode, path in maps:
        if start <= addr < end and inode:
            return path, inode, offset + (addr - start)
    return None


def runtime_in(target_maps, runtime_file):
    """The address of _PyRuntime in a target whose maps are `target_maps`, when it runs the file
    `runtime_file` names ((path, inode, file offset) of this helper's own); None for another binary."""
    path, inode, file_offset = runtime_file
    for start, end, offset, map_inode, map_path in target_maps:
        if map_inode == inode and map_path == path and offset <= file_offset < offset + (end - start):
            return start + (file_offset - offset)
    return None


def _self_check(layout):
    """Checks every offset against this process's own structures; True if all hold."""
    api = ctypes.pythonapi
    api.PyThreadState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
    word = lambda addr: ctypes.c_uint64.from_address(addr).value  # noqa: E731
    runtime = ctypes.addressof(ctypes.c_char.in_dll(api, "_PyRuntime"))
    tstate = api.PyThreadState_Get()
    interp = api.PyInterpreterState_Get()
    if word(runtime + _RT_INTERPRETERS_HEAD) != interp or word(runtime + _RT_TSTATE_CURRENT) != tstate:
        return False
    if word(tstate + _TS_INTERP) != interp:
        return False
    import threading

    if word(tstate + _TS_NATIVE_ID) != threading.get_native_id():
        return False
    cframe = word(tstate + _TS_CFRAME)
    frame = ctypes.c_uint64.from_address(cframe + _CF_CURRENT_FRAME).value  # read here: _self_check's own frame
    code = _self_check.__code__
    if word(frame + _FR_CODE) != id(code):
        return False
    if word(id(code) + _CO_FILENAME) != id(code.co_filename) or word(id(code) + _CO_NAME) != id(code.co_name):
        return False
    if word(id(code) + _CO_LINETABLE) != id(code.co_linetable):
        return False
    if ctypes.c_int.from_address(id(code) + _CO_FIRSTLINENO).value != code.co_firstlineno:
        return False
    head = api.PyInterpreterState_ThreadHead(interp)
    found = [o for o in range(8, 512, 8) if word(interp + o) == head]
    if not found:
        return False
    layout.threads_head = found[0]
    layout.gc_collecting = _find_gc_collecting(interp)
    layout.runtime_file = _file_of(runtime, _maps("self"))
    return layout.runtime_file is not None


def _find_gc_collecting(interp, span=8192):
    """The int in the interpreter state that is 0 outside a collection and 1 inside one (seen from a
    gc callback, twice to rule out counters); None unless exactly one qualifies."""
    snapshots = []

    def during(phase, _info):
        if phase == "start":
            snapshots.append(ctypes.string_at(interp, span))

    candidates = None
    gc.callbacks.append(during)
    try:
        for _ in range(2):
            before = ctypes.string_at(interp, span)
            del snapshots[:]
            gc.collect(0)
            if not snapshots:
                return None
            ints_before = struct.unpack("%di" % (span // 4), before)
            ints_during = struct.unpack("%di" % (span // 4), snapshots[0])
            found = {4 * i for i in range(span // 4) if ints_before[i] == 0 and ints_during[i] == 1}
            candidates = found if candidates is None else candidates & found
    finally:
        gc.callbacks.remove(during)
    return candidates.pop() if candidates and len(candidates) == 1 else None


_libc = None


def libc():
    """libc with process_vm_readv and ptrace typed (what the readers of a target's memory call)."""
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.process_vm_readv.restype = ctypes.c_ssize_t
        lib.ptrace.restype = ctypes.c_long
        lib.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        _libc = lib
    return _libc


def layout():
    global _layout
    if _layout is None:
        _layout = _Layout()
        wanted = os.environ.get("PYFLIGHT_STACK_READER", "auto") != "pystack"  # pystack only, to compare
        if wanted and sys.version_info[:2] == (3, 11) and sys.platform.startswith("linux") and struct.calcsize("P") == 8:
            try:
                _layout.ok = _self_check(_layout)
                _layout.libc = libc()
            except (OSError, ValueError, AttributeError):
                _layout.ok = False
    return _layout


class _Memory(object):
    def __init__(self, pid, libc):
        self.pid = pid
        self.libc = libc

    def read(self, addr, size):
        if not addr or size <= 0:
            raise Unreadable("null read")
        buf = ctypes.create_string_buffer(size)
        local = _IoVec(ctypes.addressof(buf), size)
        remote = _IoVec(addr, size)
        got = self.libc.process_vm_readv(self.pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        if got != size:
            raise Unreadable("read of %d bytes at %#x failed (errno %d)" % (size, addr, ctypes.get_errno()))
        return buf.raw

    def word(self, addr):
        return struct.unpack("Q", self.read(addr, 8))[0]

    def string(self, addr):
        head = self.read(addr, _COMPACT_DATA)
        length = struct.unpack_from("q", head, 16)[0]
        state = struct.unpack_from("I", head, _STATE)[0]
        kind, compact, ascii_only = (state >> 2) & 7, (state >> 5) & 1, (state >> 6) & 1
        if not compact or length < 0 or length > 1 << 20 or kind not in (1, 2, 4):
            raise Unreadable("not a compact str")
        if length == 0:
            return ""
        data = self.read(addr + (_ASCII_DATA if ascii_only else _COMPACT_DATA), length * kind)
        codec = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind]
        return data.decode(codec)

    def bytes_object(self, addr):
        size = struct.unpack("q", self.read(addr + _BYTES_SIZE, 8))[0]
        if size < 0 or size > 1 << 22:
            raise Unreadable("not a bytes object")
        return self.read(addr + _BYTES_DATA, size) if size else b""


def _varint(table, i):
    read = table[i]
    i += 1
    val, shift = read & 63, 0
    while read & 64:
        read = table[i]
        i += 1
        shift += 6
        val |= (read & 63) << shift
    return val, i


def _signed_varint(table, i):
    val, i = _varint(table, i)
    return (-(val >> 1) if val & 1 else val >> 1), i


def line_of(table, firstlineno, index):
    """The line of code unit `index` in a 3.11 location table (Objects/locations.md), as pystack
    computes it; `firstlineno` if the index is outside the table."""
    line, addr, i = firstlineno, 0, 0
    n = len(table)
    while i < n:
        first = table[i]
        i += 1
        code, length = (first >> 3) & 15, (first & 7) + 1
        if code == 14:  # long form: line delta, end line delta, column, end column
            delta, i = _signed_varint(table, i)
            line += delta
            for _ in range(3):
                _, i = _varint(table, i)
        elif code == 13:  # no columns
            delta, i = _signed_varint(table, i)
            line += delta
        elif 10 <= code <= 12:  # one line, two column bytes
            line += code - 10
            i += 2
        elif code != 15:  # short form: one column byte
            i += 1
        if addr <= index < addr + length:
            return line
        addr += length
    return firstlineno


_codes = {}  # (pid, code address, code header bytes) -> (filename, name, firstlineno, linetable)


def _code(mem, addr):
    header = mem.read(addr, _CO_CODE_ADAPTIVE)
    key = (mem.pid, addr, header)  # the same bytes at the same address: the same code object
    cached = _codes.get(key)
    if cached is None:
        firstlineno = struct.unpack_from("i", header, _CO_FIRSTLINENO)[0]
        filename_p, name_p, table_p = (struct.unpack_from("Q", header, o)[0] for o in (_CO_FILENAME, _CO_NAME, _CO_LINETABLE))
        cached = (mem.string(filename_p), mem.string(name_p), firstlineno, mem.bytes_object(table_p))
        if len(_codes) > 20000:
            _codes.clear()
        _codes[key] = cached
    return cached


def _frames(mem, tstate_bytes):
    cframe = struct.unpack_from("Q", tstate_bytes, _TS_CFRAME)[0]
    frame = mem.word(cframe + _CF_CURRENT_FRAME) if cframe else 0
    out = []
    while frame and len(out) < _MAX_DEPTH:
        raw = mem.read(frame, _FR_SIZE)
        code_p, previous, prev_instr = (struct.unpack_from("Q", raw, o)[0] for o in (_FR_CODE, _FR_PREVIOUS, _FR_PREV_INSTR))
        filename, name, firstlineno, table = _code(mem, code_p)
        index = (prev_instr - (code_p + _CO_CODE_ADAPTIVE)) // 2
        out.append((filename, line_of(table, firstlineno, index), name))
        frame = previous
    return out  # most recent call first


class _Paused(object):
    """Stops every thread of `pid` with PTRACE_SEIZE + PTRACE_INTERRUPT (as py-spy and pystack do)
    and lets them go on exit; a tracer that dies detaches them too (the kernel does)."""

    def __init__(self, pid, libc):
        self.pid, self.libc, self.seized = pid, libc, []

    def __enter__(self):
        status = ctypes.c_int()
        for name in os.listdir("/proc/%d/task" % self.pid):
            tid = int(name)
            if self.libc.ptrace(_PTRACE_SEIZE, tid, None, None) != 0:
                if ctypes.get_errno() == errno.ESRCH:
                    continue  # the thread just ended
                self.__exit__(None, None, None)
                raise Unreadable("ptrace refused (errno %d)" % ctypes.get_errno())
            self.seized.append(tid)
            if self.libc.ptrace(_PTRACE_INTERRUPT, tid, None, None) == 0:
                self.libc.waitpid(tid, ctypes.byref(status), _WALL)
        return self

    def __exit__(self, *_exc):
        for tid in self.seized:
            self.libc.ptrace(_PTRACE_DETACH, tid, None, None)
        self.seized = []


def read_threads(pid):
    """[(tid, holds_gil, gc_collecting, [(file, line, name), … most recent first])] of every thread
    with a Python thread state, or None when this reader cannot be sure (use pystack then)."""
    lay = layout()
    if not lay.ok:
        return None
    try:
        target_maps = _maps(pid)
    except OSError:
        return None
    runtime = runtime_in(target_maps, lay.runtime_file)
    if runtime is None:
        return None  # another interpreter binary than the helper's
    mem = _Memory(pid, lay.libc)
    threads = []
    try:
        with _Paused(pid, lay.libc):
            current = mem.word(runtime + _RT_TSTATE_CURRENT)
            interp = mem.word(runtime + _RT_INTERPRETERS_HEAD)
            seen = 0
            while interp and seen < 64:
                seen += 1
                collecting = False
                if lay.gc_collecting is not None:
                    collecting = struct.unpack("i", mem.read(interp + lay.gc_collecting, 4))[0] == 1
                tstate = mem.word(interp + lay.threads_head)
                while tstate and len(threads) < 10000:
                    raw = mem.read(tstate, _TS_SIZE)
                    threads.append((struct.unpack_from("Q", raw, _TS_NATIVE_ID)[0], tstate == current, collecting,
                                    _frames(mem, raw)))
                    tstate = struct.unpack_from("Q", raw, _TS_NEXT)[0]
                interp = mem.word(interp + _IS_NEXT)
    except (Unreadable, UnicodeDecodeError, IndexError, struct.error, OSError):
        return None
    return threads
