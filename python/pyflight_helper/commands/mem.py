"""`mem summary` / `mem diff` through the agent, parsed into rows.

The agent answers text: pympler's `summary.format_` table (`types | # objects | total size`, a `=`
row, one row per type), sorted by size (for a diff: by the size delta), cut at `--limit`, wrapped
in ANSI colour codes. Sizes are pympler's `pp()`: whole bytes up to 1024 (`224     B`, and every
negative delta, e.g. `-4096     B`), otherwise two decimals of KB/MB/GB (`2.09 MB`), so sizes above
1 KiB are approximate (`sizeApprox`). Counts are exact.

`mem diff` cannot be stopped in the agent: its worker thread sleeps `--interval` seconds, walks the
heap again and then answers. Cancelling here closes our connection at once; the agent still
finishes its sleep and its second heap walk (gc.collect + every object), then fails to send the
answer to the closed connection and drops it. See docs/flight-profiler-notes.md.
"""

import re
import socket
import time

from .. import errors
from ..errors import HelperError
from ..target import is_alive
from ..wire import AgentConnection, strip_ansi

ORDERS = ("descending", "ascending")
MAX_LIMIT = 100000
MAX_INTERVAL = 3600
_UNITS = ["B", "KB", "MB", "GB", "TB", "EB"]
_SIZE = re.compile(r"^(-?\d+(?:\.\d+)?)\s+(B|KB|MB|GB|TB|EB)$")
_WAIT = re.compile(r"^wait for (\d+) seconds$")


def parse_size(text):
    """`2.09 MB` -> (2191523, True); `224     B` -> (224, False). (bytes, approximate)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError("not a pympler size: %r" % text)
    number, unit = match.groups()
    degree = _UNITS.index(unit)
    return int(round(float(number) * 1024 ** degree)), degree > 0


def parse_table(text):
    """Rows of pympler's summary table: [{type, count, size, sizeText, sizeApprox}], in the agent's order.

    Type names may hold spaces and `|` (`function (f)`, `frame (codename: x)`), so each row is split
    on its last two ` | ` delimiters."""
    lines = [line for line in strip_ansi(text).splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if re.match(r"^\s*types \|\s+# objects \|\s+total size\s*$", line)), None)
    if header is None or header + 1 >= len(lines) or set(lines[header + 1].replace(" | ", "")) != {"="}:
        raise ValueError("no summary table in the answer")
    rows = []
    for line in lines[header + 2:]:
        parts = line.rsplit(" | ", 2)
        if len(parts) != 3:
            raise ValueError("not a table row: %r" % line)
        type_name, count, size_text = parts[0].strip(), parts[1].strip(), parts[2].strip()
        size, approx = parse_size(size_text)
        rows.append({"type": type_name, "count": int(count), "size": size, "sizeText": size_text, "sizeApprox": approx})
    return rows


def _int_param(params, name, default, low, high):
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HelperError(errors.BAD_ARGUMENT, "%s must be a whole number from %d to %d, got %r." % (name, low, high, value))
    return value


def _order_param(params):
    order = params.get("order", "descending")
    if order not in ORDERS:
        raise HelperError(errors.BAD_ARGUMENT, "order must be descending or ascending, got %r." % (order,))
    return order


def _table_or_error(text, what):
    """The agent answers the table, a usage text (bad options) or a traceback."""
    plain = strip_ansi(text or "").strip()
    if plain.startswith("Traceback"):
        last = plain.splitlines()[-1]
        if "pympler" in plain and ("ModuleNotFoundError" in last or "ImportError" in last):
            raise HelperError(errors.INTERNAL, "%s failed in the target: %s" % (what, last),
                              "flight-profiler's mem needs pympler in the target's environment: pip install pympler.")
        raise HelperError(errors.INTERNAL, "%s failed in the target: %s" % (what, last), "See the PyFlight log.")
    try:
        return parse_table(plain)
    except ValueError:
        raise HelperError(errors.INTERNAL, "Unexpected answer from the agent to %s: %s" % (what, plain[:300]))


def summary_args(params):
    limit = _int_param(params, "limit", 20, 1, MAX_LIMIT)
    order = _order_param(params)
    return limit, order, "summary --limit %d --order %s" % (limit, order)


def diff_args(params):
    limit = _int_param(params, "limit", 20, 1, MAX_LIMIT)
    order = _order_param(params)
    interval = _int_param(params, "interval", 10, 1, MAX_INTERVAL)
    return limit, order, interval, "diff --interval %d --limit %d --order %s" % (interval, limit, order)


def mem_summary(req, agent, pid=None):
    limit, order, args = summary_args(req.params)
    wait = _int_param(req.params, "maxSeconds", 120, 1, 3600)
    started = time.time()
    with AgentConnection(agent, timeout=wait) as conn:
        conn.send_json({"target": "mem", "param": " " + args})
        frames = list(conn.frames())
    text = "".join(f for f in frames if isinstance(f, str))
    if not text.strip():
        _raise_if_exited(pid)
    rows = _table_or_error(text, "mem summary")
    return {"kind": "summary", "capturedAt": int(started * 1000), "limit": limit, "order": order, "rows": rows, "args": args}


def _raise_if_exited(pid):
    """An empty answer from a target that exited (the agent died with it) is the exit, not a bad answer."""
    if pid is None:
        return
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise HelperError(errors.TARGET_EXITED, "Process %d exited." % pid,
                              "Start the program again and attach to the new process.")
        time.sleep(0.05)


def mem_diff(req, agent, pid=None):
    """Streams `progress` `waiting` (detail: the interval in seconds) once the agent took its first
    snapshot, then ends with the rows (count and size are deltas: second snapshot minus first)."""
    limit, order, interval, args = diff_args(req.params)
    started = time.time()
    conn = AgentConnection(agent, timeout=interval + 120)
    state = {"waitingSince": None}

    def close_now():
        # Unblocks recv() in the request thread; shutdown() first, as close() alone may not wake it.
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()

    req.on_cancel = close_now
    cancelled = lambda: req.cancelled.is_set()  # noqa: E731

    def cancel_error():
        since = state["waitingSince"]
        if since is None:
            detail = ("The agent may still be taking its first snapshot; it then sleeps %d s, walks the heap once more "
                      "and drops the answer." % interval)
        else:
            left = max(0, int(round(since + interval - time.time())))
            detail = ("The agent cannot stop a diff: it keeps sleeping for about %d s more, then walks the heap once more "
                      "(as for the first snapshot) and drops the answer." % left)
        return HelperError(errors.CANCELLED, "Memory diff cancelled. " + detail,
                           "The process runs normally meanwhile; another summary or diff can start right away.")

    try:
        if cancelled():
            raise cancel_error()
        conn.send_json({"target": "mem", "param": " " + args})
        texts = []
        try:
            for frame in conn.frames():
                if not isinstance(frame, str):
                    continue
                waiting = _WAIT.match(strip_ansi(frame).strip())
                if waiting and state["waitingSince"] is None:
                    state["waitingSince"] = time.time()
                    req.progress("waiting", str(interval))
                    continue
                texts.append(frame)
        except OSError:
            if cancelled():
                raise cancel_error()
            raise
        if cancelled():
            raise cancel_error()
    finally:
        conn.close()
    if not "".join(texts).strip():
        _raise_if_exited(pid)
    rows = _table_or_error("".join(texts), "mem diff")
    return {"kind": "diff", "capturedAt": int(started * 1000), "endedAt": int(time.time() * 1000), "intervalSeconds": interval,
            "limit": limit, "order": order, "rows": rows, "args": args}

