"""Console, Evaluate and Reload: calls into pyflight_agent/live_code.py, which runs inside the target
(PyFlight's in-target call `live.api`; refused by the agent itself when it was loaded with code
execution off)."""

import threading
import uuid

from .. import errors
from ..errors import HelperError
from ..in_target import call as in_target_call


def call(agent, name, args, timeout=30.0, cancelled=None):
    """One call into the target; raises HelperError with the target's message on failure."""
    answer = in_target_call(agent, "live.api", name, args, timeout=timeout, cancelled=cancelled)
    if "error" in answer:
        code = errors.BAD_LOCATION if answer.get("type") in ("LookupError", "TypeError") else errors.INTERNAL
        raise HelperError(code, answer["error"].split(": ", 1)[-1],
                          "Check the module (as imported in the target), class and function names."
                          if code == errors.BAD_LOCATION else None)
    return answer["result"]


# After Ctrl+C, how long a line has to stop before the helper stops waiting for it. KeyboardInterrupt
# lands at the line's next bytecode; a line blocked in C (a lock, event or queue wait without a
# timeout) never gets there, and waiting for it kept the CLI and every later line waiting (a hunt:
# `threading.Event().wait()` evaluated, then Ctrl+C: the next eval waited ten minutes).
INTERRUPT_GRACE_SECONDS = 5.0


def _interruptible_call(req, agent, name, args, run_id):
    """`name` with no timeout; cancelling interrupts the run in the target, and a run that has not
    stopped INTERRUPT_GRACE_SECONDS later is left running there, with an error that says so."""
    stop = threading.Event()

    def cancel():
        call(agent, "consoleInterrupt", {"id": run_id}, timeout=10)
        timer = threading.Timer(INTERRUPT_GRACE_SECONDS, stop.set)
        timer.daemon = True
        timer.start()

    req.on_cancel = cancel
    try:
        return call(agent, name, args, timeout=None, cancelled=stop)
    except HelperError as exc:
        if exc.code != errors.CANCELLED:
            raise
        raise HelperError(errors.CANCELLED, "The code did not stop within %d s of Ctrl+C: it is blocked where an interrupt cannot "
                          "reach it (a lock, event or queue wait without a timeout, or a long C call). It keeps running inside "
                          "the process, on one of the agent's threads, until it returns; other evaluations and consoles do "
                          "not wait for it." % INTERRUPT_GRACE_SECONDS,
                          "If it never returns, only the process's end stops it. Give waits a timeout in code you run in a live process.")


def console_push(req, agent):
    """A line can run for long: no timeout; cancelling interrupts it in the target."""
    params = req.params
    return _interruptible_call(req, agent, "consolePush", {"id": params["id"], "line": params["line"]}, params["id"])


def evaluate(req, agent):
    """No timeout either: cancelling interrupts the evaluation in the target."""
    expression = req.params.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise HelperError(errors.BAD_EXPRESSION, "Nothing to evaluate.", "Type a Python expression, e.g. len(cache).")
    run_id = "eval-%s" % uuid.uuid4().hex
    return _interruptible_call(req, agent, "evaluate", {"expression": expression, "id": run_id}, run_id)


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
