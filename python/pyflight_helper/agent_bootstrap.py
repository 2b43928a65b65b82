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
- gilstat finds CPython's `take_gil`/`drop_gil` where they live: flight-profiler runs `nm` on the
  executable only, which finds nothing when the GIL code is in a shared libpython (pyenv, the
  python:3.x Docker images, many distro builds). `_pyflight_locate_symbols` reads the ELF symbol
  tables of the executable and of every mapped libpython (or their build-id debug files) with their
  load addresses from /proc/<pid>/maps; the helper runs the same function from outside.
- gilstat off is made safe: upstream deletes its statistics object while its detached `gil_stat`
  thread and threads inside the interceptor's listener still use it (SIGSEGV in the target); we
  detach the listener and stop that thread first (`_pyflight_patch_gil_off`).
- cheap per call: an expression (`--expr`, `-f`, `-e`) is compiled once, not on every evaluation
  (`_pyflight_patch_expression_cache`); records are batched to the agent's loop.

It must not raise into the target and must run on Python 3.8+. Names are prefixed so nothing leaks
into the application (the file runs with its own globals).
"""


def _pyflight_program_headers(f, head):
    """[(p_type, p_offset, p_vaddr, p_filesz)] of a 64-bit little-endian ELF file open as `f`."""
    import struct

    e_phoff = struct.unpack_from("<Q", head, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", head, 54)
    f.seek(e_phoff)
    ph = f.read(e_phentsize * e_phnum)
    out = []
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", ph, i * e_phentsize)
        out.append((p_type, p_offset, p_vaddr, p_filesz))
    return out


def _pyflight_elf_symbols(f, head, section_types, symbol_type):
    """Yields (string table, name offset, st_value) of every defined symbol of `symbol_type`
    (1 OBJECT, 2 FUNC) in the sections of `section_types` (2 SHT_SYMTAB, 11 SHT_DYNSYM)."""
    import struct

    e_shoff = struct.unpack_from("<Q", head, 40)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", head, 58)
    if not e_shoff or not e_shnum:
        return
    f.seek(e_shoff)
    sh = f.read(e_shentsize * e_shnum)
    sections = [struct.unpack_from("<IIQQQQIIQQ", sh, i * e_shentsize) for i in range(e_shnum)]
    for section in sections:
        if section[1] not in section_types or section[6] >= len(sections):
            continue
        strtab = sections[section[6]]
        f.seek(strtab[4])
        strings = f.read(strtab[5])
        f.seek(section[4])
        data = f.read(section[5])
        for off in range(0, len(data) - 23, 24):
            st_name, st_info, _other, _shndx, st_value = struct.unpack_from("<IBBHQ", data, off)
            if st_info & 0xF == symbol_type and st_value:
                yield strings, st_name, st_value


def _pyflight_elf_functions(path, wanted):
    """(e_type, lowest PT_LOAD vaddr, {name: st_value}) of the FUNC symbols named in `wanted` (also
    compiler clones: `take_gil.lto_priv.0`) in a 64-bit little-endian ELF file's .symtab/.dynsym;
    (None, None, {}) for anything else. Reads headers and symbol tables only."""
    import struct

    found = {}
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None, None, found
        e_type = struct.unpack_from("<H", head, 16)[0]
        loads = [vaddr for p_type, _offset, vaddr, _size in _pyflight_program_headers(f, head) if p_type == 1]  # PT_LOAD
        first_load = min(loads) if loads else None
        keys = [(name.encode("ascii"), name) for name in wanted]
        for strings, st_name, st_value in _pyflight_elf_symbols(f, head, (2, 11), 2):
            for key, name in keys:
                if name not in found and strings.startswith(key, st_name):
                    after = strings[st_name + len(key):st_name + len(key) + 1]
                    if after in (b"\x00", b"."):
                        found[name] = st_value
    return e_type, first_load, found


def _pyflight_build_id(path):
    """The GNU build id of an ELF file (hex), for /usr/lib/debug/.build-id/xx/yyyy.debug."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        for p_type, p_offset, _vaddr, p_filesz in _pyflight_program_headers(f, head):
            if p_type != 4:  # PT_NOTE
                continue
            f.seek(p_offset)
            notes = f.read(p_filesz)
            pos = 0
            while pos + 12 <= len(notes):
                namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
                name_end = pos + 12 + ((namesz + 3) & ~3)
                if ntype == 3 and notes[pos + 12:pos + 12 + namesz].rstrip(b"\x00") == b"GNU":
                    return notes[name_end:name_end + descsz].hex()
                pos = name_end + ((descsz + 3) & ~3)
    return None


def _pyflight_locate_symbols(pid, wanted, root=""):
    """Where CPython's functions `wanted` are in process `pid`'s memory: ({name: (address, file)},
    [files searched]). Candidates are the executable and every mapped libpython; each file's
    symbols come from itself or its build-id debug file; the load bias from /proc/<pid>/maps.
    `root` prefixes file paths (the helper reads a target's files through /proc/<pid>/root)."""
    import os

    exe = os.readlink("/proc/%d/exe" % pid)
    starts = {}
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6 or not parts[5].startswith("/"):
                continue
            path = parts[5].strip()
            if path == exe or os.path.basename(path).startswith("libpython"):
                start = int(parts[0].split("-")[0], 16)
                if path not in starts or start < starts[path]:
                    starts[path] = start
    found, searched = {}, []
    for path in sorted(starts, key=lambda p: p != exe):
        searched.append(path)
        missing = [name for name in wanted if name not in found]
        if not missing:
            break
        try:
            e_type, first_load, symbols = _pyflight_elf_functions(root + path, missing)
            if len(symbols) < len(missing):
                build_id = _pyflight_build_id(root + path)
                debug = build_id and "%s/usr/lib/debug/.build-id/%s/%s.debug" % (root, build_id[:2], build_id[2:])
                if debug and os.path.exists(debug):
                    searched.append(debug[len(root):])
                    _t, _l, more = _pyflight_elf_functions(debug, [n for n in missing if n not in symbols])
                    symbols.update(more)
        except (OSError, ValueError, IndexError):
            continue
        # ET_EXEC (2): absolute addresses; ET_DYN (3): relative to where the first segment is mapped.
        bias = starts[path] - ((first_load or 0) & ~0xFFF) if e_type == 3 else 0
        for name, value in symbols.items():
            found[name] = (bias + value, path)
    return found, searched


def _pyflight_patch_gil_off():
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
            out_q = _pyflight_quiesce_gilstat()
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


def _pyflight_patch_closed_loop_output(linger=0.005):
    """How the agent's answers and records reach their connection (flight-profiler's ServerQueue).

    1. Batched: upstream hands every message to the connection's event loop with
       run_coroutine_threadsafe, so each watched or traced call woke the agent's loop thread (a
       socket write) and handed it the GIL: most of the 15 % a watch cost a 1 ms handler. Messages
       now go into a deque; one drain on the loop sends them in order and lingers `linger` seconds
       for more before it stops, so a stream of records wakes the loop on its own timer, not once
       per call. A first message is still sent at once.
    2. A closed loop drops the message: once a probe's connection has ended, a call still inside
       the wrapper raised RuntimeError('Event loop is closed') *inside the target's function* (a
       trace turned it into SystemError from remove_trace_profile); it killed the bench's traced
       1 ms service. The output has nowhere to go then."""
    import asyncio
    import collections
    import threading

    from flight_profiler.plugins import server_plugin

    cls = server_plugin.ServerQueue
    if getattr(cls.output_msg_nowait, "pyflight", False):
        return
    Message = server_plugin.Message

    def _state(self):
        state = self.__dict__.get("_pyflight_out")
        if state is None:
            state = self.__dict__.setdefault("_pyflight_out", [collections.deque(), threading.Lock(), False])
        return state

    async def _drain(self, state):
        pending, lock = state[0], state[1]
        lingered = False
        while True:
            with lock:
                batch = list(pending)
                pending.clear()
                if not batch and lingered:
                    state[2] = False  # the next message schedules a new drain
                    return
            if batch:
                lingered = False
                for msg in batch:
                    await self.out_q.put(msg)
            else:
                lingered = True
                await asyncio.sleep(linger)

    def send(self, msg):
        loop = self.loop
        if loop is not None and loop.is_closed():
            return None
        state = _state(self)
        with state[1]:
            state[0].append(msg)
            if state[2]:
                return None  # a drain is running or lingering: it takes this one too
            state[2] = True
        try:
            asyncio.run_coroutine_threadsafe(_drain(self, state), loop)
        except RuntimeError:
            with state[1]:
                state[2] = False
            if loop is not None and loop.is_closed():  # closed between the check and the send
                return None
            raise
        return None

    def output_msg_nowait(self, msg):
        return send(self, msg)

    def output_msgstr_nowait(self, is_end, msg):
        return send(self, Message(is_end=(True if is_end != 0 else False), msg=msg))

    async def output_msg(self, msg):
        send(self, msg)

    for fn in (output_msg_nowait, output_msgstr_nowait, output_msg):
        fn.pyflight = True
    cls.output_msg_nowait = output_msg_nowait
    cls.output_msgstr_nowait = output_msgstr_nowait
    cls.output_msg = output_msg


def _pyflight_quiesce_gilstat(timeout=5.0):
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
    e_type, first_load, functions = _pyflight_elf_functions(installed, ["gum_interceptor_detach"])
    statics = _pyflight_elf_objects(installed, ["_ZL11interceptor", "_ZL8listener", "_ZL7gilStat", "_ZL6config"])
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
        if not _pyflight_thread_named("gil_stat"):
            break
    return out_q  # running_flag is down: upstream's stop() will not end the `on` stream, we do


def _pyflight_thread_named(name):
    import os

    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as comm:
                if comm.read().strip() == name:
                    return True
        except OSError:
            pass
    return False


def _pyflight_elf_objects(path, wanted):
    """{name: st_value} of the OBJECT symbols (static variables too) named in `wanted`."""
    found = {}
    with open(path, "rb") as f:
        head = f.read(64)
        keys = [(name.encode("ascii") + b"\x00", name) for name in wanted]
        for strings, st_name, st_value in _pyflight_elf_symbols(f, head, (2,), 1):  # .symtab: statics are local
            for key, name in keys:
                if name not in found and strings.startswith(key, st_name):
                    found[name] = st_value
    return found


def _pyflight_patch_gilstat(state, here):
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
        found, searched = _pyflight_locate_symbols(os.getpid(), [symbol])
        if symbol not in found:
            raise LookupError("PyFlight: no symbol %s in %s (stripped interpreter, no debug symbols)"
                              % (symbol, " or ".join(searched) or "the interpreter"))
        address, path = found[symbol]
        state.symbols[symbol] = (address, path)
        return address - state.nm_offset

    def resolve_symbol_address(symbol, pid, _resolve=resolve_symbol_address):
        _pyflight_patch_gil_off()  # the plugin module is imported by now
        return _resolve(symbol, pid)

    state.symbols = {}
    resolve_symbol_address.pyflight = True
    shell_util.resolve_symbol_address = resolve_symbol_address
    plugin = sys.modules.get("flight_profiler.plugins.gilstat.server_plugin_gilstat")
    if plugin is not None:
        plugin.resolve_symbol_address = resolve_symbol_address


def _pyflight_patch_expression_cache():
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

    try:
        _pyflight_patch_gilstat(state, os.path.dirname(os.path.abspath(globals().get("__file__", ""))))
    except Exception:
        pass
    try:
        _pyflight_patch_closed_loop_output()
    except Exception:
        pass
    try:
        _pyflight_patch_expression_cache()
    except Exception:
        pass

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


if "__profile_listen_port__" in globals():  # the helper imports this file for _pyflight_locate_symbols
    _pyflight_start(int(globals()["__profile_listen_port__"]))
