"""`tt` (time tunnel): record calls, list them, show one, replay one, delete them."""

from .. import errors
from ..errors import HelperError
from ..wire import request, strip_ansi
from .probes import ProbeStream, call_budget, check_expression, expand_option, limit_option, location_words, nested_option, quote


def _base(record):
    return {"index": record.index, "time": record.timestamp, "costMs": record.cost_ms, "isReturn": bool(record.is_ret),
            "isException": bool(record.is_exp), "module": record.module_name, "class": record.class_name,
            "method": record.method_name}


def tt_record(req, port):
    words = location_words(req.params)
    limit = limit_option(req.params, 50)
    matching = bool(req.params.get("filter"))
    budget = call_budget(limit, matching)
    parts = ["-t"] + words + nested_option(req.params) + ["-n", str(budget)]
    if req.params.get("filter"):
        check_expression(req.params["filter"], "filter")
        parts += ["-f", quote(req.params["filter"])]
    args = " ".join(parts)
    stream = ProbeStream(req, port, "tt", args, limit=limit, matching=matching, budget=budget)
    summary = stream.run(lambda r: _base(r) if hasattr(r, "index") else None)
    summary["args"] = args
    return summary


def _one(port, param, timeout=60):
    frames = request(port, "tt", "on " + param, timeout=timeout)
    return frames[0] if frames else None


def tt_list(port):
    answer = _one(port, "-l")
    if not isinstance(answer, list):
        raise HelperError(errors.INTERNAL, "Unexpected answer to tt -l: %r" % (answer,))
    return {"records": [_base(r) for r in answer]}


def _index(params):
    index = params.get("index")
    if not isinstance(index, int) or index < 0:
        raise HelperError(errors.BAD_ARGUMENT, "index must be a non-negative integer; got %r." % (index,))
    return index


def tt_detail(params, port, replay=False):
    index = _index(params)
    expand = expand_option(params, 1, 6)
    answer = _one(port, "-i %d -x %d%s" % (index, expand, " -p" if replay else ""))
    if answer is None or isinstance(answer, str):
        text = strip_ansi(answer or "").strip() or "No record %d." % index
        raise HelperError(errors.BAD_ARGUMENT, text, "List the records (tt -l) to see which indexes exist.")
    return dict(_base(answer.base_record), args=answer.args, kwargs=answer.kwargs, returnValue=answer.return_obj,
                exception=answer.exp_obj)


def tt_delete(params, port):
    param = "-da" if params.get("all") else "-d %d" % _index(params)
    answer = _one(port, param)
    return {"message": strip_ansi(answer if isinstance(answer, str) else str(answer)).strip()}
