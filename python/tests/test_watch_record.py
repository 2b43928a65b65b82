"""A watched call builds its record on the agent's loop, not in the target's thread (patches.py
patch_watch_record): the records that arrive, their order and content must be what upstream's
WatchSetting.dump_result sends, on the real classes installed with flight-profiler; a mutable value
shows its state at the call, not later."""

import asyncio
import importlib
import pickle
import re
import threading

import pytest

from pyflight_agent import patches
from pyflight_helper.commands.probes import clean_traceback, last_exception

watch_agent = pytest.importorskip("flight_profiler.plugins.watch.watch_agent")
server_plugin = pytest.importorskip("flight_profiler.plugins.server_plugin")
resolvers = pytest.importorskip("flight_profiler.common.expression_resolver")


@pytest.fixture
def patched():
    for module in (server_plugin, resolvers, watch_agent):
        importlib.reload(module)
    upstream = watch_agent.WatchSetting.dump_result
    patches.patch_closed_loop_output()
    patches.patch_expression_cache()
    patches.patch_watch_record()
    yield upstream
    for module in (server_plugin, resolvers, watch_agent):
        importlib.reload(module)


def _fields(message):
    record = pickle.loads(message.msg)
    return {k: v for k, v in vars(record).items()}


def _run(calls, expr, upstream=None, filter_expr=None):
    """The records of `calls` (args tuples, each called with return value 7) sent from another thread
    through a real ServerQueue on a running loop; with `upstream`, through upstream's dump_result."""
    loop = asyncio.new_event_loop()
    out = asyncio.Queue(maxsize=200)
    queue = server_plugin.ServerQueue(out, loop)
    setting = watch_agent.WatchSetting(method_name="handle", watch_expr=expr, module_name="m", filter_expr=filter_expr,
                                       max_count=1000, out_q=queue)
    dump = (lambda *a: upstream(setting, *a)) if upstream else setting.dump_result
    got = []

    def producer():
        for i, args in enumerate(calls):
            dump(1000 + i, None, 0.5, 7, *args)
            if isinstance(args[0], list):
                args[0].append("changed after the call")
        queue.output_msgstr_nowait(1, None)

    async def consume():
        while True:
            message = await out.get()
            if message.is_end:
                return
            got.append(_fields(message))

    thread = threading.Thread(target=producer)
    loop.call_soon(thread.start)
    loop.run_until_complete(asyncio.wait_for(consume(), 30))
    thread.join()
    loop.close()
    return got


def test_records_are_what_upstream_sends_in_order(patched):
    calls = [(1,), ("text",), ((1, 2.5, None),), ([1, 2],), ({"k": [3]},)]
    fresh = lambda: [tuple(list(a) if isinstance(a, list) else a for a in c) for c in calls]  # noqa: E731
    mine = _run(fresh(), "args, return_obj")
    theirs = _run(fresh(), "args, return_obj", upstream=patched)
    assert [r["start_time"] for r in mine] == [1000, 1001, 1002, 1003, 1004]
    assert mine == theirs
    # The list was changed after its call: the record shows it as it was.
    assert "changed" not in mine[3]["value"]


def test_a_failing_expression_and_a_filter_as_upstream(patched):
    # The traceback passes through patches.py instead of watch_displayer.py: the helper drops both
    # (clean_traceback), so what the user reads is the same.
    def shown(records):
        text = lambda r: re.sub(r"expr_func_\w+", "expr_func", clean_traceback(last_exception(r["watch_fail_info"])))  # noqa: E731
        return [dict(r, watch_fail_info=text(r)) for r in records]

    mine = shown(_run([(1,), (2,)], "1/0"))
    assert mine == shown(_run([(1,), (2,)], "1/0", upstream=patched))
    assert mine[0]["watch_fail_info"].rstrip().endswith("ZeroDivisionError: division by zero")
    only_two = _run([(1,), (2,), (3,)], "args", filter_expr="args[0] == 2")
    assert [r["start_time"] for r in only_two] == [1001]


def test_without_the_batched_queue_the_call_builds_its_record_as_upstream(patched):
    """An agent whose ServerQueue patch failed: nothing may be deferred to a drain that does not exist."""
    importlib.reload(server_plugin)  # upstream's queue again; the watch patch stays
    loop = asyncio.new_event_loop()
    out = asyncio.Queue()
    queue = server_plugin.ServerQueue(out, loop)
    setting = watch_agent.WatchSetting(method_name="handle", watch_expr="args", module_name="m", max_count=10, out_q=queue)
    loop.call_soon(lambda: setting.dump_result(1, None, 0.5, 7, 42))
    message = loop.run_until_complete(asyncio.wait_for(out.get(), 10))
    loop.close()
    assert isinstance(message.msg, bytes) and "42" in _fields(message)["value"]


def _run_wire(calls, expr, records, filter_expr=None):
    """The same calls through a queue that knows its connection's writer (the door's execute_plugin):
    the drain writes the frames itself; read back as the helper reads them (wire.AgentConnection).
    Returns (records as dicts, number of frames)."""
    import socket

    from pyflight_helper import wire

    loop = asyncio.new_event_loop()
    ours, theirs = socket.socketpair()
    out = asyncio.Queue(maxsize=200)
    box = {}

    async def serve():
        _reader, writer = await asyncio.open_connection(sock=ours)
        queue = server_plugin.ServerQueue(out, asyncio.get_running_loop())
        queue.pyflight_writer, queue.pyflight_records = writer, records
        box["setting"] = watch_agent.WatchSetting(method_name="handle", watch_expr=expr, module_name="m", filter_expr=filter_expr,
                                                  max_count=1000, out_q=queue)
        box["ready"].set()
        while True:  # what door.py's execute_plugin does with the queue: only the end comes through it
            message = await out.get()
            if message.msg is not None:
                data = message.msg if type(message.msg) is bytes else message.msg.encode("utf-8")
                writer.write(len(data).to_bytes(4, "little") + data)
            if message.is_end:
                break
        writer.close()
        await writer.wait_closed()

    box["ready"] = threading.Event()

    def producer():
        box["ready"].wait(10)
        setting = box["setting"]
        for i, args in enumerate(calls):
            setting.dump_result(1000 + i, None, 0.5, 7, *args)
            if isinstance(args[0], list):
                args[0].append("changed after the call")
        setting.out_q.output_msgstr_nowait(1, None)

    frames = []

    class Socket(object):
        def connect(self, timeout):
            return theirs

    def reader():
        conn = wire.AgentConnection(Socket())
        raw = conn.read_frame
        def counting():
            frame = raw()
            if frame is not None:
                frames.append(frame)
            return frame
        conn.read_frame = counting
        box["got"] = [{k: getattr(r, k) for k in ("method_identifier", "cost_ms", "is_exp", "exception", "start_time", "expr", "filter_expr",
                                                  "watch_fail_info", "filter_fail_info", "type", "value")} for r in conn.frames()]

    threads = [threading.Thread(target=producer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    loop.run_until_complete(asyncio.wait_for(serve(), 30))
    for t in threads:
        t.join(30)
    loop.close()
    theirs.close()
    return box["got"], len(frames)


def test_records_written_by_the_drain_are_what_upstream_sends(patched):
    """One socket write per batch, and with `pyflight_records` one frame for consecutive records: the
    helper reads the same records, in order, with the same fields (a list shows its state at the call)."""
    calls = [(1,), ("text",), ((1, 2.5, None),), ([1, 2],), ({"k": [3]},)] * 40
    fresh = lambda: [tuple(list(a) if isinstance(a, list) else a for a in c) for c in calls]  # noqa: E731
    theirs = _run(fresh(), "args, return_obj", upstream=patched)
    for records in (False, True):
        mine, frames = _run_wire(fresh(), "args, return_obj", records)
        assert mine == theirs
        assert "changed" not in mine[3]["value"]
        if records:
            assert frames < len(calls) / 2  # batched: a few frames of many records
        else:
            assert frames == len(calls)


def test_failures_between_batched_records_keep_their_place(patched):
    # a failing expression is a row with its traceback; a failing filter is upstream's record, alone
    def shown(records):
        text = lambda r: r["watch_fail_info"] and re.sub(r"expr_func_\w+", "expr_func", clean_traceback(last_exception(r["watch_fail_info"])))  # noqa: E731
        return [dict(r, watch_fail_info=text(r)) for r in records]

    expr = "1/args[0]"
    calls = [(1,), (0,), (2,)]
    mine, _frames = _run_wire(calls, expr, True)
    assert shown(mine) == shown(_run(calls, expr, upstream=patched))
    assert [r["value"] for r in mine] == ["1.0", "None", "0.5"]
    filtered, _frames = _run_wire([(1,), ("x",), (3,)], "args", True, filter_expr="args[0] > 1")
    upstream = _run([(1,), ("x",), (3,)], "args", upstream=patched, filter_expr="args[0] > 1")
    strip = lambda rs: [dict(r, filter_fail_info=r["filter_fail_info"] and re.sub(  # noqa: E731
        r"expr_func_\w+", "expr_func", clean_traceback(last_exception(r["filter_fail_info"])))) for r in rs]
    assert strip(filtered) == strip(upstream)
    assert [r["start_time"] for r in filtered] == [1001, 1002]
