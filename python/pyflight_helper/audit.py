"""The audit trail: every request that runs code in the target or changes it is written to PyFlight's
log (the helper's stderr, which the extension logs at info level) with the time, the local user and
the request, before it is carried out. Which requests those are is the method table's `audit` flag
(src/protocol/methods.ts): `{kind: code|change, when?: [params]}`, `when` meaning only with one of
those params set (a user's expression or filter)."""

import json
import os
import sys
import time

MAX_PARAMS_CHARS = 4000


def applies(flag, params):
    if not flag:
        return False
    when = flag.get("when")
    return not when or any(params.get(name) for name in when)


def local_user():
    uid = os.geteuid()
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def line(method, params, flag, pid, now=None):
    """`AUDIT 2026-12-06T05:40:00Z root (uid 0) code pid 123 eval {"expression": "…"}`."""
    text = json.dumps(params, sort_keys=True, ensure_ascii=False)
    if len(text) > MAX_PARAMS_CHARS:
        text = text[:MAX_PARAMS_CHARS] + "… (%d more characters)" % (len(text) - MAX_PARAMS_CHARS)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return "AUDIT %s %s %s pid %s %s %s" % (stamp, local_user(), flag.get("kind", "code"), pid, method, text)


def record(method, params, flag, pid):
    """Writes the request's audit line when its row's flag applies to these params."""
    if applies(flag, params or {}):
        sys.stderr.write(line(method, params or {}, flag, pid) + "\n")
        sys.stderr.flush()
