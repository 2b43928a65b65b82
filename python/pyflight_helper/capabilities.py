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
import sysconfig

from . import errors
from .errors import HelperError

TABLE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "capabilities.json")
OVERRIDE_VARIABLE = "PYFLIGHT_ALLOW_UNTESTED_PYTHON"
GIL_FUNCTIONS = ("take_gil", "drop_gil")

_table = None
_facts = None


def table():
    global _table
    if _table is None:
        with open(TABLE_FILE) as f:
            _table = json.load(f)
    return _table


def _stripped():
    """No symbol for take_gil/drop_gil in this interpreter's binary or its libpython (nor in their
    build-id debug files): what gilstat's interceptor needs. None when it cannot be told (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from pyflight_agent import elf
        found, _searched = elf.locate_symbols("self", list(GIL_FUNCTIONS))
    except Exception:  # an unreadable file: say nothing rather than guess
        return None
    return not all(name in found for name in GIL_FUNCTIONS)


def facts():
    """This interpreter, as the table's rows match it."""
    global _facts
    if _facts is None:
        _facts = {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "minor": list(sys.version_info[:2]),
            "freeThreaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
            "stripped": _stripped(),
        }
    return _facts


def _matches(match, f):
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
    entry = report(f)["features"][feature]
    if entry["status"] != "refused":
        return
    raise HelperError(errors.INTERPRETER_UNSUPPORTED, entry["message"], entry.get("next"))


def _refusal(spec, entry, f):
    build = " (free-threaded)" if f["freeThreaded"] else ""
    return "PyFlight does not %s on CPython %s%s: %s." % (spec["refusal"], f["version"], build, entry["reason"])
