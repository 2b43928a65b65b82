"""Console, Evaluate and Reload: calls into live_code.py, which runs inside the target.

Every call is one `getglobal _pyflight_live api -e "target('<name>', '<base64 JSON>')" -r` request:
the expression runs on an agent worker thread, and `-r` sends back repr() of the JSON answer.
live_code.py is sent once per target (again when its VERSION changes) the same way.
"""

import ast
import base64
import json
import os
import threading
import uuid

from .. import errors
from ..errors import HelperError
from ..wire import request, strip_ansi
from .probes import quote

_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "live_code.py")
_installed = set()  # ports whose agent has our live_code at this VERSION
_install_lock = threading.Lock()


def _version():
    with open(_SOURCE, encoding="utf-8") as f:
        for line in f:
            if line.startswith("VERSION = "):
                return line.split("=", 1)[1].strip()
    raise HelperError(errors.INTERNAL, "live_code.py has no VERSION.")


def _getglobal(port, module, field, expr, timeout):
    frames = request(port, "getglobal", " %s %s -e %s -r" % (module, field, quote(expr)), timeout=timeout)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str):
        return None, strip_ansi(answer or "no answer").strip()
    if answer.failed:
        return None, (answer.failed_reason or "").strip()
    return answer.value, None


def _ensure_installed(port):
    with _install_lock:
        if port in _installed:
            return
        value, _error = _getglobal(port, "_pyflight_live", "VERSION", "target", 15)
        if value != _version():
            with open(_SOURCE, "rb") as f:
                code = base64.b64encode(f.read()).decode("ascii")
            # exec with __name__ = _pyflight_live_install: the file registers itself in sys.modules.
            expr = "exec(__import__('base64').b64decode('%s'),{'__name__':'_pyflight_live_install'})" % code
            _value, error = _getglobal(port, "sys", "modules", expr, 30)
            if error:
                raise HelperError(errors.INTERNAL, "Could not prepare the target for console, evaluate and reload: %s"
                                  % error.splitlines()[-1])
        _installed.add(port)


def call(port, name, args, timeout=30.0):
    """One call into the target; raises HelperError with the target's message on failure."""
    _ensure_installed(port)
    payload = base64.b64encode(json.dumps(args).encode("utf-8")).decode("ascii")
    value, error = _getglobal(port, "_pyflight_live", "api", "target('%s','%s')" % (name, payload), timeout)
    if error:
        raise HelperError(errors.INTERNAL, "The agent could not run %s: %s" % (name, error.splitlines()[-1]))
    answer = json.loads(ast.literal_eval(value))
    if "error" in answer:
        code = errors.BAD_LOCATION if answer.get("type") in ("LookupError", "TypeError") else errors.INTERNAL
        raise HelperError(code, answer["error"].split(": ", 1)[-1],
                          "Check the module (as imported in the target), class and function names."
                          if code == errors.BAD_LOCATION else None)
    return answer["result"]


def console_push(req, port):
    """A line can run for long: no timeout; cancelling interrupts it in the target."""
    params = req.params
    req.on_cancel = lambda: call(port, "consoleInterrupt", {"id": params["id"]}, timeout=10)
    return call(port, "consolePush", {"id": params["id"], "line": params["line"]}, timeout=None)


def evaluate(req, port):
    """No timeout either: cancelling interrupts the evaluation in the target."""
    expression = req.params.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise HelperError(errors.BAD_EXPRESSION, "Nothing to evaluate.", "Type a Python expression, e.g. len(cache).")
    run_id = "eval-%s" % uuid.uuid4().hex
    req.on_cancel = lambda: call(port, "consoleInterrupt", {"id": run_id}, timeout=10)
    return call(port, "evaluate", {"expression": expression, "id": run_id}, timeout=None)


def reload_args(params):
    for key in ("module", "function"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise HelperError(errors.BAD_LOCATION, "reload needs a %s name." % key,
                              "Use `module [class] function`, e.g. `__main__ Worker handle`.")
    return {key: params.get(key) for key in ("module", "class", "function", "text", "oldTexts")}


def reload_apply(req, port):
    """Swaps the function's code; a refused reload (syntax error, closure change, …) is an error and
    leaves the old code in place."""
    result = call(port, "reloadApply", reload_args(req.params))
    if not result.get("ok"):
        raise HelperError(errors.RELOAD_REFUSED, "Reload refused: %s The old code keeps running." % result.get("error"),
                          "Fix the function's source and reload again.")
    return result
