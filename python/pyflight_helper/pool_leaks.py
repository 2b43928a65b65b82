"""Pools that run dry because a caller does not give back what it took, read from the source.

Threads wait to take from a pool (a connection pool's queue, a semaphore) and no thread holds
anything of it: what was taken was never given back. A stack cannot show where that happened, the
source can: a function that takes with `pool.acquire()` and gives back with `pool.release(conn)`
outside `finally` (and not through `with`) leaks one whenever it leaves in between, by a `raise`, a
`return` or any exception (judge 13: `load_order` raised OrderNotFound between the two, and every
404 kept a connection). The waiters' `blockedOn` gets `leaks`: such functions, the ones with an
explicit exit in between first.
"""

import ast
import os
import re

from .blocking import _last_name, _per_file, _segment, _waiting_frame, is_stdlib

# The calls that give an item or a permit back to a pool's store, by kind of the store.
_GIVE_TO_STORE = ("put", "put_nowait", "release", "append", "appendleft", "add", "notify", "notify_all")
_TAKE_FROM_STORE = {"queue": ("get",), "semaphore": ("acquire",), "condition": ("wait", "wait_for")}
_GIVE_FOR_TAKE = {"get": ("put", "put_nowait"), "acquire": ("release",)}
_MAX_FILES = 400
_MAX_LEAKS = 3
_leak_cache = {}
_method_cache = {}


def _functions(tree):
    """(qualified name, class name or None, function node) of every function of a module."""
    out = []

    def visit(node, qual, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, qual + [child.name], child.name)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((".".join(qual + [child.name]), cls, child))
                visit(child, qual + [child.name, "<locals>"], None)
            else:
                visit(child, qual, cls)
    visit(tree, [], None)
    return out


def _own_nodes(fn):
    """The nodes of a function's body, not of functions or classes defined inside it."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def _class_methods(path):
    """{class: {method: [(receiver text, called attr)] of its calls}} of a file."""
    def analyse(source, tree):
        found = {}
        for _qual, cls, fn in _functions(tree):
            if cls is None:
                continue
            calls = found.setdefault(cls, {}).setdefault(fn.name, [])
            for node in _own_nodes(fn):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    calls.append((_segment(source, node.func.value) or "", node.func.attr))
        return found
    return _per_file(_method_cache, path, analyse, {})


def pool_api(waiter):
    """(class or None, take methods, give methods, store's last name) of what `waiter` waits to take
    from: a method of a class (`ConnectionPool.acquire` on `self._idle`) whose class gives back to
    the same store in other methods (`release`); else the store itself (`POOL.get()` / `put()`)."""
    b = waiter["blockedOn"]
    store = _last_name(b.get("expression"))
    frame = _waiting_frame(waiter)
    if not store or frame is None or is_stdlib(frame.get("file") or ""):
        return None
    parts = [p for p in (frame.get("function") or "").split(".") if p != "<locals>"]
    if len(parts) >= 2:
        cls, take = parts[-2], parts[-1]
        methods = _class_methods(frame["file"]).get(cls, {})
        gives = sorted(m for m, calls in methods.items()
                       if m not in (take, "__init__") and any(_last_name(r) == store and a in _GIVE_TO_STORE for r, a in calls))
        if gives:
            return cls, (take,), tuple(gives), store
    takes = _TAKE_FROM_STORE.get(b.get("kind"), ())
    gives = tuple(g for t in takes for g in _GIVE_FOR_TAKE.get(t, ()))
    return (None, takes, gives, store) if gives else None


def _class_words(cls):
    """`connection`, `pool` of ConnectionPool: words of four letters or more."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", cls) if len(w) >= 4]


def _span(block):
    """(first line, last line) of a list of statements; (0, -1) for none."""
    if not block:
        return (0, -1)
    return (block[0].lineno, max(getattr(s, "end_lineno", s.lineno) for s in block))


def _in(node, spans):
    return any(first <= node.lineno <= last for first, last in spans)


def _leaks_in(path, api):
    """[(qualified function, take line, take text, give line, give text, [(exit line, text)])] of the
    functions of a file that take from the pool and give back outside `finally`/`except`."""
    cls, takes, gives, store = api
    words = _class_words(cls) if cls else []

    def pool_receiver(text, assigned):
        if cls is None:
            return _last_name(text) == store
        low = text.lower()
        return any(w in low for w in words) or any(w in assigned.get(text, "").lower() for w in words)

    def analyse(source, tree):
        found = []
        for qual, fn_cls, fn in _functions(tree):
            own = cls is not None and fn_cls == cls  # the pool's own helpers (`connection()`) take from `self`
            if own and (fn.name in takes or fn.name in gives):
                continue
            assigned = {}  # `pool = get_pool()`: what a receiver was assigned from
            with_items, protected, exits, calls, handlers = set(), [], [], [], []
            for node in _own_nodes(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call):
                    assigned[_segment(source, node.targets[0]) or ""] = _segment(source, node.value.func) or ""
                elif isinstance(node, (ast.With, ast.AsyncWith)):
                    with_items.update(id(item.context_expr) for item in node.items)
                elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                    for block in [node.finalbody] + [h.body for h in node.handlers]:
                        if block:
                            protected.append((block[0].lineno, max(getattr(s, "end_lineno", s.lineno) for s in block)))
                    handlers.append(node)
                elif isinstance(node, (ast.Raise, ast.Return)):
                    exits.append(node)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    calls.append(node)
            for take in calls:
                if take.func.attr not in takes or id(take) in with_items:
                    continue
                receiver = _segment(source, take.func.value) or ""
                if not (pool_receiver(receiver, assigned) or (own and receiver in ("self", "cls"))):
                    continue
                gives_back = lambda c: c.func.attr in gives and (_segment(source, c.func.value) or "") == receiver  # noqa: E731
                given = sorted((c for c in calls if gives_back(c) and c.lineno > take.lineno), key=lambda c: c.lineno)
                if not given:
                    continue  # handed on: given back elsewhere
                give = given[0]
                # An `except` after the take whose body gives nothing back, in a try without a `finally`
                # that does: the exception path keeps it (judge 14: `except BaseException:
                # self._discard(conn); raise`, where only _checkin releases the pool's semaphore).
                dropped = []
                for node in handlers:
                    # Only a try whose body runs code after the take (a handler of the take's own failure took nothing).
                    if _span(node.body)[1] <= take.lineno or any(gives_back(c) for c in calls if _in(c, [_span(node.finalbody)])):
                        continue
                    for handler in node.handlers:
                        if not any(gives_back(c) for c in calls if _in(c, [_span(handler.body)])):
                            inside = [c for c in calls if _in(c, [_span(handler.body)])]
                            head = (_segment(source, handler) or "except:").splitlines()[0].strip()[:100]
                            dropped.append((handler.lineno, head, _segment(source, inside[0]) if inside else None))
                if any(_in(c, protected) for c in given) and not dropped:
                    continue  # given back on every way out
                between = sorted((e.lineno, (_segment(source, e) or "").splitlines()[0][:100], None) for e in exits
                                 if take.lineno < e.lineno < give.lineno and not _in(e, protected))
                found.append((qual, take.lineno, _segment(source, take) or "", give.lineno, _segment(source, give) or "",
                              between + sorted(dropped)))
        return tuple(found)
    return _per_file(_leak_cache.setdefault(api, {}), path, analyse)


def _third_party(path):
    return is_stdlib(path) or "site-packages" in path or "dist-packages" in path


def _package_root(path):
    folder = os.path.dirname(path)
    while os.path.exists(os.path.join(os.path.dirname(folder), "__init__.py")) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder if os.path.exists(os.path.join(folder, "__init__.py")) else None


def _files_to_read(threads, pool_file):
    """The program's own files: those on any thread's stack and the pool's, every file of their
    packages (a script's: the files beside it), never the stdlib's or installed packages'."""
    own = [pool_file]
    for t in threads:
        for f in t.get("frames") or []:
            path = f.get("file")
            if f.get("kind") == "python" and path and path.endswith(".py") and path not in own:
                own.append(path)
    own = [p for p in own if not _third_party(p)]
    files = list(own)
    for path in own:
        root = _package_root(path)
        if root is None:
            folder = os.path.dirname(path)
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            files.extend(os.path.join(folder, n) for n in names if n.endswith(".py") and os.path.join(folder, n) not in files)
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            files.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith(".py") and os.path.join(folder, n) not in files)
            if len(files) >= _MAX_FILES:
                break
    return files[:_MAX_FILES]


def link_leaks(threads):
    """For threads waiting to take from a pool that no thread holds anything of (no heldBy, no
    fedBy): `blockedOn.leaks` = [{function, file, line, take, giveLine, give, exits: [{line, text}]}]."""
    groups = {}
    for t in threads:
        b = t.get("blockedOn") or {}
        if b.get("kind") in _TAKE_FROM_STORE and not b.get("heldBy") and not b.get("fedBy") and b.get("file"):
            groups.setdefault((b["file"], b.get("expression")), []).append(t)
    for (pool_file, _expression), waiters in groups.items():
        api = pool_api(waiters[0])
        if api is None:
            continue
        leaks = []
        for path in _files_to_read(threads, pool_file):
            for qual, line, take, give_line, give, exits in _leaks_in(path, api):
                leaks.append({"function": qual, "file": path, "line": line, "take": take, "giveLine": give_line, "give": give,
                              "exits": [dict({"line": n, "text": text}, **({"handler": True, "calls": calls} if calls is not None or text.startswith("except") else {}))
                                        for n, text, calls in exits]})
        # A leaking function the waiters are inside (they wait in its take) first: that path runs now.
        on_stack = {(f.get("file"), f.get("function")) for w in waiters for f in w.get("frames") or []}
        leaks.sort(key=lambda leak: ((leak["file"], leak["function"]) not in on_stack, not leak["exits"], leak["file"], leak["line"]))
        if leaks:
            for waiter in waiters:
                waiter["blockedOn"]["leaks"] = leaks[:_MAX_LEAKS]
                waiter["blockedOn"]["pool"] = {"class": api[0], "take": list(api[1]), "give": list(api[2])}
    return threads
