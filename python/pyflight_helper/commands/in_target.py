"""Runs one of our own stdlib-only files inside the target for a single call, through the agent's
getglobal expression: the file is exec'd in a fresh namespace (never registered in sys.modules,
nothing imported), `call` is evaluated there and its JSON answer comes back with `-r`.
Used by the exception window (exception_hook.py) and the holder search (holders_code.py)."""

import ast
import json
import os

from .. import errors
from ..errors import HelperError
from .getglobal import getglobal

_SOURCES = {}


def _source(filename):
    if filename not in _SOURCES:
        with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), filename), encoding="utf-8") as f:
            _SOURCES[filename] = f.read()
    return _SOURCES[filename]


def run_in_target(port, filename, namespace, call, what, clear=False):
    """`call` (e.g. 'start(3, 5000)') on a fresh namespace of `filename` in the target; its JSON
    answer, parsed. `clear`: empty the namespace afterwards, so its functions (which refer to it) form
    no cycle that would stay in the target until the next collection — for code that keeps nothing."""
    ending = ", __pf_g.clear()" if clear else ""
    expr = ('(lambda __pf_g: (exec(%r, __pf_g), __pf_g["_pf_out"]%s)[1])'
            '({"__name__": %r, "_pf_out": None, "_pf_call": %r})'
            % (_source(filename) + "\n_pf_out = eval(_pf_call)\n", ending, namespace, call))
    answer = getglobal({"module": "sys", "field": "modules", "expr": expr, "raw": True}, port)
    try:
        return json.loads(ast.literal_eval(answer["value"]))
    except (ValueError, SyntaxError, TypeError) as exc:
        raise HelperError(errors.INTERNAL, "Unexpected answer from %s: %s (%s)" % (what, answer["value"][:200], exc))
