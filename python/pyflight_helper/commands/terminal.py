"""`terminalPort`: a TCP port into the agent for flight-profiler's own CLI (Open PyFlight Terminal).

PyFlight's agent listens only on its door (a Unix socket); flight-profiler's CLI speaks TCP. On the
user's explicit request the agent opens a port on 127.0.0.1 (pyflight_agent/door.py terminal_port)
for as long as this request runs: one `record` {port, ownNetwork} once it listens, then nothing until
it is cancelled (the terminal closed), the helper exits or the process does; the agent closes the
port when this request's connection closes, so a helper that dies takes the port with it.
"""

import threading

from .. import errors
from ..errors import HelperError
from ..target import own_namespaces
from ..wire import call


def terminal_port(req, agent, pid):
    if agent.kind != "door":
        raise HelperError(errors.UNSUPPORTED_PLATFORM, "Process %d has flight-profiler's own agent, which listens on TCP port %d "
                          "already." % (pid, agent.port), "Run flight_profiler %d in a terminal." % pid)
    stopped = threading.Event()
    req.on_cancel = stopped.set  # a stream: cancel ends it normally, and closes the port
    # A process with a network namespace of its own (a container) has its own 127.0.0.1: the CLI
    # must run in that namespace to reach the port (the extension starts it with nsenter --net).
    own_network = "net" in own_namespaces(pid)
    try:
        result = call(agent, "agent.terminalPort", pid, timeout=None, cancelled=stopped,
                      progress=lambda data: req.record({"port": data["port"], "ownNetwork": own_network}))
    except HelperError as exc:
        if exc.code != errors.CANCELLED:
            raise
        return {"closed": True, "reason": "stopped"}
    return dict(result, reason="closed")
