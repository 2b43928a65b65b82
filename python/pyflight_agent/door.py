"""Runs INSIDE the target: the agent's only door, and what may pass through it.

flight-profiler's agent listens on a TCP port of 127.0.0.1 with no authentication: any local user
could run code as the target's user through it. PyFlight's agent listens instead on a Unix socket
in a directory that only the target's user can enter (mode 0700, in the target's own temporary
directory, which the helper reaches from the host through /proc/<pid>/root), and answers only a
peer whose credentials (SO_PEERCRED) are the target's user or root — the JVM attach API's rule.

Through the door pass:
- flight-profiler's own requests ({target, param} frames, as its client sends them), after two
  checks made here in the target, whoever the client is: no request imports a module the process
  has not imported (flight-profiler would import it, running its top-level code again), and, when
  the agent was loaded with code execution off (`allowCode` false), nothing that runs code or
  changes the target (console, reload, expressions, filters, replay, forceGc);
- PyFlight's own calls (`{"target": "pyflight", "param": {"call", "args"}}`): named functions of the
  in-target files staged with this agent (CALLS below), never code sent by the client. They answer
  JSON text frames: zero or more {"progress": …}, then {"result": …} or {"error": …}; a client that
  closes its connection cancels a call that asks `ctx.cancelled()`.
A refused request is answered with one text frame `PYFLIGHT-REFUSED {"code", "message", "hint"}`.

Stdlib only, Python 3.8+. Nothing here may raise into the target.
"""

import json
import os
import socket
import struct
import threading
import time

REFUSED = "PYFLIGHT-REFUSED "
VERSION = 1

# PyFlight's in-target calls: name -> (file the bootstrap loaded, function, runs code in the target).
# "Runs code" is True, False, or the index of an argument that is code when given (an expression of
# the user's). A call that runs code is refused when the agent was loaded with allowCode false.
CALLS = {
    "agent.log": (None, "drain_log", False),
    "agent.status": (None, "status", False),
    "agent.terminalPort": (None, "terminal_port", False),
    "agent.closeTerminalPort": (None, "close_terminal_port", False),
    "reads.threadNames": ("reads.py", "thread_names", False),
    "reads.mainThreadIdent": ("reads.py", "main_thread_ident", False),
    "reads.imported": ("reads.py", "imported", False),
    "reads.globalsOf": ("reads.py", "globals_of", False),
    "reads.signature": ("reads.py", "signature", False),
    "reads.gcObjectCount": ("reads.py", "gc_object_count", False),
    "reads.ttIdentities": ("reads.py", "tt_identities", False),
    "reads.frameworksOf": ("reads.py", "frameworks_of", False),
    "reads.instances": ("reads.py", "instances", 6),
    "reads.torchFacts": ("reads.py", "torch_facts", False),
    "reads.torchAllowCpuProfile": ("reads.py", "torch_allow_cpu_profile", False),
    "holders.holders": ("holders.py", "holders", False),
    "census.census": ("census.py", "census", False),
    "holders.containers": ("holders.py", "containers", False),
    "exceptions.start": ("exception_hook.py", "start", False),
    "exceptions.finish": ("exception_hook.py", "finish", False),
    "exceptions.check": ("exception_hook.py", "check", False),
    "live.api": ("live_code.py", "api", True),
}

# flight-profiler's console points sys.stdout and sys.stderr of *every* thread at a fresh StringIO per
# line, closes it after the line and frees it at the next: a target thread inside print() at that
# moment (print() holds sys.stdout as a borrowed reference) writes to a closed or freed stream, which
# raises into the target or crashes CPython (docs/flight-profiler-notes.md). PyFlight's own console
# redirects only the line's thread, with stand-ins that are never freed (live_code.py).
_UNSAFE_CONSOLE = ("UNSAFE_IN_TARGET",
                   "flight-profiler's console swaps the process's sys.stdout and sys.stderr for every thread; a "
                   "thread printing at that moment can fail or crash the process, so PyFlight's agent does not run it.",
                   "Use PyFlight: Open Console (or `pyflight console <pid>`), which redirects only its own line's "
                   "output, or Evaluate.")

# flight-profiler requests that name a module to act on: the target word -> how to read the module.
_CODE_FREE_TARGETS = frozenset(["stack", "mem", "module", "gilstat", "perf", "torch", "help", "history", "cls"])


def peer_uid(conn):
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), or of a loopback TCP
    connection (its row in /proc/self/net/tcp*, as identd reads it); None when unknown."""
    if conn.family == socket.AF_UNIX:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    local, remote = conn.getsockname(), conn.getpeername()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    # the peer's own socket: its local end is our remote end, its remote end is our local end
                    if len(fields) > 7 and _port(fields[1]) == remote[1] and _port(fields[2]) == local[1]:
                        return int(fields[7])
        except OSError:
            continue
    return None


def _port(address):
    return int(address.rsplit(":", 1)[1], 16)


class Door(object):
    """The policy and PyFlight's calls; the server classes below ask it before anything runs."""

    def __init__(self, config, modules, state):
        self.allow_code = bool(config.get("allowCode", True))
        self.modules = modules  # in-target files loaded by the bootstrap: {"reads.py": namespace, …}
        self.state = state
        self.uid = os.geteuid()
        self.terminal = None  # (server, loop, thread) of the TCP port opened for flight-profiler's CLI
        self.hooks = {}  # flight-profiler target -> what to prepare before its plugin runs

    # -- who may connect -------------------------------------------------------------------------

    def admits(self, conn):
        try:
            uid = peer_uid(conn)
        except OSError:
            return False
        if uid is not None and (uid == 0 or uid == self.uid):
            return True
        self.state.log_line("WARNING refused a connection from uid %s" % uid)
        return False

    # -- what may run ----------------------------------------------------------------------------

    def refusal(self, target, param):
        """None when the request may run, else (code, message, hint)."""
        if target == "pyflight":
            return None  # checked per call in `call`
        if target == "console":
            return _UNSAFE_CONSOLE
        if not self.allow_code and target == "reload":
            return self._code_off("`%s` runs code in the process" % target)
        if target in _CODE_FREE_TARGETS or not isinstance(param, str):
            return None
        try:
            facts = _request_facts(target, param)
        except Exception:
            return None  # flight-profiler's own parser rejects it and runs nothing
        if facts is None:
            return None
        module, code = facts
        if module and module not in _sys_modules():
            return _not_imported(module)
        if code and not self.allow_code:
            return self._code_off(code)
        return None

    def _code_off(self, what):
        return ("CODE_EXECUTION_OFF", "%s, and the agent in process %d was loaded with code execution off "
                "(pyflight.agent.allowCode = false)." % (what[0].upper() + what[1:], os.getpid()),
                "Observation works (stacks, watch, trace, profiles, memory, values). To run code, restart the "
                "process and load the agent with code execution allowed.")

    # -- PyFlight's calls ------------------------------------------------------------------------

    def call(self, param, send, cancelled):
        """Runs one call of CALLS; `send(obj)` writes one JSON frame."""
        try:
            request = json.loads(param) if isinstance(param, str) else param
            name, args = request["call"], list(request.get("args") or [])
        except (ValueError, KeyError, TypeError):
            send({"error": {"code": "HELPER_PROTOCOL", "message": "Malformed PyFlight call."}})
            return
        entry = CALLS.get(name)
        if entry is None:
            send({"error": {"code": "AGENT_OUTDATED", "message": "This agent (door version %d) has no call %r." % (VERSION, name),
                            "hint": "The agent was loaded by another PyFlight version; restart the process to load this one."}})
            return
        filename, function, runs_code = entry
        if runs_code is not True and runs_code is not False:  # an argument that is code when given
            runs_code = len(args) > runs_code and bool(args[runs_code])
        if runs_code and not self.allow_code:
            code, message, hint = self._code_off("%s runs code in the process" % name)
            send({"error": {"code": code, "message": message, "hint": hint}})
            return
        owner = self if filename is None else self.modules.get(filename)
        fn = getattr(owner, function, None)
        if fn is None:
            send({"error": {"code": "AGENT_OUTDATED", "message": "%s is not loaded in this agent." % (filename or name)}})
            return
        ctx = _Context(send, cancelled)
        try:
            result = fn(*args, ctx=ctx) if getattr(fn, "takes_ctx", False) else fn(*args)
        except BaseException as exc:  # nothing escapes into the agent's thread
            import traceback

            send({"error": {"code": "INTERNAL", "message": "%s: %s" % (type(exc).__name__, exc),
                            "type": type(exc).__name__, "traceback": traceback.format_exc()[-4000:]}})
            return
        send({"result": result})

    def drain_log(self):
        lines = []
        log = self.state.log
        while log:
            lines.append(log.popleft())
        return lines

    def status(self):
        return {"version": VERSION, "pid": os.getpid(), "allowCode": self.allow_code, "startedAt": self.state.started,
                "door": self.state.door_path, "forkedFrom": self.state.forked_from, "calls": sorted(CALLS),
                "terminalPort": self.terminal[0].port if self.terminal else None}

    def terminal_port(self, pid, ctx=None):
        """A TCP port on 127.0.0.1 for flight-profiler's own CLI (PyFlight's terminal), only on the user's
        explicit request, open while the client that asked keeps its connection: the port number goes
        out as a progress frame, and the port closes when that connection closes (the terminal closed,
        PyFlight detached, or its helper died) or on `agent.closeTerminalPort`. The same checks as the
        door: a peer of the target's user or root (its uid from /proc/self/net/tcp), the same policy.
        `pid` is the number the CLI knows the process by (the host's, for a process in a container):
        the port's `status` answers it, as the CLI checks."""
        if self.terminal is not None:
            raise OSError("a terminal port is open already (%d): one terminal at a time" % self.terminal[0].port)
        import asyncio

        server = self.state.server_class(self, ("127.0.0.1", 0))
        server.status_pid = str(pid)
        ready = threading.Event()
        box = {}

        def run():
            loop = asyncio.new_event_loop()
            box["loop"] = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.run(ready))
            except BaseException as exc:
                box["error"] = exc
                ready.set()

        thread = threading.Thread(target=run, name="flight-profiler-terminal-port", daemon=True)
        thread.start()
        ready.wait(5)
        if "error" in box or server.server_socket is None:
            raise OSError("cannot listen on 127.0.0.1: %s" % box.get("error"))
        server.port = server.server_socket.getsockname()[1]
        self.terminal = (server, box["loop"], thread)
        self.state.log_line("INFO terminal port %d opened" % server.port)
        try:
            ctx.progress({"port": server.port}, every=0)
            while self.terminal is not None and self.terminal[0] is server and not ctx.cancelled():
                time.sleep(0.2)
        finally:
            self._close_terminal(server)
        return {"port": server.port, "closed": True}

    terminal_port.takes_ctx = True

    def close_terminal_port(self):
        if self.terminal is None:
            return {"closed": False}
        self._close_terminal(self.terminal[0])
        return {"closed": True}

    def _close_terminal(self, server):
        if self.terminal is None or self.terminal[0] is not server:
            return
        _server, loop, thread = self.terminal
        self.terminal = None
        server.close()
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        thread.join(5)
        self.state.log_line("INFO terminal port %d closed" % server.port)


class _Context(object):
    """What a long call gets: progress frames, and whether its client went away."""

    def __init__(self, send, cancelled):
        self._send = send
        self._cancelled = cancelled
        self._last = 0.0

    def progress(self, data, every=0.2):
        now = time.monotonic()
        if now - self._last >= every:
            self._last = now
            self._send({"progress": data})

    def cancelled(self):
        return self._cancelled()


def _sys_modules():
    import sys

    return sys.modules


def _not_imported(module):
    """MODULE_NOT_FOUND, naming the module the user most likely meant (a script runs as __main__)."""
    modules = _sys_modules()
    stem = module.rsplit(".", 1)[-1]
    meant = None
    for name, mod in list(modules.items()):
        path = getattr(mod, "__file__", None) or ""
        if path and os.path.splitext(os.path.basename(path))[0] == stem and name != module:
            meant = name
            if name == "__main__":
                break
    hint = "PyFlight never imports a module into a process: use the name the process imported it under."
    if meant:
        hint = "Did you mean `%s`? %s" % (meant, "The script a process runs is the module `__main__`. " if meant == "__main__" else "") + hint
    return ("MODULE_NOT_FOUND", "Module %s is not imported in process %d." % (module, os.getpid()), hint)


def _request_facts(target, param):
    """(module the request acts on or None, what in it runs code or None), from flight-profiler's own
    parsers (the ones its plugins then use), or None when the request names no module."""
    words = param.split()
    if target in ("watch", "trace"):
        if not words or words[0] not in ("on", "off"):
            return None
        rest = param.strip()[len(words[0]):]
        if target == "watch":
            from flight_profiler.plugins.watch.watch_parser import WatchArgumentParser

            s = WatchArgumentParser().parse_watch_setting(rest)
            code = None
            if words[0] == "on":
                if s.filter_expr:
                    code = "a watch filter (-f) is code"
                elif not _harmless_watch_expr(s.watch_expr):
                    code = "a watch expression (--expr) is code"
            return s.module_name, code
        from flight_profiler.plugins.trace.trace_parser import TraceArgumentParser

        point = TraceArgumentParser().parse_trace_point(rest)
        code = "a trace filter (-f) is code" if words[0] == "on" and getattr(point, "filter_expr", None) else None
        return point.module_name, code
    if target == "tt":
        if not words or words[0] != "on":
            return None
        from flight_profiler.plugins.tt.time_tunnel_parser import TimeTunnelArgumentParser

        cmd = TimeTunnelArgumentParser().parse_time_tunnel_cmd(param.strip()[len(words[0]):])
        code = "replaying a call (-p) runs it again" if getattr(cmd, "play", False) else (
            "a time tunnel filter (-f) is code" if getattr(cmd, "filter_expr", None) else None)
        location = getattr(cmd, "time_tunnel", None)
        return (location.split()[0] if isinstance(location, str) and location.split() else None), code
    if target == "getglobal":
        from flight_profiler.plugins.getglobal.getglobal_parser import GetGlobalParser

        p = GetGlobalParser().parse_getglobal_params(param)
        expr = (getattr(p, "expr", None) or "target").strip()
        return p.module_name, (None if expr == "target" else "a getglobal expression (-e) is code")
    if target == "vmtool":
        from flight_profiler.plugins.vmtool.vmtool_parser import VmtoolArgumentParser

        p = VmtoolArgumentParser().parse_params(param)
        if getattr(p, "action", None) == "forceGc":
            return None, "forceGc changes the process"
        expr = (getattr(p, "expr", None) or "instances").strip()
        module = getattr(p, "module_name", None)
        return module, (None if expr == "instances" else "a vmtool expression (-e) is code")
    return None


def _harmless_watch_expr(expr):
    """flight-profiler's default, or PyFlight's renderer called with literal arguments only."""
    if expr is None or expr.replace(" ", "") in ("args,kwargs", "args", "kwargs", "return_obj", "target"):
        return True
    import ast

    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return False
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "_pyflight_render"
            and not tree.keywords):
        return False
    names = [a.id for a in tree.args if isinstance(a, ast.Name)]
    literals = [a for a in tree.args if not isinstance(a, ast.Name)]
    if names != ["args", "kwargs", "return_obj"] or tree.args[:3] != [a for a in tree.args if isinstance(a, ast.Name)]:
        return False
    for literal in literals:
        try:
            ast.literal_eval(literal)
        except ValueError:
            return False
    return True


def server_class(base):
    """flight-profiler's FlightProfilerServer, listening on the door (a Unix socket path) or, for the
    terminal port, on a (host, port) pair; both check the peer and the request before anything runs."""
    import asyncio

    class DoorServer(base):
        def __init__(self, door, address):
            base.__init__(self, "", 0)
            self.door = door
            self.address = address
            self.port = address[1] if isinstance(address, tuple) else None
            self.special_method_dispatcher = {"status": self._status}

        status_pid = None  # the terminal port's: the pid its CLI was given (the host's, for a container)

        def _status(self, _ignored):
            # flight-profiler's answer (its CLI checks pid and app_type), plus ours
            return {"pid": self.status_pid or str(os.getpid()), "app_type": "py_flight_profiler", "pyflight": self.door.status()}

        async def run(self, ready=None):
            if self.loop is None:
                self.loop = asyncio.get_event_loop()
            if isinstance(self.address, tuple):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(self.address)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.bind(self.address)
                os.chmod(self.address, 0o600)  # as the JVM's .java_pid<pid>: the directory is private already
            sock.listen(100)
            sock.setblocking(False)
            self.server_socket = sock
            if ready is not None:
                ready.set()
            await self.accept_connections()

        def close(self):
            sock, self.server_socket = self.server_socket, None
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

        def _sync_handle_client(self, client_socket, addr):
            # upstream's, and then the thread forgets its loop: upstream leaves each closed loop set as
            # its pool thread's current one, so the census saw the agent's own loops (and their
            # WeakSets) grow with the pool's threads between two censuses (judge 5, D9).
            try:
                base._sync_handle_client(self, client_socket, addr)
            finally:
                asyncio.set_event_loop(None)

        async def accept_connections(self):
            import concurrent.futures

            executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="flight-profiler-recv-", max_workers=200)
            try:
                while self.server_socket is not None:
                    try:
                        conn, addr = await self.loop.sock_accept(self.server_socket)
                    except (OSError, ValueError, AttributeError):
                        if self.server_socket is None:
                            break  # closed (the terminal port, or a forked child)
                        await asyncio.sleep(0.1)
                        continue
                    if not self.door.admits(conn):
                        conn.close()
                        continue
                    self.loop.run_in_executor(executor, self._sync_handle_client, conn, addr)
            finally:
                executor.shutdown(wait=False)

        async def execute_plugin(self, cmd, param, writer, records=False):
            # upstream's FlightProfilerServer.execute_plugin (flight-profiler 1.0.7), except that its
            # ServerQueue knows the connection's writer: the bootstrap's drain
            # (patches.patch_closed_loop_output) writes each batch of messages in one socket write
            # instead of one asyncio queue hand-off and one write per message, and, for a client
            # that asked for them (`records`: PyFlight's helper), puts consecutive watch records in
            # one frame (patches.records_frame). Issue 20: the agent's thread spent ~20 µs per
            # watched call. The stream's end still comes through this queue.
            import importlib
            from asyncio import CancelledError

            from flight_profiler import server_flight_profiler as upstream
            from flight_profiler.plugins.server_plugin import ServerQueue

            if not hasattr(upstream, "_global_task_executor") or not hasattr(upstream, "do_action_background"):
                return await base.execute_plugin(self, cmd, param, writer)  # another flight-profiler: its own
            module = importlib.import_module("flight_profiler.plugins." + cmd + ".server_plugin_" + cmd)
            out_q = asyncio.Queue(maxsize=200)
            server_queue = ServerQueue(out_q, asyncio.get_event_loop())
            if getattr(ServerQueue.output_msg_nowait, "pyflight", False):  # the drain that writes batches
                server_queue.pyflight_writer = writer
                server_queue.pyflight_records = bool(records)
            plugin = module.get_instance(cmd, server_queue)
            upstream._global_task_executor.submit(upstream.do_action_background, plugin, param)
            while True:
                try:
                    msg = await out_q.get()
                except CancelledError:
                    continue  # as upstream's iter_data
                if msg is None:
                    continue
                if msg.msg is not None:
                    data = msg.msg if type(msg.msg) is bytes else msg.msg.encode("utf-8")
                    await self.send(data, writer)
                if msg.is_end:
                    return

        async def handle_client(self, client_socket, addr):
            # upstream's handle_client, with the door's checks first and PyFlight's calls
            writer = None
            try:
                client_socket.settimeout(30)
                request = json.loads(_read_frame(client_socket).decode("utf-8"))
                target = request["target"]
                param = request.get("param", "")
                refusal = self.door.refusal(target, param)
                if refusal is not None:
                    code, message, hint = refusal
                    _send_frame(client_socket, REFUSED + json.dumps({"code": code, "message": message, "hint": hint}))
                    return
                if target == "pyflight":
                    # PyFlight's calls run here, in this connection's thread, with plain socket writes
                    self.door.call(param, lambda obj: _send_frame(client_socket, json.dumps(obj)),
                                   lambda: _peer_closed(client_socket))
                    return
                hook = self.door.hooks.get(target)
                if hook is not None:
                    hook()
                reader, writer = await asyncio.open_connection(sock=client_socket)
                if request.get("is_plugin_calling", True):
                    if target in self.interactive_commands:
                        await self.execute_plugin_interactively(target, param, reader, writer)
                    else:
                        await self.execute_plugin(target, param, writer, records=request.get("pyflight_records") == 1)
                else:
                    await self.special_calling(target, param, writer)
            except Exception:
                self.door.state.log_exception("error in a request")
            finally:
                if writer is not None:
                    if not writer.is_closing():
                        writer.close()
                        try:
                            await writer.wait_closed()
                        except Exception:
                            pass
                else:
                    try:
                        client_socket.close()
                    except OSError:
                        pass

    return DoorServer


def _read_frame(sock):
    """One frame of flight-profiler's protocol: a 4-byte little-endian length, then the payload."""
    def exact(size):
        chunks = []
        while size:
            chunk = sock.recv(size)
            if not chunk:
                raise EOFError("connection closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    (length,) = struct.unpack("<L", exact(4))
    if length > 16 * 1024 * 1024:
        raise ValueError("request too large")
    return exact(length)


def _send_frame(sock, text):
    data = text.encode("utf-8")
    try:
        sock.sendall(struct.pack("<L", len(data)) + data)
    except OSError:
        pass  # the client went away: the call sees it through `cancelled`


def _peer_closed(sock):
    """The client closed its end (it sends nothing after its request, so readable means EOF)."""
    import select

    try:
        readable, _w, _x = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True
