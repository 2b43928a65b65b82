"""Dispatches requests to handlers; each request runs on its own thread so `cancel` stays responsive."""

import sys
import threading
import traceback

from . import audit, errors
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


# Requests after which the agent may have logged something (wrappers added or removed).
_AGENT_LOGGING = frozenset(["attach", "watch", "trace", "ttRecord", "ttReplay", "ttDelete", "probeOff", "torchProfile", "torchMemory"])


class Server(object):
    def __init__(self):
        self.pid = None
        self.agent = None
        self._active = {}
        self._threads = []
        self._lock = threading.Lock()
        self.handlers = {}

    def handler(self, name):
        def register(fn):
            self.handlers[name] = fn
            return fn
        return register

    def require_open(self):
        """(pid, agent or None): stacks need only the pid."""
        if self.pid is None:
            raise HelperError(errors.HELPER_PROTOCOL, "No target: send `open` first.")
        return self.pid, self.agent

    def require_attached(self):
        if self.agent is None:
            raise HelperError(errors.HELPER_PROTOCOL, "Not attached: send `attach` first.")
        return self.pid, self.agent

    def _run(self, method, req):
        try:
            # The method table's row (structure: methods.json) says whether to audit it.
            row = (getattr(self, "methods", None) or {}).get(method) or {}
            audit.record(method, req.params, row.get("audit"), self.pid)
            data = self.handlers[method](self, req)
            # Streams (they set on_cancel) end normally when stopped, with their own summary.
            if req.cancelled.is_set() and getattr(req, "on_cancel", None) is None:
                emit(req.id, "error", error=HelperError(errors.CANCELLED, "Cancelled.").to_json())
            else:
                emit(req.id, "end", data if data is not None else {})
        except HelperError as exc:
            emit(req.id, "error", error=exc.to_json())
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            emit(req.id, "error", error={"code": errors.INTERNAL, "message": "%s: %s" % (type(exc).__name__, exc),
                                         "hint": "See the PyFlight log for the helper's traceback."})
        finally:
            with self._lock:
                self._active.pop(req.id, None)
            if method in _AGENT_LOGGING and self.agent is not None:
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
                if method not in self.handlers:
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
