"""`tt` (time tunnel): record calls, list them, show one, replay one, delete them."""

import ast
import re
import threading

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..wire import request, strip_ansi
from .probes import (ProbeStream, call_budget, check_expression, clean_traceback, exception_block, exception_name, limit_option,
                     location_words, nested_option, one_line, quote)


def _base(record):
    return {"index": record.index, "time": record.timestamp, "costMs": record.cost_ms, "isReturn": bool(record.is_ret),
            "isException": bool(record.is_exp), "module": record.module_name, "class": record.class_name,
            "method": record.method_name}


def tt_record(req, agent):
    words = location_words(req.params)
    limit = limit_option(req.params, 50)
    matching = bool(req.params.get("filter"))
    budget = call_budget(limit, matching)
    parts = ["-t"] + words + nested_option(req.params) + ["-n", str(budget)]
    if req.params.get("filter"):
        check_expression(req.params["filter"], "filter")
        parts += ["-f", quote(req.params["filter"])]
    args = " ".join(parts)
    stream = ProbeStream(req, agent, "tt", args, limit=limit, matching=matching, budget=budget)
    summary = stream.run(lambda r: _base(r) if hasattr(r, "index") else None)
    summary["args"] = args
    return summary


def _one(agent, param, timeout=60):
    frames = request(agent, "tt", "on " + param, timeout=timeout)
    return frames[0] if frames else None


# --- Replays -------------------------------------------------------------------------------------
# `tt -i N -p` runs the call again in an agent thread and records it under a new index, like a
# captured call. A replay is told from a captured call two ways:
# - the agent stores a replay with the *same* args tuple and kwargs dict objects as the record it
#   replayed, while every captured call has its own kwargs dict; so records sharing (id(args),
#   id(kwargs)) are one call and its replays, the lowest index being the call (read from the target,
#   so it holds for every client: another CLI run, the extension, a fresh helper);
# - this helper remembers the replays it made (index → original, with the replay's time, so an index
#   reused after `tt -da` is not taken for the old replay); that covers a replay whose original was
#   deleted since.
_replays = {}
_replays_lock = threading.Lock()

def _read(agent, name, *args):
    """One of PyFlight's in-target reads (pyflight_agent/reads.py), or None when it cannot be had."""
    try:
        return call(agent, name, *args, timeout=10)
    except (OSError, HelperError, ValueError):
        return None


def replay_origins_from_identities(identities):
    """{replay index: original index} from [(index, id(args), id(kwargs))] as read from the target."""
    first = {}
    origins = {}
    for index, args_id, kwargs_id in sorted(identities):
        key = (args_id, kwargs_id)
        if key in first:
            origins[index] = first[key]
        else:
            first[key] = index
    return origins


def _replay_origins(agent, records):
    """{replay index: original index} for these records (dicts with index and time)."""
    identities = _read(agent, "reads.ttIdentities")
    origins = replay_origins_from_identities(identities) if isinstance(identities, list) else {}
    with _replays_lock:
        for r in records:
            known = _replays.get(r["index"])
            if r["index"] not in origins and known is not None and known[1] == r["time"]:
                origins[r["index"]] = known[0]
    return origins


def tt_list(agent):
    answer = _one(agent, "-l")
    if not isinstance(answer, list):
        raise HelperError(errors.INTERNAL, "Unexpected answer to tt -l: %r" % (answer,))
    records = [_base(r) for r in answer]
    origins = _replay_origins(agent, records)
    for r in records:
        r["replayOf"] = origins.get(r["index"])
    return {"records": records}


def _index(params):
    index = params.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise HelperError(errors.BAD_ARGUMENT, "index must be a non-negative integer; got %r." % (index,))
    return index


# --- Values --------------------------------------------------------------------------------------
# Asked with -r, the agent sends repr() of args (a tuple, without self for methods), kwargs, the
# return value, and the exception (the traceback *string* the wrapper or the replay thread took
# with traceback.format_exc(), so its repr is a str literal that ast.literal_eval gives back whole).
# Without -r they come in flight-profiler's own format: `("k,v")` for ('k,v',), strings over 256
# characters cut to their first and last 128, a traceback wrapped in quotes with its own quotes
# unescaped. The agent computes the whole repr; we bound what we pass on.
DEFAULT_WIDTH = 2000
VERBOSE_WIDTH = 200000


def bounded(text, width):
    if text is None or len(text) <= width:
        return text
    return text[:width] + "… (%d more characters)" % (len(text) - width)


def traceback_text(exp_obj):
    """The traceback the agent stored, from its repr; None when the call returned."""
    if exp_obj is None or exp_obj == "None":
        return None
    try:
        value = ast.literal_eval(exp_obj)
    except (ValueError, SyntaxError, TypeError, MemoryError):
        return exp_obj  # not a literal (another flight-profiler version): show the repr as is
    return value if isinstance(value, str) else repr(value)


def detail_from_answer(answer, width=DEFAULT_WIDTH):
    """A FullInvocationRecord asked with -r, as the protocol's TtDetail."""
    raised = bool(answer.base_record.is_exp)
    traceback = traceback_text(answer.exp_obj) if raised else None
    cleaned = clean_traceback(traceback) if traceback else None
    block = exception_block(cleaned)
    return dict(_base(answer.base_record), args=bounded(answer.args, width), kwargs=bounded(answer.kwargs, width),
                returnValue=None if raised else bounded(answer.return_obj, width),
                exception=bounded(cleaned, VERBOSE_WIDTH), exceptionType=exception_name(block), exceptionLine=one_line(block))


# --- Framework views -----------------------------------------------------------------------------
# A replay runs in an agent thread, outside any request: Flask's `request`, `g`, `current_app`,
# Django's request and settings set-up, FastAPI's dependencies and request scope are not there.
_CONTEXT_ERRORS = re.compile(
    r"Working outside of (application|request) context|Apps aren't loaded yet|settings are not configured|"
    r"SynchronousOnlyOperation|No current (application|request)|request context", re.IGNORECASE)
FRAMEWORKS = {"flask": "Flask", "werkzeug": "Flask", "django": "Django", "fastapi": "FastAPI", "starlette": "FastAPI"}
def frameworks_of(agent, record):
    """["Flask"], ["Django"], …: the web frameworks the replayed function's module works with."""
    found = _read(agent, "reads.frameworksOf", record["module"], record.get("class"), record["method"], sorted(FRAMEWORKS))
    if not isinstance(found, list):
        return []
    return sorted({FRAMEWORKS[name] for name in found if name in FRAMEWORKS})


def replay_hint(detail, frameworks):
    """Why a replay raised, when the reason is that it ran outside its framework's context."""
    if not detail.get("isException"):
        return None
    context_error = bool(_CONTEXT_ERRORS.search(detail.get("exceptionLine") or ""))
    if not context_error and not frameworks:
        return None
    name = ".".join(p for p in (detail.get("class"), detail.get("method")) if p)
    which = " / ".join(frameworks) if frameworks else "Flask / FastAPI / Django"
    return ("%s runs inside a web framework (%s). A replay calls it again in an agent thread, outside the "
            "application and request context the framework sets up for a request, so `request`, `g`, "
            "`current_app`, sessions and the like are missing. Replay the plain function the view calls "
            "(record that one with tt), or send the request again instead." % (name, which))


def tt_detail(params, agent, replay=False):
    index = _index(params)
    width = VERBOSE_WIDTH if params.get("verbose") else DEFAULT_WIDTH
    answer = _one(agent, "-i %d -r%s" % (index, " -p" if replay else ""))
    if answer is None or isinstance(answer, str):
        text = strip_ansi(answer or "").strip() or "No record %d." % index
        raise HelperError(errors.BAD_ARGUMENT, text, "List the records (tt -l) to see which indexes exist.")
    detail = detail_from_answer(answer, width)
    if replay:
        origins = _replay_origins(agent, [])
        with _replays_lock:
            known = _replays.get(index)
            # A replay of a replay is one more run of the original call.
            original = origins.get(detail["index"]) or origins.get(index) or (known[0] if known else index)
            _replays[detail["index"]] = (original, detail["time"])
        detail["replayOf"] = original
        hint = replay_hint(detail, frameworks_of(agent, detail) if detail["isException"] else [])
        if hint:
            detail["hint"] = hint
    else:
        detail["replayOf"] = _replay_origins(agent, [detail]).get(index)
    return detail


def tt_delete(params, agent):
    param = "-da" if params.get("all") else "-d %d" % _index(params)
    answer = _one(agent, param)
    with _replays_lock:
        if params.get("all"):
            _replays.clear()  # the agent starts again at index 1000
        else:
            _replays.pop(params.get("index"), None)
    return {"message": strip_ansi(answer if isinstance(answer, str) else str(answer)).strip()}
