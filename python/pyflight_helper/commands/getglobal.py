"""`getglobal`: a module global or class attribute, optionally through an expression on `target`;
`listGlobals`: a module's global names. Both read, never import: flight-profiler's getglobal and
vmtool call `importlib.import_module`, which would run the top-level code of a module the target
never imported, so the module is looked up in `sys.modules` first."""

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..wire import request, strip_ansi
from .probes import check_expression, exception_line, expand_option, location_words, quote

_NOT_IMPORTED_HINT = ("Use the module name as the target imported it (PyFlight: Show Module Name of This File, or "
                      "`pyflight module <pid> <file>`); PyFlight never imports a module into the process.")


def require_imported(agent, module):
    if not call(agent, "reads.imported", module, timeout=15):
        raise HelperError(errors.MODULE_NOT_FOUND, "Module %s is not imported in the target process." % module, _NOT_IMPORTED_HINT)


def lookup_error(text, module, cls=None, field=None):
    """The agent's red text for a failed lookup (getglobal, vmtool) → a specific HelperError."""
    clean = strip_ansi(text or "no answer").strip()
    if "Error in locating module" in clean:
        return HelperError(errors.MODULE_NOT_FOUND, "Module %s cannot be found in the target process." % module, _NOT_IMPORTED_HINT)
    if "No class named" in clean:
        return HelperError(errors.CLASS_NOT_FOUND, "No class named %s in module %s." % (cls, module),
                           "Check the class name (a top-level class of the module, or a name the module imported); "
                           "nested classes (Outer.Inner) cannot be looked up.")
    if "No global variable named" in clean:
        return HelperError(errors.NAME_NOT_FOUND, "No global named %s in module %s." % (field, module),
                           "Inspect Value reads module globals and class attributes, not local variables; "
                           "a global assigned later (or only in an `if __name__ == '__main__'` branch of another module) is not there yet.")
    if "No static variable named" in clean:  # flight-profiler prints the class name here, not the field
        return HelperError(errors.NAME_NOT_FOUND, "Class %s in module %s has no attribute %s." % (cls, module, field),
                           "Instance attributes (set in __init__) are not class attributes: use Show Live Instances to see them.")
    return HelperError(errors.INTERNAL, "Unexpected answer from the agent: %s" % clean[:300])


def getglobal(params, agent):
    words = location_words(params, last="field")
    module, cls, field = params["module"], params.get("class"), params["field"]
    expr = params.get("expr")
    parts = list(words)
    if expr:
        check_expression(expr, "expression")
        parts += ["-e", quote(expr)]
    expand = expand_option(params, 2, 6)
    parts += ["-x", str(expand)]
    if params.get("raw"):
        parts.append("-r")
    if params.get("verbose"):
        parts.append("-v")
    # `imported`: the caller took the module name from the `module` command (e.g. a hover), so it is
    # in sys.modules already and one round trip is enough.
    if not params.get("imported"):
        require_imported(agent, module)
    frames = request(agent, "getglobal", " " + " ".join(parts), timeout=30)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str):
        raise lookup_error(answer, module, cls, field)
    if answer.failed:
        line = exception_line(answer.failed_reason) or "failed"
        if not expr and "dumps.py" in (answer.failed_reason or ""):
            # flight-profiler's renderer sorts dict keys: {1: .., "a": ..} cannot be shown its way.
            raise HelperError(errors.BAD_EXPRESSION, "The value cannot be rendered by flight-profiler: %s" % line,
                              "It sorts dict keys, and these are of mixed types: read it with -r (repr()) instead "
                              "(Values view: Change Options… on its row); when the dict is nested, a lower depth (-x) skips it.")
        raise HelperError(errors.BAD_EXPRESSION, "The expression %s failed in the target: %s" % (expr or "target", line),
                          "The expression sees the value as `target`; fix it, or inspect without one.")
    return {"module": module, "class": cls, "field": field, "expr": answer.expr, "type": answer.type, "value": answer.value,
            "expand": expand, "raw": bool(params.get("raw"))}


def list_globals(params, agent):
    module = params.get("module")
    location_words({"module": module, "field": "x"}, last="field")  # validates the module name
    require_imported(agent, module)
    rows = call(agent, "reads.globalsOf", module, timeout=15)
    return {"module": module, "globals": [{"name": n, "type": t, "kind": k, "preview": p} for n, t, k, p in rows]}
