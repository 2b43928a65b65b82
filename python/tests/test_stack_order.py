"""A stack is read before anything asks the agent: an agent round trip right before the read made the
target's busy thread hand the GIL to the agent's thread, so about half of the samples of a thread that
computes all the time showed it without the GIL (measured: 14 of 30 before, 30 of 30 after)."""

import subprocess
import sys

import pytest

from pyflight_helper.commands import stack as stack_module
from pyflight_helper.wire import TcpAgent

SPINNER = "import os, sys\nprint(os.getpid(), flush=True)\nwhile True:\n    sum(i * i for i in range(1000))\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pystack reads Linux processes")
def test_the_read_comes_before_the_agent_round_trip(monkeypatch):
    target = subprocess.Popen([sys.executable, "-c", SPINNER], stdout=subprocess.PIPE)
    try:
        pid = int(target.stdout.readline())
        calls = []
        import pystack.engine as engine  # linux_stacks imports from it at call time

        original = engine.get_process_threads

        def recording_read(*args, **kwargs):
            calls.append("read")
            return original(*args, **kwargs)

        def recording_agent(agent, name, *args, **options):
            calls.append("agent:" + name)
            return {}

        original_direct = stack_module.frame_reader.read_threads

        def recording_direct(*args, **kwargs):
            calls.append("read")
            return original_direct(*args, **kwargs)

        monkeypatch.setattr(engine, "get_process_threads", recording_read)
        monkeypatch.setattr(stack_module.frame_reader, "read_threads", recording_direct)
        monkeypatch.setattr(stack_module, "call", recording_agent)
        result = stack_module.stack(pid, agent=TcpAgent(1))  # an agent "is loaded": names are asked of it
        assert calls[0] == "read", calls
        assert "agent:reads.threadNames" in calls[1:], calls
        main = [t for t in result["threads"] if t["tid"] == pid][0]
        assert main["name"] == "MainThread"  # the thread whose id is the pid, whatever threading says
    finally:
        target.kill()
        target.wait()
