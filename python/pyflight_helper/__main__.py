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
    from .attach import describe, open_target

    pid = _pid_param(req)
    srv.pid, srv.agent = pid, open_target(pid)
    return {"pid": pid, "agent": describe(srv.agent) if srv.agent else None}


@server.handler("attach")
def _attach(srv, req):
    """Loads the agent (or finds the one already there); only for commands that need it."""
    from .attach import attach, describe

    pid = _pid_param(req)
    agent, reused, stages = attach(pid, timeout=float(req.params.get("timeoutSeconds", 30)), progress=req.progress,
                                   cancelled=req.cancelled, allow_code=req.params.get("allowCode", True) is not False)
    srv.pid, srv.agent = pid, agent
    return dict(describe(agent), pid=pid, reused=reused, stagesMs=stages)


@server.handler("stack")
def _stack(srv, req):
    from .commands.stack import stack

    pid, agent = srv.require_open()
    if req.params.get("async") and agent is None:
        raise HelperError(errors.HELPER_PROTOCOL, "Async tasks need the agent: send `attach` first.")
    return stack(pid, agent, native=bool(req.params.get("native")), include_async=bool(req.params.get("async")),
                 include_agent_threads=bool(req.params.get("includeAgentThreads")))


# Commands that talk to the attached agent: request name -> (module under commands/, call).
# Modules are imported on first use so `hello` works where flight_profiler is missing.
AGENT_COMMANDS = {
    "module": ("module", lambda m, req, agent: m.module(agent, req.params.get("file"))),
    "watch": ("watch", lambda m, req, agent: m.watch(req, agent)),
    "trace": ("trace", lambda m, req, agent: m.trace(req, agent)),
    "ttRecord": ("tt", lambda m, req, agent: m.tt_record(req, agent)),
    "ttList": ("tt", lambda m, _req, agent: m.tt_list(agent)),
    "ttDetail": ("tt", lambda m, req, agent: m.tt_detail(req.params, agent)),
    "ttReplay": ("tt", lambda m, req, agent: m.tt_detail(req.params, agent, replay=True)),
    "ttDelete": ("tt", lambda m, req, agent: m.tt_delete(req.params, agent)),
    "getglobal": ("getglobal", lambda m, req, agent: m.getglobal(req.params, agent)),
    "listGlobals": ("getglobal", lambda m, req, agent: m.list_globals(req.params, agent)),
    "getInstances": ("vmtool", lambda m, req, agent: m.get_instances(req.params, agent)),
    "memSummary": ("mem", lambda m, req, agent: m.mem_summary(req, agent, server.pid)),
    "memDiff": ("mem", lambda m, req, agent: m.mem_diff(req, agent, server.pid)),
    "memHolders": ("holders", lambda m, req, agent: m.mem_holders(req.params, server.pid, agent)),
    "memContainers": ("holders", lambda m, req, agent: m.mem_containers(req.params, agent)),
    "gilstatOff": ("gilstat", lambda m, _req, agent: m.gilstat_off(agent)),
    "forceGc": ("vmtool", lambda m, _req, agent: m.force_gc(server.pid, agent)),
    "torchProfile": ("pytorch", lambda m, req, agent: m.torch_profile(req, server.pid, agent)),
    "torchMemory": ("pytorch", lambda m, req, agent: m.torch_memory(req, server.pid, agent)),
    "exceptionWindow": ("exceptions", lambda m, req, agent: m.exception_window(req, server.pid, agent)),
    "exceptionHookCheck": ("exceptions", lambda m, _req, agent: m.check_removed(agent)),
    "terminalPort": ("terminal", lambda m, req, agent: m.terminal_port(req, agent, server.pid)),
    "consoleOpen": ("live", lambda m, req, agent: m.call(agent, "consoleOpen", {"id": req.params.get("id")})),
    "consoleInput": ("live", lambda m, req, agent: m.console_push(req, agent)),
    "consoleReset": ("live", lambda m, req, agent: m.call(agent, "consoleReset", {"id": req.params.get("id")})),
    "consoleClose": ("live", lambda m, req, agent: m.call(agent, "consoleClose", {"id": req.params.get("id")})),
    "eval": ("live", lambda m, req, agent: m.evaluate(req, agent)),
    "reloadPlan": ("live", lambda m, req, agent: m.call(agent, "reloadPlan", m.reload_args(req.params))),
    "reloadApply": ("live", lambda m, req, agent: m.reload_apply(req, agent)),
    "reloadStale": ("live", lambda m, req, agent: m.call(agent, "reloadStale", {"module": req.params.get("module"),
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

    pid, agent = srv.require_open()
    return gilstat_on(req, pid, agent)


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
