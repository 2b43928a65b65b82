"""Runs INSIDE the target, in place of flight_profiler/profiler_agent.py (Linux, Python < 3.14).

flight-profiler's native library executes this file once, in its own thread, with the globals
`__profile_listen_port__` and `__file__`. It starts the same agent server as profiler_agent.py, and
makes it safe for a production process:

- quiet: the agent's logger writes to an in-memory ring (read by PyFlight through the agent and
  shown in PyFlight's log) instead of the application's stderr;
- never holds shutdown: the agent's thread pools are left out of concurrent.futures' exit-time
  join, so a live watch cannot keep a process that was asked to exit alive;
- fork-safe: a forked child closes its copy of the listening socket (it has no server thread) and
  records that its agent is gone, so PyFlight can attach to the child later.

It must not raise into the target and must run on Python 3.8+. Names are prefixed so nothing leaks
into the application (the file runs with its own globals).
"""


def _pyflight_start(port):
    import asyncio
    import collections
    import logging
    import os
    import sys
    import threading
    import time
    import types

    state = types.ModuleType("_pyflight_agent")
    state.pid = os.getpid()
    state.port = port
    state.started = time.time()
    state.log = collections.deque(maxlen=1000)
    state.forked_from = None
    state.server = None
    sys.modules["_pyflight_agent"] = state  # readable through the agent: getglobal _pyflight_agent log

    from flight_profiler.common.system_logger import logger

    class _RingHandler(logging.Handler):
        def emit(self, record):
            try:
                state.log.append("%s %s" % (record.levelname, self.format(record)))
            except Exception:
                pass

    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_RingHandler())
    logger.propagate = False

    def _release_agent_threads():
        # concurrent.futures joins every pool thread at exit; a client-handler thread waiting on a
        # live stream would block the target's shutdown forever. Agent threads are daemons: drop them.
        try:
            import concurrent.futures.thread as cft

            for thread in list(cft._threads_queues):
                if thread.name.startswith("flight-profiler-"):
                    cft._threads_queues.pop(thread, None)
        except Exception:
            pass

    # Imported first so that its own exit hook (the join) is registered before ours: exit hooks run
    # last-registered first, so ours then runs before the join.
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", None)  # 3.9+
    if register is not None:
        register(_release_agent_threads)
    else:  # 3.8: concurrent.futures uses atexit, which runs the last registered first
        import atexit

        atexit.register(_release_agent_threads)

    def _fresh_plugin_pool():
        # The plugin pool's idle-worker count comes through fork, its threads do not: work submitted
        # to it in a child would wait forever. A child gets a fresh pool.
        try:
            import flight_profiler.server_flight_profiler as sfp
            from concurrent.futures import ThreadPoolExecutor

            sfp._global_task_executor = ThreadPoolExecutor(max_workers=200,
                                                           thread_name_prefix="flight-profiler-worker-")
        except Exception:
            pass

    # A process forked from one that had flight-profiler's own agent (attached by its CLI, or by an
    # older PyFlight) inherited that stale pool: every one of its threads is dead here.
    inherited = sys.modules.get("flight_profiler.server_flight_profiler")
    pool = getattr(inherited, "_global_task_executor", None)
    if pool is not None and pool._threads and not any(t.is_alive() for t in pool._threads):
        _fresh_plugin_pool()

    def _after_fork_in_child():
        state.forked_from = state.pid
        state.pid = os.getpid()
        state.port = None
        _fresh_plugin_pool()
        server = state.server
        sock = getattr(server, "server_socket", None)
        if sock is not None:
            try:
                sock.close()  # the parent's listening socket: nobody accepts on it in the child
            except Exception:
                pass

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)

    from flight_profiler.server_flight_profiler import FlightProfilerServer

    def _run_agent():
        server = FlightProfilerServer("localhost", port)
        state.server = server
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.wait([loop.create_task(server.run())]))

    thread = threading.Thread(target=_run_agent, name="flight-profiler-agent")
    thread.daemon = True
    thread.start()


_pyflight_start(int(globals()["__profile_listen_port__"]))
