"""`exceptionWindow`: every exception raised in the target's own code for a few seconds, counted by
raising function and type, with the except clause that stopped it (exception_hook.py runs in the
target, pyflight_agent/exception_hook.py; it is removed in a `finally` here and by its own timer in
the target if this helper dies). The except clause is found here, from the source: the
innermost `try` around the handler frame's line whose clause matches the exception's classes."""

import ast
import time

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..wire import InTargetError


def exception_window(req, pid, agent):
    seconds = req.params.get("seconds", 3)
    max_events = req.params.get("maxEvents", 5000)
    if not isinstance(seconds, (int, float)) or not 0.5 <= seconds <= 30:
        raise HelperError(errors.BAD_ARGUMENT, "seconds must be 0.5–30, got %r." % (seconds,))
    if not isinstance(max_events, int) or not 1 <= max_events <= 100000:
        raise HelperError(errors.BAD_ARGUMENT, "maxEvents must be 1–100000, got %r." % (max_events,))
    try:
        started = call(agent, "exceptions.start", float(seconds), max_events)
    except InTargetError as exc:
        if exc.code == errors.INTERNAL or exc.type_name:
            raise HelperError(errors.BAD_EXPRESSION, "Could not open the exception window: %s" % exc.message,
                              "Nothing stayed in the target. Watch a suspect function with -e instead.")
        raise
    result = None
    try:
        req.progress("waiting", str(seconds))
        end = time.monotonic() + seconds
        while not req.cancelled.is_set() and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
    finally:
        # Always removed, also when cancelled or when the wait failed.
        result = call(agent, "exceptions.finish")
    if result.get("missing"):
        raise HelperError(errors.INTERNAL, "The exception window was gone before it was read (its own timer removed it).",
                          "Run it again.")
    result["tracedThreads"] = result.get("tracedThreads") or started.get("tracedThreads", [])
    result["cancelled"] = req.cancelled.is_set()
    for entry in result["exceptions"]:
        for handler in entry["handlers"]:
            handler.update(except_clause(handler["file"], handler["function"], handler["line"], entry["mro"], pid))
    return result


def check_removed(agent):
    """What exception_hook.check() says now: which threads have a trace function."""
    return call(agent, "exceptions.check")


def _read_source(path, pid):
    for candidate in (path, "/proc/%d/root%s" % (pid, path)):
        try:
            with open(candidate, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError):
            continue
    return None


def _names(node):
    if node is None:
        return None
    if isinstance(node, ast.Tuple):
        out = []
        for elt in node.elts:
            out += _names(elt) or []
        return out
    # A lower-case name (`policy.retry_on`, `errors`, `socket.error`) is, by convention, not a class
    # written out but types computed at run time: "?", which may match (judge 8's retry decorator
    # caught KeyError with `except policy.retry_on as exc:` and was read as catching nothing).
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name is not None:
        return [name] if name[:1].isupper() else ["?"]
    return ["?"]


def _reraises(handler):
    """A `raise` the handler always reaches (in its own body, not under an `if`): one behind a
    condition (`if attempt >= max_attempts: raise`) lets the exception go most of the time."""
    return any(isinstance(stmt, ast.Raise) for stmt in handler.body)


def except_clause(path, function, line, mro, pid):
    """{caught, clause, clauseLine, broad, reraises} for the frame `function` stopped at `line`:
    the innermost try around that line whose except matches one of the exception's classes."""
    source = _read_source(path, pid) if path and line else None
    if source is None:
        return {"caught": None}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {"caught": None}
    lines = source.splitlines()
    best = None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))) or not node.body:
            continue
        body_end = max(getattr(s, "end_lineno", s.lineno) for s in node.body)
        if not node.body[0].lineno <= line <= body_end:
            continue
        for handler in node.handlers:
            names = _names(handler.type)
            if names is None or "?" in names or any(n in mro for n in names):
                if best is None or node.body[0].lineno >= best[0].body[0].lineno:
                    best = (node, handler, names)
                break
    if best is None:
        return _with_clause(tree, lines, line, mro)
    _node, handler, names = best
    text = lines[handler.lineno - 1].strip() if handler.lineno <= len(lines) else "except"
    return {"caught": True, "clause": text, "clauseLine": handler.lineno,
            "broad": names is None or any(n in ("Exception", "BaseException") for n in names),
            "reraises": _reraises(handler), "silent": _does_nothing(handler.body)}


def _does_nothing(body):
    """A handler body that drops the exception without a trace: pass, continue, break, `...`, a constant."""
    return all(isinstance(s, (ast.Pass, ast.Continue, ast.Break))
               or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body)


def _with_clause(tree, lines, line, mro):
    """No try matches, but the frame stopped inside a `with` whose context manager swallowed it:
    `contextlib.suppress(...)` naming one of the exception's classes, or any context manager when
    the frame stopped on the `with` line itself (its __exit__ returned true)."""
    best = None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.With, ast.AsyncWith)) or not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        for item in node.items:
            call = item.context_expr
            fn = call.func if isinstance(call, ast.Call) else None
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else None
            names = [n for a in call.args for n in (_names(a) or [])] if name == "suppress" else None
            if (names is not None and any(n in mro for n in names)) or (names is None and line == node.lineno):
                if best is None or node.lineno >= best[0].lineno:
                    best = (node, names)
    if best is None:
        return {"caught": False}
    node, names = best
    text = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else "with"
    return {"caught": True, "clause": text, "clauseLine": node.lineno,
            "broad": names is None or any(n in ("Exception", "BaseException") for n in names),
            "reraises": False, "silent": names is not None}
