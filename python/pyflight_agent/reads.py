"""Runs INSIDE the target: small reads PyFlight makes for itself (no code from the client).

Each function reads and returns plain data (JSON-able); none imports a module of the application or
changes it (`instances` renders values with flight-profiler's renderer, as getglobal does;
`torch_allow_cpu_profile` sets a flag of flight-profiler's own). Through the door they are calls (door.CALLS); for an agent that
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


def main_thread_ident():
    """The `threading` ident of the process's main thread, or None when it cannot be told. Not
    threading.main_thread(): in a process that never imported `threading` itself that is whichever
    thread imported it first (the agent's). 3.13 says it (_thread._get_main_thread_ident); before,
    the thread object whose native id is the pid (a `_DummyThread` once something called
    current_thread() there), else the only thread whose oldest frame is a module's top level run as
    __main__ (a script, `-m`, or runpy). Reads only: no thread object is created."""
    import os

    getter = getattr(sys.modules.get("_thread"), "_get_main_thread_ident", None)
    if getter is not None:
        try:
            return getter()
        except Exception:
            pass
    threading = sys.modules.get("threading")
    if threading is not None:
        for thread in list(getattr(threading, "_active", {}).values()):
            if getattr(thread, "native_id", None) == os.getpid():
                return thread.ident
    found = []
    for ident, frame in list(sys._current_frames().items()):
        while frame.f_back is not None:
            frame = frame.f_back
        if frame.f_code.co_name in ("<module>", "_run_module_as_main") and frame.f_globals.get("__name__") in ("__main__", "runpy"):
            found.append(ident)
    return found[0] if len(found) == 1 else None


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


def gc_object_count():
    """How many objects the collector tracks (len(gc.get_objects())): read around a forced collection."""
    import gc

    return len(gc.get_objects())


def tt_identities():
    """[(index, id(args), id(kwargs))] of flight-profiler's time tunnel records, or None when the process
    has none (its recorder module was never imported: nothing is imported here). A replay is stored with
    the same args and kwargs objects as the call it replayed (commands/tt.py)."""
    recorder = sys.modules.get("flight_profiler.plugins.tt.time_tunnel_recorder")
    records = getattr(getattr(recorder, "global_time_tunnel_recorder", None), "invocation_records", None)
    if records is None:
        return None
    return [[index, id(r.args), id(r.kwargs)] for index, r in list(records.items())]


def frameworks_of(module, cls, method, known):
    """Which of the top-level packages `known` (flask, django, …) the function's module works with:
    what its globals hold (modules, and classes or functions of them, or objects of their classes).
    Only type(v) is looked at for other objects: Flask's `request` is a proxy whose attributes raise
    outside a request."""
    target = sys.modules.get(module)
    for name in ([cls] if cls else []) + [method]:
        target = getattr(target, name, None) if target is not None else None
    found = set()
    module_type, function_type = type(sys), type(lambda: 0)
    for value in list(getattr(target, "__globals__", {}).values()):
        if isinstance(value, module_type):
            name = value.__name__
        elif isinstance(value, (type, function_type)):
            name = getattr(value, "__module__", None)
        else:
            name = type(value).__module__
        top = (name or "").split(".")[0]
        if top in known:
            found.add(top)
    return sorted(found)


def instances(module, cls, limit, expand, raw, verbose, expr=None):
    """Live instances of `module.cls` as flight-profiler's vmtool finds them (gc.get_referrers(cls),
    isinstance; the module must be imported already): {count, instances: [(id, type, rendered)]},
    rendered by flight-profiler's own renderer like getglobal values; with `expr` (code: refused when
    the agent runs with code execution off), its value on the list as `instances` as well."""
    import gc

    from flight_profiler.common.dumps import encode_obj_to_transfer

    mod = sys.modules.get(module)
    if mod is None:
        raise LookupError("module %s is not imported" % module)
    klass = getattr(mod, cls, None)
    if not isinstance(klass, type):
        return {"noClass": True}
    found = [obj for obj in gc.get_referrers(klass) if isinstance(obj, klass)]

    def render(obj):
        try:
            return encode_obj_to_transfer(obj, max_depth=expand, raw_output=raw, verbose=verbose)
        except Exception as exc:
            return "<cannot render: %s: %s>" % (type(exc).__name__, exc)

    shown = [[id(o), "%s.%s" % (type(o).__module__, type(o).__qualname__), render(o)] for o in found[:limit]]
    result = {"count": len(found), "instances": shown}
    if expr:
        import traceback

        try:
            value = eval(expr, {"instances": found})
            result.update(value=render(value), type=str(type(value)))
        except Exception:
            result["error"] = traceback.format_exc()
    return result


def torch_facts():
    """{cudaAvailable, version} of the torch the process imported (None when it has not)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        cuda = bool(torch.cuda.is_available())
    except Exception:
        cuda = False
    return {"cudaAvailable": cuda, "version": str(getattr(torch, "__version__", "?"))}


def torch_allow_cpu_profile():
    """flight-profiler 1.0.7 refuses `torch profile` without CUDA although torch.profiler records CPU
    activity; this sets its own flag (a global of its torch_agent module, nothing of the application).
    True when it was off and is now on. (The agent's own module is imported if its torch plugin has not
    run yet; the helper calls this only once torch is loaded in the process.)"""
    import importlib

    agent = importlib.import_module("flight_profiler.plugins.torch.torch_agent")
    if getattr(agent, "TORCH_PROFILE_ENABLE", False):
        return False
    agent.TORCH_PROFILE_ENABLE = True
    return True
