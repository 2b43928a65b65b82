"""What the exception window (python/pyflight_agent/exception_hook.py) costs the target while it
is open (3.11: a trace hook; 3.12+: sys.monitoring), measured in one run: the same threads' work per second without it, with it, and after
it is removed (ratios, no absolute thresholds). The hook is installed from a separate thread exactly
as the agent's thread does, with the same source. Run: <python> bench/exception_window_cost.py (any of 3.11, 3.12, 3.13)
Two workloads: `calls` (a loop of tiny own-code function calls, the worst case: the hook is called
on every call) and `errors` (like test/fixtures/swallowed_errors.py: one call in four raises and is
swallowed), the latter with the default cap of 5000 exceptions and with a cap it never reaches.
"""

import json
import os
import sys
import threading
import time

SOURCE = open(os.path.join(os.path.dirname(__file__), "..", "python", "pyflight_agent", "exception_hook.py")).read()
COUNTS = {}
STOP = threading.Event()


def leaf(x):
    return x + 1


def calls(name):
    n = 0
    while not STOP.is_set():
        for i in range(1000):
            leaf(i)
        n += 1000
        COUNTS[name] = n


def parse(raw):
    return int(raw)


def handle(raw):
    try:
        return parse(raw)
    except Exception:
        return None


def errors(name):
    n = 0
    while not STOP.is_set():
        for i in range(1000):
            handle("x" if i % 4 == 0 else "7")
        n += 1000
        COUNTS[name] = n


def rate(name, seconds):
    start, t0 = COUNTS.get(name, 0), time.perf_counter()
    time.sleep(seconds)
    return (COUNTS.get(name, 0) - start) / (time.perf_counter() - t0)


def measure(workload, seconds=2.0, max_events=5000):
    STOP.clear()
    name = workload.__name__
    t = threading.Thread(target=workload, args=(name,), daemon=True)
    t.start()
    time.sleep(0.3)
    before = rate(name, seconds)
    ns = {"__name__": "_bench"}
    exec(compile(SOURCE, "<pyflight-exception-hook>", "exec"), ns)
    out = {}

    def agent():
        out["start"] = ns["start"](seconds + 1.0, max_events)
        out["during"] = rate(name, seconds)
        out["result"] = ns["finish"]()

    a = threading.Thread(target=agent, name="flight-profiler-agent")
    a.start()
    a.join()
    after = rate(name, seconds)
    STOP.set()
    t.join()
    return {"workload": name, "maxEvents": max_events, "perSecondBefore": round(before), "perSecondDuring": round(out["during"]),
            "perSecondAfter": round(after), "duringOverBefore": round(out["during"] / before, 3),
            "afterOverBefore": round(after / before, 3), "exceptionsSeen": out["result"]["events"],
            "stopReason": out["result"]["stopReason"], "stillTraced": out["result"]["stillTraced"],
            "mechanism": out["result"].get("mechanism"), "python": "%d.%d.%d" % sys.version_info[:3]}


if __name__ == "__main__":
    # errors with the product's cap (5000: recording stops, the hook removes itself from each thread) and without it
    print(json.dumps([measure(calls), measure(errors), measure(errors, max_events=100000)], indent=2))
