"""`getglobal`: a module global or class attribute, optionally through an expression on `target`."""

from .. import errors
from ..errors import HelperError
from ..wire import request, strip_ansi
from .probes import check_expression, expand_option, location_words, quote


def getglobal(params, port):
    words = location_words(params, last="field")
    parts = list(words)
    if params.get("expr"):
        check_expression(params["expr"], "expression")
        parts += ["-e", quote(params["expr"])]
    parts += ["-x", str(expand_option(params, 2, 6))]
    if params.get("raw"):
        parts.append("-r")
    frames = request(port, "getglobal", " " + " ".join(parts), timeout=30)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str):
        text = strip_ansi(answer or "no answer").strip()
        raise HelperError(errors.BAD_LOCATION, text, "Check the module (as imported in the target), class and name.")
    if answer.failed:
        raise HelperError(errors.BAD_EXPRESSION, "The expression failed in the target: %s" % (answer.failed_reason or "").strip().splitlines()[-1])
    return {"expr": answer.expr, "type": answer.type, "value": answer.value}
