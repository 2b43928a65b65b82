"""Shared machinery of the instrumenting commands (watch, trace, tt -t): build the agent's argument
string, validate it with flight_profiler's own parser, stream results, and always send `off`.

The agent turns a probe off only when asked (`off` on a new connection) or when its limit is
reached; a dropped connection leaves the probe installed. So every stream registers `on_cancel`,
which the server runs on cancel, on shutdown and on stdin EOF.
"""

import ast
import re
import sys
import threading
import time

from .. import errors
from ..errors import HelperError
from ..target import is_alive
from ..wire import AgentConnection, agent_status, request, strip_ansi

_LOCATION_ERRORS = ("Error in locating module", "No method named", "No class named", "Nested method",
                    "Cannot find nested method", "invalid time tunnel format")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


# flight-profiler's agents (watch, trace, tt, torch) send "spy added" *before* they record the probe
# under its key, so an `off` that arrives in between finds nothing to remove: the wrapper stays and
# the stream never ends (a torch profile of a function nobody calls hung for good, 1 in ~20 under
# load). `off` is therefore sent again until the stream ends; a late repeat finds nothing and is harmless.
OFF_RETRY_SECONDS = 2.0
OFF_TRIES = 30


def turn_off_until_ended(agent, target, args, ended):
    """Sends `off <args>` until `ended` (an Event the stream sets when it ends) is set, or OFF_TRIES
    times. Never on the stream's own thread: it waits for the end that thread reads."""
    for attempt in range(OFF_TRIES):
        if attempt:
            sys.stderr.write("%s off: sent again, the stream had not ended %.0f s after the last one\n" % (target, OFF_RETRY_SECONDS))
        try:
            request(agent, target, "off " + args, timeout=10)
        except OSError:
            return  # the target is gone, and its probes with it
        if ended.wait(OFF_RETRY_SECONDS):
            return
    sys.stderr.write("%s off: the stream did not end after %d tries\n" % (target, OFF_TRIES))


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


MAX_CALL_BUDGET = 100000


def call_budget(limit, matching):
    """The -n we send the agent. flight-profiler counts every *call* toward -n before it looks at -e
    or -f (EnterExitCommand.enter), so with a filter we ask for a bigger call budget, count matching
    records ourselves and send `off` after `limit` of them. Without a filter every call is a record
    and -n goes as is, so the agent's own bound still protects the target."""
    return min(limit * 100, MAX_CALL_BUDGET) if matching else limit


def limit_option(params, default):
    """-n: how many records (matching calls) before the probe is removed."""
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


_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line \d+')
_MARKER = re.compile(r"^\s*[\^~]+\s*$")


def _is_agent_file(path):
    """flight-profiler's files, and PyFlight's in-target patches (they wrap the expression resolvers: a
    failing expression's traceback passes through them)."""
    path = path.replace("\\", "/")
    folder = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
    return "/flight_profiler/" in path or (path.endswith("/patches.py") and
                                           (folder == "pyflight_agent" or folder.startswith("pyflight-agent-")))


def clean_traceback(text):
    """A traceback as the user reads it: flight-profiler's own frames (its wrapper, its expression
    resolver) are dropped, and so are the `^^^^` marker lines, which only align in a fixed font."""
    if not text:
        return text
    out = []
    skipping = False
    for line in text.splitlines():
        frame = _FRAME.match(line)
        if frame:
            skipping = _is_agent_file(frame.group("file"))
        elif not line.startswith("    "):
            skipping = False  # "Traceback …", "During handling…", the exception line
        if skipping or _MARKER.match(line):
            continue
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


_CHAINED = ("During handling of the above exception, another exception occurred:",
            "The above exception was the direct cause of the following exception:")


def last_exception(text):
    """The last exception of a chain: a failing --expr on a raising call chains onto the call's own
    exception, which the record already shows."""
    if not text:
        return text
    cut = max(text.rfind(marker) for marker in _CHAINED)
    if cut < 0:
        return text
    return text[text.index("\n", cut) + 1:].lstrip("\n")


_FRAME_LINE = re.compile(r'^  File "')


def exception_block(traceback):
    """The exception as Python prints it after the frames: `RuntimeError: Working outside of
    request context.\\n\\nThis typically means…` (all of its lines: messages can span several)."""
    lines = (traceback or "").rstrip("\n").splitlines()
    last_frame = max([i for i, line in enumerate(lines) if _FRAME_LINE.match(line)] or [-1])
    start = last_frame + 1
    while start < len(lines) and lines[start].startswith("Traceback"):
        start += 1  # a traceback without frames (cut, or rendered without them)
    while start < len(lines) and lines[start].startswith("    "):
        start += 1  # the frame's source line and its ^^^ markers
    block = "\n".join(lines[start:]).strip("\n")
    return block or None


def one_line(block):
    """An exception on one line, whole: its lines joined by single spaces."""
    return " ".join(line.strip() for line in block.splitlines() if line.strip()) if block else None


def exception_name(block):
    head = (block or "").split("\n", 1)[0]
    name = head.split(":", 1)[0].strip()
    return name if re.match(r"^[A-Za-z_][\w.]*$", name) else None


def exception_line(text):
    """The exception of a traceback on one line, whole (`ValueError: not enough values…`; a
    multi-line message such as Flask's is joined), or None."""
    line = one_line(exception_block(text))
    if line:
        return line
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


def exception_type(text):
    """`ValueError` (qualified names kept: `json.decoder.JSONDecodeError`)."""
    return exception_name(exception_block(text)) or exception_name(exception_line(text))


def signature_names(agent, params):
    """[(name, kind)] of the probed function's parameters (without self for methods), asked of the
    target once per probe through getglobal; None when unknown (nested functions, builtins, a
    function that is instrumented already and so shows the wrapper's (*args, **kwargs))."""
    if params.get("nested"):
        return None
    location_words(params)
    from ..in_target import call

    try:
        found = call(agent, "reads.signature", params["module"], params.get("class"), params["method"], timeout=10)
    except (OSError, HelperError, ValueError):
        return None
    if not found:
        return None
    is_function, names = found
    if params.get("class") and is_function and names and names[0][1] in (0, 1):
        names = names[1:]  # watch passes the arguments without self
    if [kind for _name, kind in names] == [2, 4]:
        return None  # (*args, **kwargs): nothing to name
    return [(str(name), int(kind)) for name, kind in names]


# Runs inside the target for every call: must never raise, never print, and stay cheap.
_CALL_TEXT = """
try:
    import reprlib as _rl
    _r = _rl.Repr()
    _r.maxstring = _r.maxother = _pf_width
    _r.maxlist = _r.maxtuple = _r.maxdict = _r.maxset = _r.maxfrozenset = _r.maxdeque = _r.maxarray = 10
    _pos = list(_pf_args)
    _out = []
    for _name, _kind in _pf_names:
        if _kind > 1 or not _pos:
            break
        _out.append(_name + "=" + _r.repr(_pos.pop(0)))
    _out += [_r.repr(_v) for _v in _pos]
    _out += [str(_k) + "=" + _r.repr(_v) for _k, _v in _pf_kwargs.items()]
    _pf_text = ", ".join(_out) + "\\x00" + _r.repr(_pf_ret)
except Exception:
    _pf_text = "?\\x00?"
"""


def call_text_expression(names, verbose=False, agent=None):
    """The watch expression PyFlight sends when the user gave none: the call's arguments as Python
    (`line='k,v', sep=','`, names from the signature) and the return value's repr, as one string
    (sent with -r, so it arrives as its repr and `ast.literal_eval` recovers it exactly). PyFlight's
    own agent renders it with a function it shipped (pyflight_agent/patches.py render_call), allowed
    even with code execution off; an agent flight-profiler's client loaded is sent the code."""
    width = 2000 if verbose else 120
    if agent is not None and agent.kind == "door":
        return "_pyflight_render(args, kwargs, return_obj, %r, %d)" % ([tuple(n) for n in names or []], width)
    code = _CALL_TEXT.replace("_pf_width", str(width))
    # One dict for globals and locals, so the comprehensions in the code see its names.
    return ('(lambda __pf_g: (exec(%r, __pf_g), __pf_g.get("_pf_text", "?\\x00?"))[1])'
            '({"_pf_args": args, "_pf_kwargs": kwargs, "_pf_ret": return_obj, "_pf_names": %r})'
            % (code, list(names or [])))


def split_call_text(value):
    """(arguments, return repr) from the value of call_text_expression, or (None, None)."""
    try:
        text = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError):
        return None, None
    if not isinstance(text, str) or "\x00" not in text:
        return None, None
    arguments, returned = text.split("\x00", 1)
    return arguments, returned


class _StaleProbe(Exception):
    pass


def end_words(summary):
    """The end of a stream in words, for the log: "3 records, limit reached", "process exited"."""
    reason, count = summary.get("reason"), summary.get("count", 0)
    records = "%d record%s" % (count, "" if count == 1 else "s")
    if reason == "limit":
        return "%s, limit of %s reached" % (records, summary.get("limit"))
    if reason == "calls":
        return "stopped after %s calls, %d matched" % (summary.get("calls"), count)
    if reason == "exited":
        return "%s, process exited" % records
    if reason == "removed":
        return "%s, removed by another client probing the same function" % records
    return "%s, stopped" % records


# on_object's answer for a call the agent reported that is not a record (trace: below -et or the
# interval); it counts as a call seen.
SEEN_CALL = object()


class ProbeStream(object):
    """One `on` stream with its matching `off`; `run(on_object)` returns the end summary.

    `limit` is the number of records the user asked for. With `matching` (a filter, -e or -et) the
    agent gets a bigger call budget (`call_budget`) and we send `off` ourselves after `limit`
    records. The summary's reason says why the stream ended:
      limit    `limit` records arrived (or, without a filter, the agent's -n calls were made)
      calls    the agent's call budget ran out first: `calls` calls, `matched` of them records
      stopped  cancelled by the user (we sent `off`)
      exited   the target process went away
      removed  the agent ended it early: another client turned off a probe on the same function
    """

    def __init__(self, req, agent, target, args, limit=None, matching=False, budget=None):
        self.req = req
        self.agent = agent
        self.target = target
        self.args = args
        self.limit = limit
        self.matching = matching
        self.budget = budget if budget is not None else limit
        self.count = 0
        self.calls_seen = 0
        self._limit_reached = False
        self._off_sent = threading.Event()
        self._ended = threading.Event()
        self.pid = self._target_pid()
        req.on_cancel = self.turn_off

    def _target_pid(self):
        if getattr(self.agent, "pid", None) is not None:
            return self.agent.pid  # the host's number (the agent's own answer is its namespace's)
        answer = agent_status(self.agent, timeout=2)
        try:
            return int(answer["pid"]) if answer else None
        except (KeyError, TypeError, ValueError):
            return None

    def turn_off(self):
        if self._off_sent.is_set():
            return
        self._off_sent.set()
        turn_off_until_ended(self.agent, self.target, self.args, self._ended)

    def turn_off_in_background(self):
        """From the stream's own thread: `off` waits for the end this thread has to read."""
        threading.Thread(target=self.turn_off, name="off-%s" % self.req.id, daemon=True).start()

    def run(self, on_object, limit=None):
        """Streams frames; `on_object` turns each non-text frame into a record (or None to skip)."""
        if limit is not None and self.limit is None:
            self.limit = limit
            self.budget = self.budget or limit
        try:
            try:
                self._run_once(on_object)
            except _StaleProbe:
                # A previous client vanished without `off`: the agent answered its dead stream's error on
                # ours, and removed the stale wrapper while doing so. Installing again now works.
                self._run_once(on_object)
        finally:
            self._ended.set()
        return self.summary()

    def _run_once(self, on_object):
        conn = AgentConnection(self.agent, timeout=10)
        try:
            # pyflight_records: PyFlight's agent may send several watch records in one frame (wire.RECORDS)
            conn.send_json({"target": self.target, "param": "on " + self.args, "pyflight_records": 1})
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
                            self.turn_off_in_background()
                    continue
                record = on_object(frame)
                if record is None:
                    continue
                self.calls_seen += 1
                if record is SEEN_CALL or self._limit_reached:
                    continue  # records that arrive between our `off` and the end are not shown
                self.count += 1
                self.req.record(record)
                if self.matching and self.limit is not None and self.count >= self.limit:
                    self._limit_reached = True
                    self.turn_off_in_background()
        finally:
            conn.close()

    def _target_gone(self):
        """After an end we did not cause: is the target gone? Its agent answering `status` proves it
        lives; otherwise wait a moment for the process to finish exiting."""
        if self.pid is None:
            return agent_status(self.agent, timeout=1) is None
        if not is_alive(self.pid):
            return True
        if agent_status(self.agent, timeout=1) is not None:
            return False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not is_alive(self.pid):
                return True
            time.sleep(0.05)
        return False

    def summary(self):
        summary = {"count": self.count, "limit": self.limit, "matched": self.count, "callBudget": self.budget}
        if self._limit_reached:
            reason = "limit"
        elif self._target_gone_checked():
            reason = "exited"
        elif self.req.cancelled.is_set():
            reason = "stopped"
        elif self.matching:
            reason = "calls"  # the agent's call budget ran out before `limit` records matched
            summary["calls"] = self.budget
        elif self.target == "trace" and self.budget is not None and self.calls_seen >= self.budget:
            # The agent's -n calls were made; those faster than the interval (-i) are not records.
            reason = "limit"
        elif self.budget is not None and self.count < self.budget:
            # The agent ended the stream before its -n calls: another client's `off` on the same
            # function (another PyFlight window, the CLI, flight_profiler) removed the shared wrapper.
            reason = "removed"
        else:
            reason = "limit"
        summary["reason"] = reason
        if self.target == "trace":
            summary["callsSeen"] = self.calls_seen
            interval = re.search(r"(?:^| )-i (\S+)", self.args)
            if interval and not self.matching and self.calls_seen > self.count:
                summary["belowInterval"] = self.calls_seen - self.count
                summary["intervalMs"] = float(interval.group(1))
        # The helper's stderr is the PyFlight log.
        params = self.req.params or {}
        where = ".".join(str(params[k]) for k in ("module", "class", "method") if params.get(k))
        sys.stderr.write("%s %s: %s\n" % (self.target, where, end_words(summary)))
        return summary

    def _target_gone_checked(self):
        # A stream we ended ourselves (off after cancel) on a live target needs no waiting.
        if self.req.cancelled.is_set() and self.pid is not None and is_alive(self.pid):
            return False
        if not self.matching and self.limit is not None and self.calls_seen >= self.limit:
            return False  # the agent's own -n ended it
        return self._target_gone()
