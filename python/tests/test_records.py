"""What watch records say, replayed from real agent answers (test/fixtures/recorded/agent/watch-results.json)."""

import json
import os
import types

from pyflight_helper.commands.probes import (SEEN_CALL, ProbeStream, call_budget, call_text_expression, clean_traceback,
                                             exception_line, exception_type, split_call_text)
from pyflight_helper.commands.watch import watch_args, watch_record_factory

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "agent")


def recorded(name):
    with open(os.path.join(RECORDED, "watch-results.json"), encoding="utf-8") as f:
        return types.SimpleNamespace(**json.load(f)[name]["results"][0])


def test_traceback_starts_at_user_code_without_markers():
    raw = recorded("default-expr-raising").exception
    assert "watch_agent.py" in raw and "^^^^" in raw  # what the agent sends
    text = clean_traceback(raw)
    assert text == ('Traceback (most recent call last):\n'
                    '  File "/work/wt-records/test/fixtures/records_service.py", line 27, in parse_line\n'
                    '    k, v = line.split(",")\n'
                    'ValueError: not enough values to unpack (expected 2, got 1)\n')
    assert "flight_profiler" not in text and "^" not in text


def test_raising_call_has_its_exception_type_not_the_expression_type():
    record = watch_record_factory(own_expr=False)(recorded("default-expr-raising"))
    assert record["isException"] is True
    assert record["exceptionType"] == "ValueError"
    assert exception_type("Traceback…\njson.decoder.JSONDecodeError: Expecting value") == "json.decoder.JSONDecodeError"


def test_failing_expression_is_reported_on_one_line_without_the_calls_own_exception():
    record = watch_record_factory(own_expr=False)(recorded("expr-fails"))
    assert record["expressionErrorLine"] == "NameError: name 'undefined_x' is not defined"
    assert "ValueError" not in record["expressionError"]  # that one is the call's, shown as `exception`
    assert "expression_resolver.py" not in record["expressionError"]


def test_failing_filter_is_reported_on_one_line():
    record = watch_record_factory(own_expr=False)(recorded("filter-fails"))
    assert record["filterErrorLine"] == "IndexError: tuple index out of range"
    assert "flight_profiler" not in record["filterError"]


def test_a_value_that_cannot_be_shown_is_not_called_a_filter_failure_without_a_filter():
    # The agent reports any dump failure (here the recorded filter failure) as filter_fail_info.
    record = watch_record_factory(own_expr=False, has_filter=False)(recorded("filter-fails"))
    assert record["filterError"] is None
    assert record["expressionErrorLine"] == "IndexError: tuple index out of range"


def test_own_expression_reads_as_python_with_parameter_names():
    expr = call_text_expression([("key", 1), ("value", 1), ("replace", 1)])
    scope = {"args": ("k1", 1), "kwargs": {"replace": False}, "return_obj": 3, "target": object()}
    value = repr(eval(expr, {}, scope))  # the agent sends repr() of the value (-r)
    assert split_call_text(value) == ("key='k1', value=1, replace=False", "3")


def test_own_expression_never_raises_even_when_repr_does():
    class Hostile(object):
        def __repr__(self):
            raise RuntimeError("no repr for you")

    expr = call_text_expression(None)
    text = eval(expr, {}, {"args": (Hostile(),), "kwargs": {}, "return_obj": None, "target": None})
    arguments, returned = split_call_text(repr(text))
    assert arguments.startswith("<Hostile instance at") and returned == "None"


def test_call_budget_only_grows_with_a_filter():
    assert call_budget(3, matching=False) == 3
    assert call_budget(3, matching=True) == 300
    assert call_budget(5000, matching=True) == 100000


def test_watch_args_send_the_budget_and_our_expression():
    args, limit, matching, budget = watch_args({"module": "m", "method": "f", "exceptionOnly": True, "limit": 3},
                                               names=[("line", 1)])
    assert (limit, matching, budget) == (3, True, 300)
    assert args.endswith(" -e -r -x 1 -n 300")
    args, limit, matching, budget = watch_args({"module": "m", "method": "f", "expr": "args", "limit": 3})
    assert (matching, budget) == (False, 3) and args == 'm f --expr "args" -x 1 -n 3'


class FakeRequest(object):
    """Stands in for the server's Request; the stream's frames come from a recorded list."""

    def __init__(self):
        import threading
        self.id = 1
        self.params = {}
        self.cancelled = threading.Event()
        self.records = []

    def record(self, data):
        self.records.append(data)

    def progress(self, stage, detail=None):
        pass


def test_stream_stops_after_limit_matching_records_and_says_so(monkeypatch):
    from pyflight_helper.commands import probes

    frames = ["\u2713 Spy was successfully added"] + [recorded("default-expr-raising")] * 5
    sent = []

    class Conn(object):
        def __init__(self, *a, **k):
            pass

        def send_json(self, payload):
            sent.append(payload["param"])

        def set_timeout(self, _):
            pass

        def frames(self):
            return iter(frames)

        def close(self):
            pass

    monkeypatch.setattr(probes, "AgentConnection", Conn)
    monkeypatch.setattr(probes, "agent_status", lambda port, timeout=0.5: {"pid": os.getpid()})
    monkeypatch.setattr(probes, "request", lambda port, target, param, timeout=0: sent.append(param))
    req = FakeRequest()
    stream = ProbeStream(req, 1, "watch", "m f -e -n 300", limit=3, matching=True, budget=300)
    summary = stream.run(watch_record_factory(own_expr=False))
    assert len(req.records) == 3
    assert summary["reason"] == "limit" and summary["matched"] == 3 and summary["callBudget"] == 300
    assert "off m f -e -n 300" in sent


def test_stream_that_ran_out_of_calls_says_how_many(monkeypatch):
    from pyflight_helper.commands import probes

    class Conn(object):
        def __init__(self, *a, **k):
            pass

        send_json = set_timeout = lambda self, _: None

        def frames(self):
            return iter(["\u2713 Spy was successfully added", recorded("default-expr-raising")])

        def close(self):
            pass

    monkeypatch.setattr(probes, "AgentConnection", Conn)
    monkeypatch.setattr(probes, "agent_status", lambda port, timeout=0.5: {"pid": os.getpid()})  # alive
    req = FakeRequest()
    summary = ProbeStream(req, 1, "watch", "m f -e -n 300", limit=3, matching=True, budget=300).run(
        watch_record_factory(own_expr=False))
    assert (summary["reason"], summary["calls"], summary["matched"]) == ("calls", 300, 1)
    assert SEEN_CALL is not None


def test_end_words_for_the_log():
    from pyflight_helper.commands.probes import end_words

    assert end_words({"reason": "exited", "count": 5}) == "5 records, process exited"
    assert end_words({"reason": "calls", "calls": 300, "count": 1}) == "stopped after 300 calls, 1 matched"
    assert end_words({"reason": "limit", "limit": 3, "count": 3}) == "3 records, limit of 3 reached"



def test_a_multi_line_exception_message_is_kept_whole_on_one_line():
    # Flask's message spans several lines (recorded from a real replay outside the request context):
    # the traceback's last line alone would be its tail, not the exception.
    import ast

    with open(os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "agent",
                           "tt-flask-dispatch.json"), encoding="utf-8") as f:
        traceback = ast.literal_eval(json.load(f)["replay"]["1000"]["exp_obj"])
    assert exception_type(traceback) == "RuntimeError"
    line = exception_line(traceback)
    assert line.startswith("RuntimeError: Working outside of request context. This typically means"), line
    assert "\n" not in line
