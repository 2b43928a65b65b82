"""Entry point: `python -m pyflight_helper` with python/ on PYTHONPATH and the target's interpreter."""

import importlib
import os
import signal
import sys

from . import errors
from .errors import HelperError
from .hello import hello
from .server import Server

server = Server()


@server.handler("hello")
def _hello(_server, _req):
    return hello()


def _pid_param(req):
    pid = req.params.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        raise HelperError(errors.BAD_ARGUMENT, "pid must be a positive integer, got %r." % (pid,))
    return pid


@server.handler("open")
def _open(srv, req):
    """A read-only session: checks the target and finds an agent already in it; loads nothing."""
    from .attach import open_target

    pid = _pid_param(req)
    srv.pid, srv.port = pid, open_target(pid)
    return {"pid": pid, "agentPort": srv.port}


@server.handler("attach")
def _attach(srv, req):
    """Loads the agent (or finds the one already there); only for commands that need it."""
    from .attach import attach

    pid = _pid_param(req)
    port, reused, stages = attach(pid, timeout=float(req.params.get("timeoutSeconds", 30)), progress=req.progress,
                          cancelled=req.cancelled)
    srv.pid, srv.port = pid, port
    return {"pid": pid, "port": port, "reused": reused, "stagesMs": stages}


@server.handler("stack")
def _stack(srv, req):
    from .commands.stack import stack

    pid, port = srv.require_open()
    if req.params.get("async") and port is None:
        raise HelperError(errors.HELPER_PROTOCOL, "Async tasks need the agent: send `attach` first.")
    return stack(pid, port, native=bool(req.params.get("native")), include_async=bool(req.params.get("async")),
                 include_agent_threads=bool(req.params.get("includeAgentThreads")))


# Commands that talk to the attached agent: request name -> (module under commands/, call).
# Modules are imported on first use so `hello` works where flight_profiler is missing.
AGENT_COMMANDS = {
    "module": ("module", lambda m, req, port: m.module(port, req.params.get("file"))),
    "watch": ("watch", lambda m, req, port: m.watch(req, port)),
    "trace": ("trace", lambda m, req, port: m.trace(req, port)),
    "ttRecord": ("tt", lambda m, req, port: m.tt_record(req, port)),
    "ttList": ("tt", lambda m, _req, port: m.tt_list(port)),
    "ttDetail": ("tt", lambda m, req, port: m.tt_detail(req.params, port)),
    "ttReplay": ("tt", lambda m, req, port: m.tt_detail(req.params, port, replay=True)),
    "ttDelete": ("tt", lambda m, req, port: m.tt_delete(req.params, port)),
    "getglobal": ("getglobal", lambda m, req, port: m.getglobal(req.params, port)),
    "listGlobals": ("getglobal", lambda m, req, port: m.list_globals(req.params, port)),
    "getInstances": ("vmtool", lambda m, req, port: m.get_instances(req.params, port)),
    "memSummary": ("mem", lambda m, req, port: m.mem_summary(req, port, server.pid)),
    "memDiff": ("mem", lambda m, req, port: m.mem_diff(req, port, server.pid)),
    "memHolders": ("holders", lambda m, req, port: m.mem_holders(req.params, server.pid, port)),
    "memContainers": ("holders", lambda m, req, port: m.mem_containers(req.params, port)),
    "gilstatOff": ("gilstat", lambda m, _req, port: m.gilstat_off(port)),
    "forceGc": ("vmtool", lambda m, _req, port: m.force_gc(server.pid, port)),
    "torchProfile": ("pytorch", lambda m, req, port: m.torch_profile(req, server.pid, port)),
    "torchMemory": ("pytorch", lambda m, req, port: m.torch_memory(req, server.pid, port)),
    "exceptionWindow": ("exceptions", lambda m, req, port: m.exception_window(req, server.pid, port)),
    "exceptionHookCheck": ("exceptions", lambda m, _req, port: m.check_removed(port)),
    "consoleOpen": ("live", lambda m, req, port: m.call(port, "consoleOpen", {"id": req.params.get("id")})),
    "consoleInput": ("live", lambda m, req, port: m.console_push(req, port)),
    "consoleReset": ("live", lambda m, req, port: m.call(port, "consoleReset", {"id": req.params.get("id")})),
    "consoleClose": ("live", lambda m, req, port: m.call(port, "consoleClose", {"id": req.params.get("id")})),
    "eval": ("live", lambda m, req, port: m.evaluate(req, port)),
    "reloadPlan": ("live", lambda m, req, port: m.call(port, "reloadPlan", m.reload_args(req.params))),
    "reloadApply": ("live", lambda m, req, port: m.reload_apply(req, port)),
    "reloadStale": ("live", lambda m, req, port: m.call(port, "reloadStale", {"module": req.params.get("module"),
                                                                          "text": req.params.get("text")})),
}


def _register_agent_command(name, module_name, call):
    @server.handler(name)
    def _run(srv, req):
        module = importlib.import_module(".commands." + module_name, __package__)
        return call(module, req, srv.require_attached()[1])


for _name, (_module_name, _call) in AGENT_COMMANDS.items():
    _register_agent_command(_name, _module_name, _call)


@server.handler("probeOff")
def _probe_off(srv, req):
    """Turns off a probe another (crashed) helper installed: {target: watch|trace|tt, args}."""
    from .wire import request

    target, args = req.params.get("target"), req.params.get("args")
    if target not in ("watch", "trace", "tt") or not isinstance(args, str) or not args:
        raise HelperError(errors.BAD_ARGUMENT, "probeOff needs target (watch, trace or tt) and args.")
    request(srv.require_attached()[1], target, "off " + args, timeout=10)
    return {}


@server.handler("gilstatOn")
def _gilstat_on(srv, req):
    """Needs the agent when the interpreter has take_gil/drop_gil symbols; otherwise samples from outside."""
    from .commands.gilstat import gilstat_on

    pid, port = srv.require_open()
    return gilstat_on(req, pid, port)


@server.handler("gilstatState")
def _gilstat_state(srv, _req):
    """Read from outside (no agent needed): where take_gil/drop_gil are, and whether an interceptor
    is installed on them right now."""
    from .commands.gilstat import gilstat_state

    pid, _port = srv.require_open()
    return gilstat_state(pid)


@server.handler("torchCheck")
def _torch_check(srv, req):
    """Whether the target has imported torch, read from /proc/<pid>/maps (no agent needed)."""
    from .commands.pytorch import require_torch

    pid, _port = srv.require_open()
    return {"library": require_torch(pid)}


def main():
    # Ctrl+C in a terminal reaches the whole process group; the helper must outlive it long enough
    # to turn its probes off. It stops on `shutdown` or when stdin closes (its parent died).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Our stdout is the protocol channel: anything else printed there would corrupt it.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = protocol_out
    os.dup2(sys.stderr.fileno(), 1)
    server.serve(sys.stdin)


if __name__ == "__main__":
    main()
