"""`stack`: every thread's Python frames, thread names, GIL state; native frames and asyncio tasks.

Linux: the helper reads the target's memory (flight_profiler's own `stack` does the same with
pystack), which gives structured frames and needs no agent: word by word with frame_reader when the
target runs the helper's own CPython 3.11, else with pystack (native frames, other versions). The read comes first: anything we ask
the target before it (an agent round trip) would make its threads yield and bias the sample toward
idle. Thread names, which pystack does not know, come afterwards from the agent
(`threading._active`) when one is loaded, else from py-spy (which reads them from memory, cached).
The thread whose id is the pid is always "MainThread": after fork, or once the agent imported
`threading` from its own thread, `threading` mislabels it. Elsewhere the agent's faulthandler dump
is parsed.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time

from .. import errors
from ..blocking import classify, link_feeders, link_holders
from ..pool_leaks import link_leaks
from .. import frame_reader
from ..errors import HelperError
from ..malloc_reuse import keep_freed_memory
from ..qualnames import qualname
from ..target import ns_pid, own_namespaces, require_alive, thread_ids
from ..in_target import call
from ..wire import request, strip_ansi

AGENT_THREAD_PREFIX = "flight-profiler-"
_agent_names = {}  # {"key": (agent, tids), "names": {...}}: the last answer, while the threads stay the same


def thread_names(agent, tids=None):
    """{native tid: (name, daemon)} read from threading._active inside the target. With `tids`, the
    last answer is reused while the set of threads is unchanged (a rename alone goes unseen until a
    thread starts or ends): the round trip made every refresh of a live stack view cost one more."""
    if agent is None:
        return {}
    key = (agent, frozenset(tids)) if tids is not None else None
    if key is not None and _agent_names.get("key") == key:
        return _agent_names["names"]
    names = _read_thread_names(agent)
    if key is not None and all(tid in names for tid in tids):  # a thread not yet in _active: ask again
        _agent_names.update(key=key, names=names)
    return names


def _read_thread_names(agent):
    try:
        names = call(agent, "reads.threadNames", timeout=10)
    except (OSError, HelperError, ValueError):
        return {}
    return {int(k): (v[0], bool(v[1])) for k, v in names.items()}


_py_spy_names = {}  # tid -> name, from py-spy; threads rarely change names, so kept per helper


def py_spy_names(pid, tids):
    """{tid: (name, None)} read by py-spy from the target's memory (no agent involved); py-spy is
    run only when a thread we have not named yet appears."""
    if any(tid not in _py_spy_names for tid in tids):
        exe = shutil.which("py-spy", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        if exe:
            try:
                out = subprocess.run([exe, "dump", "--pid", str(pid), "--json", "--nonblocking"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10).stdout
                unnumbered = []
                for thread in json.loads(out.decode("utf-8", "replace") or "[]"):
                    if thread.get("os_thread_id") and thread.get("thread_name"):
                        _py_spy_names[int(thread["os_thread_id"])] = thread["thread_name"]
                    elif thread.get("thread_id") and thread.get("thread_name"):
                        unnumbered.append((int(thread["thread_id"]), thread["thread_name"]))
                _py_spy_names.update(tids_of_pthreads(pid, unnumbered))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
    return {tid: (_py_spy_names[tid], None) for tid in tids if tid in _py_spy_names}


# Where glibc keeps a thread's kernel id in its `struct pthread` (0x2d0 on x86_64 glibc 2.36);
# searched, and accepted only when it gives the main thread the process's id and every other
# thread an id of its own, so another glibc's layout is found or nothing is named.
_PTHREAD_TID_OFFSETS = {}


def frame_locals(pid, timeout=5):
    """{thread id as the target's namespace numbers it: [py-spy frame {name, filename, line, locals}]},
    most recent call first, read with `py-spy dump --locals --json --nonblocking`: from outside,
    nothing loaded, the target not paused (a blocked thread's frames do not change meanwhile).
    Each local is {name, addr, arg, repr}: `addr` is the object's address, which tells two objects
    that the source names alike (`self._lock` of two accounts) apart. {} when py-spy is missing or
    fails. One run, bounded by `timeout`; only called when a lock's holder is ambiguous."""
    exe = shutil.which("py-spy", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if not exe:
        return {}
    started = time.perf_counter()
    try:
        out = subprocess.run([exe, "dump", "--pid", str(pid), "--json", "--nonblocking", "--locals"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout).stdout
        dumped = json.loads(out.decode("utf-8", "replace") or "[]")
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    result, unnumbered = {}, []
    for thread in dumped:
        if thread.get("os_thread_id"):
            result[int(thread["os_thread_id"])] = thread.get("frames") or []
        elif thread.get("thread_id"):
            unnumbered.append(thread)
    if unnumbered:  # before 3.11: only the pthread_t, mapped to the tid through glibc's struct pthread
        by_address = {int(t["thread_id"]): t for t in unnumbered}
        named = [(address, t.get("thread_name") or "") for address, t in by_address.items()]
        for tid, address in _pthread_tids(pid, named).items():
            result[tid] = by_address[address].get("frames") or []
    sys.stderr.write("stack %d: locals %.1f ms (%d threads)\n" % (pid, (time.perf_counter() - started) * 1000, len(result)))
    return result


def tids_of_pthreads(pid, threads):
    """{tid: name}: see _pthread_tids."""
    names = dict(threads)
    return {tid: names[address] for tid, address in _pthread_tids(pid, threads).items()}


def _pthread_tids(pid, threads):
    """{tid: address} for py-spy's threads that have no os_thread_id: before 3.11 a thread state has
    no native_thread_id, and py-spy's --nonblocking (or any read of a process in another PID
    namespace) gives only the pthread_t, which is the address of glibc's struct pthread. Its tid
    field holds the id as the thread's own PID namespace numbers it (what pystack reports)."""
    main = [address for address, name in threads if name == "MainThread"]
    if not threads or len(main) != 1 or not sys.platform.startswith("linux"):
        return {}
    own = ns_pid(pid)
    known = set(thread_ids(pid))
    span = 2048
    try:
        with open("/proc/%d/mem" % pid, "rb") as mem:
            blobs = []
            for address, name in threads:
                mem.seek(address)
                blob = mem.read(span)
                if len(blob) != span:
                    return {}
                blobs.append((blob, name))
    except (OSError, ValueError, OverflowError):
        return {}
    main_blob = blobs[[name for _b, name in blobs].index("MainThread")][0]
    cached = _PTHREAD_TID_OFFSETS.get("offset")
    for offset in ([cached] if cached is not None else []) + list(range(0, span - 4, 4)):
        if struct.unpack_from("<i", main_blob, offset)[0] != own:
            continue
        ids = [struct.unpack_from("<i", blob, offset)[0] for blob, _name in blobs]
        if len(set(ids)) == len(ids) and set(ids) <= known:
            _PTHREAD_TID_OFFSETS["offset"] = offset
            return {tid: address for tid, (address, _name) in zip(ids, threads)}
    return {}


def _pystack_frames(thread):
    """(file, line, name) of a pystack thread's Python frames, most recent call first."""
    frames = []
    frame = thread.frame
    while frame is not None:
        code = frame.code
        frames.append((code.filename, code.location.lineno, code.scope))
        frame = frame.next
    frames.reverse()  # pystack lists the outermost call first
    return frames


def _native_frames(thread):
    out = []
    for nf in reversed(list(thread.native_frames)):
        out.append({"function": nf.symbol, "file": None if nf.path in ("???", "") else nf.path,
                    "line": nf.linenumber or None, "library": nf.library, "kind": "native"})
    return out


def _os_thread_name(pid, tid):
    """The kernel's name of a thread (what pystack reports), for threads `threading` does not know."""
    try:
        with open("/proc/%d/task/%d/comm" % (pid, tid)) as f:
            return f.read().strip() or None
    except OSError:
        return None


def _pystack_threads(pid, native):
    """[(tid, os name, holds GIL, GC collecting, python frames, native frames or None)] by pystack."""
    try:
        from pystack.engine import NativeReportingMode, StackMethod, get_process_threads
        from pystack.errors import EngineError, NotEnoughInformation
    except ImportError:
        raise HelperError(errors.PROFILER_NOT_INSTALLED, "pystack is not importable in the target's environment.",
                          "Reinstall flight-profiler there (it depends on pystack on Linux).")
    mode = NativeReportingMode.PYTHON if native else NativeReportingMode.OFF
    keep_freed_memory()
    try:
        # The target is paused for the few milliseconds of the read (as py-spy does by default):
        # reading a running process can catch a thread mid-switch with no frames at all.
        threads = list(get_process_threads(pid, stop_process=True, native_mode=mode, locals=False,
                                           method=StackMethod.AUTO))
    except (EngineError, NotEnoughInformation) as exc:
        require_alive(pid, during="while its stacks were read")
        text = str(exc)
        if "ermission" in text or "ptrace" in text.lower():
            raise HelperError(errors.PERMISSION_DENIED, "Not allowed to read process %d's memory: %s" % (pid, text),
                              "Run as the process owner with kernel.yama.ptrace_scope=0, or as root.")
        raise HelperError(errors.ATTACH_FAILED, "Reading stacks of process %d failed: %s" % (pid, text))
    return [(t.tid, t.name, bool(t.holds_the_gil), bool(t.is_gc_collecting), _pystack_frames(t),
             _native_frames(t) if native else None) for t in threads]


def _pystack_threads_in_namespace(pid, native):
    """pystack's read of a process in another PID namespace, made from inside that namespace.

    pystack takes each thread's id from the interpreter's memory (the namespace's numbers) and asks
    libdw to unwind the thread of that id in the host's numbering: another thread or none, so native
    frames fail with "unwinding failed with no error reported" (py-spy's unwinder fails the same
    way). A child of ours entered into the target's PID namespace, with a /proc of that namespace
    mounted in a mount namespace of its own (nothing else changes: same files, same network), sees the
    same numbers as the interpreter does. Needs CAP_SYS_ADMIN (root), like every setns()."""
    nsenter, unshare = shutil.which("nsenter"), shutil.which("unshare")
    if not nsenter or not unshare:
        raise HelperError(errors.UNSUPPORTED_PLATFORM, "Process %d runs in its own PID namespace (a container); reading its "
                          "native frames needs nsenter and unshare (util-linux), which are not installed." % pid,
                          "Install util-linux, or read its Python frames only (without --native).")
    command = [nsenter, "--target", str(pid), "--pid", "--", unshare, "--mount", "--mount-proc", "--propagation", "private",
               sys.executable, "-c", "import sys, json; from pyflight_helper.commands.stack import _pystack_threads; "
               "print(json.dumps(_pystack_threads(int(sys.argv[1]), sys.argv[2] == 'native')))",
               str(ns_pid(pid)), "native" if native else "python"]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except subprocess.TimeoutExpired:
        raise HelperError(errors.ATTACH_FAILED, "Reading the native stacks of process %d from inside its PID namespace "
                          "did not finish in 60 s." % pid)
    if done.returncode != 0:
        require_alive(pid, during="while its stacks were read")
        text = done.stderr.decode("utf-8", "replace").strip()
        last = text.splitlines()[-1] if text else "exit code %d" % done.returncode
        if "Operation not permitted" in text or "ermission" in text:
            raise HelperError(errors.PERMISSION_DENIED, "Process %d runs in its own PID namespace (a container): reading its "
                              "native frames means entering that namespace, which was not allowed: %s" % (pid, last),
                              "Run PyFlight as root on the host (CAP_SYS_ADMIN and CAP_SYS_PTRACE), or read its Python "
                              "frames only (without --native).")
        sys.stderr.write("stack %d: pystack in its namespace failed:\n%s\n" % (pid, text))
        raise HelperError(errors.ATTACH_FAILED, "Reading stacks of process %d (in its own PID namespace) failed: %s" % (pid, last))
    return [tuple(t) for t in json.loads(done.stdout.decode("utf-8"))]


_read_lock = threading.Lock()


def linux_stacks(pid, native, agent):
    started = time.perf_counter()
    # Python frames alone: read word by word when the layout is certain (frame_reader), which is
    # ~30 times cheaper than pystack; pystack for native frames, other versions and any doubt.
    # Thread ids as read from the target's memory are its own PID namespace's (a container's):
    # reported as the host's (what /proc, py-spy's --pid and kill take), with `nsTid` beside them.
    in_namespace = "pid" in own_namespaces(pid)
    with _read_lock:  # one ptrace tracer at a time: a second would be refused and report "no permission"
        direct = None if native else frame_reader.read_threads(pid)
        if direct is not None:
            threads = [(tid, None, gil, collecting, frames, None) for tid, gil, collecting, frames in direct]
        elif in_namespace and (native or sys.version_info < (3, 11)):
            # Before 3.11 a thread state has no native_thread_id: pystack finds each thread's id
            # through /proc, which outside the namespace fails ("Invalid thread ID found!", 3.10.13).
            threads = _pystack_threads_in_namespace(pid, native)
        else:
            threads = _pystack_threads(pid, native)
    read = time.perf_counter()
    tids = [thread[0] for thread in threads]
    names = thread_names(agent, tids) if agent is not None else py_spy_names(pid, tids)
    named = time.perf_counter()
    host_tids = thread_ids(pid) if in_namespace else {}
    result = []
    for ns_tid, os_name, holds_gil, collecting, frames, native_frames in threads:
        tid = host_tids.get(ns_tid, ns_tid)
        if tid == pid:
            name, daemon = "MainThread", False
        elif ns_tid in names:
            name, daemon = names[ns_tid]
        else:
            name, daemon = os_name or _os_thread_name(pid, tid), None
        entry = {"tid": tid, "name": name, "daemon": daemon, "holdsGil": holds_gil, "gcCollecting": collecting,
                 "frames": [{"function": qualname(file, line, function), "file": file, "line": line, "kind": "python"}
                            for file, line, function in frames]}
        if native_frames is not None:
            entry["nativeFrames"] = native_frames
        if tid != ns_tid:
            entry["nsTid"] = ns_tid
        result.append(entry)
    # Where a stack's time goes (PyFlight's log, debug level); see docs/flight-profiler-notes.md.
    sys.stderr.write("stack %d: read %.1f ms (%s), names %.1f ms, frames %.1f ms (%d threads)\n" % (
        pid, (read - started) * 1000, "direct" if direct is not None else "pystack", (named - read) * 1000,
        (time.perf_counter() - named) * 1000, len(threads)))
    return result


_FAULT_THREAD = re.compile(r"^(?:Current thread|Thread|\((?P<name>.*)\)) (?P<tid>0x[0-9a-f]+)(?: \((?P<pyname>.*)\))? \(most recent call first\):")
_FAULT_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+) in (?P<function>.*)$')


def parse_faulthandler(text):
    """Parses the agent's `stack` text (faulthandler format, thread names in parentheses)."""
    threads = []
    for raw in strip_ansi(text).splitlines():
        header = _FAULT_THREAD.match(raw)
        if header:
            tid = int(header.group("tid"), 16)
            name = header.group("name") or header.group("pyname") or ("Thread 0x%x" % tid)
            threads.append({"tid": tid, "name": name, "daemon": None, "holdsGil": raw.startswith("Current thread"),
                            "gcCollecting": False, "frames": []})
            continue
        frame = _FAULT_FRAME.match(raw)
        if frame and threads:
            threads[-1]["frames"].append({"function": frame.group("function"), "file": frame.group("file"),
                                          "line": int(frame.group("line")), "kind": "python"})
    return threads


_TASK_THREAD = re.compile(r"^Thread: (?P<name>.*) \(tid: (?P<tid>0x[0-9a-f]+)\)$")
_TASK = re.compile(r"^\s+Task #\d+: (?P<name>.*)$")
_TASK_FIELD = re.compile(r"^\s+(?P<key>State|Coroutine): (?P<value>.*)$")
_TASK_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+), in (?P<function>.*)$')


def parse_async_tasks(text):
    """Parses the agent's `stack -a` text into [{thread, tid, name, state, coroutine, frames}]."""
    tasks = []
    thread = None
    for raw in strip_ansi(text).splitlines():
        m = _TASK_THREAD.match(raw)
        if m:
            thread = (m.group("name"), int(m.group("tid"), 16))
            continue
        m = _TASK.match(raw)
        if m and thread:
            tasks.append({"thread": thread[0], "tid": thread[1], "name": m.group("name"), "state": None,
                          "coroutine": None, "frames": []})
            continue
        if not tasks:
            continue
        m = _TASK_FIELD.match(raw)
        if m:
            tasks[-1]["state" if m.group("key") == "State" else "coroutine"] = m.group("value")
            continue
        m = _TASK_FRAME.match(raw)
        if m:
            tasks[-1]["frames"].append({"function": m.group("function"), "file": m.group("file"),
                                        "line": int(m.group("line")), "kind": "python"})
    for task in tasks:
        task["frames"].reverse()  # the agent prints outermost first; we show most recent first
        for frame in task["frames"]:
            frame["function"] = qualname(frame["file"], frame["line"], frame["function"])
    return tasks


def _same_frame(a, b):
    return a["file"] == b["file"] and a["line"] == b["line"] and \
        a["function"].rsplit(".", 1)[-1] == b["function"].rsplit(".", 1)[-1]


def link_running_tasks(tasks, threads):
    """The task running on its loop right now has no awaited chain (its coroutine is executing, so
    the agent sees only its outermost frame, e.g. uvicorn's `run_asgi`): its real frames are on its
    thread's stack, above that frame. Marks it `running` and gives it the whole chain down to the
    code that runs (a blocking endpoint, say)."""
    for task in tasks:
        if not task["frames"]:
            continue
        innermost = task["frames"][0]
        for thread in threads:
            frames = thread["frames"]
            k = next((i for i, f in enumerate(frames) if _same_frame(f, innermost)), None)
            if k is not None:
                task["frames"] = frames[:k] + task["frames"]
                task["running"] = True
                break
    return tasks


def _agent_text(agent, param):
    frames = request(agent, "stack", param, timeout=30)
    text = "".join(f for f in frames if isinstance(f, str))
    if text.startswith("Traceback"):
        raise HelperError(errors.INTERNAL, "The agent failed to dump stacks: %s" % text.strip().splitlines()[-1])
    return text


def stack(pid, agent, native=False, include_async=False, include_agent_threads=False):
    require_alive(pid)
    if sys.platform.startswith("linux"):
        threads = linux_stacks(pid, native, agent)
    else:
        if native:
            raise HelperError(errors.UNSUPPORTED_PLATFORM, "Native frames are only available on Linux.")
        threads = parse_faulthandler(_agent_text(agent, ""))
    hidden = 0
    if not include_agent_threads:
        kept = [t for t in threads if not str(t["name"]).startswith(AGENT_THREAD_PREFIX)]
        hidden = len(threads) - len(kept)
        threads = kept
    for thread in threads:
        classify(thread)  # activity, and the lock a blocked thread waits for (its source line)
    # and who is inside a `with` of that lock: the objects' addresses (py-spy's locals) when two
    # objects may share a name; Linux only, where py-spy reads the target from outside.
    link_holders(threads, (lambda: frame_locals(pid)) if sys.platform.startswith("linux") else None)
    link_feeders(threads)  # and, for a queue or event nobody holds, who puts into it (sets it)
    link_leaks(threads)  # and, for a pool nobody holds anything of, who takes without giving back (the source)
    result = {"pid": pid, "capturedAt": int(time.time() * 1000), "threads": threads,
              "hiddenAgentThreads": hidden, "native": bool(native)}
    if include_async:
        result["asyncTasks"] = link_running_tasks(parse_async_tasks(_agent_text(agent, "async")), threads)
    return result
