"""A raw client of PyFlight's agent door, as any local program could write one (stdlib only): it
speaks flight-profiler's frame protocol (4-byte little-endian length + payload) to a Unix socket.

usage: door_client.py <socket path | 127.0.0.1:port> <target> [param]   (prints one JSON line per frame received)
Exit status 3 when the connection is refused or closed without an answer, 4 when it cannot connect."""

import json
import socket
import struct
import sys


def main():
    path, target = sys.argv[1], sys.argv[2]
    param = sys.argv[3] if len(sys.argv) > 3 else ""
    tcp = path.startswith("127.0.0.1:")
    sock = socket.socket(socket.AF_INET if tcp else socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(15)
    try:
        sock.connect(("127.0.0.1", int(path.split(":")[1])) if tcp else path)
    except OSError as exc:
        print(json.dumps({"connect": type(exc).__name__, "errno": exc.errno}))
        return 4
    payload = json.dumps({"target": target, "param": param}).encode("utf-8")
    try:
        sock.sendall(struct.pack("<L", len(payload)) + payload)
    except OSError as exc:
        print(json.dumps({"send": type(exc).__name__}))
        return 3
    frames = 0
    while True:
        header = b""
        try:
            while len(header) < 4:
                chunk = sock.recv(4 - len(header))
                if not chunk:
                    break
                header += chunk
        except OSError as exc:
            print(json.dumps({"recv": type(exc).__name__}))
            break
        if len(header) < 4:
            break
        (length,) = struct.unpack("<L", header)
        data = b""
        while len(data) < length:
            chunk = sock.recv(length - len(data))
            if not chunk:
                break
            data += chunk
        frames += 1
        text = data.decode("utf-8", "replace") if data[:1] != b"\x80" else "<pickle %d bytes>" % len(data)
        print(json.dumps({"frame": text}))
    return 0 if frames else 3


if __name__ == "__main__":
    sys.exit(main())
