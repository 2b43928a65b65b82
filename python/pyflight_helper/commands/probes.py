"""Shared machinery of the instrumenting commands (watch, trace, tt -t): build the agent's argument
string, validate it with flight_profiler's own parser, stream results, and always send `off`.

The agent turns a probe off only when asked (`off` on a new connection) or when its limit is
reached; a dropped connection leaves the probe installed. So every stream registers `on_cancel`,
which the server runs on cancel, on shutdown and on stdin EOF.
"""

import re
import threading

from .. import errors
from ..errors import HelperError
from ..wire import AgentConnection, request, strip_ansi

_LOCATION_ERRORS = ("Error in locating module", "No method named", "No class named", "Nested method",
                    "Cannot find nested method", "invalid time tunnel format")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def quote(value):
    """Quotes a value for flight_profiler's tokenizer: "…" whose content is unicode_escape-decoded."""
    escaped = value.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return '"%s"' % escaped


def location_words(params, last="method"):
    module, cls, method = params.get("module"), params.get("class"), params.get(last)
    for label, value in (("module", module), (last, method)):
        if not isinstance(value, str) or not _IDENTIFIER.match(value):
            raise HelperError(errors.BAD_LOCATION, "The %s name %r is not a valid Python name." % (label, value),
                              "Use `module [class] method`, e.g. `__main__ Worker handle`.")
    if cls is not None and (not isinstance(cls, str) or not _IDENTIFIER.match(cls)):
        raise HelperError(errors.BAD_LOCATION, "The class name %r is not a valid Python name." % (cls,))
    return [module] + ([cls] if cls else []) + [method]


def nested_option(params):
    """flight-profiler's -nm: a function defined inside the method (one level deep)."""
    nested = params.get("nested")
    if not nested:
        return []
    if not isinstance(nested, str) or not _IDENTIFIER.match(nested) or "." in nested:
        raise HelperError(errors.BAD_LOCATION, "The nested function name %r is not a valid Python name." % (nested,))
    return ["-nm", nested]


def limit_option(params, default):
    """-n: how many calls before the agent removes the probe by itself."""
    limit = params.get("limit", default)
    if limit is None:
        limit = default
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise HelperError(errors.BAD_ARGUMENT, "limit (-n) must be a positive integer; got %r." % (limit,))
    return limit


def expand_option(params, default, highest):
    """-x: how deep the agent renders objects (1..highest, or -1 for unlimited)."""
    expand = params.get("expand", default)
    if expand is None:
        expand = default
    if expand not in range(1, highest + 1) and expand != -1:
        raise HelperError(errors.BAD_ARGUMENT, "expand (-x) must be 1 to %d, or -1; got %r." % (highest, expand))
    return expand


def check_expression(expr, what):
    """Syntax-checks an expression here, so a typo never reaches the target."""
    try:
        compile(expr, "<%s>" % what, "eval")
    except SyntaxError as exc:
        raise HelperError(errors.BAD_EXPRESSION, "The %s %r is not a valid Python expression: %s" % (what, expr, exc.msg),
                          "Fix the expression; it is evaluated with args, kwargs, target and return_obj.")


def classify_agent_text(text):
    """A text frame from the agent during a probe: None for the success hint, else a HelperError."""
    clean = strip_ansi(text).strip()
    if "successfully added" in clean or clean == "":
        return None
    if any(marker in clean for marker in _LOCATION_ERRORS):
        return HelperError(errors.BAD_LOCATION, clean.rstrip("!") + ".",
                           "Check the class and method names, and the module name as the target imported it "
                           "(PyFlight: Show Module Name of This File, or `pyflight module <pid> <file>`).")
    if clean.startswith("Traceback") or "usage:" in clean:
        last = clean.splitlines()[-1]
        return HelperError(errors.BAD_ARGUMENT, "The agent rejected the arguments: %s" % last)
    return HelperError(errors.INTERNAL, "Unexpected answer from the agent: %s" % clean[:300])


class _StaleProbe(Exception):
    pass


class ProbeStream(object):
    """One `on` stream with its matching `off`; `run(on_object)` returns the end summary."""

    def __init__(self, req, port, target, args):
        self.req = req
        self.port = port
        self.target = target
        self.args = args
        self.count = 0
        self._off_sent = threading.Event()
        req.on_cancel = self.turn_off

    def turn_off(self):
        if self._off_sent.is_set():
            return
        self._off_sent.set()
        try:
            request(self.port, self.target, "off " + self.args, timeout=10)
        except OSError:
            pass  # the target is gone, and its probes with it

    def run(self, on_object, limit=None):
        """Streams frames; `on_object` turns each non-text frame into a record (or None to skip)."""
        try:
            return self._run_once(on_object, limit)
        except _StaleProbe:
            # A previous client vanished without `off`: the agent answered its dead stream's error on
            # ours, and removed the stale wrapper while doing so. Installing again now works.
            return self._run_once(on_object, limit)

    def _run_once(self, on_object, limit):
        conn = AgentConnection(self.port, timeout=10)
        try:
            conn.send_json({"target": self.target, "param": "on " + self.args})
            conn.set_timeout(None)  # a probe on a function nobody calls waits forever: cancel ends it
            installed = False
            for frame in conn.frames():
                if isinstance(frame, str):
                    if not installed and "Event loop is closed" in frame:
                        raise _StaleProbe()
                    failure = classify_agent_text(frame)
                    if failure is not None:
                        raise failure
                    if not installed:
                        installed = True
                        self.req.progress("installed", self.args)  # the UI keeps it to turn the probe off
                        if self.req.cancelled.is_set():  # cancel raced the install
                            self.turn_off()
                    continue
                record = on_object(frame)
                if record is not None:
                    self.count += 1
                    self.req.record(record)
        finally:
            conn.close()
        stopped = self.req.cancelled.is_set()
        return {"count": self.count, "reason": "stopped" if stopped else "limit", "limit": limit}
