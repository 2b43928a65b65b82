"""The agent's own log lines (add/clear wrapper, errors, refused connections), which PyFlight's
agent keeps in a ring buffer inside the target instead of writing them into the application's
stderr. Drained after commands that make the agent log and written to our stderr, which PyFlight's
log shows."""

import sys

from .errors import HelperError
from .wire import call


def drain(agent, pid):
    """Moves the agent's buffered lines into the helper's stderr; silent where there is nothing to
    read (an agent flight-profiler's own client loaded has no buffer)."""
    if agent.kind != "door":
        return
    try:
        lines = call(agent, "agent.log", timeout=5)
    except (OSError, HelperError, ValueError):
        return
    for line in lines:
        sys.stderr.write("agent[%d]: %s\n" % (pid, line))
