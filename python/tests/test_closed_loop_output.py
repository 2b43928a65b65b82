"""A watched or traced call whose probe was stopped meanwhile must not raise in the target's code.
flight-profiler's ServerQueue (the real class, installed with it) raises RuntimeError('Event loop is
closed') when its connection's loop has closed; the bench's traced 1 ms service died of it (trace
turned it into SystemError from remove_trace_profile). The bootstrap's patch drops that output."""

import asyncio
import importlib

import pytest

from pyflight_helper import agent_bootstrap

server_plugin = pytest.importorskip("flight_profiler.plugins.server_plugin")


@pytest.fixture
def fresh_queue_class():
    importlib.reload(server_plugin)  # upstream's class, unpatched
    yield server_plugin
    importlib.reload(server_plugin)


def _closed_loop_queue(module):
    loop = asyncio.new_event_loop()
    loop.close()
    return module.ServerQueue(asyncio.Queue(), loop)


def test_upstream_raises_into_the_caller(fresh_queue_class):
    queue = _closed_loop_queue(fresh_queue_class)
    with pytest.raises(RuntimeError, match="closed"):
        queue.output_msg_nowait(fresh_queue_class.Message(False, msg=b"frames"))


def test_patched_queue_drops_the_output(fresh_queue_class):
    agent_bootstrap._pyflight_patch_closed_loop_output()
    queue = _closed_loop_queue(fresh_queue_class)
    assert queue.output_msg_nowait(fresh_queue_class.Message(False, msg=b"frames")) is None
    assert queue.output_msgstr_nowait(1, None) is None
