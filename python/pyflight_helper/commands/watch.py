"""`watch`: arguments, return value, exception and cost of each call of a function, live."""

from .. import errors
from ..errors import HelperError
from .probes import ProbeStream, check_expression, expand_option, limit_option, location_words, nested_option, quote


def watch_args(params):
    """The agent's argument string, validated with flight_profiler's own parser."""
    words = location_words(params)
    parts = list(words)
    parts += nested_option(params)
    expr = params.get("expr") or "args,kwargs"
    check_expression(expr, "watch expression")
    parts += ["--expr", quote(expr)]
    if params.get("filter"):
        check_expression(params["filter"], "filter")
        parts += ["-f", quote(params["filter"])]
    if params.get("exceptionOnly"):
        parts.append("-e")
    if params.get("raw"):
        parts.append("-r")
    if params.get("verbose"):
        parts.append("-v")
    parts += ["-x", str(expand_option(params, 1, 4))]
    limit = limit_option(params, 10)
    parts += ["-n", str(limit)]
    args = " ".join(parts)
    from flight_profiler.plugins.watch.watch_parser import WatchArgumentParser

    try:
        WatchArgumentParser().parse_watch_setting(args)
    except Exception as exc:  # its parser raises plain Exception / ArgumentTypeError
        raise HelperError(errors.BAD_ARGUMENT, "Invalid watch arguments: %s" % exc)
    return args, limit


def watch_record(result):
    if not hasattr(result, "cost_ms"):
        return None
    return {
        "time": result.start_time,
        "costMs": result.cost_ms,
        "isException": bool(result.is_exp),
        "exception": result.exception,
        "expr": result.expr,
        "type": result.type,
        "value": result.value,
        "expressionError": result.watch_fail_info,
        "filterError": result.filter_fail_info,
        "method": result.method_identifier,
    }


def watch(req, port):
    args, limit = watch_args(req.params)
    stream = ProbeStream(req, port, "watch", args)
    summary = stream.run(watch_record, limit)
    summary["args"] = args
    return summary
