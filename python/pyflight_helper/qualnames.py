"""Qualified function names (`Worker.handle`, `outer.<locals>.inner`) for frames that only carry
the bare code name, as pystack's do: many frames read `__call__` or `run` otherwise.

Computed from the source file on disk with `ast` (the same file the target runs; the helper runs on
the same machine), cached per file and modification time. Any doubt gives the bare name back.
"""

import ast
import os

_MAX_SOURCE_BYTES = 4 * 1024 * 1024
_cache = {}
_lines_cache = {}


def _functions(path):
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    entries = []
    if stat.st_size <= _MAX_SOURCE_BYTES:
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), path)
        except (OSError, SyntaxError, ValueError):
            tree = None
        if tree is not None:
            _collect(tree, "", entries)
    _cache[path] = (key, tuple(entries))
    return _cache[path][1]


def _collect(node, prefix, out):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qualname = prefix + child.name
            out.append((child.lineno, getattr(child, "end_lineno", None) or child.lineno, child.name, qualname))
            _collect(child, qualname + ".<locals>.", out)
        elif isinstance(child, ast.ClassDef):
            _collect(child, prefix + child.name + ".", out)
        else:
            _collect(child, prefix, out)


def qualname(path, line, name):
    """The innermost function called `name` around `line` in `path`, qualified; else `name`."""
    if not path or not line or not name or name.startswith("<"):
        return name
    best = None
    for start, end, bare, qualified in _functions(path):
        if bare == name and start <= line <= end and (best is None or start >= best[0]):
            best = (start, qualified)
    return best[1] if best else name


def source_line(path, line):
    """Line `line` (1-based) of `path` as text without its newline, or None; read once per file
    and modification time, like the functions above."""
    if not path or not line or line < 1:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _lines_cache.get(path)
    if cached is None or cached[0] != key:
        lines = ()
        if stat.st_size <= _MAX_SOURCE_BYTES:
            try:
                with open(path, "rb") as f:
                    lines = tuple(f.read().decode("utf-8", "replace").splitlines())
            except OSError:
                lines = ()
        cached = _lines_cache[path] = (key, lines)
    return cached[1][line - 1] if line <= len(cached[1]) else None
