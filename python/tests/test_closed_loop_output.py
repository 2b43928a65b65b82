"""How the agent's messages reach their connection (the bootstrap's ServerQueue patch): batched, in
order, with few loop wake-ups; and a watched or traced call whose probe was stopped meanwhile must
not raise in the target's code.
flight-profiler's ServerQueue (the real class, installed with it) raises RuntimeError('Event loop is
closed') when its connection's loop has closed; the bench's traced 1 ms service died of it (trace
turned it into SystemError from remove_trace_profile). The bootstrap's patch drops that output."""

import asyncio
import importlib
import time

import pytest

from pyflight_agent import patches

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


# Upstream builds the Queue.put coroutine before it finds the loop closed; it is never awaited.
@pytest.mark.filterwarnings("ignore:coroutine 'Queue.put' was never awaited:RuntimeWarning")
def test_upstream_raises_into_the_caller(fresh_queue_class):
    queue = _closed_loop_queue(fresh_queue_class)
    with pytest.raises(RuntimeError, match="closed"):
        queue.output_msg_nowait(fresh_queue_class.Message(False, msg=b"frames"))


def test_patched_queue_drops_the_output(fresh_queue_class):
    patches.patch_closed_loop_output()
    queue = _closed_loop_queue(fresh_queue_class)
    assert queue.output_msg_nowait(fresh_queue_class.Message(False, msg=b"frames")) is None
    assert queue.output_msgstr_nowait(1, None) is None


def test_patched_queue_delivers_a_stream_in_order_with_few_wakeups(fresh_queue_class, monkeypatch):
    """1,000 records sent from another thread, as a watched function does: all arrive, in order,
    and the loop is woken far fewer times than once per record (upstream: once per record)."""
    import threading

    patches.patch_closed_loop_output()
    wakeups = []
    original = asyncio.run_coroutine_threadsafe

    def counting(coro, loop):
        wakeups.append(1)
        return original(coro, loop)

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", counting)
    loop = asyncio.new_event_loop()
    received = []

    async def consume(queue, n):
        while len(received) < n:
            received.append((await queue.get()).msg)

    out = asyncio.Queue(maxsize=200)  # what upstream's connections use (bounded)
    server_queue = fresh_queue_class.ServerQueue(out, loop)

    def producer():
        for i in range(1000):
            server_queue.output_msg_nowait(fresh_queue_class.Message(False, msg=i))
            if i % 10 == 0:
                time.sleep(0.001)  # about a 1 ms handler's pace
        server_queue.output_msgstr_nowait(1, "end")

    thread = threading.Thread(target=producer)
    loop.call_soon(thread.start)
    loop.run_until_complete(asyncio.wait_for(consume(out, 1001), 30))
    thread.join()
    loop.run_until_complete(asyncio.sleep(0.05))  # the drain's linger ends
    loop.close()
    assert received == list(range(1000)) + ["end"]
    assert len(wakeups) < 200, len(wakeups)
