"""Runs INSIDE the target: what PyFlight's bootstrap changes in flight-profiler's agent, and why.

Each `patch_*` is idempotent (marked `pyflight`), must not raise into the target, and touches only
flight-profiler's (or pympler's) own objects, never the application's. Stdlib only, Python 3.8+.
Inside the target the bootstrap loads this file with `elf` set to its copy of elf.py.
"""

try:
    from . import elf  # the helper and the tests import the package
except ImportError:  # inside the target, where the bootstrap sets `elf`
    elf = None


def patch_gil_off():
    """`gilstat off` can crash the target (SIGSEGV in flight_profiler_agent.so, seen in the stat
    thread and in a thread entering take_gil). Upstream's off (deinit_py_gil_interceptor) deletes its
    statistics object right away, while (1) other threads may be inside the interceptor's listener
    (a thread that starts to wait for the GIL runs it without the GIL), and (2) its `gil_stat`
    thread still runs: stop() joins it with pthread_join, which always fails ("gil_statistics thread
    join failed"), because PyThread_start_new_thread made it detached. So before upstream's off we
    detach the listener, stop the stat thread ourselves and wait until it is gone (the GIL released
    meanwhile); then upstream deletes an object nobody uses, and we end the `on` stream, which
    upstream's stop() then skips."""
    import os
    import sys

    if os.environ.get("PYFLIGHT_GIL_UPSTREAM_OFF") == "1":  # the target's environment: to compare
        return
    plugin = sys.modules.get("flight_profiler.plugins.gilstat.server_plugin_gilstat")
    cls = getattr(plugin, "GilStatServerPlugin", None)
    if cls is None or getattr(cls.disable_gil_stat, "pyflight", False):
        return
    original_off = cls.disable_gil_stat

    def disable_gil_stat(self):
        out_q = None
        try:
            out_q = quiesce_gilstat()
        except Exception:
            pass
        ret = original_off(self)
        if out_q is not None:
            try:
                out_q.output_msgstr_nowait(1, None)  # what upstream's send_end() does
            except Exception:
                pass
        return ret

    disable_gil_stat.pyflight = True
    cls.disable_gil_stat = disable_gil_stat


def patch_closed_loop_output(linger=0.05):
    """How the agent's answers and records reach their connection (flight-profiler's ServerQueue).

    1. Batched: upstream hands every message to the connection's event loop with
       run_coroutine_threadsafe, so each watched or traced call woke the agent's loop thread (a
       socket write) and handed it the GIL: most of the 15 % a watch cost a 1 ms handler. Messages
       now go into a deque; one drain on the loop sends them in order and lingers `linger` seconds
       for more before it stops, so a stream of records wakes the loop on its own timer, not once
       per call. A first message is still sent at once. 50 ms, not 5: each wake costs the
       process about what a record does, and the records a watch builds on the loop
       (patch_watch_record) are cheaper in bigger batches; a watch of a 1 ms handler cost 92 µs of
       CPU per call lingering 5 ms, 56 µs lingering 50 ms (in-process, load 18). The views coalesce
       changes over 100 ms anyway.
    2. A closed loop drops the message: once a probe's connection has ended, a call still inside
       the wrapper raised RuntimeError('Event loop is closed') *inside the target's function* (a
       trace turned it into SystemError from remove_trace_profile); it killed the bench's traced
       1 ms service. The output has nowhere to go then.
    3. Silent: a drain ends with its stream's end message, and a drain that a closing loop drops
       says nothing (asyncio logged "Task was destroyed but it is pending!" into the application's
       stderr after every watch)."""
    import asyncio
    import collections
    import threading
    from struct import pack

    from flight_profiler.plugins import server_plugin

    cls = server_plugin.ServerQueue
    if getattr(cls.output_msg_nowait, "pyflight", False):
        return
    Message = server_plugin.Message

    def _state(self):
        state = self.__dict__.get("_pyflight_out")
        if state is None:
            # [messages, lock, a drain is scheduled, the stream ended (its connection writes no more)]
            state = self.__dict__.setdefault("_pyflight_out", [collections.deque(), threading.Lock(), False, False])
        return state

    async def _write(self, writer, batch):
        """Writes the batch's frames to the connection in one write; the stream's end (and whatever
        its message says) goes through upstream's queue, which ends the connection. False once the
        stream has ended: nobody reads what comes after. When the client reads record frames
        (`pyflight_records`), consecutive deferred watch records go out as one frame (RECORDS)."""
        frames = []
        rows, key = [], None
        grouped = self.__dict__.get("pyflight_records", False)

        def frame(data):
            if data is not None:
                data = data if type(data) is bytes else data.encode("utf-8")
                frames.append(pack("<L", len(data)))
                frames.append(data)

        for msg in batch:
            row = msg.pyflight_row() if grouped and type(msg) is Deferred else None
            if row is not None:
                if row[0] != key and rows:
                    frame(records_frame(key, rows))
                    rows = []
                key = row[0]
                rows.append(row[1])
                continue
            if rows:
                frame(records_frame(key, rows))
                rows = []
            if type(msg) is Deferred:
                msg = msg.pyflight_materialize()
            if getattr(msg, "is_end", False):
                if frames:
                    writer.write(b"".join(frames))
                    await writer.drain()
                await self.out_q.put(msg)
                return False
            frame(getattr(msg, "msg", None))
        if rows:
            frame(records_frame(key, rows))
        if frames:
            writer.write(b"".join(frames))
            await writer.drain()
        return True

    def _stop(state):
        """Under the lock: the drain stops (flag down) unless a message is waiting. A sender appends
        before it reads the flag, so it either finds the flag down and schedules a drain, or its
        message is seen here."""
        state[2] = False
        if state[0]:
            state[2] = True
            return False
        return True

    async def _drain(self, state):
        pending, lock = state[0], state[1]
        lingered = False
        while True:
            with lock:
                # popleft by popleft: a sender appends without the lock (send), never between a copy and a clear
                batch = [pending.popleft() for _ in range(len(pending))]
                if not batch and lingered and _stop(state):
                    return  # the next message schedules a new drain
            if batch:
                lingered = False
                writer = self.__dict__.get("pyflight_writer")
                if writer is not None:
                    if not state[3]:
                        try:
                            if writer.is_closing():
                                raise ConnectionResetError("the connection is closing")
                            if not await _write(self, writer, batch):
                                state[3] = True
                        except Exception:
                            state[3] = True  # the client went away: end the connection, as upstream's send did by raising
                            try:
                                self.out_q.put_nowait(Message(True, None))
                            except Exception:
                                pass
                    if state[3]:  # ended or broken: nobody reads what comes after
                        with lock:
                            pending.clear()
                            state[2] = False
                            return
                    continue
                for msg in batch:
                    await self.out_q.put(msg.pyflight_materialize() if type(msg) is Deferred else msg)
                if getattr(batch[-1], "is_end", False):
                    with lock:
                        if _stop(state):
                            return  # the stream ended: nothing lingers on a loop about to close
            else:
                lingered = True
                await asyncio.sleep(linger)

    def _spawn(self, state):
        # A drain still lingering when its connection's loop closes is dropped with the loop; asyncio
        # would log "Task was destroyed but it is pending!" into the application's stderr.
        task = self.loop.create_task(_drain(self, state))
        task._log_destroy_pending = False

    def output_msg_nowait(self, msg):
        """Called in the watched or traced thread for every record: as little as possible there. The
        message is appended without the lock (deque.append is atomic); only when no drain is
        scheduled does the lock decide who schedules one. The drain sets that flag down under the
        lock after it found the deque empty, so a message appended before the flag was read is
        always taken."""
        loop = self.loop
        if loop is not None and loop.is_closed():
            return None
        state = self.__dict__.get("_pyflight_out") or _state(self)
        state[0].append(msg)
        if state[2]:
            return None  # a drain is running or lingering: it takes this one too
        with state[1]:
            if state[2]:
                return None
            state[2] = True
        try:
            loop.call_soon_threadsafe(_spawn, self, state)
        except RuntimeError:
            with state[1]:
                state[2] = False
            if loop is not None and loop.is_closed():  # closed between the check and the send
                state[0].clear()
                return None
            raise
        return None

    send = output_msg_nowait

    def output_msgstr_nowait(self, is_end, msg):
        return send(self, Message(is_end=(True if is_end != 0 else False), msg=msg))

    async def output_msg(self, msg):
        send(self, msg)

    for fn in (output_msg_nowait, output_msgstr_nowait, output_msg):
        fn.pyflight = True
    cls.output_msg_nowait = output_msg_nowait
    cls.output_msgstr_nowait = output_msgstr_nowait
    cls.output_msg = output_msg


def quiesce_gilstat(timeout=5.0):
    """Detaches the listener and stops the `gil_stat` thread (waits until it is gone). Returns the
    `on` stream's queue once running_flag is down (upstream's stop() then skips ending the stream, so
    the caller ends it), else None. Works on
    the agent's own statics (found by their mangled names in the installed library's symbol table,
    at the mapped copy's load address) and checks the object's layout first (PyGilStat: stat_map,
    warning_list, config, stat_thread_id, running_flag; `config` must point at the static config)."""
    import ctypes
    import os
    import time

    import flight_profiler

    installed = os.path.join(os.path.dirname(flight_profiler.__file__), "lib", "flight_profiler_agent.so")
    e_type, first_load, functions = elf.elf_functions(installed, ["gum_interceptor_detach"])
    statics = elf.elf_objects(installed, ["_ZL11interceptor", "_ZL8listener", "_ZL7gilStat", "_ZL6config"])
    if "gum_interceptor_detach" not in functions or len(statics) < 4 or e_type != 3:
        return None
    base = None
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and "flight_profiler_agent." in os.path.basename(parts[5].strip().replace(" (deleted)", "")):
                if parts[2] == "00000000":
                    base = int(parts[0].split("-")[0], 16)  # the last copy mapped: the one gilstat_C found
    if base is None:
        return None
    bias = base - ((first_load or 0) & ~0xFFF)
    word = lambda address: ctypes.c_void_p.from_address(address).value  # noqa: E731
    interceptor, listener = word(bias + statics["_ZL11interceptor"]), word(bias + statics["_ZL8listener"])
    stat = word(bias + statics["_ZL7gilStat"])
    if not interceptor or not listener or not stat or word(stat + 16) != bias + statics["_ZL6config"]:
        return None
    queue = word(stat + 40)  # py_out_queue: the `on` stream's ServerQueue
    out_q = ctypes.cast(queue, ctypes.py_object).value if queue else None
    detach = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(bias + functions["gum_interceptor_detach"])
    detach(interceptor, listener)  # CFUNCTYPE calls release the GIL
    ctypes.c_bool.from_address(stat + 32).value = False  # running_flag: the stat loop ends at its next wake-up
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)  # without the GIL: the stat thread can finish a report and exit
        if not thread_named("gil_stat"):
            break
    return out_q  # running_flag is down: upstream's stop() will not end the `on` stream, we do


def thread_named(name):
    import os

    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as comm:
                if comm.read().strip() == name:
                    return True
        except OSError:
            pass
    return False



def patch_gilstat(state, here):
    """Makes the agent's symbol lookup (`resolve_symbol_address`, used by gilstat for take_gil and
    drop_gil) find symbols in a shared libpython or a debug file. The agent's native side adds the
    offset we passed at load time (the third field of attach_params.data) to what this returns."""
    import os

    try:
        with open(os.path.join(here, "attach_params.data")) as params:
            state.nm_offset = int(params.read().strip().split(",")[2])
    except (OSError, ValueError, IndexError):
        return
    import flight_profiler.utils.shell_util as shell_util
    import sys

    original = shell_util.resolve_symbol_address

    def resolve_symbol_address(symbol, pid):
        if int(pid) != os.getpid():
            return original(symbol, pid)
        found, searched = elf.locate_symbols("self", [symbol])
        if symbol not in found:
            raise LookupError("PyFlight: no symbol %s in %s (stripped interpreter, no debug symbols)"
                              % (symbol, " or ".join(searched) or "the interpreter"))
        address, path = found[symbol]
        state.symbols[symbol] = (address, path)
        return address - state.nm_offset

    def resolve_symbol_address(symbol, pid, _resolve=resolve_symbol_address):
        patch_gil_off()  # the plugin module is imported by now
        return _resolve(symbol, pid)

    state.symbols = {}
    resolve_symbol_address.pyflight = True
    shell_util.resolve_symbol_address = resolve_symbol_address
    plugin = sys.modules.get("flight_profiler.plugins.gilstat.server_plugin_gilstat")
    if plugin is not None:
        plugin.resolve_symbol_address = resolve_symbol_address


def patch_expression_cache():
    """flight-profiler's expression resolvers (watch/trace `--expr`, `-f`, getglobal/vmtool `-e`)
    `exec` their `def expr_func_…(…): return <expr>` source on *every* evaluation: a watched call
    paid ~12 µs of compiling per record (a third of the wrapper's cost on a 1 ms handler). The
    function is now made once per resolver, on its first evaluation, in the same globals (the
    resolver module's), so what an expression sees and how a bad one fails (on each evaluation, with
    the same traceback) do not change."""
    from flight_profiler.common import expression_resolver as module

    def cached(resolver, mangled):
        fn = resolver.__dict__.get("_pyflight_fn")
        if fn is None:
            namespace = {}
            exec(getattr(resolver, "_%s__code" % mangled), module.__dict__, namespace)
            fn = resolver.__dict__["_pyflight_fn"] = namespace[getattr(resolver, "_%s__func_name" % mangled)]
        return fn

    method = module.MethodInvocationExprResolver
    if getattr(method.eval, "pyflight", False):
        return

    def eval_invocation(self, target_obj, return_obj, *args, **kwargs):
        return cached(self, "MethodInvocationExprResolver")(target_obj, return_obj, *args, **kwargs)

    def eval_filter(self, target_obj, return_obj, cost, *args, **kwargs):
        if getattr(self, "_FilterExprResolver__expr") is None:
            return True
        return bool(cached(self, "FilterExprResolver")(target_obj, return_obj, cost, *args, **kwargs))

    def target_of(mangled):
        def eval_target(self, target_obj):
            return cached(self, mangled)(target_obj)
        return eval_target

    patches = [(method, "eval", eval_invocation), (module.FilterExprResolver, "eval_filter", eval_filter)]
    for name in ("InstanceExprResolver", "InstanceListExprResolver"):
        cls = getattr(module, name, None)
        if cls is not None:
            patches.append((cls, "eval_target", target_of(name)))
    for cls, attribute, fn in patches:
        fn.pyflight = True
        setattr(cls, attribute, fn)


def patch_pympler_heap_walk():
    """pympler's muppy.get_objects (flight-profiler's `mem`) calls gc.get_referents on every tracked
    object, modules included. On CPython 3.12 (gh-122695, fixed in 3.13.0) the `_asyncio` module's
    traverse visits its FutureIter freelist, so get_referents returns *freed* objects; dropping the
    list frees them again and corrupts the freelist: a later `await` crashed the target with SIGSEGV
    in future_new_iter, or it hung at exit. A module's referents are its __dict__ (tracked, so
    walked anyway) and what its C state holds: skipping modules loses no object the walk can size.
    Called right before `mem` runs (the plugin imports pympler itself then)."""
    import types

    try:
        from pympler import muppy
    except Exception:
        return
    if getattr(muppy.get_referents, "pyflight", False):
        return
    original = muppy.get_referents

    def get_referents(object, level=1):
        if isinstance(object, types.ModuleType):
            return []
        return original(object, level)

    get_referents.pyflight = True
    muppy.get_referents = get_referents


_RENDERERS = {}  # width -> the function that renders one value (render_call)


def _renderer(width):
    """One value's text as reprlib.Repr with PyFlight's limits writes it. The Repr is made once per
    width (it keeps no state while it renders, so threads share it); the exact types whose reprlib
    text is their plain repr when it is short enough (int up to maxlong, str, float, bool, None up
    to `width`), at any depth, are written without reprlib's dispatch. A watched call paid 10 µs for
    two numbers (a new Repr and its dispatch per call), 1.7 now; what it shows is the same."""
    import reprlib

    limits = {}

    class Repr(reprlib.Repr):
        def repr1(self, x, level, _limits=limits, _repr=repr, _repr1=reprlib.Repr.repr1):
            limit = _limits.get(type(x))  # the elements of containers too
            if limit is not None:
                try:
                    text = _repr(x)
                    if len(text) <= limit:
                        return text
                except Exception:
                    pass  # e.g. an int longer than sys.get_int_max_str_digits(): reprlib's own way
            return _repr1(self, x, level)

    r = Repr()
    r.maxstring = r.maxother = width
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 10
    limits.update({int: r.maxlong, str: width, float: width, bool: width, type(None): width})
    level, repr1 = r.maxlevel, r.repr1

    def one(x):
        return repr1(x, level)

    _RENDERERS[width] = one
    return one


def render_call(args, kwargs, return_obj, names, width=120):
    """A watched call as PyFlight shows it: the arguments as Python (`line='k,v', sep=','`, names from
    the signature) and the return value's repr, joined by NUL. Evaluated for every watched call: never
    raises, never prints, reprs cut by reprlib (a huge or broken value costs little)."""
    try:
        one = _RENDERERS.get(width) or _renderer(width)
        pos = list(args)
        out = []
        for name, kind in names:
            if kind > 1 or not pos:
                break
            out.append(name + "=" + one(pos.pop(0)))
        out += [one(v) for v in pos]
        out += [str(k) + "=" + one(v) for k, v in kwargs.items()]
        return ", ".join(out) + "\x00" + one(return_obj)
    except Exception:
        return "?\x00?"


def patch_call_renderer():
    """Makes `_pyflight_render(args, kwargs, return_obj, names, width)` callable from watch expressions
    (they run with the globals of flight-profiler's expression_resolver module): PyFlight's watch then
    sends a call of a function the agent shipped with literal arguments, which the door lets through
    even when code execution is off, instead of a piece of code to exec on every call."""
    from flight_profiler.common import expression_resolver

    expression_resolver.__dict__.setdefault("_pyflight_render", render_call)


RECORDS = "pyflight.records"  # a frame of several records: (RECORDS, 1, (kind, method, expr), [row, …])
_KIT = {}  # what Deferred needs from flight-profiler, set by patch_watch_record


def records_frame(key, rows):
    """One frame for consecutive watch records of one probe: builtins only (the helper unpickles no
    class), the method and expression once. A row is (start_ms, cost_ms, type, value, watch_fail_info):
    the fields of upstream's WatchResult that differ between the calls of one watch."""
    return _KIT["pickle"].dumps((RECORDS, 1, key, rows))


class Deferred(tuple):
    """A watched call whose record the agent's loop builds (patch_watch_record): (setting, start_ms,
    time_cost, value, encoded, failed_info). A tuple, made in C in the watched thread (no __init__)."""

    __slots__ = ()
    is_end = False

    def pyflight_row(self):
        """(("watch", method, expr), row) for records_frame, or None when encoding the value failed
        (pyflight_materialize then sends upstream's failure record)."""
        setting, start_ms, time_cost, value, encoded, failed_info = self
        displayer = setting.watch_displayer
        try:
            if encoded is None:
                encoded = _KIT["encode"](value, displayer.expand_level, displayer.raw_output, verbose=displayer.verbose)
            return ("watch", displayer.method_identifier, displayer.expr), (start_ms, time_cost, str(type(value)), encoded, failed_info)
        except Exception:
            return None

    def pyflight_materialize(self):
        """The record as upstream's WatchDisplayer.dump would have pickled it, in a Message."""
        setting, start_ms, time_cost, value, encoded, failed_info = self
        pickle, WatchResult, Message = _KIT["pickle"], _KIT["WatchResult"], _KIT["Message"]
        displayer = setting.watch_displayer
        try:
            if encoded is None:
                encoded = _KIT["encode"](value, displayer.expand_level, displayer.raw_output, verbose=displayer.verbose)
            return Message(False, pickle.dumps(WatchResult(
                method_identifier=displayer.method_identifier, cost_ms=time_cost, is_exp=False, start_ms=start_ms,
                expr=displayer.expr, watch_fail_info=failed_info, type=str(type(value)), value=encoded)))
        except Exception:  # what upstream's dump_result sends when building the record failed
            return Message(False, pickle.dumps(WatchResult(
                method_identifier=setting.method_identifier, cost_ms=time_cost, is_exp=False, start_ms=start_ms,
                filter_expr=setting.filter_expr, filter_fail_info=_KIT["traceback"].format_exc())))


def patch_watch_record(depth=3, items=32):
    """A watched call does as little as it can in the target's thread; the record is built on the
    agent's loop (issue 20, docs/flight-profiler-notes.md "What a watch costs the target").

    Upstream's `WatchSetting.dump_result` builds each record in the watched call's thread: the
    filter, the expression, a `WatchResult`, `encode_obj_to_transfer`'s generators and
    `pickle.dumps`. Timed on a 1 ms handler, that path took 6.8 µs in a tight loop but 45 µs run
    once per call between the handler's work (cold caches, evicted both ways), and more on a machine
    with smaller caches or busier neighbours: the watch cost 1-3 % of the handler on one machine and
    6-10 % on another. Now only the filter and the expression run in the call (their values must be
    taken then); when the value is immutable (numbers, strings, bytes, None, and tuples / frozensets
    of them, small), encoding it and pickling the record wait for the loop's drain
    (`patch_closed_loop_output`), which builds its batch one after another with warm caches. A
    mutable value is encoded at call time, as upstream does (its later state must not show), and
    only the pickling waits. Records, their order and their content are what upstream sends; a
    client that asked for record frames (PyFlight's helper) gets consecutive records in one frame
    (records_frame), which costs the agent's thread a quarter of a WatchResult pickle each."""
    import pickle
    import traceback

    from flight_profiler.common.dumps import encode_obj_to_transfer
    from flight_profiler.common.system_logger import logger
    from flight_profiler.plugins import server_plugin
    from flight_profiler.plugins.watch import watch_agent, watch_displayer

    import os

    cls = watch_agent.WatchSetting
    if getattr(cls.dump_result, "pyflight", False) or os.environ.get("PYFLIGHT_WATCH_RECORD_UPSTREAM") == "1":  # the target's environment: to compare
        return
    WatchResult = watch_displayer.WatchResult
    Message = server_plugin.Message
    _KIT.update(pickle=pickle, traceback=traceback, encode=encode_obj_to_transfer, WatchResult=WatchResult, Message=Message)
    scalars = frozenset([int, float, complex, str, bytes, bool, type(None)])
    new_deferred = tuple.__new__

    def frozen(value, left):
        kind = type(value)  # exactly these types: a subclass may render mutable state
        if kind in scalars:
            return True
        if (kind is tuple or kind is frozenset) and left > 0 and len(value) <= items:
            left -= 1
            for v in value:
                if type(v) not in scalars and not frozen(v, left):
                    return False
            return True
        return False

    original = cls.dump_result

    def dump_result(self, start_ms, target_obj, time_cost, return_obj, *args, **kwargs):
        out_q = self.out_q
        # Only the drain of patch_closed_loop_output builds deferred records.
        if out_q is None or not getattr(type(out_q).output_msg_nowait, "pyflight", False):
            return original(self, start_ms, target_obj, time_cost, return_obj, *args, **kwargs)
        try:
            # no filter: upstream's eval_filter is True without evaluating anything
            if self.filter_expr is not None and not self.watch_filter.eval_filter(target_obj, return_obj, time_cost, *args, **kwargs):
                return None
            displayer = self.watch_displayer
            value, failed_info = None, None
            try:
                resolver = displayer.expr_resolver
                fn = resolver.__dict__.get("_pyflight_fn")  # compiled once (patch_expression_cache): called directly
                if fn is not None:
                    value = fn(target_obj, return_obj, *args, **kwargs)
                else:
                    value = resolver.eval(target_obj, return_obj, *args, **kwargs)
            except Exception:
                failed_info = traceback.format_exc()
                logger.exception("[WatchDisplayer] parse expression failed.")
            encoded = None
            if not frozen(value, depth):
                encoded = encode_obj_to_transfer(value, displayer.expand_level, displayer.raw_output, verbose=displayer.verbose)
            out_q.output_msg_nowait(new_deferred(Deferred, (self, start_ms, time_cost, value, encoded, failed_info)))
        except Exception:
            out_q.output_msg_nowait(Message(False, pickle.dumps(WatchResult(
                method_identifier=self.method_identifier, cost_ms=time_cost, is_exp=False, start_ms=start_ms,
                filter_expr=self.filter_expr, filter_fail_info=traceback.format_exc()))))
        return None

    dump_result.pyflight = True
    cls.dump_result = dump_result


def patch_trace_thread_name():
    """trace records name the thread that made the call from `threading`'s objects; in a process
    that never imported `threading` itself, the module was imported by the agent's thread, which it
    calls "MainThread", and the real main thread has no object (name None) or a `_DummyThread`
    ("Dummy-1", daemon True) once something called current_thread() there. The record is built in
    the traced thread (c_bind_output_trace_frames): the thread whose native id is the pid is
    MainThread, not a daemon (the rule reads.thread_names has for stacks)."""
    import os
    import threading

    from flight_profiler.plugins.trace import trace_frame

    cls = trace_frame.WrapTraceFrame
    if getattr(cls.__init__, "pyflight", False):
        return
    original = cls.__init__
    get_native_id = getattr(threading, "get_native_id", None)

    def __init__(self, frames):
        original(self, frames)
        try:
            if get_native_id is not None and get_native_id() == os.getpid():
                self.thread_name, self.is_daemon = "MainThread", False
        except Exception:
            pass

    __init__.pyflight = True
    cls.__init__ = __init__
