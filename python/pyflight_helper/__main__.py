"""Entry point: `python -m pyflight_helper` with python/ on PYTHONPATH and the target's interpreter."""

import importlib
import os
import signal
import sys

from . import errors
from .errors import HelperError
from .hello import hello
from .server import Server, load_methods


def _pid_param(req):
    pid = req.params.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        raise HelperError(errors.BAD_ARGUMENT, "pid must be a positive integer, got %r." % (pid,))
    return pid


def _open(srv, req):
    """A read-only session: checks the target and finds an agent already in it; loads nothing."""
    from .attach import describe, open_target

    pid = _pid_param(req)
    srv.pid, srv.agent = pid, open_target(pid)
    return {"pid": pid, "agent": describe(srv.agent) if srv.agent else None}


def _attach(srv, req):
    """Loads the agent (or finds the one already there); only for commands that need it."""
    from .attach import attach, describe

    pid = _pid_param(req)
    agent, reused, stages = attach(pid, timeout=float(req.params.get("timeoutSeconds", 30)), progress=req.progress,
                                   cancelled=req.cancelled, allow_code=req.params.get("allowCode", True) is not False)
    srv.pid, srv.agent = pid, agent
    return dict(describe(agent), pid=pid, reused=reused, stagesMs=stages)


def _probe_off(srv, req):
    """Turns off a probe another (crashed) helper installed: {target: watch|trace|tt, args}."""
    from .wire import request

    target, args = req.params.get("target"), req.params.get("args")
    if target not in ("watch", "trace", "tt") or not isinstance(args, str) or not args:
        raise HelperError(errors.BAD_ARGUMENT, "probeOff needs target (watch, trace or tt) and args.")
    request(srv.agent, target, "off " + args, timeout=10)
    return {}


def _gc_watch(srv, req):
    """The collector from outside (gc_state.py): pure ctypes, so it works without flight_profiler."""
    from . import gc_state

    seconds = req.params.get("seconds")
    if not isinstance(seconds, (int, float)) or not 1 <= seconds <= 120:
        raise HelperError(errors.BAD_ARGUMENT, "gcWatch: seconds is a number from 1 to 120, got %r." % (seconds,))
    enough = req.params.get("enoughAfter")
    return gc_state.watch(srv.pid, float(seconds), float(enough) if isinstance(enough, (int, float)) else None,
                          cancelled=req.cancelled, progress=req.progress)


def _command(module_name, call):
    """A handler in commands/<module_name>.py, imported on first use so `hello` works where
    flight_profiler is missing: call(module, req, pid, agent)."""
    def handle(srv, req):
        return call(importlib.import_module(".commands." + module_name, __package__), req, srv.pid, srv.agent)
    return handle


# One handler per method of the protocol's table (src/protocol/methods.ts, read here from
# methods.json): the server answers only methods with a row and calls a handler once what the row
# needs is there (an open target: `pid`; the agent: `agent`). gilstatOn needs only `open`: it
# samples from outside where the interpreter has no take_gil/drop_gil symbols.
HANDLERS = {
    "hello": lambda _srv, _req: hello(),
    "open": _open,
    "attach": _attach,
    "stack": _command("stack", lambda m, req, pid, agent: m.stack(
        pid, agent, native=bool(req.params.get("native")), include_async=bool(req.params.get("async")),
        include_agent_threads=bool(req.params.get("includeAgentThreads")))),
    "module": _command("module", lambda m, req, _pid, agent: m.module(agent, req.params.get("file"))),
    "watch": _command("watch", lambda m, req, _pid, agent: m.watch(req, agent)),
    "trace": _command("trace", lambda m, req, _pid, agent: m.trace(req, agent)),
    "ttRecord": _command("tt", lambda m, req, _pid, agent: m.tt_record(req, agent)),
    "ttList": _command("tt", lambda m, _req, _pid, agent: m.tt_list(agent)),
    "ttDetail": _command("tt", lambda m, req, _pid, agent: m.tt_detail(req.params, agent)),
    "ttReplay": _command("tt", lambda m, req, _pid, agent: m.tt_detail(req.params, agent, replay=True)),
    "ttDelete": _command("tt", lambda m, req, _pid, agent: m.tt_delete(req.params, agent)),
    "getglobal": _command("getglobal", lambda m, req, _pid, agent: m.getglobal(req.params, agent)),
    "listGlobals": _command("getglobal", lambda m, req, _pid, agent: m.list_globals(req.params, agent)),
    "getInstances": _command("vmtool", lambda m, req, _pid, agent: m.get_instances(req.params, agent)),
    "forceGc": _command("vmtool", lambda m, _req, pid, agent: m.force_gc(pid, agent)),
    "probeOff": _probe_off,
    "memSummary": _command("census", lambda m, req, pid, agent: m.mem_summary(req, agent, pid)),
    "memDiff": _command("census", lambda m, req, pid, agent: m.mem_diff(req, agent, pid)),
    "memCensus": _command("census", lambda m, req, pid, agent: m.mem_census(req, agent, pid)),
    "memHolders": _command("holders", lambda m, req, pid, agent: m.mem_holders(req.params, pid, agent)),
    "memContainers": _command("holders", lambda m, req, _pid, agent: m.mem_containers(req.params, agent)),
    "gilstatOn": _command("gilstat", lambda m, req, pid, agent: m.gilstat_on(req, pid, agent)),
    "gilstatOff": _command("gilstat", lambda m, _req, _pid, agent: m.gilstat_off(agent)),
    "gilstatState": _command("gilstat", lambda m, _req, pid, _agent: m.gilstat_state(pid)),
    "gcWatch": lambda srv, req: _gc_watch(srv, req),
    "torchCheck": _command("pytorch", lambda m, _req, pid, _agent: {"library": m.require_torch(pid)}),
    "torchProfile": _command("pytorch", lambda m, req, pid, agent: m.torch_profile(req, pid, agent)),
    "torchMemory": _command("pytorch", lambda m, req, pid, agent: m.torch_memory(req, pid, agent)),
    "consoleOpen": _command("live", lambda m, req, _pid, agent: m.call(agent, "consoleOpen", {"id": req.params.get("id")})),
    "consoleInput": _command("live", lambda m, req, _pid, agent: m.console_push(req, agent)),
    "consoleReset": _command("live", lambda m, req, _pid, agent: m.call(agent, "consoleReset", {"id": req.params.get("id")})),
    "consoleClose": _command("live", lambda m, req, _pid, agent: m.call(agent, "consoleClose", {"id": req.params.get("id")})),
    "eval": _command("live", lambda m, req, _pid, agent: m.evaluate(req, agent)),
    "reloadPlan": _command("live", lambda m, req, _pid, agent: m.call(agent, "reloadPlan", m.reload_args(req.params))),
    "reloadApply": _command("live", lambda m, req, _pid, agent: m.reload_apply(req, agent)),
    "reloadStale": _command("live", lambda m, req, _pid, agent: m.call(
        agent, "reloadStale", {"module": req.params.get("module"), "text": req.params.get("text")})),
    "exceptionWindow": _command("exceptions", lambda m, req, pid, agent: m.exception_window(req, pid, agent)),
    "exceptionHookCheck": _command("exceptions", lambda m, _req, _pid, agent: m.check_removed(agent)),
    "terminalPort": _command("terminal", lambda m, req, pid, agent: m.terminal_port(req, agent, pid)),
}


def main():
    # Ctrl+C in a terminal reaches the whole process group; the helper must outlive it long enough
    # to turn its probes off. It stops on `shutdown` or when stdin closes (its parent died).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Our stdout is the protocol channel: anything else printed there would corrupt it.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = protocol_out
    os.dup2(sys.stderr.fileno(), 1)
    Server(load_methods(), HANDLERS).serve(sys.stdin)


if __name__ == "__main__":
    main()
