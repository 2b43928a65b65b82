"""gc_state watches a real target's collector from outside on each interpreter here: full collections
are seen with their generation and length, the oldest generation's size is read, and a target that
runs another binary is refused, not misread."""

import os
import subprocess
import sys

import pytest

from machine_pythons import interpreters

HELPER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# 400 000 long-lived objects in reference cycles, then a full collection every 0.7 s (what a service
# that calls gc.collect() in a loop, or whose churn fills the old generation, does).
TARGET = r"""
import gc, sys, time
class Node:
    def __init__(self, i):
        self.i = i
        self.peer = None
nodes = [Node(i) for i in range(400000)]
for a, b in zip(nodes, nodes[1:]):
    a.peer = b
gc.collect()
print(len(gc.get_objects(2)), flush=True)
while True:
    time.sleep(0.7)
    gc.collect()
"""

WATCH = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pyflight_helper import gc_state
print(json.dumps(gc_state.watch(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))))
"""


def _target(python):
    proc = subprocess.Popen([python, "-c", TARGET], stdout=subprocess.PIPE, text=True)
    old = int(proc.stdout.readline())
    return proc, old


def _watch(python, pid, seconds, enough_after):
    import json

    done = subprocess.run([python, "-c", WATCH, HELPER_DIR, str(pid), str(seconds), str(enough_after)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("python", interpreters())
def test_full_collections_are_seen_with_their_length_and_the_old_generation(python):
    if python is None:
        pytest.skip("this interpreter is not installed here")
    proc, old = _target(python)
    try:
        result = _watch(python, proc.pid, 30, 4)
    finally:
        proc.kill()
        proc.wait()
    assert result["supported"], result
    full = [p for p in result["pauses"] if p["generation"] == 2]
    # Each gc.collect() walks 400 000 objects: milliseconds at least, on any machine.
    assert len(full) >= 2 and all(p["ms"] >= 5 for p in full), result
    assert result["collections"][2] >= len(full), result
    assert result["ended"] == "enough" and result["seconds"] < 25, result
    assert result["longLived"] is not None and abs(result["longLived"] - old) <= old * 0.2, (old, result)


def test_a_target_of_another_binary_is_refused():
    pythons = [p.values[0] for p in interpreters() if p.values[0]]
    other = next((p for p in pythons if os.path.realpath(p) != os.path.realpath(sys.executable)), None)
    if other is None:
        pytest.skip("one interpreter only")
    proc, _ = _target(other)
    try:
        result = _watch(sys.executable, proc.pid, 2, 1)
    finally:
        proc.kill()
        proc.wait()
    assert not result["supported"] and "another interpreter binary" in result["reason"], result


def test_a_dead_pid_is_refused():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    result = _watch(sys.executable, proc.pid, 1, 1)
    assert not result["supported"] and result["reason"], result
