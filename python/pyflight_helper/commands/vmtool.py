"""`getInstances` and `forceGc`: flight-profiler's vmtool.

vmtool finds instances with `gc.get_referrers(cls)` filtered by `isinstance`, so instances of
subclasses are not found (they refer to their own class). With the default `-e instances` it stops
at `-n`, so the total is unknown; we send our own expression instead (the agent then collects every
instance), which counts them, renders the first `limit` one by one (each expandable in the UI) and
evaluates the user's `expr` on the whole list, all in one answer sent with `-r` (a repr of plain
data, read back with ast.literal_eval). The expression never raises in the target.
"""

import ast
import re

from .. import errors
from ..errors import HelperError
from ..wire import request, strip_ansi
from .getglobal import _getglobal_raw, lookup_error, require_imported
from .probes import check_expression, exception_line, expand_option, location_words, quote

MAX_LIMIT = 1000

# Runs inside the target: must never raise and never call more than the renderer does.
_INSTANCES_CODE = """
try:
    from flight_profiler.common.dumps import encode_obj_to_transfer as _enc
    _all = _pf_args["instances"]
    _shown = []
    for _o in _all[:_pf_args["limit"]]:
        try:
            _t = _enc(_o, max_depth=_pf_args["expand"], raw_output=_pf_args["raw"], verbose=_pf_args["verbose"])
        except Exception as _e:
            _t = "<cannot render: %s: %s>" % (type(_e).__name__, _e)
        _shown.append((id(_o), "%s.%s" % (type(_o).__module__, type(_o).__qualname__), _t))
    _res = {"count": len(_all), "instances": _shown}
    if _pf_args["expr"] is not None:
        try:
            _v = eval(_pf_args["expr"], {"instances": _all})
            _res["value"] = _enc(_v, max_depth=_pf_args["expand"], raw_output=_pf_args["raw"], verbose=_pf_args["verbose"])
            _res["type"] = str(type(_v))
        except Exception:
            import traceback as _tb
            _res["error"] = _tb.format_exc()
    _pf_out = _res
except Exception as _e:
    _pf_out = {"internal": "%s: %s" % (type(_e).__name__, _e)}
"""


def _instances_expression(limit, expand, raw, verbose, expr):
    settings = '{"limit": %d, "expand": %d, "raw": %r, "verbose": %r, "expr": %r}' % (limit, expand, raw, verbose, expr)
    # One dict for globals and locals, so the code's comprehensions and names see each other.
    return ('(lambda __pf_g: (exec(%r, __pf_g), __pf_g.get("_pf_out"))[1])({"_pf_args": dict(%s, instances=instances)})'
            % (_INSTANCES_CODE, settings))


def get_instances(params, agent):
    module, cls = params.get("module"), params.get("class")
    if not cls:
        raise HelperError(errors.BAD_ARGUMENT, "getInstances needs a class: `module class`.")
    location_words({"module": module, "field": cls}, last="field")
    if "." in cls:
        raise HelperError(errors.CLASS_NOT_FOUND, "Nested class %s cannot be looked up by vmtool." % cls,
                          "vmtool finds top-level classes of a module (getattr(module, name)) only.")
    limit = params.get("limit", 10)
    if limit is None:
        limit = 10
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise HelperError(errors.BAD_ARGUMENT, "limit (-n) must be 1 to %d; got %r." % (MAX_LIMIT, limit))
    expand = expand_option(params, 1, 6)
    expr = params.get("expr") or None
    if expr:
        check_expression(expr, "expression")
    require_imported(agent, module)
    code = _instances_expression(limit, expand, bool(params.get("raw")), bool(params.get("verbose")), expr)
    frames = request(agent, "vmtool", " -a getInstances -c %s %s -e %s -r" % (module, cls, quote(code)), timeout=60)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str):
        raise lookup_error(answer, module, cls)
    if answer.failed:
        raise HelperError(errors.INTERNAL, "Listing instances failed in the target: %s" % exception_line(answer.failed_reason))
    data = ast.literal_eval(answer.value)
    if not isinstance(data, dict) or "internal" in data:
        raise HelperError(errors.INTERNAL, "Listing instances failed in the target: %s" % (data or {}).get("internal"))
    if data["count"] == 0:
        raise HelperError(errors.NO_INSTANCES, "No live instances of %s.%s in the process." % (module, cls),
                          "None exists right now, or vmtool cannot see them: it finds an instance by the reference it holds to its "
                           "class, which instances of built-in and C extension types do not have; instances of subclasses "
                           "count for the subclass only.")
    if "error" in data:
        raise HelperError(errors.BAD_EXPRESSION, "The expression %s failed in the target: %s" % (expr, exception_line(data["error"])),
                          "The expression sees the list of instances as `instances`, e.g. len(instances) or instances[0].name.")
    result = {"module": module, "class": cls, "count": data["count"], "limit": limit, "expand": expand, "raw": bool(params.get("raw")),
              "instances": [{"id": i, "type": t, "value": v} for i, t, v in data["instances"]]}
    if expr:
        result.update({"expr": expr, "type": data["type"], "value": data["value"]})
    return result


_FREED = re.compile(r"totally (\d+) unreachable objects are freed")
_COUNT_OBJECTS = "len(__import__('gc').get_objects())"


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def force_gc(pid, agent):
    """gc.collect() in the target, with what can be measured around it: the objects the collector
    tracks (gc.get_objects()) and the resident set before and after."""
    before = _getglobal_raw(agent, ["sys", "modules"], _COUNT_OBJECTS)
    rss_before = _rss_kib(pid)
    frames = request(agent, "vmtool", " -a forceGc", timeout=120)
    text = strip_ansi("".join(f for f in frames if isinstance(f, str))).strip()
    freed = _FREED.search(text)
    if not freed:
        raise HelperError(errors.INTERNAL, "gc.collect() failed in the target: %s" % (text.splitlines() or ["no answer"])[-1])
    after = _getglobal_raw(agent, ["sys", "modules"], _COUNT_OBJECTS)
    return {"unreachable": int(freed.group(1)), "objectsBefore": before, "objectsAfter": after,
            "rssKibBefore": rss_before, "rssKibAfter": _rss_kib(pid)}
