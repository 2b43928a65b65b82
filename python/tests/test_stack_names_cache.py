"""Thread names are asked of the agent once while the target's threads stay the same, and again as
soon as one starts (or ends): the round trip cost every refresh of a live stack view ~1.5 ms more.
The agent is replaced by a counter that names the real threads pystack read; the target is real."""

import os
import subprocess
import sys

import pytest

from pyflight_helper.commands import stack as stack_module
from pyflight_helper.wire import TcpAgent

TARGET = """import os, sys, threading, time
print(os.getpid(), flush=True)
sys.stdin.readline()
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("started", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pystack reads Linux processes")
def test_names_are_asked_again_only_when_the_threads_change(monkeypatch):
    target = subprocess.Popen([sys.executable, "-c", TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid = int(target.stdout.readline())
        asked = []

        def counting_names(agent):
            asked.append(agent)
            return {int(tid): ("thread-%s" % tid, True) for tid in os.listdir("/proc/%d/task" % pid)}

        monkeypatch.setattr(stack_module, "_read_thread_names", counting_names)
        monkeypatch.setattr(stack_module, "_agent_names", {})

        first = stack_module.stack(pid, agent=TcpAgent(1))
        stack_module.stack(pid, agent=TcpAgent(1))
        assert len(asked) == 1, "the same threads: the names are not asked again"
        assert len(first["threads"]) == 1

        target.stdin.write("go\n")
        target.stdin.flush()
        assert target.stdout.readline().strip() == "started"
        second = stack_module.stack(pid, agent=TcpAgent(1))
        assert len(asked) == 2, "a thread started: the names are asked again"
        assert len(second["threads"]) == 2
        worker = [t for t in second["threads"] if t["tid"] != pid][0]
        assert worker["name"] == "thread-%d" % worker["tid"]
    finally:
        target.kill()
        target.wait()
