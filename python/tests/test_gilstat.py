"""gilstat report parsing, on frames recorded from a real target (test/fixtures/gil_hog.py, pyenv
3.11.7 with a shared libpython; test/fixtures/record_gilstat_frames.py)."""

import json
import os

from pyflight_helper.commands import gilstat

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "gilstat",
                        "gil-hog-frames.json")


def _frames():
    with open(RECORDED) as f:
        return json.load(f)["frames"]


def _records():
    reports = gilstat.Reports(1)
    return [r for r in (reports.feed(f) for f in _frames()) if r is not None]


def test_one_record_per_statistics_frame_with_the_hog_first():
    records = _records()
    assert [r["index"] for r in records] == [1, 2]
    for record in records:
        top = record["threads"][0]
        assert top["thread"] == "gil-hog"
        assert top["intervalHoldMs"] > 500  # held the GIL most of a 1 s interval
        waiters = [t for t in record["threads"] if t["thread"].startswith("gil-waiter-")]
        assert len(waiters) == 2 and all(t["intervalWaitMs"] > 500 for t in waiters)


def test_cumulative_figures_become_interval_figures():
    first, second = _records()
    hog1 = [t for t in first["threads"] if t["thread"] == "gil-hog"][0]
    hog2 = [t for t in second["threads"] if t["thread"] == "gil-hog"][0]
    assert hog2["holdNs"] > hog1["holdNs"]
    assert abs(hog2["intervalHoldMs"] - (hog2["holdNs"] - hog1["holdNs"]) / 1e6) < 1e-6
    assert hog2["intervalTakes"] == hog2["takeCount"] - hog1["takeCount"]


def test_a_name_longer_than_its_column_runs_into_takecnt():
    threads = [t for r in _records() for t in r["threads"] if t["thread"].startswith("flight-profiler-worker")]
    assert threads and threads[0]["thread"] == "flight-profiler-worker-_0" and threads[0]["takeCount"] == 9
    assert threads[0]["agent"]


def test_alerts_from_warning_reports():
    record = _records()[0]
    assert record["alertCount"] == 51 and record["alertsCut"]  # the agent keeps the newest 51
    for alert in record["alerts"]:
        assert alert["event"] in ("wait", "hold")
        assert alert["ms"] >= 10  # the threshold
        assert alert["endNs"] > alert["startNs"]
    assert any(a["thread"].startswith("gil-waiter-") and a["event"] == "wait" for a in record["alerts"])


def test_on_args_defaults_and_bounds():
    assert gilstat.on_args({}) == "10 10 5 500"
    assert gilstat.on_args({"holdMs": 50, "intervalSeconds": 2}) == "10 50 2 500"
    for bad in ({"takeMs": 0}, {"intervalSeconds": "5"}, {"maxThreads": 5000}, {"holdMs": True}):
        try:
            gilstat.on_args(bad)
        except Exception as exc:
            assert getattr(exc, "code", None) == "BAD_ARGUMENT"
        else:
            raise AssertionError(bad)


def test_the_agents_failures_in_words():
    recorded_nm_failure = ("Traceback (most recent call last):\n  File \"…/server_plugin_gilstat.py\", line 17, in "
                           "enable_gil_stat\n    take_gil_addr = resolve_symbol_address(\"take_gil\", os.getpid())\n"
                           "ValueError: invalid literal for int() with base 16: ''\n")
    assert gilstat._failure(recorded_nm_failure).code == "UNSUPPORTED_PLATFORM"
    assert gilstat._failure("gilstat enable failed").code == "INTERNAL"


def test_the_main_thread_is_named_by_its_ident_and_the_agents_mainthread_is_not_it():
    from pyflight_helper.commands.gilstat import name_main_thread

    record = {"threads": [{"threadId": "7fc002e6cb80", "thread": "Dummy-1", "agent": False},
                          {"threadId": "7fbffa3e76c0", "thread": "MainThread", "agent": False},
                          {"threadId": "7fbffabe86c0", "thread": "flight-profiler-worker-_0", "agent": True}],
              "alerts": [{"threadId": "7fc002e6cb80", "thread": "Dummy-1", "event": "hold", "ms": 12}]}
    name_main_thread(record, 0x7fc002e6cb80)
    assert [(t["thread"], t["agent"]) for t in record["threads"]] == [
        ("MainThread", False), ("agent thread (threading's MainThread)", True), ("flight-profiler-worker-_0", True)]
    assert record["alerts"][0]["thread"] == "MainThread"
    assert name_main_thread({"threads": [{"threadId": "1", "thread": "Dummy-1"}]}, None)["threads"][0]["thread"] == "Dummy-1"


def test_main_thread_ident_reads_the_main_thread_and_creates_no_thread_object():
    import threading

    from pyflight_agent import reads

    before = dict(threading._active)
    result = []
    worker = threading.Thread(target=lambda: result.append(reads.main_thread_ident()))
    worker.start()
    worker.join()
    assert result == [threading.main_thread().ident]
    assert dict(threading._active) == before
