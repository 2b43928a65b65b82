"""Runs INSIDE the target, in place of flight_profiler/profiler_agent.py (Linux, Python < 3.14).

flight-profiler's native library executes this file once, in its own thread, with the globals
`__profile_listen_port__` and `__file__`. The files staged beside it (door.json, door.py,
patches.py, elf.py, reads.py and the other in-target files) are read now, while the staging
directory exists; the helper removes it once the door answers. Each is run in a namespace of its
own that is never put in sys.modules.

It starts flight-profiler's agent server behind PyFlight's door (door.py: a Unix socket only the
target's user or root may use, no TCP port), and makes the agent safe for a production process
(patches.py):
- quiet: the agent's logger writes to an in-memory ring that PyFlight drains into its own log
  (call `agent.log`), not into the application's stderr;
- never holds shutdown: the agent's thread pools are left out of concurrent.futures' exit-time join;
- fork-safe: a forked child closes its copy of the door's socket and gets fresh thread pools, so
  PyFlight can load an agent into the child later;
- gilstat finds take_gil/drop_gil in a shared libpython, and its `off` no longer crashes;
- flight-profiler's `mem` (pympler) no longer crashes CPython 3.12 (gh-122695);
- expressions compile once; records are batched to the agent's loop, silently.

If anything fails here, the reason goes to `failed` in the door's directory (the helper reads it
and reports it), never to the application's stderr. Must run on Python 3.8+.
"""


def _pyflight_bootstrap(here):
    import collections
    import json
    import logging
    import os
    import threading
    import time
    import traceback
    import types

    def load(name, **names):
        """Runs a staged file in a namespace of its own (never in sys.modules), then sets `names` in it."""
        path = os.path.join(here, name)
        with open(path, "rb") as f:
            source = f.read()
        module = types.ModuleType("_pyflight_" + name[:-3])
        module.__file__ = path
        exec(compile(source, path, "exec"), module.__dict__)
        module.__dict__.update(names)
        return module

    with open(os.path.join(here, "door.json")) as f:
        config = json.load(f)

    state = types.SimpleNamespace(pid=os.getpid(), started=time.time(), log=collections.deque(maxlen=1000),
                                  forked_from=None, server=None, door_path=None, door_dir=None, symbols={})

    def log_line(line):
        state.log.append(line)

    def log_exception(what):
        state.log.append("ERROR %s\n%s" % (what, traceback.format_exc()))

    state.log_line, state.log_exception = log_line, log_exception

    # The door's directory first: where a failure below is reported.
    state.door_dir = _pyflight_make_door_dir(config)
    try:
        elf = load("elf.py")
        patches = load("patches.py", elf=elf)
        door_module = load("door.py")
        modules = {name: load(name) for name in config.get("modules", []) if os.path.exists(os.path.join(here, name))}

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

        _pyflight_release_threads_at_exit()
        for patch, args in ((patches.patch_gilstat, (state, here)), (patches.patch_closed_loop_output, ()),
                            (patches.patch_expression_cache, ()), (patches.patch_call_renderer, ()), (patches.patch_watch_record, ()),
                            (patches.patch_trace_thread_name, ())):
            try:
                patch(*args)
            except Exception:
                log_exception("patch %s" % patch.__name__)

        from flight_profiler.server_flight_profiler import FlightProfilerServer

        door = door_module.Door(config, modules, state)
        state.server_class = door_module.server_class(FlightProfilerServer)
        door.hooks["mem"] = patches.patch_pympler_heap_walk  # CPython 3.12's heap-walk crash
        state.door_path = os.path.join(state.door_dir, "agent.sock")
        server = state.server_class(door, state.door_path)
        state.server = server
        _pyflight_fork_safety(state)
        ready = threading.Event()

        def run_door():
            import asyncio

            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.run(ready))
            except BaseException:
                log_exception("the door stopped")
                _pyflight_report_failure(state.door_dir, traceback.format_exc())
                ready.set()

        threading.Thread(target=run_door, name="flight-profiler-agent", daemon=True).start()
        ready.wait(10)
    except BaseException:
        _pyflight_report_failure(state.door_dir, traceback.format_exc())


def _pyflight_make_door_dir(config):
    """A new directory only this process's user can enter, in the target's own temporary directory;
    its name carries the pid as this process sees it, so the helper can find and sweep it."""
    import os

    root = config.get("tmp") or os.environ.get("TMPDIR") or "/tmp"
    for _ in range(100):
        path = os.path.join(root, "pyflight-door-%d-%s" % (os.getpid(), os.urandom(6).hex()))
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # whatever the umask
        st = os.lstat(path)
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise OSError("the door directory %s is not private" % path)
        import atexit

        atexit.register(_pyflight_remove_door_dir, path, os.getpid())
        return path
    raise OSError("cannot create a door directory in %s" % root)


def _pyflight_remove_door_dir(path, pid):
    import os
    import shutil

    if os.getpid() == pid:  # a forked child exits with its parent's handlers registered
        shutil.rmtree(path, ignore_errors=True)


def _pyflight_report_failure(door_dir, text):
    import os

    try:
        with open(os.path.join(door_dir, "failed"), "w") as f:
            f.write(text)
    except Exception:
        pass


def _pyflight_release_threads_at_exit():
    """concurrent.futures joins every pool thread at exit; a client-handler thread waiting on a live
    stream would block the target's shutdown forever. Agent threads are daemons: drop them."""
    import threading

    def release():
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
        register(release)
    else:  # 3.8: concurrent.futures uses atexit, which runs the last registered first
        import atexit

        atexit.register(release)


def _pyflight_fork_safety(state):
    """A forked child (a gunicorn worker) closes its copy of the door's socket (it has no thread to
    serve it; the parent keeps serving its own) and gets a fresh plugin pool: the pool's idle-worker
    count comes through fork, its threads do not, so work submitted to it in a child waits forever.
    A process forked from one that had flight-profiler's own agent inherited such a pool already."""
    import os
    import sys

    def fresh_plugin_pool():
        try:
            import flight_profiler.server_flight_profiler as sfp
            from concurrent.futures import ThreadPoolExecutor

            sfp._global_task_executor = ThreadPoolExecutor(max_workers=200, thread_name_prefix="flight-profiler-worker-")
        except Exception:
            pass

    inherited = sys.modules.get("flight_profiler.server_flight_profiler")
    pool = getattr(inherited, "_global_task_executor", None)
    if pool is not None and pool._threads and not any(t.is_alive() for t in pool._threads):
        fresh_plugin_pool()

    def after_fork_in_child():
        state.forked_from = state.pid
        state.pid = os.getpid()
        fresh_plugin_pool()
        server = state.server
        if server is not None:
            sock, server.server_socket = server.server_socket, None
            if sock is not None:
                try:
                    sock.close()  # never unlink: the path is the parent's door
                except Exception:
                    pass

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork_in_child)


if "__profile_listen_port__" in globals():  # run by the native loader (the helper never imports this file)
    _pyflight_bootstrap(__import__("os").path.dirname(__import__("os").path.abspath(globals()["__file__"])))
