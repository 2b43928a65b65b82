"""Entry point: `python -m pyflight_helper` with python/ on PYTHONPATH and the target's interpreter."""

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


@server.handler("attach")
def _attach(srv, req):
    from .attach import attach

    pid = req.params.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        raise HelperError(errors.BAD_ARGUMENT, "pid must be a positive integer, got %r." % (pid,))
    port, reused = attach(pid, timeout=float(req.params.get("timeoutSeconds", 30)), progress=req.progress,
                          cancelled=req.cancelled)
    srv.pid, srv.port = pid, port
    return {"pid": pid, "port": port, "reused": reused}


@server.handler("stack")
def _stack(srv, req):
    from .commands.stack import stack

    pid, port = srv.require_attached()
    return stack(pid, port, native=bool(req.params.get("native")), include_async=bool(req.params.get("async")),
                 include_agent_threads=bool(req.params.get("includeAgentThreads")))


@server.handler("module")
def _module(srv, req):
    from .commands.module import module

    _, port = srv.require_attached()
    return module(port, req.params.get("file"))


@server.handler("watch")
def _watch(srv, req):
    from .commands.watch import watch

    _, port = srv.require_attached()
    return watch(req, port)


@server.handler("trace")
def _trace(srv, req):
    from .commands.trace import trace

    _, port = srv.require_attached()
    return trace(req, port)


@server.handler("ttRecord")
def _tt_record(srv, req):
    from .commands.tt import tt_record

    _, port = srv.require_attached()
    return tt_record(req, port)


@server.handler("ttList")
def _tt_list(srv, _req):
    from .commands.tt import tt_list

    return tt_list(srv.require_attached()[1])


@server.handler("ttDetail")
def _tt_detail(srv, req):
    from .commands.tt import tt_detail

    return tt_detail(req.params, srv.require_attached()[1])


@server.handler("ttReplay")
def _tt_replay(srv, req):
    from .commands.tt import tt_detail

    return tt_detail(req.params, srv.require_attached()[1], replay=True)


@server.handler("ttDelete")
def _tt_delete(srv, req):
    from .commands.tt import tt_delete

    return tt_delete(req.params, srv.require_attached()[1])


@server.handler("getglobal")
def _getglobal(srv, req):
    from .commands.getglobal import getglobal

    return getglobal(req.params, srv.require_attached()[1])


@server.handler("probeOff")
def _probe_off(srv, req):
    """Turns off a probe another (crashed) helper installed: {target: watch|trace|tt, args}."""
    from .wire import request

    target, args = req.params.get("target"), req.params.get("args")
    if target not in ("watch", "trace", "tt") or not isinstance(args, str) or not args:
        raise HelperError(errors.BAD_ARGUMENT, "probeOff needs target (watch, trace or tt) and args.")
    request(srv.require_attached()[1], target, "off " + args, timeout=10)
    return {}


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
