"""Runs INSIDE the target: small reads PyFlight makes for itself (no code from the client).

Each function reads and returns plain data (JSON-able); none imports a module, calls a user's
`__repr__` or changes anything. Through the door they are calls (door.CALLS); for an agent that
flight-profiler's own client loaded, the helper evaluates the same functions through getglobal.
Stdlib only, Python 3.8+.
"""

import sys


def thread_names():
    """{native tid: [name, daemon]} of the threads `threading` knows. The thread whose tid is the
    process's pid is MainThread, whatever `threading` calls it: in a process that never imported
    `threading` itself, the module names "MainThread" whichever thread imported it first (the agent's)
    and the real main thread "Dummy-N"."""
    import os

    threading = sys.modules.get("threading")
    out = {}
    if threading is None:
        return out
    main_tid = os.getpid()
    for thread in list(getattr(threading, "_active", {}).values()):
        tid = getattr(thread, "native_id", None)
        if tid is None:
            continue
        out[str(tid)] = ["MainThread", False] if tid == main_tid else [thread.name, bool(thread.daemon)]
    return out


def imported(module):
    """Whether the process has imported `module` (a sys.modules lookup: nothing is imported)."""
    return module in sys.modules


def globals_of(module):
    """[(name, type, kind, preview)] of a module's globals; previews only for built-in scalars (a user
    __repr__ is never called; a huge int is not converted: 3.11 refuses ints over 4,300 digits)."""
    mod = sys.modules.get(module)
    if mod is None:
        raise LookupError("module %s is not imported" % module)
    rows = []
    for name, value in list(vars(mod).items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        kind = ("class" if isinstance(value, type) else "module" if type(value).__name__ == "module"
                else "function" if callable(value) else "value")
        t = type(value)
        preview = ""
        if t in (float, bool, str, bytes, complex, type(None)) or (t is int and -10 ** 30 < value < 10 ** 30):
            preview = repr(value[:80] if t in (str, bytes) else value)[:80]
        elif t in (list, dict, set, tuple, frozenset):
            preview = "{:,} item{}".format(len(value), "" if len(value) == 1 else "s")
        rows.append([name, t.__name__, kind, preview])
    return rows


def signature(module, cls, method):
    """(is a plain function, [(name, kind)] of its parameters) of `module[.cls].method` as the
    process has it, or None (not found, a builtin, no signature). Nothing is imported."""
    import inspect

    target = sys.modules.get(module)
    for name in ([cls] if cls else []) + [method]:
        target = getattr(target, name, None) if target is not None else None
    if target is None:
        return None
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    return [inspect.isfunction(target), [[p.name, int(p.kind)] for p in parameters]]
