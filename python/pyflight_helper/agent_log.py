"""The agent's own log lines (add/clear wrapper, errors), which agent_bootstrap.py keeps in a ring
buffer inside the target instead of writing them into the application's stderr. Drained after
commands that make the agent log and written to our stderr, which PyFlight's log shows."""

import ast
import sys

from .wire import request

_DRAIN = ' _pyflight_agent log -e "[target.popleft() for _ in range(len(target))]" -r'


def drain(port, pid):
    """Moves the agent's buffered lines into the helper's stderr; silent if there is nothing to read
    (an agent loaded by flight-profiler's own client has no buffer)."""
    try:
        frames = request(port, "getglobal", _DRAIN, timeout=5)
    except OSError:
        return
    for frame in frames:
        value = getattr(frame, "value", None)
        if not value or getattr(frame, "failed", False):
            continue
        try:
            lines = ast.literal_eval(value)  # a repr of a list of str
        except (ValueError, SyntaxError):
            return
        for line in lines:
            sys.stderr.write("agent[%d]: %s\n" % (pid, line))
