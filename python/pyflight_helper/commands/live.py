"""Console, Evaluate and Reload: calls into pyflight_agent/live_code.py, which runs inside the target
(PyFlight's in-target call `live.api`; refused by the agent itself when it was loaded with code
execution off)."""

import uuid

from .. import errors
from ..errors import HelperError
from ..in_target import call as in_target_call


def call(agent, name, args, timeout=30.0):
    """One call into the target; raises HelperError with the target's message on failure."""
    answer = in_target_call(agent, "live.api", name, args, timeout=timeout)
    if "error" in answer:
        code = errors.BAD_LOCATION if answer.get("type") in ("LookupError", "TypeError") else errors.INTERNAL
        raise HelperError(code, answer["error"].split(": ", 1)[-1],
                          "Check the module (as imported in the target), class and function names."
                          if code == errors.BAD_LOCATION else None)
    return answer["result"]


def console_push(req, agent):
    """A line can run for long: no timeout; cancelling interrupts it in the target."""
    params = req.params
    req.on_cancel = lambda: call(agent, "consoleInterrupt", {"id": params["id"]}, timeout=10)
    return call(agent, "consolePush", {"id": params["id"], "line": params["line"]}, timeout=None)


def evaluate(req, agent):
    """No timeout either: cancelling interrupts the evaluation in the target."""
    expression = req.params.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise HelperError(errors.BAD_EXPRESSION, "Nothing to evaluate.", "Type a Python expression, e.g. len(cache).")
    run_id = "eval-%s" % uuid.uuid4().hex
    req.on_cancel = lambda: call(agent, "consoleInterrupt", {"id": run_id}, timeout=10)
    return call(agent, "evaluate", {"expression": expression, "id": run_id}, timeout=None)


def reload_args(params):
    for key in ("module", "function"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise HelperError(errors.BAD_LOCATION, "reload needs a %s name." % key,
                              "Use `module [class] function`, e.g. `__main__ Worker handle`.")
    return {key: params.get(key) for key in ("module", "class", "function", "text", "oldTexts")}


def reload_apply(req, agent):
    """Swaps the function's code; a refused reload (syntax error, closure change, …) is an error and
    leaves the old code in place."""
    result = call(agent, "reloadApply", reload_args(req.params))
    if not result.get("ok"):
        raise HelperError(errors.RELOAD_REFUSED, "Reload refused: %s The old code keeps running." % result.get("error"),
                          "Fix the function's source and reload again.")
    return result
