"""`getInstances` and `forceGc`: flight-profiler's vmtool.

Instances are found as vmtool finds them (`gc.get_referrers(cls)` filtered by `isinstance`, so
instances of subclasses are not found: they refer to their own class), by PyFlight's own in-target
read (pyflight_agent/reads.py `instances`): vmtool stops at `-n` with its default expression, so the
total would be unknown, and any other expression is code, which an agent loaded with code execution
off refuses. The read counts them, renders the first `limit` one by one (each expandable in the UI)
and evaluates the user's `expr`, if any, on the whole list, all in one answer.
"""

import re

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..wire import request, strip_ansi
from .getglobal import lookup_error, require_imported
from .probes import check_expression, exception_line, expand_option, location_words

MAX_LIMIT = 1000


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
    # PyFlight's own read (pyflight_agent/reads.py instances); with `expr`, code of the user's, which
    # an agent loaded with code execution off refuses (CODE_EXECUTION_OFF).
    data = call(agent, "reads.instances", module, cls, limit, expand, bool(params.get("raw")), bool(params.get("verbose")),
                expr, timeout=60)
    if data.get("noClass"):
        raise lookup_error("No class named", module, cls)
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
    before = call(agent, "reads.gcObjectCount", timeout=60)
    rss_before = _rss_kib(pid)
    frames = request(agent, "vmtool", " -a forceGc", timeout=120)
    text = strip_ansi("".join(f for f in frames if isinstance(f, str))).strip()
    freed = _FREED.search(text)
    if not freed:
        raise HelperError(errors.INTERNAL, "gc.collect() failed in the target: %s" % (text.splitlines() or ["no answer"])[-1])
    after = call(agent, "reads.gcObjectCount", timeout=60)
    return {"unreachable": int(freed.group(1)), "objectsBefore": before, "objectsAfter": after,
            "rssKibBefore": rss_before, "rssKibAfter": _rss_kib(pid)}
