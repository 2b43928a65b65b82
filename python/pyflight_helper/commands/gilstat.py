"""`gilstatOn`: who holds CPython's GIL and who waits for it, live, from flight-profiler's gilstat.

The agent intercepts CPython's `take_gil`/`drop_gil` (frida-gum) and, every `interval` seconds,
sends two text frames: `gil warning report:` (one line per take or hold longer than its threshold)
and `gil statistics report:` (one line per thread, *cumulative* since `on`). We parse both and send
one record per statistics frame, with that report's alerts and each thread's figures for the last
interval (differences of the cumulative ones).

The agent turns the interceptor off only when asked (`gilstat off`, which also ends the `on`
stream); a dropped connection leaves it installed, so the stream registers `on_cancel`, which the
server runs on cancel, shutdown and stdin EOF, and the session sends `gilstatOff` after a crash.

flight-profiler finds take_gil/drop_gil with `nm` on the executable only; our bootstrap (which runs
in the target) finds them in a shared libpython too (`pyflight_agent.elf.locate_symbols`).
The helper runs the same lookup from outside first, to say early when an interpreter has no symbols.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import select
import sys
import threading
import time

from pyflight_agent import elf

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..target import is_alive
from ..wire import AgentConnection, agent_status, request, strip_ansi

GIL_FUNCTIONS = ("take_gil", "drop_gil")
DEFAULTS = {"takeMs": 10, "holdMs": 10, "intervalSeconds": 5, "maxThreads": 500}  # the seed's CLI defaults
MAX_ALERTS = 200  # per record; alertCount says how many the report had
# The agent keeps only the newest 51 warnings between reports (py_gil_stat.cpp drops the oldest when
# its list holds more than 50): a full list means older alerts were dropped.
AGENT_ALERT_CAP = 51
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s+(\S+)\s+(.*)$")
AGENT_THREAD_PREFIXES = ("flight-profiler-", "gil_stat")


def locate(pid):
    """({take_gil: (address, file), …}, [files searched]) in the target, read from outside."""
    return elf.locate_symbols(pid, list(GIL_FUNCTIONS), "/proc/%d/root" % pid)


def require_symbols(pid):
    found, searched = locate(pid)
    missing = [name for name in GIL_FUNCTIONS if name not in found]
    if missing:
        raise HelperError(errors.UNSUPPORTED_PLATFORM,
                          "No symbol table has CPython's %s (searched %s): a stripped interpreter without debug symbols."
                          % (" and ".join(missing), ", ".join(searched) or "the interpreter"),
                          "Install the interpreter's debug symbols (e.g. python3.X-dbg / dbgsym into "
                          "/usr/lib/debug/.build-id), or use a build with symbols (pyenv, python.org, Docker python images).")
    return found


def intercepted(pid):
    """Is take_gil/drop_gil patched in the target's memory? frida-gum rewrites the first bytes of an
    intercepted function; comparing them with the file tells, from outside, whether an interceptor
    is installed (after `off` the original bytes are back)."""
    found, _ = locate(pid)
    answer = {}
    for name, (address, path) in found.items():
        file_bytes = _file_bytes("/proc/%d/root" % pid + path, name, 16)
        with open("/proc/%d/mem" % pid, "rb") as mem:
            mem.seek(address)
            memory = mem.read(16)
        answer[name] = file_bytes is not None and memory != file_bytes
    return answer


def _file_bytes(path, name, size):
    """The first `size` bytes of function `name` as stored in the ELF file (via its section)."""
    _type, _first, symbols = elf.elf_functions(path, [name])
    if name not in symbols:
        return None
    vaddr = symbols[name]
    with open(path, "rb") as f:
        head = f.read(64)
        for p_type, p_offset, p_vaddr, p_filesz in elf.program_headers(f, head):
            if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:  # the PT_LOAD that holds it
                f.seek(p_offset + vaddr - p_vaddr)
                return f.read(size)
    return None


def _int_param(params, key, highest):
    value = params.get(key)
    if value is None:
        return DEFAULTS[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > highest:
        raise HelperError(errors.BAD_ARGUMENT, "%s must be an integer from 1 to %d; got %r." % (key, highest, value))
    return value


def on_args(params):
    """`T H I M`: take and hold thresholds (ms), interval (s), most threads reported."""
    return "%d %d %d %d" % (_int_param(params, "takeMs", 100000), _int_param(params, "holdMs", 100000),
                            _int_param(params, "intervalSeconds", 3600), _int_param(params, "maxThreads", 1000))


def is_agent_thread(name):
    return any(name.startswith(prefix) for prefix in AGENT_THREAD_PREFIXES)


def parse_warnings(text):
    """Lines of a `gil warning report:` frame → alerts. Columns: time, thread id (hex; 0 for a
    thread the agent had not seen yet), name, event (take_gil: waited that long to get the GIL;
    hold_gil: held it that long), cost, threshold (prints garbage in 1.0.7), start, end (ns)."""
    alerts = []
    lines = strip_ansi(text).splitlines()
    if not text.endswith("\n"):
        lines = lines[:-1]  # the agent cuts a long report at ~9 KB, mid-line
    for line in lines:
        match = _TIME.match(line.strip())
        if not match:
            continue
        when, thread_id, rest = match.groups()
        words = rest.split()
        event = words[-5][-8:] if len(words) >= 5 else None
        if event not in ("take_gil", "hold_gil") or not all(w.isdigit() for w in words[-4:]):
            continue
        name = rest[:rest.rindex(event, 0, len(rest) - len(" ".join(words[-4:])))].strip()  # a long name runs into the event
        alerts.append({"time": when, "threadId": thread_id, "thread": name,
                       "event": "wait" if event == "take_gil" else "hold",
                       "ms": int(words[-4]) / 1e6, "startNs": int(words[-2]), "endNs": int(words[-1])})
    return alerts


def _split_glued(text, drop_count):
    """A name longer than its 24-column field runs into takecnt (`flight-profiler-worker-_09`):
    take the digit suffix closest to dropcnt (a thread takes the GIL as often as it drops it, ±1)."""
    digits = len(text) - len(text.rstrip("0123456789"))
    best = None
    for size in range(1, digits + 1):
        name, count = text[:-size], int(text[-size:])
        if best is None or abs(count - drop_count) < abs(best[1] - drop_count):
            best = (name, count)
    return best or (text, 0)


def parse_statistics(text):
    """Lines of a `gil statistics report:` frame → threads with cumulative figures (ns)."""
    threads = []
    for line in strip_ansi(text).splitlines():
        match = _TIME.match(line.strip())
        if not match:
            continue
        when, thread_id, rest = match.groups()
        words = rest.split()
        numbers = words[-7:]
        if len(words) < 8 or not all(w.isdigit() for w in numbers):
            continue
        if len(words) >= 9 and words[-8].isdigit():
            name, take_count = rest.rsplit(None, 8)[0].strip(), int(words[-8])
        else:
            name, take_count = _split_glued(rest.rsplit(None, 7)[0].strip(), int(numbers[4]))
        hold_all, hold_avg, take_all, take_avg, drop_count, drop_all, drop_avg = (int(w) for w in numbers)
        threads.append({"time": when, "threadId": thread_id, "thread": name, "takeCount": take_count,
                        "holdNs": hold_all, "holdAvgNs": hold_avg, "waitNs": take_all, "waitAvgNs": take_avg,
                        "dropCount": drop_count, "agent": is_agent_thread(name)})
    return threads


class Reports(object):
    """Pairs each statistics frame with the warnings before it and adds per-interval figures."""

    def __init__(self, interval_seconds):
        self.interval = interval_seconds
        self.last = None  # the previous statistics report's time
        self.alerts = []
        self.previous = {}
        self.index = 0
        self.truncated = False

    def feed(self, text):
        clean = strip_ansi(text)
        if "gil warning report" in clean:
            self.alerts.extend(parse_warnings(clean))
            self.truncated = self.truncated or not clean.endswith("\n")
            return None
        if "gil statistics report" not in clean:
            return None
        threads = parse_statistics(clean)
        for thread in threads:
            key = (thread["threadId"], thread["thread"])
            before = self.previous.get(key, {"holdNs": 0, "waitNs": 0, "takeCount": 0})
            thread["intervalHoldMs"] = max(0, thread["holdNs"] - before["holdNs"]) / 1e6
            thread["intervalWaitMs"] = max(0, thread["waitNs"] - before["waitNs"]) / 1e6
            thread["intervalTakes"] = max(0, thread["takeCount"] - before["takeCount"])
            self.previous[key] = thread
        threads.sort(key=lambda t: (-t["intervalHoldMs"], t["thread"]))
        # The interval each report covers, from the agent's own timestamps: its stat thread wakes every
        # 0.5 s, so reports come every interval + up to 0.5 s (the first: `interval` after `on`).
        now = _timestamp(threads[0]["time"]) if threads else None
        elapsed = now - self.last if now is not None and self.last is not None and now > self.last else self.interval
        self.last = now if now is not None else self.last
        alerts, self.alerts = self.alerts, []
        truncated, self.truncated = self.truncated, False
        self.index += 1
        return {"index": self.index, "time": threads[0]["time"] if threads else None, "measure": "intercept",
                "intervalSeconds": self.interval,
                "elapsedSeconds": round(elapsed, 3), "threads": threads, "alertCount": len(alerts),
                "alerts": alerts[:MAX_ALERTS],
                "alertsCut": truncated or len(alerts) >= AGENT_ALERT_CAP or len(alerts) > MAX_ALERTS}


def _timestamp(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    except (TypeError, ValueError):
        return None


def _failure(text):
    clean = strip_ansi(text).strip()
    last = clean.splitlines()[-1] if clean else clean
    if "no symbol" in last:
        return HelperError(errors.UNSUPPORTED_PLATFORM, last.split(": ", 1)[-1].replace("PyFlight: ", "") + ".")
    if "invalid literal for int() with base 16" in last:
        # flight-profiler's own lookup (nm on the executable): an agent loaded without our bootstrap.
        return HelperError(errors.UNSUPPORTED_PLATFORM,
                           "The agent in this process (loaded by flight-profiler's own client or an older "
                           "PyFlight) looks for take_gil with nm on the executable only, and this "
                           "interpreter keeps it in its shared libpython.",
                           "Restart the process and attach with PyFlight.")
    return HelperError(errors.INTERNAL, "gilstat could not start: %s" % (last or "no answer"))


class GilStream(object):
    def __init__(self, req, agent):
        self.req = req
        self.agent = agent
        self.args = on_args(req.params or {})
        self.reports = Reports(int(self.args.split()[2]))
        self._off_sent = threading.Event()
        self._lock = threading.Lock()
        self._installed = False
        answer = agent_status(agent, timeout=2)
        self.pid = int(answer["pid"]) if answer and str(answer.get("pid", "")).isdigit() else None
        req.on_cancel = self.turn_off

    def turn_off(self):
        """On cancel. An `off` that reaches the agent before its `on` is installed does nothing, and
        the `on` then installs for good: until the install is seen, `run` sends `off` itself."""
        with self._lock:
            if self._off_sent.is_set() or not self._installed:
                return
            self._off_sent.set()
        try:
            request(self.agent, "gilstat", "off", timeout=10)
        except OSError:
            pass  # the target is gone, and its interceptor with it

    def _wait_installed(self, conn, seconds=15):
        """Until the interceptor is in place (take_gil's first bytes changed in memory) or the agent
        answered something (an error, or a first report); the agent sends no acknowledgement."""
        if self.pid is None:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            readable, _w, _x = select.select([conn.sock], [], [], 0.05)
            if readable:
                return
            try:
                if all(intercepted(self.pid).values()):
                    return
            except OSError:
                return  # the target is gone: the frame loop sees the end

    def run(self):
        if self.pid is not None:
            found = require_symbols(self.pid)
            self.req.progress("symbols", {name: path for name, (_addr, path) in found.items()})
        main = main_thread_ident(self.agent)
        conn = AgentConnection(self.agent, timeout=10)
        count = 0
        try:
            conn.send_json({"target": "gilstat", "param": "on " + self.args})
            conn.set_timeout(None)  # reports come every interval until off
            self._wait_installed(conn)
            with self._lock:
                self._installed = True
            self.req.progress("on", self.args)
            if self.req.cancelled.is_set():
                self.turn_off()
            for frame in conn.frames():
                if not isinstance(frame, str):
                    continue
                clean = strip_ansi(frame)
                if "gil warning report" not in clean and "gil statistics report" not in clean:
                    raise _failure(frame)
                record = self.reports.feed(frame)
                if record is not None:
                    if main is None:
                        main = main_thread_ident(self.agent)  # its thread object may appear later
                    name_main_thread(record, main)
                    count += 1
                    self.req.record(record)
        finally:
            conn.close()
        if self._off_sent.is_set() and self.pid is not None and is_alive(self.pid):
            reason = "stopped"
        elif self.pid is not None and not is_alive(self.pid):
            reason = "exited"
        else:
            reason = "stopped" if agent_status(self.agent, timeout=1) is not None else "exited"
        sys.stderr.write("gilstat: %d reports, %s\n" % (count, reason))
        return {"count": count, "reason": reason, "args": self.args, "measure": "intercept"}


def main_thread_ident(agent):
    """The target's main thread's ident (reads.main_thread_ident), or None."""
    try:
        ident = call(agent, "reads.mainThreadIdent", timeout=10)
    except (OSError, HelperError, ValueError):
        return None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def name_main_thread(record, ident):
    """The agent names threads as `threading` does: in a process that never imported it, the main
    thread is "Dummy-N" (or has no name) and the agent's thread that imported it "MainThread". The
    thread whose ident is the main thread's is MainThread in reports and alerts (its hex threadId)."""
    if ident is None:
        return record
    for thread in list(record.get("threads") or []) + list(record.get("alerts") or []):
        try:
            same = int(str(thread.get("threadId")), 16) == ident
        except ValueError:
            continue
        if same:
            thread["thread"] = "MainThread"
            if "agent" in thread:
                thread["agent"] = False
        elif thread.get("thread") == "MainThread":  # the agent's thread that imported threading
            thread["thread"] = "agent thread (threading's MainThread)"
            if "agent" in thread:
                thread["agent"] = True
    return record


class SampledGil(object):
    """Where take_gil/drop_gil cannot be found (a stripped interpreter without debug symbols): which
    thread holds the GIL, sampled from outside with `py-spy dump --json --nonblocking` (its
    `owns_gil`; 15-20 samples a second here, nothing loaded into the target). Waits cannot be seen this way."""

    def __init__(self, req, pid, reason):
        self.req = req
        self.pid = pid
        self.reason = reason
        self.interval = int(on_args(req.params or {}).split()[2])
        self.exe = shutil.which("py-spy", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        req.on_cancel = lambda: None  # the loop watches req.cancelled; nothing to turn off in the target

    def _dump(self):
        out = subprocess.run([self.exe, "dump", "--pid", str(self.pid), "--json", "--nonblocking"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10).stdout
        return json.loads(out.decode("utf-8", "replace") or "null")

    def run(self):
        if not self.exe:
            raise self.reason
        self.req.progress("sampled", self.reason.message)
        self.req.progress("on", "sampled")
        index = 0
        exited = False
        while not self.req.cancelled.is_set() and not exited:
            start, samples, seen = time.monotonic(), 0, {}
            while time.monotonic() - start < self.interval and not self.req.cancelled.is_set():
                try:
                    threads = self._dump()
                except (OSError, ValueError, subprocess.SubprocessError):
                    threads = None
                if not isinstance(threads, list):
                    if not is_alive(self.pid):
                        exited = True
                        break
                    continue
                samples += 1
                for thread in threads:
                    # The thread whose native id is the pid is MainThread (py-spy reads `threading`'s
                    # names, which call it Dummy-N when the agent imported threading first).
                    name = "MainThread" if thread.get("os_thread_id") == self.pid else thread.get("thread_name") or ""
                    key = (thread.get("thread_id"), name)
                    entry = seen.setdefault(key, [0, 0])
                    entry[0] += 1 if thread.get("owns_gil") else 0
                    entry[1] += 1 if thread.get("active") else 0
                self.req.cancelled.wait(0.05)
            if not samples:
                continue
            elapsed = time.monotonic() - start
            index += 1
            threads = [{"time": None, "threadId": "%x" % (tid or 0), "thread": name, "takeCount": 0, "holdNs": 0,
                        "holdAvgNs": 0, "waitNs": 0, "waitAvgNs": 0, "dropCount": 0, "agent": is_agent_thread(name),
                        "intervalHoldMs": gil * elapsed * 1000.0 / samples, "intervalWaitMs": 0, "intervalTakes": 0,
                        "gilSamples": gil, "activeSamples": active}
                       for (tid, name), (gil, active) in seen.items()]
            threads.sort(key=lambda t: (-t["gilSamples"], t["thread"]))
            self.req.record({"index": index, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "measure": "sampled",
                             "samples": samples, "intervalSeconds": self.interval, "elapsedSeconds": round(elapsed, 3),
                             "threads": threads, "alertCount": 0, "alerts": [], "alertsCut": False,
                             "why": self.reason.message})
        reason = "exited" if exited or not is_alive(self.pid) else "stopped"
        sys.stderr.write("gilstat (sampled): %d reports, %s\n" % (index, reason))
        return {"count": index, "reason": reason, "args": on_args(self.req.params or {}), "measure": "sampled"}


def gilstat_on(req, pid, agent):
    """The interceptor where the symbols are (needs the agent: `attach` first), else sampling."""
    try:
        require_symbols(pid)
    except HelperError as missing:
        return SampledGil(req, pid, missing).run()
    if agent is None:
        raise HelperError(errors.HELPER_PROTOCOL, "GIL statistics need the agent: send `attach` first.")
    return GilStream(req, agent).run()


def gilstat_off(agent):
    request(agent, "gilstat", "off", timeout=10)
    return {}


def gilstat_state(pid):
    """{symbols: {name: file}, intercepted: {name: bool}} read from outside the target."""
    found, searched = locate(pid)
    return {"symbols": {name: path for name, (_addr, path) in found.items()}, "searched": searched,
            "intercepted": intercepted(pid) if found else {}}
