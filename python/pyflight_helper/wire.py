"""The agent's wire protocol and where the agent is.

One request per connection; frames of a 4-byte little-endian length and a payload; payloads are
pickles (first byte 0x80) or UTF-8 text. The agent is reached one of two ways (an `agent` below):
- `Door`: PyFlight's own agent (pyflight_agent/door.py), a Unix socket in a directory only the
  target's user can enter, inside the target's filesystem view; reached from the host through
  /proc/<pid>/root, so a target in its own mount, pid and network namespaces (a container seen from
  its node) is reached like any other. It also serves PyFlight's in-target calls (`call`).
- `TcpAgent`: an agent flight-profiler's own client loaded (a port of 127.0.0.1 in 16000-16500, no
  access control), used as it is found (macOS, Python 3.14+, PYFLIGHT_INJECT_WITH_CLIENT=1).

We do not use flight_profiler's FlightClient because it has no timeouts (a silent service in the
port range hangs it forever) and peeks with a blocking recv.
"""

import json
import os
import pickle
import random
import re
import socket
import struct

from . import errors
from .errors import HelperError
from .target import ns_pid

ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;;.*?\x07")
DEFAULT_PORT_RANGE = (16000, 16500)


def strip_ansi(text):
    return ANSI.sub("", text)


def port_range():
    start = int(os.environ.get("PYFLIGHT_INJECT_START_PORT", DEFAULT_PORT_RANGE[0]))
    end = int(os.environ.get("PYFLIGHT_INJECT_END_PORT", DEFAULT_PORT_RANGE[1]))
    return start, end


DOOR_SOCKET = "agent.sock"
DOOR_DIR_PREFIX = "pyflight-door-"
REFUSED = b"PYFLIGHT-REFUSED "


class Door(object):
    """PyFlight's agent in process `pid`: its socket at `path` as the target sees it."""

    kind = "door"

    def __init__(self, pid, path):
        self.pid = pid
        self.path = path

    def connect(self, timeout):
        # Through an O_PATH descriptor of the directory: the path through /proc/<pid>/root can be
        # longer than a Unix socket address may be (108 bytes).
        directory = os.open("/proc/%d/root%s" % (self.pid, os.path.dirname(self.path)), os.O_PATH | os.O_DIRECTORY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect("/proc/self/fd/%d/%s" % (directory, os.path.basename(self.path)))
        except BaseException:
            sock.close()
            raise
        finally:
            os.close(directory)
        return sock

    def describe(self):
        return "door %s" % self.path

    def to_json(self):
        return {"kind": self.kind, "door": self.path, "port": None}

    def __eq__(self, other):
        return isinstance(other, Door) and (other.pid, other.path) == (self.pid, self.path)

    def __hash__(self):
        return hash((self.kind, self.pid, self.path))


class TcpAgent(object):
    """An agent flight-profiler's own client loaded: a TCP port of 127.0.0.1."""

    kind = "tcp"

    def __init__(self, port, pid=None):
        self.port = port
        self.pid = pid  # the target's pid as the host knows it (its agent may know another: a namespace's)

    def connect(self, timeout):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def describe(self):
        return "port %d" % self.port

    def to_json(self):
        return {"kind": self.kind, "door": None, "port": self.port}

    def __eq__(self, other):
        return isinstance(other, TcpAgent) and other.port == self.port

    def __hash__(self):
        return hash((self.kind, self.port))


class AgentConnection(object):
    """One request/response exchange with the agent."""

    def __init__(self, agent, timeout=5.0):
        self.sock = agent.connect(timeout)

    def send_json(self, payload):
        self.send_bytes(json.dumps(payload).encode("utf-8"))

    def send_bytes(self, data):
        self.sock.sendall(struct.pack("<L", len(data)) + data)

    def set_timeout(self, seconds):
        self.sock.settimeout(seconds)

    def _read_exact(self, size):
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def read_frame(self):
        """Returns the next payload, or None at end of stream (EOF or an empty frame)."""
        header = self._read_exact(4)
        if header is None:
            return None
        (length,) = struct.unpack("<L", header)
        if length == 0:
            return None
        return self._read_exact(length)

    def frames(self):
        """Each frame's object; a frame of several watch records (asked with `pyflight_records`, see
        RECORDS) yields them one by one, as if each had come alone."""
        while True:
            frame = self.read_frame()
            if frame is None:
                return
            obj = decode(frame)
            if type(obj) is tuple and len(obj) == 4 and obj[0] == RECORDS:
                for record in expand_records(obj):
                    yield record
            else:
                yield obj

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# PyFlight's agent (pyflight_agent/patches.py records_frame) sends consecutive watch records of one
# probe as one frame when the request asked for it ({"pyflight_records": 1}): (RECORDS, 1, ("watch",
# method, expr), [(start_ms, cost_ms, type, value, watch_fail_info), …]) — builtins only. One frame
# and one small pickle per batch instead of a pickled WatchResult each: the agent's thread spent most
# of its time per watched call on those (issue 20).
RECORDS = "pyflight.records"


class WatchRecord(object):
    """A watch record from a RECORDS frame: the attributes of flight-profiler's WatchResult."""

    __slots__ = ("method_identifier", "cost_ms", "is_exp", "exception", "start_time", "expr", "filter_expr",
                 "watch_fail_info", "filter_fail_info", "type", "value")

    def __init__(self, method_identifier, expr, start_time, cost_ms, type, value, watch_fail_info):
        self.method_identifier, self.expr = method_identifier, expr
        self.start_time, self.cost_ms, self.type, self.value = start_time, cost_ms, type, value
        self.watch_fail_info = watch_fail_info
        self.is_exp, self.exception, self.filter_expr, self.filter_fail_info = False, None, None, None


def expand_records(frame):
    _marker, version, key, rows = frame
    if version != 1 or not isinstance(key, tuple) or len(key) != 3 or key[0] != "watch":
        return  # a newer agent's kind: nothing we can show
    _kind, method, expr = key
    for start_time, cost_ms, type_, value, watch_fail_info in rows:
        yield WatchRecord(method, expr, start_time, cost_ms, type_, value, watch_fail_info)


def decode(frame):
    """0x80 first byte = pickle (protocol >= 2); anything else is UTF-8 text. A refusal of the door
    (a module the process never imported, code execution off) raises its HelperError.

    Unpickling is only done on connections to our target's own door (found among its own sockets),
    or to a port whose `status` answer named our target's pid (see find_agent).
    """
    if frame[:1] == b"\x80":
        return pickle.loads(frame)
    if frame.startswith(REFUSED):
        raise refusal(frame)
    return frame.decode("utf-8", errors="replace")


def refusal(frame):
    try:
        answer = json.loads(frame[len(REFUSED):].decode("utf-8"))
        return HelperError(answer["code"], answer["message"], answer.get("hint"))
    except (ValueError, KeyError, TypeError):
        return HelperError(errors.INTERNAL, "The agent refused the request: %s" % frame[:300])


def request(agent, target, param="", timeout=30.0):
    """Sends one plugin request and returns every decoded frame."""
    with AgentConnection(agent, timeout=timeout) as conn:
        conn.send_json({"target": target, "param": param})
        return list(conn.frames())


def call(agent, name, *args, **options):
    """One of PyFlight's in-target calls (pyflight_agent/door.py CALLS) through the door: its result.
    options: timeout (seconds for each read), progress(data), cancelled (a threading.Event: closing
    the connection stops a call that checks for it)."""
    timeout = options.get("timeout", 30.0)
    progress = options.get("progress")
    cancelled = options.get("cancelled")
    with AgentConnection(agent, timeout=timeout) as conn:
        conn.send_json({"target": "pyflight", "param": json.dumps({"call": name, "args": list(args)})})
        conn.set_timeout(0.2 if cancelled is not None else timeout)
        waited = 0.0
        while True:
            if cancelled is not None and cancelled.is_set():
                raise HelperError(errors.CANCELLED, "Cancelled.")
            try:
                frame = conn.read_frame()
            except socket.timeout:
                waited += 0.2
                if timeout is not None and waited > timeout:
                    raise
                continue
            waited = 0.0
            if frame is None:
                raise OSError("the agent closed the connection during %s" % name)
            if frame.startswith(REFUSED):
                raise refusal(frame)
            answer = json.loads(frame.decode("utf-8"))
            if "progress" in answer:
                if progress is not None:
                    progress(answer["progress"])
                continue
            if "error" in answer:
                error = answer["error"]
                raise InTargetError(error.get("code") or errors.INTERNAL, error.get("message") or "failed",
                                    error.get("hint"), error.get("type"), error.get("traceback"))
            return answer.get("result")


class InTargetError(HelperError):
    """An in-target call raised (`type` is the exception's class name) or was refused by the door."""

    def __init__(self, code, message, hint=None, type_name=None, traceback=None):
        HelperError.__init__(self, code, message, hint)
        self.type_name = type_name
        self.traceback = traceback  # the in-target call's, when it raised


def agent_status(agent, timeout=0.5):
    """The agent's `status` answer, or None if something else (or nothing) is there."""
    try:
        with AgentConnection(agent, timeout=timeout) as conn:
            conn.send_json({"target": "status", "is_plugin_calling": False})
            frame = conn.read_frame()
    except (OSError, struct.error):
        return None
    if not frame:
        return None
    try:
        answer = json.loads(frame.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("app_type") != "py_flight_profiler":
        return None
    return answer


def listening_ports(pid):
    """TCP ports the process itself listens on (Linux: its socket fds matched against
    /proc/<pid>/net/tcp*), or None when that cannot be read (then we scan the range)."""
    inodes = socket_inodes(pid)
    if inodes is None:
        return None
    try:
        ports = []
        for table in ("tcp", "tcp6"):
            try:
                with open("/proc/%d/net/%s" % (pid, table)) as f:
                    next(f, None)
                    for line in f:
                        fields = line.split()
                        if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                            ports.append(int(fields[1].rsplit(":", 1)[1], 16))
            except FileNotFoundError:
                continue
        return sorted(set(ports))
    except OSError:
        return None


def socket_inodes(pid):
    """Inodes of the sockets process `pid` holds open, or None when its fds cannot be read."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    inodes = set()
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def find_door(pid):
    """PyFlight's door in `pid`: a listening Unix socket the process itself holds (its fds matched
    against /proc/<pid>/net/unix, read in the target's network namespace) at a path named like ours.
    A forked child closed its parent's copy at fork, so it has none."""
    inodes = socket_inodes(pid)
    if not inodes:
        return None
    try:
        with open("/proc/%d/net/unix" % pid) as f:
            next(f, None)
            for line in f:
                fields = line.split()
                # Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening
                if len(fields) >= 8 and fields[6] in inodes and int(fields[3], 16) & 0x10000:
                    path = fields[7]
                    name = os.path.basename(os.path.dirname(path))
                    if os.path.basename(path) == DOOR_SOCKET and name.startswith(DOOR_DIR_PREFIX):
                        return Door(pid, path)
    except (OSError, ValueError):
        return None
    return None


def find_agent(pid):
    """The agent already in `pid` (PyFlight's door first, else an agent flight-profiler's client
    loaded on a TCP port), or None.

    Only ports the target itself listens on are asked (so a silent unrelated server in the range
    costs nothing); where /proc cannot tell, every port of the range is asked, with a short timeout.
    Every asked port gets a well-formed `status` request: a bare connect-and-close makes the agent
    log a JSONDecodeError traceback into the target's stderr.
    """
    door = find_door(pid)
    if door is not None:
        return door
    start, end = port_range()
    own = listening_ports(pid)
    candidates = [p for p in own if start <= p <= end] if own is not None else range(start, end + 1)
    me = str(ns_pid(pid))
    for port in candidates:
        answer = agent_status(TcpAgent(port))
        if answer is not None and str(answer.get("pid")) in (str(pid), me):
            return TcpAgent(port, pid)
    return None


def free_port():
    """A port of the range that binds on loopback, or None. The search starts at a random place:
    the agent binds it only later, so two attaches at once that both took the first free port
    (as flight-profiler's client does) collided and one agent never answered."""
    start, end = port_range()
    ports = list(range(start, end + 1))
    offset = random.randrange(len(ports))
    for port in ports[offset:] + ports[:offset]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return None
