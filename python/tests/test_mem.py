"""mem summary / mem diff: the agent's recorded answers (test/fixtures/recorded/mem/) parsed into rows."""

import json
import os

import pytest

from pyflight_helper import errors
from pyflight_helper.commands.mem import _table_or_error, diff_args, parse_size, parse_table, summary_args
from pyflight_helper.errors import HelperError

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "mem")


def answer(name):
    with open(os.path.join(RECORDED, name)) as f:
        return json.load(f)["frames"]


def test_summary_rows_are_typed_in_the_agents_order():
    rows = parse_table(answer("summary-limit-15.json")[0])
    assert len(rows) == 15
    assert rows[0] == {"type": "code", "count": 5658, "size": int(round(2.09 * 1024 * 1024)), "sizeText": "2.09 MB", "sizeApprox": True}
    assert all(set(r) == {"type", "count", "size", "sizeText", "sizeApprox"} for r in rows)
    sizes = [r["size"] for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert all(isinstance(r["count"], int) and r["count"] > 0 for r in rows)
    assert "str" in [r["type"] for r in rows] and "dict" in [r["type"] for r in rows]


def test_ascending_summary_has_exact_small_sizes():
    rows = parse_table(answer("summary-ascending.json")[0])
    assert [r["sizeText"] for r in rows][:1] == ["16     B"]
    assert all(r["size"] < 1024 and r["sizeApprox"] is False for r in rows)


def test_diff_answer_waits_then_names_the_leaking_class_first():
    frames = answer("diff-interval-3.json")
    assert frames[0] == "wait for 3 seconds"
    rows = parse_table(frames[1])
    assert rows[0]["type"] == "__main__.LeakyCacheEntry"
    assert rows[0]["count"] > 0 and rows[0]["size"] > 100 * 1024
    # pympler's own first snapshot is alive during the second: one list and one str per type
    assert {"list", "str"} <= {r["type"] for r in rows[:4]}
    # a class whose name is HTML: pympler keeps the whole repr when the name has spaces
    hostile = [r for r in rows if "onerror" in r["type"]]
    assert hostile == [{"type": "<class '__main__.<img src=x onerror=window.__pwned=1>'>", "count": 78,
                        "size": int(round(9.22 * 1024)), "sizeText": "9.22 KB", "sizeApprox": True}]


def test_sizes():
    assert parse_size("224     B") == (224, False)
    assert parse_size("-4096     B") == (-4096, False)
    assert parse_size("  1.24 MB") == (int(round(1.24 * 1024 * 1024)), True)
    assert parse_size("746.40 KB") == (int(round(746.40 * 1024)), True)
    with pytest.raises(ValueError):
        parse_size("12 parsecs")


def test_type_names_with_spaces_and_bars_survive():
    text = ("                     types |   # objects |   total size\n"
            "========================== | =========== | ============\n"
            "  function (a | b) |           2 |    272     B\n"
            "  frame (codename: run) |   -1 |   -5.00 KB\n")
    rows = parse_table(text)
    assert rows[0]["type"] == "function (a | b)" and rows[0]["count"] == 2
    assert rows[1] == {"type": "frame (codename: run)", "count": -1, "size": -5120, "sizeText": "-5.00 KB", "sizeApprox": True}


def test_usage_text_and_tracebacks_are_errors_not_tables():
    with pytest.raises(HelperError) as usage:
        _table_or_error(answer("summary-bad-limit.json")[0], "mem summary")
    assert usage.value.code == errors.INTERNAL
    with pytest.raises(HelperError) as trace:
        _table_or_error(answer("summary-bad-order.json")[0], "mem summary")
    assert "ValueError: invalid order" in trace.value.message


def test_arguments_are_checked_before_the_agent_sees_them():
    assert summary_args({}) == (20, "descending", "summary --limit 20 --order descending")
    assert diff_args({"interval": 5, "limit": 3, "order": "ascending"})[3] == "diff --interval 5 --limit 3 --order ascending"
    for bad in ({"limit": 0}, {"limit": "10"}, {"limit": True}, {"order": "size"}):
        with pytest.raises(HelperError) as e:
            summary_args(bad)
        assert e.value.code == errors.BAD_ARGUMENT
    for bad in ({"interval": 0}, {"interval": 1.5}, {"interval": 4000}):
        with pytest.raises(HelperError):
            diff_args(bad)
