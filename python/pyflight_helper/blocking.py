"""What a thread is doing in one snapshot: blocked on a lock (and which one), waiting, sleeping or
running code. Read from its frames, the source line of its top frame and, when they were read, its
native frames.

A thread waiting in `with LOCK:` shows that `with` line as its top Python frame (the C lock's
`__enter__` has no Python frame), one waiting in `SEM.acquire()` or `COND.wait()` shows
threading.py's frames on top of the line that called them; the lock's expression is read from the
user's source line. A thread that holds the GIL is running, whatever its line says: waiting
releases the GIL. Without native frames a thread that waits for the GIL looks like one blocked
in C; only lines that name a lock or a known blocking call count as waiting, anything else as running.
"""

import ast
import os
import re

from .qualnames import qualname, source_line

# Native symbols (the innermost few frames) of a thread parked on a lock / condition / semaphore.
_NATIVE_LOCK = ("sem_wait", "sem_timedwait", "sem_clockwait", "pthread_cond_wait", "pthread_cond_timedwait",
                "pthread_cond_clockwait", "lock_PyThread_acquire_lock", "PyThread_acquire_lock_timed", "acquire_timed",
                "_PyMutex_LockTimed", "_PySemaphore_Wait", "futex_wait", "__futex_abstimed_wait")
_NATIVE_SLEEP = ("nanosleep", "clock_nanosleep", "pysleep", "time_sleep")
_NATIVE_IO = ("select", "poll", "ppoll", "epoll_wait", "epoll_pwait", "recv", "recvfrom", "recvmsg", "accept", "accept4",
              "read", "__libc_read", "connect", "waitpid", "wait4", "sock_recv", "sock_accept")
_NATIVE_RUNNING = ("take_gil", "drop_gil")  # waiting for the GIL is wanting to run

# Stdlib modules whose Python frames sit on top of a wait on a lock or condition.
_SYNC_FILES = ("threading.py", "queue.py")
# (class, function) of such a frame → what the thread waits for; the outermost one (the call the
# user's code made) decides.
_SYNC_KINDS = {
    "Condition.wait": "condition", "Condition.wait_for": "condition",
    "Event.wait": "event", "Barrier.wait": "barrier", "Barrier._wait": "barrier",
    "Semaphore.acquire": "semaphore", "BoundedSemaphore.acquire": "semaphore",
    "Thread.join": "thread", "Thread._wait_for_tstate_lock": "thread",
}
_LOCK_CLASS = re.compile(r"(lock|mutex|semaphore|condition)", re.I)
_QUEUE_NAME = re.compile(r"(queue|(^|[._])q$)", re.I)

# Stdlib functions that wait for I/O or a child process when they are a thread's top frame.
_IO_FUNCTIONS = {"select", "poll", "accept", "recv", "recv_into", "recvfrom", "readinto", "read", "readline",
                 "connect", "create_connection", "getaddrinfo", "communicate", "_try_wait", "wait", "_wait",
                 "_recv", "_recv_bytes", "_poll", "do_handshake", "sendall", "_communicate", "get", "put", "join"}
_SLEEP_CALL = re.compile(r"(?<![\w.])(?:time\.|asyncio\.)?sleep\s*\(")
_BLOCKING_CALL = re.compile(r"\.(recv|recv_into|recvfrom|accept|readinto|readline|read|connect|sendall|communicate|"
                            r"select|poll|urlopen|getaddrinfo|create_connection|join|wait)\s*\(|(?<![\w.])(input|select|urlopen)\s*\(")
_STDLIB = re.compile(r"/lib/python\d+\.\d+/")


def is_stdlib(path):
    return bool(path) and bool(_STDLIB.search(path)) and "site-packages" not in path and "dist-packages" not in path


def _bare(function):
    return function.rsplit(".", 1)[-1]


def _sync_kind(frame):
    """What a frame of threading.py / queue.py (or of a Python lock class) waits on, or None."""
    path, function = frame.get("file") or "", frame.get("function") or ""
    if frame.get("kind") != "python":
        return None
    if "." not in function:  # faulthandler frames (macOS) carry bare names: `wait` of Event or Condition?
        function = qualname(path, frame.get("line"), function)
    base = os.path.basename(path)
    if is_stdlib(path) and base in _SYNC_FILES:
        if base == "queue.py":
            return "queue" if _bare(function) in ("get", "put", "join") else None
        if function in _SYNC_KINDS:
            return _SYNC_KINDS[function]
        if _bare(function) in ("acquire", "__enter__", "_acquire_restore"):
            return "lock"
        if _bare(function) in ("wait", "wait_for", "join", "_wait_for_tstate_lock"):
            return "condition"
        return None
    # A lock implemented in Python (filelock, a project's own): `SomeLock.acquire` / `__enter__`.
    cls, _, name = function.rpartition(".")
    if name in ("acquire", "__enter__", "lock") and _LOCK_CLASS.search(cls.rsplit(".", 1)[-1]):
        return "lock"
    return None


def _parse_statement(text):
    """The statement on one source line as an ast Module, or None (a line of a longer statement)."""
    stripped = text.strip()
    for candidate in (stripped, stripped + "\n    pass"):
        try:
            return stripped, ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
    return stripped, None


def _segment(source, node):
    try:
        return ast.get_source_segment(source, node)
    except Exception:  # noqa: BLE001 - any doubt: no expression
        return None


def receiver_of(text, method):
    """`X` of the first `X.method(...)` call on a source line, or None."""
    if not text:
        return None
    source, tree = _parse_statement(text)
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method:
                return _segment(source, node.func.value)
        return None
    m = re.search(r"([A-Za-z_][\w.]*(?:\[[^\]]*\])?)\s*\.\s*%s\s*\(" % re.escape(method), text)
    return m.group(1) if m else None


def with_items(text):
    """The context expressions of a `with` statement starting on this line (not `async with`)."""
    if not text or not re.match(r"\s*with\b", text):
        return []
    source, tree = _parse_statement(text)
    if tree is not None and tree.body and isinstance(tree.body[0], ast.With):
        return [(item.context_expr, _segment(source, item.context_expr)) for item in tree.body[0].items]
    m = re.match(r"\s*with\s+(.+?)(?:\s+as\s+\w+)?\s*:\s*(#.*)?$", text)
    return [(None, m.group(1))] if m else []


def _lockish(node, text):
    """A `with` item that is most likely a lock: a name / attribute / subscript (`LOCK`,
    `self._lock`, `LOCKS[key]`), or a call of something named like a lock (`lock_for(key)`)."""
    if not text:
        return False
    if node is None:
        return "(" not in text or bool(_LOCK_CLASS.search(text))
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return True
    if isinstance(node, ast.Call):
        return bool(_LOCK_CLASS.search(_segment(text, node.func) or "")) or bool(_LOCK_CLASS.search(text.split("(")[0]))
    return False


def _symbol(frame):
    """`clock_nanosleep@GLIBC_2.2.5`, `pysleep (inlined)`, `x.constprop.0` → the bare symbol."""
    return re.split(r"[@ (]", (frame.get("function") or "").strip(), 1)[0].split(".")[0]


def _native_evidence(native):
    """'lock' / 'sleep' / 'io' / 'running' from the innermost native frames, or None without them."""
    if not native:
        return None
    # Only what the innermost Python frame called: the frames above the first eval loop.
    symbols = []
    for frame in native:
        symbol = _symbol(frame)
        if symbol.startswith("_PyEval_EvalFrame"):
            break
        symbols.append(symbol)
    if any(s in _NATIVE_RUNNING for s in symbols):
        return "running"  # a futex under take_gil is the GIL's, not a lock's
    plain = lambda symbol, names: symbol.lstrip("_").replace("libc_", "", 1) in names  # noqa: E731
    for symbol in symbols:
        if any(name in symbol for name in _NATIVE_LOCK):
            return "lock"
        if plain(symbol, _NATIVE_SLEEP):
            return "sleep"
        if plain(symbol, _NATIVE_IO):
            return "io"
    return "running"


def classify(thread):
    """Adds `activity` ('blocked' | 'waiting' | 'sleeping' | 'running') and, for a thread waiting on
    a lock or another synchronisation object, `blockedOn` {expression, file, line, kind} (kind:
    lock, semaphore, condition, event, queue, thread, barrier); `waitingIn` names a sleep or I/O
    call. Returns the thread."""
    frames = thread.get("frames") or []
    if not frames:
        return thread
    native = _native_evidence(thread.get("nativeFrames"))
    if thread.get("holdsGil") or native == "running":
        thread["activity"] = "running"
        return thread

    # Synchronisation frames (threading.py, queue.py, a Python lock class) on top of the caller.
    kind, i = None, 0
    while i < len(frames) and _sync_kind(frames[i]):
        kind = _sync_kind(frames[i])
        i += 1
    if kind:
        called = frames[i - 1]
        caller = frames[i] if i < len(frames) else called
        text = source_line(caller.get("file"), caller.get("line"))
        expression = receiver_of(text, _bare(called["function"])) if caller is not called else None
        if expression is None:
            items = [t for n, t in with_items(text) if _lockish(n, t)]
            expression = ", ".join(items) if items else (text.strip() if text else called["function"])
        thread["blockedOn"] = {"expression": expression, "file": caller.get("file"), "line": caller.get("line"),
                               "kind": kind, "via": called["function"]}
        thread["activity"] = "blocked" if kind in ("lock", "semaphore") else "waiting"
        return thread

    top = frames[0]
    text = source_line(top.get("file"), top.get("line"))
    expression = receiver_of(text, "acquire")
    if expression is None:
        items = [t for n, t in with_items(text) if _lockish(n, t)]
        expression = ", ".join(items) if items else None
    if expression is not None and native in (None, "lock"):
        thread["blockedOn"] = {"expression": expression, "file": top.get("file"), "line": top.get("line"), "kind": "lock"}
        thread["activity"] = "blocked"
        return thread

    # A C queue (`queue.SimpleQueue`, what ThreadPoolExecutor's idle workers wait on) has no Python
    # frame: `work_queue.get(block=True)` is the top line. `.get(` alone is dict.get as often, so
    # only a receiver named like a queue counts.
    queue_expr = receiver_of(text, "get")
    if queue_expr and _QUEUE_NAME.search(queue_expr) and native in (None, "lock"):
        thread["blockedOn"] = {"expression": queue_expr, "file": top.get("file"), "line": top.get("line"), "kind": "queue"}
        thread["activity"] = "waiting"
        return thread

    if native == "sleep" or (native is None and text and _SLEEP_CALL.search(text)):
        thread["activity"] = "sleeping"
        thread["waitingIn"] = "sleep"
    elif native in ("io", "lock"):
        thread["activity"] = "waiting"
        thread["waitingIn"] = top["function"]
    elif is_stdlib(top.get("file")) and _bare(top.get("function") or "") in _IO_FUNCTIONS:
        thread["activity"] = "waiting"
        thread["waitingIn"] = top["function"]
    elif native is None and text and _BLOCKING_CALL.search(text):
        m = _BLOCKING_CALL.search(text)
        thread["activity"] = "waiting"
        thread["waitingIn"] = m.group(1) or m.group(2)
    else:
        thread["activity"] = "running"
    return thread


_MAX_SOURCE = 4 * 1024 * 1024


def _per_file(cache, path, analyse, empty=()):
    """analyse(source, tree) of a Python file, cached in `cache` per file and modification time;
    `empty` for a file that cannot be read or parsed (or is over 4 MB). One reader for every
    analysis of the source that the stack's blocking words need."""
    try:
        stat = os.stat(path)
    except (OSError, TypeError):
        return empty
    key = (stat.st_mtime_ns, stat.st_size)
    cached = cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, "rb") as f:
            source = f.read().decode("utf-8", "replace")
        result = analyse(source, ast.parse(source, path)) if len(source) <= _MAX_SOURCE else empty
    except (OSError, SyntaxError, ValueError, RecursionError):
        result = empty
    cache[path] = (key, result)
    return result


_with_cache = {}


def _with_blocks(path):
    """[(with line, first body line, last line, [item texts])] of every `with` in a file."""
    def analyse(source, tree):
        blocks = []
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and node.body:
                texts = [_segment(source, item.context_expr) for item in node.items]
                end = getattr(node, "end_lineno", None) or node.body[-1].lineno
                blocks.append((node.lineno, node.body[0].lineno, end, [t for t in texts if t]))
        return tuple(blocks)
    return _per_file(_with_cache, path, analyse)


_yield_cache = {}


def _yielding_withs(path):
    """{line of a `with` whose body yields: the bare name of the generator function it is in} — a
    generator context manager that holds what it enters until the caller's `with` ends."""
    def analyse(_source, tree):
        found = {}
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                        isinstance(y, (ast.Yield, ast.YieldFrom)) for stmt in node.body for y in ast.walk(stmt)):
                    found[node.lineno] = fn.name  # walked outer first: the innermost function wins
        return found
    return _per_file(_yield_cache, path, analyse, {})


def _called_name(text):
    """`session` of `gateway.session()` / `session(x)`; None when the text is not a call."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return None


_span_cache = {}
# Calls that take a permit or an item from a pool, and the calls that give it back.
_TAKE = {"acquire": "acquire", "get": "get"}
_GIVE = {"release": "acquire", "put": "get"}


def _held_spans(path):
    """[(take line, give line, expression, how)] of every function of a file that calls `E.acquire()`
    and later `E.release()` (how: "acquire"), or `E.get()` and later `E.put()` ("get"): a thread at a
    line strictly between them holds a permit of E (a semaphore has no owner; a pool of connections
    in a queue neither)."""
    def analyse(source, tree):
        spans = []
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            takes, gives = {}, {}
            # What each `x = E.get()` took: only `E.put(x)` gives that item back. A work queue's
            # consumer takes items and puts other things (concurrent.futures' _worker puts None to
            # wake the others): it holds nothing.
            taken = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call):
                    taken[id(node.value)] = _segment(source, node.targets[0])
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    attr = node.func.attr
                    if attr in _TAKE or attr in _GIVE:
                        text = _segment(source, node.func.value)
                        if text:
                            how = _TAKE.get(attr) or _GIVE[attr]
                            if how == "get":
                                item = taken.get(id(node)) if attr == "get" else (_segment(source, node.args[0]) if node.args else None)
                                if not item:
                                    continue
                            else:
                                item = None
                            table = takes if attr in _TAKE else gives
                            table.setdefault((text, how), []).append((node.lineno, item))
            for (text, how), found in takes.items():
                for take, item in sorted(found):
                    after = [g for g, given in gives.get((text, how), ()) if g > take and given == item]
                    if after:
                        spans.append((take, min(after), text, how))
        return tuple(spans)
    return _per_file(_span_cache, path, analyse)


# What gives a waiter what it waits for: a thread inside a function that makes one of these calls on
# an object of the same name feeds it (a queue's producer, whoever sets an event or notifies).
_FEEDS = {"queue": ("put", "put_nowait"), "event": ("set",), "condition": ("notify", "notify_all")}
_feed_cache = {}


def _feed_calls(path):
    """[(first line, last line, receiver text, method, call line, class, function)] of every feeding
    call (_FEEDS) in a file, with the span of the function it is written in (not of functions around
    that one) and that function's class (None outside a class) and qualified name."""
    methods = {m for ms in _FEEDS.values() for m in ms}

    def analyse(source, tree):
        calls = []

        def visit(node, fn, cls, qual):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    visit(child, None, child.name, qual + [child.name])
                    continue
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    visit(child, child, cls if fn is None else None, qual + [child.name])
                    continue
                if fn is not None and isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr in methods:
                    text = _segment(source, child.func.value)
                    if text:
                        calls.append((fn.lineno, getattr(fn, "end_lineno", None) or fn.lineno, text, child.func.attr, child.lineno,
                                      cls, ".".join(qual)))
                visit(child, fn, cls, qual)
        visit(tree, None, None, [])
        return tuple(calls)
    return _per_file(_feed_cache, path, analyse)


def _last_name(text):
    """`batches` of `self.batches`, `pipeline.batches` or `batches`; None for anything else."""
    parsed = _base_and_path(text or "")
    if parsed is None:
        return None
    return parsed[1].rsplit(".", 1)[-1] if parsed[1] else parsed[0]


def link_feeders(threads):
    """For threads waiting on a queue, an event or a condition that no thread holds (no `heldBy`):
    the threads inside a function that puts into it (sets it, notifies it) — an object of the same
    last name (`self.batches` / `batches`), the waiters on it excepted. The waiter's `blockedOn`
    gets `fedBy` (names), the feeder `feeding` [{expression, file, line (of the call), how, function (its frame's)}]. A
    producer stuck in `recv` is then named as the reason its consumers wait (judge 6)."""
    waits = {}
    for t in threads:
        b = t.get("blockedOn") or {}
        if b.get("kind") in _FEEDS and not b.get("heldBy"):
            name = _last_name(b.get("expression"))
            if name:
                waits.setdefault((b["kind"], name), []).append(t)
    for (kind, name), waiters in waits.items():
        def feeds_it(frame, kind=kind, name=name):
            # Inside a function that puts into (sets, notifies) an object of the waiters' name.
            found = [(text, how, line, frame.get("function")) for first, last, text, how, line, _cls, _fn in _feed_calls(frame["file"])
                     if first <= frame["line"] <= last and how in _FEEDS[kind] and _last_name(text) == name]
            return found and dict(zip(("expression", "how", "line", "function"), found[0]))

        # A thread running the very loop the waiters wait in is one of them, between two items: not
        # their producer (judge 12: a gunicorn gthread worker, inside concurrent.futures' _worker,
        # whose `work_queue.put(None)` only wakes the others at shutdown, was "the thread that puts").
        loops = {(f.get("file"), f.get("function")) for f in map(_waiting_frame, waiters) if f}
        fed_by = _feeders(threads, waiters, feeds_it, loops)
        # "The same queue under another name" is a guess: never a thread that runs the waiters' own
        # loop (judge 13: a gthread worker waiting for a pooled connection, in ConnectionPool.acquire,
        # was "probably the producer" of the work queue its idle peers waited on).
        peers = [t for t in threads if any((f.get("file"), f.get("function")) in loops for f in t.get("frames") or [])]
        maybe = _feeders(threads, waiters + peers, _feeds_some(kind), loops) if not fed_by and kind == "queue" else []
        for waiter in waiters:
            if fed_by:
                waiter["blockedOn"]["fedBy"] = list(fed_by)
            elif maybe:
                waiter["blockedOn"]["maybeFedBy"] = list(maybe)
    return threads


def _feeders(threads, waiters, feeds, loops=()):
    """The names of the threads (waiters excepted) with a Python frame for which `feeds(frame)` gives
    a feeding entry; the first such frame's entry goes into the thread's `feeding`. Frames of the
    functions in `loops` (file, function: where the waiters wait) are not looked at."""
    names = []
    for thread in threads:
        if thread in waiters:
            continue
        for frame in thread.get("frames") or []:
            if frame.get("kind") != "python" or not frame.get("file") or not frame.get("line"):
                continue
            if (frame["file"], frame.get("function")) in loops:
                continue
            entry = feeds(frame)
            if entry:
                entry["file"] = frame["file"]
                if entry not in thread.setdefault("feeding", []):
                    thread["feeding"].append(entry)
                names.append(thread["name"])
                break
    return names


def _feeds_some(kind):
    """No thread is inside a function that feeds an object of the waiters' name: a frame running a
    method of a class that feeds *some* object (judge 7: consumers wait in `self.q.get()`; the reader
    thread, a FeedReader, puts into `self.out` in FeedReader._pump, and is stuck in recv in another of
    its methods). The same queue under another name, maybe: `maybeFedBy`, and the entry is marked
    `maybe`, with the method that makes the call."""
    def feeds(frame):
        function = frame.get("function") or ""
        if "." not in function or is_stdlib(frame["file"]):
            return None  # the standard library's classes (Thread, Queue) put and set for everyone
        cls = function.split(".")[-2]
        found = [(text, how, line, fn) for _f, _l, text, how, line, owner, fn in _feed_calls(frame["file"])
                 if owner == cls and how in _FEEDS[kind]]
        return found and dict(zip(("expression", "how", "line", "function"), found[0]), maybe=True)
    return feeds


def _base_and_path(text):
    """("X", ".a.b") for `X.a.b`, ("X", "") for a bare name, None for anything else (a subscript, a call)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return node.id, "".join("." + p for p in reversed(parts))


def _needs_identity(text):
    """A lock named through an object or a local (`self._lock`, `other._lock`, `lock`) may be one of
    several objects that the source names alike; a module's `LOCK` is one object per file."""
    parsed = _base_and_path(text or "")
    return parsed is not None and (parsed[1] != "" or not parsed[0].isupper())


def _waiting_frame(thread):
    """The frame of `thread` at the line of its blockedOn (where it waits), or None."""
    b = thread["blockedOn"]
    return next((f for f in thread.get("frames") or [] if f.get("file") == b.get("file") and f.get("line") == b.get("line")), None)


def _frame_class(function):
    """`AccountLedger` of `AccountLedger.transfer` (`Inner` of `Outer.Inner.method`), None for a function."""
    parts = [p for p in (function or "").split(".")[:-1] if p != "<locals>"]
    return parts[-1] if parts else None


class _Locals:
    """py-spy's locals of each thread's frames, read once and only when asked (see link_holders)."""

    def __init__(self, read):
        self._read, self._by_tid = read, None

    def frame(self, thread, frame):
        """py-spy's frame (with `locals`) for one of `thread`'s frames, or None."""
        if self._read is None:
            return None
        if self._by_tid is None:
            try:
                self._by_tid = self._read() or {}
            except Exception:  # noqa: BLE001 - no locals: the names decide
                self._by_tid = {}
        frames = self._by_tid.get(thread.get("nsTid", thread.get("tid"))) or []
        ours = thread.get("frames") or []
        same = lambda pf, f: pf.get("line") == f.get("line") and \
            os.path.basename(pf.get("filename") or "") == os.path.basename(f.get("file") or "")  # noqa: E731
        if len(frames) == len(ours):  # most often the same frames: match by position
            pf = frames[ours.index(frame)] if frame in ours else None
            if pf is not None and same(pf, frame):
                return pf
        return next((pf for pf in frames if same(pf, frame)), None)


def _lock_key(path, text, frame, thread, local_reader):
    """(key, owner) of the lock `text` as seen in `frame`: ("object", address, ".attr") when the
    object `text` starts from is a local of the frame whose address py-spy read (exact); else
    (file, "Class.attr") for `self.attr` in a method of Class (two classes' `self.lock` differ);
    else (file, text). `owner` says whose lock it is in words ("AccountLedger at 0x7f…"), or None."""
    parsed = _base_and_path(text)
    if parsed is not None and _needs_identity(text):
        base, attrs = parsed
        pf = local_reader.frame(thread, frame)
        for var in (pf or {}).get("locals") or []:
            if var.get("name") == base and var.get("addr"):
                owner = (var.get("repr") or "").strip("<>") if attrs else None
                return ("object", var["addr"], attrs), owner or None
        cls = _frame_class(frame.get("function")) if base in ("self", "cls") else None
        if cls:  # (bare `self`: an object that is a lock itself, see _wrapper_keys)
            return (path, cls + attrs), cls
    return (path, text), None


def _key_text(key):
    """A lock's identity in words: "0x7f…._lock" (an object's), "AccountLedger.lock" (a class's)."""
    return "0x%x%s" % (key[1], key[2]) if key[0] == "object" else key[1]


def link_holders(threads, read_locals=None):
    """For each lock some thread is blocked on, the threads running inside a `with <same lock>:`
    block: the waiter's `blockedOn.heldBy` gets their names, the holder a `holding` entry
    {expression, file, line (of the with)}. Which lock is the same: a module-level name of the same
    file; a lock reached through an object or a local (`self._lock`, `other._lock`) by the object's
    address when `read_locals` (called once, only for such locks: {tid: py-spy frames with locals})
    gives it, else `self.attr` qualified by the class of the method (`AccountLedger.lock`), else the
    text. Both sides then carry `lock` (the identity) and `owner` (whose lock, in words). A thread
    that holds a lock in an outer frame and waits on the same text in an inner one holds it for the
    others (another instance, or itself: never its own holder).
    A semaphore or a pool (a queue of connections) has no owner: a thread between `E.acquire()` and
    `E.release()` (or `E.get()` and `E.put()`) of one function holds a permit of it, its entry with
    `line` the acquire (get) and `how` "acquire" ("get")."""
    waits = [t for t in threads if (t.get("blockedOn") or {}).get("kind") in ("lock", "semaphore", "queue")
             and t["blockedOn"].get("file")]
    if not waits:
        return threads
    need = any(t["blockedOn"]["kind"] == "lock" and _needs_identity(t["blockedOn"]["expression"]) for t in waits)
    local_reader = _Locals(read_locals if need else None)
    wanted, wrappers = {}, set()
    for thread in waits:
        b = thread["blockedOn"]
        frame = _waiting_frame(thread) or {"file": b["file"], "line": b["line"], "function": None}
        # A lock or semaphore named through `self` is its class's (judge 7: InventorySync._upstream_slots,
        # waited on and held inside `with self._upstream_slots:`); a queue pool by its text.
        key, owner = _lock_key(b["file"], b["expression"], frame, thread, local_reader) if b["kind"] in ("lock", "semaphore") \
            else ((b["file"], b["expression"]), None)
        if key != (b["file"], b["expression"]):
            b["lock"] = _key_text(key)
            if owner:
                b["owner"] = owner
        wanted.setdefault(key, []).append(thread)
        for wrapper in _wrapper_keys(key, frame, b["expression"]):
            wanted.setdefault(wrapper, []).append(thread)
            wrappers.add(wrapper)
    holders = {}

    def hold(thread, key, entry):
        holding = thread.setdefault("holding", [])
        # Held through its wrapper object (`self.acquire()`): the entry names the lock as its waiters do.
        entries = [dict(entry, expression=w["blockedOn"]["expression"], **{k: w["blockedOn"][k] for k in ("lock", "owner") if k in w["blockedOn"]})
                   for w in wanted[key]] if key in wrappers else [entry]
        for one in entries:
            if one not in holding:
                holding.append(one)
        if thread["name"] not in holders.setdefault(key, []):
            holders[key].append(thread["name"])

    # A lock taken around the `yield` of a generator context manager (`@contextmanager def session():
    # with self._lock: yield conn`) is held by whoever is inside `with x.session():`: the generator's
    # frame is suspended, on nobody's stack (judge 8: 11 workers "did not move" and no holder).
    managers = {}
    for key, waiters in wanted.items():
        for waiter in waiters:
            b = waiter["blockedOn"]
            manager = _yielding_withs(b["file"]).get(b["line"])
            if manager:
                managers.setdefault(manager, []).append((key, b["expression"]))
    for thread in threads:
        for frame in thread.get("frames") or []:
            if frame.get("kind") != "python" or not frame.get("file") or not frame.get("line"):
                continue
            for with_line, body_start, end, texts in _with_blocks(frame["file"]):
                if not body_start <= frame["line"] <= end:
                    continue
                for text in texts:
                    for key, expression in managers.get(_called_name(text), ()):
                        if thread not in wanted[key]:
                            entry = {"expression": expression, "file": frame["file"], "line": with_line, "via": text}
                            if key != (frame["file"], expression):
                                entry["lock"] = _key_text(key)
                            hold(thread, key, entry)
                    key, owner = _lock_key(frame["file"], text, frame, thread, local_reader)
                    if key in wanted:
                        entry = {"expression": text, "file": frame["file"], "line": with_line}
                        if key != (frame["file"], text):
                            entry["lock"] = _key_text(key)
                            if owner:
                                entry["owner"] = owner
                        hold(thread, key, entry)
            for take, give, text, how in _held_spans(frame["file"]):
                key = _lock_key(frame["file"], text, frame, thread, local_reader)[0] if how == "acquire" else (frame["file"], text)
                if take < frame["line"] < give and key in wanted and thread not in wanted[key]:
                    entry = {"expression": text, "file": frame["file"], "line": take, "how": how}
                    if key != (frame["file"], text):
                        entry["lock"] = _key_text(key)
                    hold(thread, key, entry)
    for key, waiters in wanted.items():
        for waiter in waiters:
            others = [name for name in holders.get(key, ()) if name != waiter["name"]]
            if others:
                held_by = waiter["blockedOn"].setdefault("heldBy", [])
                held_by.extend(name for name in others if name not in held_by)
    _maybe_holders(threads, waits, local_reader)
    return threads


def _wrapper_keys(key, frame, expression):
    """A lock taken inside an object's own `acquire()` / `__enter__()` (`self.lock.acquire()` in
    logging's Handler.acquire) is held by whoever is between `obj.acquire()` and `obj.release()`, or
    inside `with obj:`, of that object: its keys as a lock itself, by address ("object", addr, "")
    and by class (file, "Class"), as _lock_key reads a bare `self` with and without its locals
    (which py-spy reads a moment after the stacks: a lock that changes hands every few ms has a
    new holder by then). Judge 12: eight request threads queued in Handler.acquire behind one in
    Handler.handle, whose emit() waited for a log collector; 3.10 to 3.12's handle() calls
    self.acquire(), not `with self.lock`."""
    if _bare(frame.get("function") or "") not in ("acquire", "__enter__"):
        return []
    parsed = _base_and_path(expression)
    if not parsed or parsed[0] != "self" or parsed[1].count(".") != 1:
        return []
    keys = [("object", key[1], "")] if key[0] == "object" else []
    cls = _frame_class(frame.get("function"))
    return keys + ([(frame.get("file"), cls)] if cls else [])


def _owner_class(waiter, blocked):
    """The class whose lock a waiter wants: the owner read from its locals ("JobRegistry at 0x…"), else
    the class of the method it waits in (`JobRegistry.register`), when the lock is `self.<attr>`."""
    if blocked.get("owner"):
        return blocked["owner"].split(" at ", 1)[0].rsplit(".", 1)[-1]
    if not blocked["expression"].startswith("self."):
        return None
    return _frame_class((_waiting_frame(waiter) or {}).get("function"))  # as _lock_key qualifies `self.attr`


def _reaches(path, owner):
    """True when an attribute path reaches an object of class `owner` before its last name:
    `registry.lock` for a JobRegistry's `lock` (the attribute names the class, as `self.registry`
    usually does), in another file than the lock's class."""
    if not owner or "." not in path:
        return False
    holder = path.rsplit(".", 2)[-2].replace("_", "").lower()
    cls = owner.replace("_", "").lower()
    return len(holder) >= 3 and (cls.endswith(holder) or holder.endswith(cls))


def _maybe_holders(threads, waits, local_reader):
    """A lock `x.attr` whose holder was not found: the other threads inside a `with y.attr:` (same
    attribute, same file; or in another file, `with self.registry.lock:` for a JobRegistry's
    `self.lock`: an attribute that names the lock's class) whose object could not be read maybe hold it — `self._lock` held, `other._lock` wanted, by two threads moving money in opposite
    directions. Marked `maybeHeldBy` on the waiter and `maybe` on the holder's entry: the hang
    diagnosis calls a cycle through them probable, and only if the threads never move."""
    for waiter in waits:
        b = waiter["blockedOn"]
        parsed = _base_and_path(b["expression"]) if b["kind"] == "lock" and not b.get("heldBy") else None
        if not parsed or not parsed[1]:
            continue
        attr = parsed[1].rsplit(".", 1)[-1]
        owner = _owner_class(waiter, b)
        maybe = []
        for thread in threads:
            if thread is waiter:
                continue
            for frame in thread.get("frames") or []:
                if frame.get("kind") != "python" or not frame.get("file") or not frame.get("line"):
                    continue
                same_file = frame.get("file") == b["file"]
                for with_line, body_start, end, texts in _with_blocks(frame["file"]):
                    if not body_start <= frame["line"] <= end:
                        continue
                    for text in texts:
                        other = _base_and_path(text)
                        if not other or not other[1] or other[1].rsplit(".", 1)[-1] != attr:
                            continue
                        if not same_file and not _reaches(other[1], owner):
                            continue
                        if "." not in other[1] and _lock_key(frame["file"], text, frame, thread, local_reader)[0][0] == "object":
                            continue  # its object was read, and it is not the one wanted (through another object's attribute, only the first is read)
                        entry = {"expression": text, "file": frame["file"], "line": with_line, "maybe": True}
                        known = [h for h in thread.get("holding", []) if h.get("line") == with_line and h.get("file") == frame["file"]
                                 and h["expression"] == text]
                        if known and not known[0].get("maybe"):
                            continue  # already a holder of some lock there
                        if not known:  # (a second waiter for the same lock finds the entry the first one added)
                            thread.setdefault("holding", []).append(entry)
                        if thread["name"] not in maybe:
                            maybe.append(thread["name"])
        if maybe:
            b["maybeHeldBy"] = maybe
