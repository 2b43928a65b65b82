"""PyFlight's in-target calls by name (pyflight_agent/door.py CALLS), whatever loaded the agent.

Through PyFlight's door a call runs a function of the in-target files staged with the agent, with
progress and cancel. An agent that flight-profiler's own client loaded (macOS, Python 3.14+,
PYFLIGHT_INJECT_WITH_CLIENT=1) has no door: there the same file is sent once through the agent's
`getglobal -e`, kept in one sys.modules entry (`_pyflight_fallback`, the one thing PyFlight leaves
in such a target's sys.modules), and its function evaluated the same way (no progress, no cancel).
"""

import ast
import base64
import hashlib
import json
import os
import threading

from pyflight_agent.door import CALLS

from . import errors
from .errors import HelperError
from .wire import InTargetError, call as door_call, request, strip_ansi

AGENT_FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyflight_agent")
REGISTRY = "_pyflight_fallback"
_installed = set()  # (agent, file, source hash) sent through getglobal already
_install_lock = threading.Lock()


def call(agent, name, *args, **options):
    """The call's result (JSON data). options: timeout, progress(data), cancelled (threading.Event).
    Raises InTargetError (its `type_name` is the exception the function raised) or HelperError."""
    if agent.kind == "door":
        return door_call(agent, name, *args, **options)
    filename, function, _runs_code = CALLS[name]
    if filename is None:
        raise HelperError(errors.UNSUPPORTED_PLATFORM, "%s needs PyFlight's own agent; this process has flight-profiler's." % name)
    _install(agent, filename)
    expr = "__import__('json').dumps(target[%r].%s(*__import__('json').loads(%r)))" % (filename, function, json.dumps(args))
    value = _getglobal(agent, [REGISTRY, "modules"], expr, options.get("timeout", 30.0))
    return json.loads(value)


def _getglobal(agent, words, expr, timeout):
    from .commands.probes import quote

    frames = request(agent, "getglobal", " " + " ".join(list(words) + ["-e", quote(expr), "-r"]), timeout=timeout)
    answer = frames[0] if frames else None
    if answer is None or isinstance(answer, str):
        raise HelperError(errors.INTERNAL, "Unexpected answer from the agent: %s" % strip_ansi(answer or "none").strip()[-300:])
    if answer.failed:
        reason = (answer.failed_reason or "").strip()
        last = reason.splitlines()[-1] if reason else "failed"
        type_name = last.split(":", 1)[0].strip() if ":" in last else None
        raise InTargetError(errors.INTERNAL, last.split(":", 1)[-1].strip() if type_name else last, None, type_name)
    return ast.literal_eval(answer.value)


_INSTALL = """
import sys, types
reg = sys.modules.get(R)
if reg is None:
    reg = types.ModuleType(R)
    reg.modules, reg.hashes = {}, {}
    sys.modules[R] = reg
if reg.hashes.get(F) != H:
    ns = types.ModuleType('_pyflight_' + F[:-3])
    ns.__file__ = F
    exec(compile(SRC, F, 'exec'), ns.__dict__)
    reg.modules[F] = ns
    reg.hashes[F] = H
"""


def _install(agent, filename):
    with open(os.path.join(AGENT_FILES, filename), "rb") as f:
        source = f.read()
    digest = hashlib.sha256(source).hexdigest()[:16]
    key = (agent, filename, digest)
    with _install_lock:
        if key in _installed:
            return
        scope = {"R": REGISTRY, "F": filename, "H": digest, "SRC": source.decode("utf-8")}
        payload = base64.b64encode(json.dumps(scope).encode("utf-8")).decode("ascii")
        expr = ("exec(%r, __import__('json').loads(__import__('base64').b64decode(%r)))" % (_INSTALL, payload))
        _getglobal(agent, ["sys", "modules"], "(%s, None)[1]" % expr, 30.0)
        _installed.add(key)
