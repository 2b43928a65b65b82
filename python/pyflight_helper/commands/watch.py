"""`watch`: arguments, return value, exception and cost of each call of a function, live."""

from .. import errors
from ..errors import HelperError
from .probes import (ProbeStream, call_budget, call_text_expression, check_expression, clean_traceback,
                     exception_line, exception_type, expand_option, last_exception, limit_option, location_words, nested_option,
                     quote, signature_names, split_call_text)


def watch_args(params, names=None, agent=None):
    """The agent's argument string, validated with flight_profiler's own parser, and its -n.

    Without --expr we send our own expression (call_text_expression, with -r): the arguments as
    Python with their names, and the return value's repr."""
    words = location_words(params)
    parts = list(words)
    parts += nested_option(params)
    own_expr = not params.get("expr")
    if own_expr:
        parts += ["--expr", quote(call_text_expression(names, bool(params.get("verbose")), agent))]
    else:
        check_expression(params["expr"], "watch expression")
        parts += ["--expr", quote(params["expr"])]
    if params.get("filter"):
        check_expression(params["filter"], "filter")
        parts += ["-f", quote(params["filter"])]
    if params.get("exceptionOnly"):
        parts.append("-e")
    if params.get("raw") or own_expr:
        parts.append("-r")
    if params.get("verbose"):
        parts.append("-v")
    parts += ["-x", str(expand_option(params, 1, 4))]
    limit = limit_option(params, 10)
    matching = bool(params.get("filter") or params.get("exceptionOnly"))
    budget = call_budget(limit, matching)
    parts += ["-n", str(budget)]
    args = " ".join(parts)
    from flight_profiler.plugins.watch.watch_parser import WatchArgumentParser

    try:
        WatchArgumentParser().parse_watch_setting(args)
    except Exception as exc:  # its parser raises plain Exception / ArgumentTypeError
        raise HelperError(errors.BAD_ARGUMENT, "Invalid watch arguments: %s" % exc)
    return args, limit, matching, budget


def watch_record_factory(own_expr, has_filter=True):
    """`has_filter`: the user gave -f. The agent reports any failure while dumping a call (a value
    whose repr recurses too deep, say) as a filter failure; without a filter it is the value's."""
    def to_record(result):
        if not hasattr(result, "cost_ms"):
            return None
        record = {
            "time": result.start_time,
            "costMs": result.cost_ms,
            "isException": bool(result.is_exp),
            "exception": clean_traceback(result.exception),
            "exceptionType": exception_type(result.exception) if result.is_exp else None,
            "expr": result.expr,
            "type": result.type,
            "value": result.value,
            "expressionError": clean_traceback(last_exception(result.watch_fail_info)),
            "filterError": clean_traceback(last_exception(result.filter_fail_info)),
            "method": result.method_identifier,
        }
        if record["filterError"] and not has_filter and not record["expressionError"]:
            record["expressionError"], record["filterError"] = record["filterError"], None
        for field in ("expressionError", "filterError"):
            if record[field]:
                record[field + "Line"] = exception_line(record[field])
        if own_expr:
            # Our expression: show the arguments and the return value, not the expression's plumbing.
            arguments, returned = split_call_text(result.value) if result.value is not None else (None, None)
            record.update(expr=None, type=None, value=None, arguments=arguments,
                          returned=None if result.is_exp else returned)
        return record

    return to_record


def watch(req, agent):
    own_expr = not req.params.get("expr")
    names = signature_names(agent, req.params) if own_expr else None
    args, limit, matching, budget = watch_args(req.params, names, agent)
    stream = ProbeStream(req, agent, "watch", args, limit=limit, matching=matching, budget=budget)
    summary = stream.run(watch_record_factory(own_expr, bool(req.params.get("filter"))))
    summary["args"] = args
    return summary
