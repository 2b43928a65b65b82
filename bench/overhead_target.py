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


ROUNDS = 1  # set at start so that handle() takes about 1 ms on this machine; fixed afterwards, so
# whatever a probe adds inside handle() (a trace times every call in it) slows it down


def handle(request):
    result = 0
    for _ in range(ROUNDS):
        result += compute(parse(request))
    return result


def calibrate():
    global ROUNDS
    ROUNDS = 200
    started = time.perf_counter()
    for i in range(20):
        handle(i)
    per_call = (time.perf_counter() - started) / 20
    ROUNDS = max(1, int(200 * 0.001 / per_call))


def report():
    while True:
        time.sleep(0.05)
        sys.stdout.write("CALLS %d %.6f\n" % (CALLS, time.monotonic()))
        sys.stdout.flush()


def main():
    global CALLS
    calibrate()
    print("READY %d" % os.getpid(), flush=True)
    threading.Thread(target=report, daemon=True).start()
    while True:
        handle(CALLS)
        CALLS += 1


if __name__ == "__main__":
    main()
