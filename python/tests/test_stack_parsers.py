"""Parsers of the agent's text answers, replayed from recordings (see test/fixtures/recorded/agent/README.md)."""

import os

import pytest

from pyflight_helper.commands.stack import parse_async_tasks, parse_faulthandler

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "agent")


def read(name):
    with open(os.path.join(RECORDED, name), encoding="utf-8") as f:
        return f.read()


def test_faulthandler_threads_names_and_order():
    threads = parse_faulthandler(read("stack-faulthandler.txt"))
    assert [t["name"] for t in threads] == ["event-loop", "request-worker", "Thread 0x7fae0ca6eb80"]
    worker = threads[1]
    assert worker["tid"] == 0x7FAE0AEEA6C0
    assert worker["frames"][0] == {"function": "handle_request", "file": "/work/main/test/fixtures/busy_service.py",
                                   "line": 26, "kind": "python"}
    assert worker["frames"][-1]["function"] == "_bootstrap"
    assert threads[2]["holdsGil"] is True and worker["holdsGil"] is False


def test_async_tasks_from_agent_text():
    tasks = parse_async_tasks(read("stack-async.txt"))
    assert [(t["name"], t["state"], t["coroutine"]) for t in tasks] == [
        ("inventory-poller", "WAITING", "poll_inventory"),
        ("Task-1", "WAITING", "event_loop_thread.<locals>.main"),
    ]
    assert tasks[0]["thread"] == "event-loop"
    # most recent call first
    assert [f["function"] for f in tasks[0]["frames"]] == ["sleep", "poll_inventory"]
    assert tasks[0]["frames"][1]["line"] == 39


def test_async_no_tasks_text_gives_empty_list():
    text = "Async Coroutine/Task Stacks\n\nNo active coroutines/async tasks found.\n"
    assert parse_async_tasks(text) == []


@pytest.mark.parametrize("garbage", ["", "Traceback (most recent call last):\n  boom", "\x1b[31mred\x1b[0m"])
def test_parsers_tolerate_unexpected_text(garbage):
    assert parse_faulthandler(garbage) == []
    assert parse_async_tasks(garbage) == []
