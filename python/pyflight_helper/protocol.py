"""JSON-lines framing on stdio: one request per line in, events out (see docs/helper-protocol.md)."""

import json
import sys
import threading

_write_lock = threading.Lock()


def emit(request_id, event, data=None, error=None):
    message = {"id": request_id, "event": event}
    if data is not None:
        message["data"] = data
    if error is not None:
        message["error"] = error
    line = json.dumps(message, ensure_ascii=False, default=str)
    with _write_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_requests(stream):
    """Yields (id, method, params) or raises ValueError for a line that is not a request."""
    for raw in stream:
        raw = raw.strip()
        if not raw:
            continue
        message = json.loads(raw)
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            raise ValueError("not a request: %r" % raw[:200])
        yield message["id"], message["method"], message.get("params") or {}
