"""The agent's wire protocol: one request per TCP connection on localhost, frames of a 4-byte
little-endian length and a payload; payloads are pickles (first byte 0x80) or UTF-8 text.

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

ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;;.*?\x07")
DEFAULT_PORT_RANGE = (16000, 16500)


def strip_ansi(text):
    return ANSI.sub("", text)


def port_range():
    start = int(os.environ.get("PYFLIGHT_INJECT_START_PORT", DEFAULT_PORT_RANGE[0]))
    end = int(os.environ.get("PYFLIGHT_INJECT_END_PORT", DEFAULT_PORT_RANGE[1]))
    return start, end


class AgentConnection(object):
    """One request/response exchange with the agent."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

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
        while True:
            frame = self.read_frame()
            if frame is None:
                return
            yield decode(frame)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def decode(frame):
    """0x80 first byte = pickle (protocol >= 2); anything else is UTF-8 text.

    Unpickling is only done on connections to a port whose `status` answer named our target pid
    (see find_agent_port); the agent has no authentication, so the port range must be trusted.
    """
    if frame[:1] == b"\x80":
        return pickle.loads(frame)
    return frame.decode("utf-8", errors="replace")


def request(port, target, param="", timeout=30.0):
    """Sends one plugin request and returns every decoded frame."""
    with AgentConnection(port, timeout=timeout) as conn:
        conn.send_json({"target": target, "param": param})
        return list(conn.frames())


def agent_status(port, timeout=0.5):
    """The agent's `status` answer on this port, or None if something else (or nothing) is there."""
    try:
        with AgentConnection(port, timeout=timeout) as conn:
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
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
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


def find_agent_port(pid):
    """The port of the agent already injected into `pid`, or None.

    Only ports the target itself listens on are asked (so a silent unrelated server in the range
    costs nothing); where /proc cannot tell, every port of the range is asked, with a short timeout.
    Every asked port gets a well-formed `status` request: a bare connect-and-close makes the agent
    log a JSONDecodeError traceback into the target's stderr.
    """
    start, end = port_range()
    own = listening_ports(pid)
    candidates = [p for p in own if start <= p <= end] if own is not None else range(start, end + 1)
    for port in candidates:
        answer = agent_status(port)
        if answer is not None and str(answer.get("pid")) == str(pid):
            return port
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
