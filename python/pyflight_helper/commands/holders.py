"""`memHolders`: what holds the objects of a growing type — the referrer chain up to a module global
or class attribute, with container sizes (pyflight_agent/holders.py runs in the target and keeps
nothing) — and where the holder is defined, found here from the source with `ast` (the line
that assigns the global, the class attribute, or the instance attribute on the chain).
`memContainers`: the lengths of the biggest containers now, so a later `memHolders` on a built-in
type can rank containers by how much they grew."""

import ast

from .. import errors
from ..errors import HelperError
from ..in_target import call
from ..wire import InTargetError
from .exceptions import _read_source
from .probes import location_words


def mem_containers(params, agent):
    limit = params.get("limit", 300)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 5000:
        raise HelperError(errors.BAD_ARGUMENT, "limit must be 1–5000, got %r." % (limit,))
    return call(agent, "holders.containers", {"limit": limit}, timeout=60)


def mem_holders(params, pid, agent):
    module, cls = params.get("module"), params.get("class")
    if not isinstance(module, str) or not isinstance(cls, str) or not module or not cls:
        raise HelperError(errors.BAD_ARGUMENT, "memHolders needs a module and a class (or `builtins` and a built-in type).",
                          "e.g. `pyflight mem holders <pid> app.cache Session`, or `pyflight mem holders <pid> builtins dict`.")
    location_words({"module": module, "field": cls.split(".")[-1]}, last="field")  # validates the names
    spec = {"module": module, "class": cls}
    for key, low, high, default in (("samples", 1, 50, 5), ("maxSeconds", 0.5, 60, 5), ("maxNodes", 10, 100000, 400)):
        value = params.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            raise HelperError(errors.BAD_ARGUMENT, "%s must be %s–%s, got %r." % (key, low, high, value))
        spec[key] = value
    via = params.get("via")
    if via is not None:
        if not isinstance(via, dict) or via.get("kind") not in ("global", "classAttr") or not isinstance(via.get("path"), str):
            raise HelperError(errors.BAD_ARGUMENT, "via must be a named container of a census: {path, kind: global|classAttr}.")
        spec["via"] = {"path": via["path"], "kind": via["kind"]}
        instances = params.get("instances")
        spec["instances"] = instances if isinstance(instances, int) and not isinstance(instances, bool) else None
    before = params.get("before")
    if before is not None:
        if not isinstance(before, dict) or not all(isinstance(v, int) for v in before.values()):
            raise HelperError(errors.BAD_ARGUMENT, "before must be the containers of an earlier memContainers.")
        spec["before"] = {str(k): v for k, v in before.items()}
        floor = params.get("beforeFloor", 0)
        spec["beforeFloor"] = floor if isinstance(floor, int) and not isinstance(floor, bool) and floor > 0 else 0
    if params.get("sliced") is True:
        # Referrers searched in slices of one gc.get_objects() listing (no gc.get_referrers pause).
        spec["sliced"] = True
    try:
        result = call(agent, "holders.holders", spec, timeout=float(spec["maxSeconds"]) + 60)
    except InTargetError as exc:
        if exc.type_name == "LookupError":
            reason = exc.message.split("LookupError:", 1)[-1].strip().rstrip(".")
            code = errors.MODULE_NOT_FOUND if "not imported" in reason else errors.CLASS_NOT_FOUND
            raise HelperError(code, "Cannot search for holders: %s." % reason,
                              "Use the type as pympler names it (`module.Class`), the module as the target imported it; "
                              "for built-in types the module is `builtins`.")
        raise
    files = result.pop("files", {})
    for entry in result["holders"]:
        entry["definition"] = definition(entry, files, pid)
    return result


def definition(entry, files, pid):
    """{file, line, what} of the assignment that creates the holder: the instance attribute on the
    chain that is the biggest container (`self._listeners = {}`), else the root global or class attribute."""
    root = entry["root"]
    steps = entry["steps"]
    sized = [i for i, s in enumerate(steps) if s.get("len") is not None]
    biggest = max(sized, key=lambda i: steps[i]["len"]) if sized else 0
    # The nearest attribute at or above the biggest container, of an object of a class on the chain
    # (`self._listeners = {}` for BUS._listeners['shutdown']).
    for i in range(biggest, 0, -1):
        label = steps[i]["label"]
        owner = steps[i - 1]["type"]
        if label.startswith(".") and label[1:].isidentifier() and "." in owner:
            owner_module, owner_class = owner.rsplit(".", 1)
            found = _find_assignment(files.get(owner_module), pid, owner_class, label[1:], instance=True)
            if found:
                return dict(found, what="%s.%s" % (owner, label[1:]))
            break
    file = files.get(root["module"])
    if root["kind"] == "instance":
        return None  # an object, not a name: only an attribute on its chain has an assignment (above)
    if root["kind"] == "global":
        found = _find_assignment(file, pid, None, root["name"])
    else:
        found = _find_assignment(file, pid, root["name"], root["attr"])
    return dict(found, what=root["path"]) if found else None


def _targets(node):
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return [node.target]
    return []


def _find_assignment(file, pid, class_path, name, instance=False):
    """First line assigning `name` at module level (class_path None), in the class body, or — with
    `instance` — as `self.name` in one of the class's methods."""
    source = _read_source(file, pid) if file else None
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    body = tree.body
    if class_path:
        for part in class_path.split("."):
            klass = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
            if klass is None:
                return None
            body = klass.body
    if instance:
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            for target in _targets(node):
                if isinstance(target, ast.Attribute) and target.attr == name and isinstance(target.value, ast.Name) \
                        and target.value.id == "self":
                    return {"file": file, "line": node.lineno}
        return None
    for node in body:
        for target in _targets(node):
            elts = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(t, ast.Name) and t.id == name for t in elts):
                return {"file": file, "line": node.lineno}
    return None
