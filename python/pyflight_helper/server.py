"""Dispatches requests to handlers; each request runs on its own thread so `cancel` stays responsive.

What the methods are comes from methods.json, which the build writes from the one table of the
protocol (src/protocol/methods.ts): a method is answered only if it has a row, a handler runs only
once what its row needs (an open target, the agent) is there, and the agent's log is drained after
a method whose row says the agent may log."""

import json
import os
import sys
import threading
import traceback

from . import audit, capabilities, errors
from .errors import HelperError
from .protocol import emit, read_requests


class Request(object):
    def __init__(self, request_id, params):
        self.id = request_id
        self.params = params
        self.cancelled = threading.Event()

    def progress(self, stage, detail=None):
        emit(self.id, "progress", {"stage": stage, "detail": detail})

    def record(self, data):
        emit(self.id, "record", data)


METHODS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "methods.json")
# Methods with a feature of their own in capabilities.json (besides the agent, which attach checks).
CAPABILITY_OF = {"gilstatOn": "gilstat", "exceptionWindow": "exceptions"}
# The methods the server answers itself, whatever the request reader is doing.
OWN_METHODS = ("cancel", "shutdown")


def load_methods(path=METHODS_FILE):
    """name -> row: {needs: nothing|open|agent, agentWith?, stream, logging, params}."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["methods"]


def table_drift(methods, handlers):
    """(rows without a handler, handlers without a row): both empty when the sides agree."""
    rows = set(methods) - set(OWN_METHODS)
    return sorted(rows - set(handlers)), sorted(set(handlers) - rows)


class Server(object):
    def __init__(self, methods, handlers):
        missing, extra = table_drift(methods, handlers)
        if missing or extra:  # a build that shipped half a table: no request would be answered right
            raise RuntimeError("helper methods and handlers differ: no handler for %s, no row for %s" % (missing, extra))
        self.methods = methods
        self.handlers = handlers
        self.pid = None
        self.agent = None
        self._active = {}
        self._threads = []
        self._lock = threading.Lock()

    def _check_needs(self, method, params):
        """What the method's row needs: an open target, or the agent (`agentWith`: only with those params)."""
        row = self.methods[method]
        needs = row["needs"]
        if needs == "open":
            if self.pid is None:
                raise HelperError(errors.HELPER_PROTOCOL, "No target: send `open` first.")
            with_agent = [p for p in row.get("agentWith", ()) if params.get(p)]
            if with_agent and self.agent is None:
                raise HelperError(errors.HELPER_PROTOCOL, "%s with `%s` needs the agent: send `attach` first." % (method, with_agent[0]))
        elif needs == "agent" and self.agent is None:
            raise HelperError(errors.HELPER_PROTOCOL, "Not attached: send `attach` first.")
        # What this interpreter's row of the capability table refuses (attach refuses the agent itself).
        feature = CAPABILITY_OF.get(method) or ("mem" if method.startswith("mem") else None)
        if feature:
            capabilities.require(feature)

    def _run(self, method, req):
        try:
            self._check_needs(method, req.params)
            # The audit trail: a request that runs code in the target or changes it is logged before it runs.
            audit.record(method, req.params, self.methods[method].get("audit"), self.pid)
            data = self.handlers[method](self, req)
            # Streams (they set on_cancel) end normally when stopped, with their own summary.
            if req.cancelled.is_set() and getattr(req, "on_cancel", None) is None:
                emit(req.id, "error", error=HelperError(errors.CANCELLED, "Cancelled.").to_json())
            else:
                emit(req.id, "end", data if data is not None else {})
        except HelperError as exc:
            emit(req.id, "error", error=exc.to_json())
        except Exception as exc:
            # Logged as errors by the extension and the CLI (helperProcess.ts): the message points here.
            for line in traceback.format_exc().splitlines():
                sys.stderr.write("TRACEBACK %s\n" % line)
            sys.stderr.flush()
            emit(req.id, "error", error={"code": errors.INTERNAL, "message": "%s: %s" % (type(exc).__name__, exc),
                                         "hint": "See the PyFlight log for the helper's traceback."})
        finally:
            with self._lock:
                self._active.pop(req.id, None)
            if self.methods[method]["logging"] and self.agent is not None:
                from .agent_log import drain

                drain(self.agent, self.pid)

    def cancel(self, target_id):
        with self._lock:
            req = self._active.get(target_id)
        if req is not None:
            req.cancelled.set()
            on_cancel = getattr(req, "on_cancel", None)
            if on_cancel is not None:  # may block on the agent: keep the request reader free
                threading.Thread(target=on_cancel, name="cancel-%s" % target_id, daemon=True).start()
        return {"cancelled": req is not None}

    def serve(self, stream):
        try:
            for request_id, method, params in read_requests(stream):
                if method == "cancel":
                    emit(request_id, "end", self.cancel(params.get("target")))
                    continue
                if method == "shutdown":
                    emit(request_id, "end", {})
                    break
                if method not in self.methods:
                    emit(request_id, "error", error={"code": errors.HELPER_PROTOCOL,
                                                     "message": "Unknown method %r." % method})
                    continue
                req = Request(request_id, params)
                with self._lock:
                    self._active[request_id] = req
                thread = threading.Thread(target=self._run, args=(method, req), name="req-%s" % request_id,
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        except ValueError as exc:
            emit(None, "error", error={"code": errors.HELPER_PROTOCOL, "message": str(exc)})
        self.shutdown()

    def shutdown(self, grace_seconds=5.0):
        """Cancels whatever is still running (streams turn their probes off in on_cancel), then lets
        each request finish its answer, so no request is dropped and no probe is left behind."""
        with self._lock:
            pending = list(self._active.values())
        for req in pending:
            if getattr(req, "on_cancel", None) is not None:  # streams: stop them; one-shot requests finish
                self.cancel(req.id)
        for thread in self._threads:
            thread.join(grace_seconds)
