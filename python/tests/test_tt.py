"""What tt details, replays and lists say, replayed from real agent answers
(test/fixtures/recorded/agent/tt-*.json, recorded with test/fixtures/record_tt_answers.py)."""

import ast
import json
import os
import types

from pyflight_helper.commands.tt import (DEFAULT_WIDTH, bounded, detail_from_answer, exception_block, replay_hint,
                                         replay_origins_from_identities)

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "agent")


def recorded(name):
    with open(os.path.join(RECORDED, "tt-%s.json" % name), encoding="utf-8") as f:
        return json.load(f)


def answer(fields):
    return types.SimpleNamespace(**dict(fields, base_record=types.SimpleNamespace(**fields["base_record"])))


SERVICE = recorded("tt-service")
FLASK = recorded("flask-dispatch")


def test_values_read_as_python():
    detail = detail_from_answer(answer(SERVICE["detail"]["1000"]))
    assert detail["args"] == "('k897,897',)"
    assert detail["kwargs"] == "{'sep': ','}"
    assert detail["returnValue"] == "{'key': 'k897', 'value': 897}"
    assert detail["exception"] is None
    for field in ("args", "kwargs", "returnValue"):
        ast.literal_eval(detail[field])  # Python, not flight-profiler's own format
    # What the agent sends without -r: `(\n  "k897,897"\n)` is not the tuple ('k897,897',).
    assert SERVICE["detailDefault"]["1000"]["args"] == '(\n  "k897,897"\n)'


def test_a_raising_call_has_its_whole_exception_once_unescaped_user_code_first():
    detail = detail_from_answer(answer(SERVICE["detail"]["1002"]))
    assert detail["returnValue"] is None
    assert detail["exceptionType"] == "ValueError"
    assert detail["exceptionLine"] == (
        "ValueError: no ',' in 'bad899': every line must be 'key,value'. The parser stops at the first line without a "
        "separator; the lines after it are not read, and the caller sees \"bad input\" for the whole batch. Fix the "
        "producer, or call lookup(line, sep=...) with the separator it uses.")
    lines = detail["exception"].splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].endswith('tt_service.py", line 14, in lookup')  # user code first: the agent's wrapper is gone
    assert "flight_profiler" not in detail["exception"] and "^^^" not in detail["exception"]
    assert "\\n" not in detail["exception"] and "\\'" not in detail["exception"]
    # Before: the agent's own rendering cut the traceback in the middle.
    assert "..." in SERVICE["detailDefault"]["1002"]["exp_obj"]
    assert "every line must be" not in SERVICE["detailDefault"]["1002"]["exp_obj"]


def test_a_flask_view_replayed_outside_its_request_context():
    replay = detail_from_answer(answer(FLASK["replay"]["1000"]))
    assert replay["isException"] is True
    assert replay["exceptionLine"].startswith("RuntimeError: Working outside of request context. This typically means")
    assert replay["exceptionLine"].endswith("information about how to avoid this problem.")
    assert replay["exception"].splitlines()[1].endswith('flask/app.py", line 889, in dispatch_request')
    hint = replay_hint(replay, [])
    assert "request context" in hint and "Flask / FastAPI / Django" in hint
    assert "(Flask)" in replay_hint(replay, ["Flask"])


def test_a_view_that_raises_anything_gets_the_hint_a_plain_function_does_not():
    raised = detail_from_answer(answer(SERVICE["replay"]["1002"]))
    assert raised["exceptionType"] == "ValueError"
    assert replay_hint(raised, []) is None
    assert "Flask" in replay_hint(raised, ["Flask"])
    assert replay_hint(detail_from_answer(answer(SERVICE["replay"]["1000"])), ["Flask"]) is None  # it returned


def test_replays_share_the_original_calls_args_and_kwargs():
    identities = ast.literal_eval(SERVICE["identities"]["value"])
    # 1004 replayed the raising call 1002, 1005 the call 1000; captured calls stand alone.
    assert replay_origins_from_identities(identities) == {1004: 1002, 1005: 1000}
    assert SERVICE["replay"]["1002"]["base_record"]["index"] == 1004
    assert SERVICE["replay"]["1000"]["base_record"]["index"] == 1005
    flask = ast.literal_eval(FLASK["identities"]["value"])
    assert replay_origins_from_identities(flask) == {1001: 1000}


def test_values_are_bounded():
    assert bounded("x" * 10, 10) == "x" * 10
    assert bounded("x" * (DEFAULT_WIDTH + 5), DEFAULT_WIDTH) == "x" * DEFAULT_WIDTH + "… (5 more characters)"


def test_exception_block_of_a_chained_exception_is_the_last_one():
    text = ("Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    g()\nKeyError: 'x'\n\n"
            "During handling of the above exception, another exception occurred:\n\n"
            "Traceback (most recent call last):\n  File \"a.py\", line 3, in f\n    raise LookupError('a\\nb')\n"
            "LookupError: a\nb\n")
    assert exception_block(text) == "LookupError: a\nb"
