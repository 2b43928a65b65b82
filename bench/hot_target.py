"""Benchmark target: calls `hot()` about 1,000 times per second; CALLS counts them."""

import os
import time

CALLS = 0


def hot(i):
    return i * 2


def main():
    global CALLS
    print("READY %d" % os.getpid(), flush=True)
    next_tick = time.perf_counter()
    while True:
        for _ in range(10):
            hot(CALLS)
            CALLS += 1
        next_tick += 0.01  # 10 calls per 10 ms
        delay = next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main()
