"""`trace`: where a call spends its time, as a tree of timed calls."""

from .. import errors
from ..errors import HelperError
from .probes import SEEN_CALL, ProbeStream, call_budget, check_expression, limit_option, location_words, nested_option, quote


def never_raising_filter(expr):
    """flight-profiler 1.0.7 breaks the *traced function* when a trace filter raises (the wrapper's
    error path hits a NameError, see docs/flight-profiler-notes.md). We wrap the user's expression
    so any exception counts as False; the closure still sees args, kwargs, target, return_obj, cost."""
    return ('(lambda __pf_f: (lambda __pf_ns: (exec("try:\\n __pf_r = bool(__pf_f())\\n'
            'except Exception:\\n __pf_r = False", {"__pf_f": __pf_f}, __pf_ns), __pf_ns["__pf_r"])[1])({}))'
            '(lambda: (%s))' % expr)


def trace_args(params):
    parts = list(location_words(params))
    parts += nested_option(params)
    interval = params.get("intervalMs", 0.1)
    if not isinstance(interval, (int, float)) or interval < 0:
        raise HelperError(errors.BAD_ARGUMENT, "interval (-i) must be a number of ms >= 0; got %r." % (interval,))
    parts += ["-i", repr(float(interval))]
    depth = params.get("depth")
    if depth is not None:
        if not isinstance(depth, int) or depth < 1:
            raise HelperError(errors.BAD_ARGUMENT, "depth (-d) must be an integer >= 1; got %r." % (depth,))
        parts += ["-d", str(depth)]
    limit = limit_option(params, 10)
    matching = bool(params.get("filter") or float(params.get("entranceTimeMs") or 0) > 0)
    budget = call_budget(limit, matching)
    parts += ["-n", str(budget)]
    if params.get("filter"):
        check_expression(params["filter"], "filter")
        parts += ["-f", quote(never_raising_filter(params["filter"]))]
    args = " ".join(parts)
    from flight_profiler.plugins.trace.trace_parser import TraceArgumentParser

    try:
        TraceArgumentParser().parse_trace_point(args)
    except Exception as exc:
        raise HelperError(errors.BAD_ARGUMENT, "Invalid trace arguments: %s" % exc)
    return args, limit, matching, budget


def _node(frame):
    return {
        "function": frame.method_name,
        "file": None if frame.c_frame else frame.filename,
        "line": int(frame.line_no) if str(frame.line_no).isdigit() and int(frame.line_no) > 0 else None,
        "costMs": frame.cost_ns / 1e6,
        "builtin": bool(frame.c_frame),
        "await": bool(frame.await_frame),
        "children": [_node(child) for child in frame.sub_frames
                     if not str(child.filename).startswith("<frozen importlib._bootstrap")],
    }


def trace_record_factory(entrance_ms):
    from flight_profiler.plugins.trace.trace_frame import build_frame_stack, deserialize_string_frames

    def to_record(wrap):
        if isinstance(wrap, list):  # the first frame is the target's sys.path
            return None
        if not hasattr(wrap, "frames"):
            return None
        if not wrap.frames or wrap.frames[0] is None:
            return SEEN_CALL  # the whole call was below the interval
        wrap = deserialize_string_frames(wrap)
        root = build_frame_stack(wrap.frames)
        if root.cost_ns < entrance_ms * 1e6:  # -et is a client-side filter in flight-profiler too
            return SEEN_CALL
        return {"time": root.start_ns // 1_000_000, "thread": wrap.thread_name, "threadId": wrap.thread_id,
                "daemon": wrap.is_daemon, "costMs": root.cost_ns / 1e6, "root": _node(root)}

    return to_record


def trace(req, agent):
    args, limit, matching, budget = trace_args(req.params)
    stream = ProbeStream(req, agent, "trace", args, limit=limit, matching=matching, budget=budget)
    summary = stream.run(trace_record_factory(float(req.params.get("entranceTimeMs") or 0)))
    summary["args"] = args
    return summary
