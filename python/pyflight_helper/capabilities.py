"""What PyFlight does on this interpreter: its row of capabilities.json, the one table (issue 17).

The helper runs with the target's own interpreter binary (target.check_same_interpreter), so what
is true of this interpreter is true of the target's: its version, whether it is a free-threaded
build (Py_GIL_DISABLED) and whether its binary has a symbol table (stripped builds have none: the
GIL interceptor cannot find take_gil/drop_gil). `hello` reports the row; `require` refuses a feature
the row refuses, before anything is loaded into the target.
"""

import json
import os
import platform
import sys

from . import errors
from .errors import HelperError

TABLE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "capabilities.json")
OVERRIDE_VARIABLE = "PYFLIGHT_ALLOW_UNTESTED_PYTHON"

_table = None
_facts = None


def table():
    global _table
    if _table is None:
        with open(TABLE_FILE) as f:
            _table = json.load(f)
    return _table


def _stripped():
    """No symbol table (.symtab) in this interpreter's binary or its libpython, nor a build-id debug
    file for them: gilstat's interceptor cannot find take_gil/drop_gil. Reads section headers only
    (not the symbol tables themselves: this runs on every helper start). None when it cannot be told."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from pyflight_agent import elf
        exe = os.path.realpath("/proc/self/exe")
        files = {exe}
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[5].strip() if len(line.split(None, 5)) == 6 else ""
                if os.path.basename(path).startswith("libpython"):
                    files.add(path)
        for path in files:
            if _has_symtab(path):
                return False
            bid = elf.build_id(path)
            if bid and os.path.exists("/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])):
                return False
        return True
    except Exception:  # an unreadable file: say nothing rather than guess
        return None


def _has_symtab(path):
    """Whether a 64-bit little-endian ELF file has a non-empty SHT_SYMTAB section (section headers only)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        e_shoff = struct.unpack_from("<Q", head, 40)[0]
        e_shentsize, e_shnum = struct.unpack_from("<HH", head, 58)
        if not e_shoff or not e_shnum:
            return False
        f.seek(e_shoff)
        sh = f.read(e_shentsize * e_shnum)
    for i in range(e_shnum):
        sh_type = struct.unpack_from("<I", sh, i * e_shentsize + 4)[0]
        sh_size = struct.unpack_from("<Q", sh, i * e_shentsize + 32)[0]
        if sh_type == 2 and sh_size:
            return True
    return False


def facts():
    """This interpreter, as the table's rows match it."""
    global _facts
    if _facts is None:
        _facts = {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "minor": list(sys.version_info[:2]),
            # A free-threaded build's ABI flags carry "t" (python3.13t); sysconfig only where there are none.
            "freeThreaded": "t" in sys.abiflags if hasattr(sys, "abiflags") else _gil_disabled_config(),
            "stripped": _stripped(),
        }
    return _facts


def _gil_disabled_config():
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _matches(match, f):
    # Rows are CPython's unless they say "implementation": "other" (PyPy and the rest).
    if (match.get("implementation") == "other") != (f.get("implementation", "CPython") != "CPython"):
        return False
    minor = tuple(f["minor"])
    if not tuple(match["min"]) <= minor <= tuple(match["max"]):
        return False
    for key in ("freeThreaded", "stripped"):
        if key in match and bool(f[key]) != match[key]:
            return False
    return True


def family(f=None):
    """The first row that matches (stripped and free-threaded rows come before the plain ones)."""
    f = f or facts()
    for row in table()["families"]:
        if _matches(row["match"], f):
            return row
    return table()["families"][-1]


def report(f=None):
    """The row for `hello` and `check`: {family, label, tested, testedOn, facts, features{…}}."""
    f = f or facts()
    row = family(f)
    features = {}
    for key, spec in table()["features"].items():
        entry = dict(row["features"][key])
        entry["title"] = spec["title"]
        entry["agent"] = spec["agent"]
        if entry["status"] == "refused" and entry.get("overridable") and os.environ.get(OVERRIDE_VARIABLE) == "1":
            entry["status"] = "untested"
            entry["overridden"] = True
        if entry["status"] == "refused":
            entry["message"] = _refusal(spec, entry, f)
        features[key] = entry
    return {"family": row["id"], "label": row["label"], "tested": bool(row["testedOn"]), "testedOn": row["testedOn"],
            "facts": f, "features": features}


def require(feature, f=None):
    """Raises INTERPRETER_UNSUPPORTED when this interpreter's row refuses `feature`."""
    f = f or facts()
    try:
        entry = report(f)["features"][feature]
    except (OSError, ValueError) as exc:  # an install without the table: hello says so (capabilities null)
        sys.stderr.write("capabilities: the table is unreadable (%s: %s)\n" % (type(exc).__name__, exc))
        return
    if entry["status"] != "refused":
        return
    raise HelperError(errors.INTERPRETER_UNSUPPORTED, entry["message"], entry.get("next"))


def _refusal(spec, entry, f):
    build = " (free-threaded)" if f["freeThreaded"] else ""
    return "PyFlight does not %s on CPython %s%s: %s." % (spec["refusal"], f["version"], build, entry["reason"])
