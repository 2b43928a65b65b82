"""`memCensus` and `memDiff`: PyFlight's heap census (pyflight_agent/census.py, in the target, in
slices that give the GIL back) once, or twice `interval` seconds apart and compared here.

The diff answers the rows of every type whose count or size changed (deltas), ranked by what the
user can fix: a class written in Python by the growth of its instances plus what they own alone
(each Session's list and its 64 floats), a built-in type by the growth that no owner explains. With
them: the named containers (module globals, class attributes) that grew, and the functools lru
caches that grew, with the decorated function.

Errors name the stage: "The first census was stopped after 60 s at 62 % …".
"""

import sys
import time

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..target import is_alive
from ..wire import InTargetError

MAX_INTERVAL = 3600
MAX_LIMIT = 100000
ORDERS = ("growth", "size", "descending", "ascending")


def _number(params, name, default, low, high, whole=True):
    value = params.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)) or not low <= value <= high:
        raise HelperError(errors.BAD_ARGUMENT, "%s must be %s from %s to %s, got %r." % (
            name, "a whole number" if whole else "a number", low, high, value))
    return value


def census_spec(params):
    return {
        "maxSeconds": _number(params, "maxSeconds", 120, 1, 3600, whole=False),
        "sample": _number(params, "sample", 1, 1, 1000),
        "sliceMs": _number(params, "sliceMs", 8, 1, 200, whole=False),
        "yieldMs": _number(params, "yieldMs", 1, 0, 100, whole=False),
        "owners": params.get("owners", True) is not False,
    }


def _exited(pid):
    """TARGET_EXITED when the process is gone (an answer that failed because the target died is its exit)."""
    if pid is None:
        return None
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return HelperError(errors.TARGET_EXITED, "Process %d exited." % pid, "Start the program again and attach to the new process.")
        time.sleep(0.05)
    return None


def run_census(req, agent, stage, spec, label, pid=None):
    """One census in the target; progress `census` (detail: "<label> <percent>") as it goes."""
    last = {"percent": -1}

    def progress(data):
        percent = data.get("percent", 0) if isinstance(data, dict) else 0
        if percent != last["percent"]:
            last["percent"] = percent
            req.progress("census", "%s %d %d" % (label, percent, data.get("objects", 0)))
            last["objects"] = data.get("objects", 0)

    started = time.monotonic()
    try:
        result = call(agent, "census.census", spec, timeout=max(60.0, spec["maxSeconds"] / 2), progress=progress,
                      cancelled=req.cancelled)
    except HelperError as exc:
        if exc.code == errors.CANCELLED:
            raise HelperError(errors.CANCELLED, "Memory %s cancelled during %s at %d %%; the census stopped in the process too."
                              % ("census" if label == "census" else "diff", stage, max(0, last["percent"])),
                              "The process runs normally; nothing stays in it.")
        exited = _exited(pid) if not isinstance(exc, InTargetError) else None
        if exited is not None:
            raise exited
        if isinstance(exc, InTargetError):
            if exc.traceback:
                for line in exc.traceback.splitlines():
                    sys.stderr.write("TRACEBACK %s\n" % line)
                sys.stderr.flush()
            raise HelperError(exc.code, "%s failed in the process at %d %%: %s" % (stage[0].upper() + stage[1:], max(0, last["percent"]), exc.message),
                              exc.hint or ("Its traceback is in the PyFlight log (View → Output → PyFlight); please report it."
                                           if exc.traceback else "See the PyFlight log."))
        raise HelperError(exc.code, "%s failed after %d s at %d %%: %s" % (
            stage[0].upper() + stage[1:], time.monotonic() - started, max(0, last["percent"]), exc.message), exc.hint)
    except OSError as exc:
        exited = _exited(pid)
        if exited is not None:
            raise exited
        raise HelperError(errors.INTERNAL, "%s failed after %d s at %d %%: %s" % (
            stage[0].upper() + stage[1:], time.monotonic() - started, max(0, last["percent"]), exc),
            "The agent stopped answering; see the PyFlight log.")
    if result.get("stoppedBy") is None and last["percent"] != 100:
        req.progress("census", "%s 100 %d" % (label, result.get("tracked", 0)))
    if result.get("stoppedBy") == "time":
        tracked = result.get("tracked", 0)
        raise HelperError(errors.CENSUS_STOPPED, "%s was stopped after %d s at %d %%: the heap has %s objects the collector tracks "
                          "(and more it does not)." % (stage[0].upper() + stage[1:], spec["maxSeconds"], result.get("percent", 0),
                                                       _millions(tracked)),
                          "Count a sample (`--sample 4` counts every 4th object, about 4x faster) or allow more time (`--max-seconds`).")
    if result.get("stoppedBy") == "cancelled":
        raise HelperError(errors.CANCELLED, "Memory census cancelled during %s." % stage, "The process runs normally.")
    return result


def _millions(n):
    return "%.1f M" % (n / 1e6) if n >= 1e6 else "{:,}".format(n)


def mem_census(req, agent, pid=None):
    spec = census_spec(req.params)
    started = time.time()
    result = run_census(req, agent, "the census", spec, "census", pid)
    result.update({"kind": "census", "capturedAt": int(started * 1000)})
    return result


def mem_summary(req, agent, pid=None):
    """The biggest types now, from one census (the default), or from pympler (`engine: pympler`:
    flight-profiler's `mem summary`, one walk that holds the GIL; kept for comparing, e.g. the bench)."""
    from . import mem

    params = req.params
    if params.get("engine") == "pympler":
        result = mem.mem_summary(req, agent, pid)
        result["engine"] = "pympler"
        return result
    if params.get("engine") not in (None, "census"):
        raise HelperError(errors.BAD_ARGUMENT, "engine must be census or pympler, got %r." % (params.get("engine"),))
    limit, order, _args = mem.summary_args(params)
    spec = census_spec({k: v for k, v in params.items() if k in ("maxSeconds", "sample", "sliceMs", "yieldMs")})
    spec["owners"] = False
    started = time.time()
    result = run_census(req, agent, "the census", spec, "census", pid)
    rows = sorted(result["rows"], key=lambda r: (-r["size"], -r["count"], r["type"]))
    if order == "ascending":
        rows = sorted(rows, key=lambda r: (r["size"], r["count"], r["type"]))
    rows = [dict(r, sizeText="%d B" % r["size"], sizeApprox=False) for r in rows[:limit]]
    args = "summary --limit %d --order %s" % (limit, order)
    return {"kind": "summary", "engine": "census", "capturedAt": int(started * 1000), "limit": limit, "order": order, "rows": rows,
            "census": _stats(result), "args": args}


def _stats(census):
    return {k: census.get(k) for k in ("tracked", "walked", "sample", "ownerTiers", "listMs", "longestSliceMs", "listCpuMs", "longestSliceCpuMs", "slices", "elapsedMs", "listBytes", "python")}


def _task_growth(first, second):
    """Pending asyncio tasks by coroutine and suspension point, with how many more there are now."""
    before = {(g["file"], g["coroutine"], g["line"]): g["count"] for g in first.get("tasks", [])}
    out = [dict(g, grown=g["count"] - before.get((g["file"], g["coroutine"], g["line"]), 0)) for g in second.get("tasks", [])]
    return [g for g in out if g["grown"] > 0][:5]


def imported_meanwhile(first, second):
    """The modules the second census saw that the first did not (none when either did not list them)."""
    if not first.get("modules") or not second.get("modules"):
        return set()
    return set(second["modules"]) - set(first["modules"])


def module_of(path, modules):
    """The module of `modules` a dotted name (`celery.app.defaults._TO_OLD_KEY`) is in, or None."""
    name = path
    while "." in name:
        name = name.rsplit(".", 1)[0]
        if name in modules:
            return name
    return None


def diff_censuses(first, second, interval, limit, order):
    """Rows of the types that changed, ranked (see the module doc); containers and caches that grew."""
    a = {r["type"]: r for r in first["rows"]}
    b = {r["type"]: r for r in second["rows"]}
    owners_a = {o["type"]: o for o in first.get("owners", [])}
    owners_b = {o["type"]: o for o in second.get("owners", [])}
    # What the growth of each owner class explains, by owned type (bytes and objects).
    explained = {}
    owner_growth = {}
    for name in set(owners_a) | set(owners_b):
        oa, ob = owners_a.get(name), owners_b.get(name)
        kinds_a = (oa or {}).get("ownedTypes", {})
        kinds_b = (ob or {}).get("ownedTypes", {})
        owned = (ob or {}).get("ownedSize", 0) - (oa or {}).get("ownedSize", 0)
        owner_growth[name] = owned
        for kind in set(kinds_a) | set(kinds_b):
            dc = kinds_b.get(kind, [0, 0])[0] - kinds_a.get(kind, [0, 0])[0]
            ds = kinds_b.get(kind, [0, 0])[1] - kinds_a.get(kind, [0, 0])[1]
            if ds > 0 or dc > 0:
                explained.setdefault(kind, []).append({"owner": name, "count": dc, "size": ds})
    # A named container's own table grows too (a dict of 40,000 entries resizes by 1 MB at once).
    resized = {}
    sized_before = {c["id"]: c for c in first.get("containers", [])}
    for c in second.get("containers", []):
        prior = sized_before.get(c["id"])
        if prior and prior["path"] == c["path"] and c.get("size") is not None and prior.get("size") is not None and c["size"] > prior["size"]:
            resized.setdefault(c["type"], []).append({"owner": c["path"], "count": 0, "size": c["size"] - prior["size"]})
    # An lru cache's own dict (not reachable from Python, so no named container) and the tuples it keys
    # entries by grow with its entries: what the cache explains (a judge saw "dict" and "tuple" grow beside one).
    caches_first = {c["id"]: c for c in first.get("caches", [])}
    for c in second.get("caches", []):
        prior = caches_first.get(c["id"])
        keys, prior_keys = c.get("keys") or {}, (prior or {}).get("keys") or {}
        owner = "the lru_cache of %s" % c.get("function", "?")
        if prior is not None and keys.get("table") is not None and prior_keys.get("table") is not None and keys["table"] > prior_keys["table"]:
            resized.setdefault("dict", []).append({"owner": owner, "count": 0, "size": keys["table"] - prior_keys["table"]})
        grown = c.get("currsize", 0) - (prior or {}).get("currsize", 0)
        if grown > 0 and keys.get("tuples") and keys.get("sampled"):
            n = int(round(grown * keys["tuples"] / float(keys["sampled"])))
            explained.setdefault("tuple", []).append({"owner": owner + " (its keys)", "count": n, "size": n * keys.get("tupleBytes", 0)})
        if grown > 0 and keys.get("result"):
            # an unbounded cache's results of an atomic type (one float per entry)
            explained.setdefault(keys["result"]["type"], []).append({"owner": owner + " (its results)", "count": grown,
                                                                     "size": grown * keys["result"]["bytes"]})
    rows = []
    for name in set(a) | set(b):
        ra, rb = a.get(name, {"count": 0, "size": 0}), b.get(name, {"count": 0, "size": 0})
        count, size = rb["count"] - ra["count"], rb["size"] - ra["size"]
        row = {"type": name, "count": count, "size": size, "sizeText": "%d B" % size, "sizeApprox": False,
               "before": {"count": ra["count"], "size": ra["size"]}}
        ob = owners_b.get(name)
        if ob is not None or name in owners_a:
            row["owned"] = owner_growth.get(name, 0)
            row["growth"] = size + row["owned"]
            if ob and ob.get("instances"):
                per = ob["instances"]
                row["ownsEach"] = {k: round(v[0] / per, 2) for k, v in ob["ownedTypes"].items() if v[0] / per >= 0.01}
                row["ownedNow"] = ob["ownedSize"]
        else:
            by = sorted(explained.get(name, []) + resized.get(name, []), key=lambda e: -e["size"])
            covered = sum(e["size"] for e in by)
            row["growth"] = size - covered if size > 0 else size
            if by:
                row["explainedBy"] = by[:3]
        if row["count"] == 0 and row["size"] == 0 and not row.get("owned"):
            continue  # nothing changed: no all-zero rows
        rows.append(row)
    if order in ("size", "descending"):
        rows.sort(key=lambda r: (-r["size"], -r["count"], r["type"]))
    elif order == "ascending":
        rows.sort(key=lambda r: (r["size"], r["count"], r["type"]))
    else:
        rows.sort(key=lambda r: (-r["growth"], -r["size"], r["type"]))
    # Named containers and caches that grew.
    # One container may have several names (`from celery.app.defaults import DEFAULTS` elsewhere):
    # matched by name first, then by id alone, so an alias the first census did not list is not new.
    before = {c["id"]: c for c in first.get("containers", [])}
    before_named = {(c["id"], c["path"]): c for c in first.get("containers", [])}
    meanwhile = imported_meanwhile(first, second)
    containers = []
    for c in second.get("containers", []):
        prior = before_named.get((c["id"], c["path"])) or before.get(c["id"])
        if prior is None and module_of(c["path"], meanwhile):
            continue  # a module imported during the interval: its tables are new, not grown
        grown = c["len"] - (prior["len"] if prior else 0)
        if grown > 0:
            containers.append(dict(c, grown=grown, new=prior is None))
    containers.sort(key=lambda c: -c["grown"])
    caches_before = {c["id"]: c for c in first.get("caches", [])}
    caches = []
    for c in second.get("caches", []):
        prior = caches_before.get(c["id"])
        grown = c["currsize"] - (prior["currsize"] if prior else 0)
        caches.append(dict(c, grown=grown))
    caches.sort(key=lambda c: (-c["grown"], -c["currsize"]))
    return rows[:limit], containers[:50], [c for c in caches if c["grown"] > 0 or c["currsize"] >= 1000][:20]


def mem_diff(req, agent, pid=None):
    """progress `census` (detail: "first|second <percent> <objects>") during each census, `waiting`
    (detail: seconds) between them; ends with the rows (deltas)."""
    params = req.params
    interval = _number(params, "interval", 10, 1, MAX_INTERVAL)
    limit = _number(params, "limit", 30, 1, MAX_LIMIT)
    order = params.get("order", "growth")
    if order not in ORDERS:
        raise HelperError(errors.BAD_ARGUMENT, "order must be growth, size, descending or ascending, got %r." % (order,))
    spec = census_spec(params)
    started = time.time()
    first_span = _timed(req, agent, "the first census", spec, "first", pid)
    first = first_span[2]
    # the same instances' owned objects walked in every census (issue 19: sampled owners of big classes)
    spec = dict(spec, ownerTiers=first.get("ownerTiers") or {})
    end = time.monotonic() + interval
    # RSS at the ends of the waits: how it moved while no census ran (a census allocates in the
    # process too, and the allocator may keep some of it: that is PyFlight's, not the process's growth).
    waits = []
    mark = (time.monotonic(), _rss(pid))
    middle = None
    middle_skipped = None
    if params.get("middle") is True:
        # A census halfway too (issue 19's steady services): growth that shows in both halves is a trend,
        # a batch of objects alive at one census only (a request in flight, a report being built) is not.
        # Only when a census is short beside the interval (it then fits in the wait for the last one, the
        # diff takes no longer): on a heap of millions of objects the census itself lasts seconds (and
        # the diagnosis then judges growth by its size alone).
        if first.get("elapsedMs", 0) > interval * 1000 / 2.0:
            middle_skipped = "the first census took %.1f s of a %d s interval" % (first.get("elapsedMs", 0) / 1000.0, interval)
        else:
            # Started so that the three censuses' midpoints are evenly spaced when it lasts as long as the first.
            lead = max(0.0, (interval - (first_span[1] - first_span[0])) / 2.0)
            _wait(req, pid, time.monotonic() + lead, lead, "censuses", "middle")
            waits.append((mark, (time.monotonic(), _rss(pid))))
            middle_span = _timed(req, agent, "the middle census", spec, "middle", pid)
            middle = middle_span[2]
            mark = (time.monotonic(), _rss(pid))
    _wait(req, pid, end, interval if middle is None else max(0, end - time.monotonic()), "two censuses" if middle is None else "censuses", "second")
    waits.append((mark, (time.monotonic(), _rss(pid))))
    second_at = time.time()
    second_span = _timed(req, agent, "the second census", spec, "second", pid)
    second = second_span[2]
    rows, containers, caches = diff_censuses(first, second, interval, limit, order)
    if middle is not None:
        # The first half's deltas of the rows and caches kept (by type / by cache id).
        half_rows, _c, _caches = diff_censuses(first, middle, interval / 2.0, MAX_LIMIT, order)
        by_type = {r["type"]: r for r in half_rows}
        for row in rows:
            h = by_type.get(row["type"])
            row["firstHalf"] = {"count": h["count"], "size": h["size"], "growth": h["growth"]} if h else {"count": 0, "size": 0, "growth": 0}
        middle_sizes = {c["id"]: c["currsize"] for c in middle.get("caches", [])}
        for c in caches:
            at_middle = middle_sizes.get(c["id"])
            c["firstHalfGrown"] = at_middle - (c["currsize"] - c["grown"]) if at_middle is not None else None
    args = "diff --interval %d --limit %d --order %s" % (interval, limit, order)
    if spec["sample"] > 1:
        args += " --sample %d" % spec["sample"]
    answer = {"kind": "diff", "engine": "census", "capturedAt": int(started * 1000), "secondAt": int(second_at * 1000),
              "endedAt": int(time.time() * 1000), "intervalSeconds": interval, "limit": limit, "order": order, "rows": rows,
              "containers": containers, "caches": caches, "tasks": _task_growth(first, second),
              "census": [_stats(first)] + ([_stats(middle)] if middle is not None else []) + [_stats(second)],
              "totals": {"before": _totals(first), "after": _totals(second)}, "args": args,
              # a holder in one of these is a module's table, new since the first census, not what grows
              "importedMeanwhile": sorted(imported_meanwhile(first, second))[:500]}
    if all(a[1] is not None and b[1] is not None for a, b in waits):
        answer["rssBetween"] = {"before": waits[0][0][1], "after": waits[-1][1][1], "grown": sum(b[1] - a[1] for a, b in waits),
                                "seconds": round(sum(b[0] - a[0] for a, b in waits), 1)}
    if middle is not None:
        # Where the middle census fell in the interval: objects are counted all along a census (its
        # midpoint), caches read at its end. A steady trend gains about this share in the first half.
        def share(at):
            whole = at(second_span) - at(first_span)
            return round((at(middle_span) - at(first_span)) / whole, 3) if whole > 0 else 0.5
        answer["firstHalfShare"] = {"rows": share(lambda sp: (sp[0] + sp[1]) / 2.0), "caches": share(lambda sp: sp[1])}
    if params.get("middle") is True:
        answer["halves"] = middle is not None
        if middle_skipped:
            answer["middleSkipped"] = middle_skipped
    return answer


def _timed(req, agent, stage, spec, label, pid):
    """run_census with its start and end (monotonic): (start, end, result)."""
    start = time.monotonic()
    result = run_census(req, agent, stage, spec, label, pid)
    return start, time.monotonic(), result


def _rss(pid):
    """The process's resident memory in bytes (/proc), or None."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _wait(req, pid, end, seconds, between, next_census):
    """Waits until `end` (monotonic), checking that the process lives and that nobody cancelled.
    Progress `waiting` with "<seconds> <the census that comes next>" (middle or second)."""
    req.progress("waiting", "%d %s" % (int(round(seconds)), next_census))
    checked = time.monotonic()
    while time.monotonic() < end:
        if pid is not None and time.monotonic() - checked >= 0.5:
            checked = time.monotonic()
            if not is_alive(pid):
                raise HelperError(errors.TARGET_EXITED, "Process %d exited." % pid, "Start the program again and attach to the new process.")
        if req.cancelled.is_set():
            raise HelperError(errors.CANCELLED, "Memory diff cancelled between its %s." % between,
                              "The process runs normally; nothing stays in it.")
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def _totals(census):
    return {"objects": sum(r["count"] for r in census["rows"]), "size": sum(r["size"] for r in census["rows"])}
