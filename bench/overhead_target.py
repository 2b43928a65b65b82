"""Benchmark target: a "service" whose handler takes about 1 ms of Python work, called back to back
on the main thread; CALLS counts the handled requests (its throughput). Every 50 ms a reporter
thread prints `CALLS <n> <monotonic time>`, so the bench reads the throughput without asking the
agent (whose answers are what is being measured around)."""

import os
import sys
import threading
import time

CALLS = 0


def parse(request):
    return [request * k for k in range(40)]


def compute(values):
    total = 0
    for v in values:
        total += (v * 31) % 7
    return total


ROUNDS = 1  # set at start so that handle() takes about 1 ms of CPU on this machine; fixed afterwards, so
# whatever a probe adds inside handle() (a trace times every call in it) slows it down


def handle(request):
    result = 0
    for _ in range(ROUNDS):
        result += compute(parse(request))
    return result


def calibrate(cpu_seconds=0.3):
    """Sets ROUNDS so that handle() costs 1 ms of this thread's CPU. Timed in CPU time over 0.3 s: timed by
    the wall clock over 20 ms (as before), a busy machine's preemption made the handler 0.2 ms instead of
    1 ms, and a watch's fixed cost per call looked five times bigger (issue 20: 6.6-10 % on a loaded EPYC)."""
    global ROUNDS
    ROUNDS = 20
    calls = 0
    started = time.thread_time()
    while time.thread_time() - started < cpu_seconds:
        handle(calls)
        calls += 1
    per_round = (time.thread_time() - started) / (calls * ROUNDS)
    ROUNDS = max(1, round(0.001 / per_round))
    started = time.thread_time()
    for i in range(100):
        handle(i)
    return (time.thread_time() - started) / 100


def report():
    while True:
        time.sleep(0.05)
        sys.stdout.write("CALLS %d %.6f\n" % (CALLS, time.monotonic()))
        sys.stdout.flush()


def main():
    global CALLS
    handler = calibrate()
    print("HANDLER_CPU_MS %.3f" % (handler * 1000), flush=True)
    print("READY %d" % os.getpid(), flush=True)
    threading.Thread(target=report, daemon=True).start()
    while True:
        handle(CALLS)
        CALLS += 1


if __name__ == "__main__":
    main()
