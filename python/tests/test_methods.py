"""The helper answers exactly the methods of the protocol's one table (src/protocol/methods.ts,
written by the build into methods.json) and guards each by what its row needs."""

import json
import os
import subprocess
import sys

from pyflight_helper.__main__ import HANDLERS
from pyflight_helper.server import OWN_METHODS, Server, load_methods, table_drift

HELPER_DIR = os.path.join(os.path.dirname(__file__), "..")


def test_every_row_has_a_handler_and_every_handler_a_row():
    missing, extra = table_drift(load_methods(), HANDLERS)
    assert (missing, extra) == ([], []), "no handler for %s; no row in src/protocol/methods.ts for %s" % (missing, extra)
    assert set(OWN_METHODS) <= set(load_methods())


def test_a_server_refuses_to_start_with_half_a_table():
    without_stack = {name: handler for name, handler in HANDLERS.items() if name != "stack"}
    with_extra = dict(HANDLERS, notInTheTable=lambda _srv, _req: {})
    for handlers, named in ((without_stack, "stack"), (with_extra, "notInTheTable")):
        try:
            Server(load_methods(), handlers)
        except RuntimeError as exc:
            assert named in str(exc)
        else:
            raise AssertionError("a server started without a handler or row for %s" % named)


def test_rows_are_well_formed():
    for name, row in load_methods().items():
        assert row["needs"] in ("nothing", "open", "agent"), name
        assert isinstance(row["stream"], bool) and isinstance(row["logging"], bool), name
        assert row.get("agentWith") is None or row["needs"] == "open", name


def _run(lines):
    env = dict(os.environ, PYTHONPATH=HELPER_DIR)
    proc = subprocess.run([sys.executable, "-m", "pyflight_helper"], input="".join(l + "\n" for l in lines),
                          capture_output=True, text=True, env=env, timeout=30)
    return {e["id"]: e for e in (json.loads(line) for line in proc.stdout.splitlines())}


def test_each_method_is_refused_until_what_its_row_needs_is_there():
    """Without `open`, every method that needs a target is refused before its handler runs (nothing
    reaches a target that was never named); the message says which request comes first."""
    methods = load_methods()
    needing = sorted(name for name, row in methods.items() if row["needs"] != "nothing")
    events = _run([json.dumps({"id": i, "method": name}) for i, name in enumerate(needing)])
    for i, name in enumerate(needing):
        error = events[i]["error"]
        assert error["code"] == "HELPER_PROTOCOL", name
        first = "`open`" if methods[name]["needs"] == "open" else "`attach`"
        assert first in error["message"], (name, error["message"])


def test_a_rows_audit_flag_writes_the_trail_only_for_a_request_that_runs(capsys):
    """The audit line (python/pyflight_helper/audit.py) comes from the row's flag, after the row's
    guard: a request refused for want of the agent ran nothing and is not in the trail."""
    from pyflight_helper.server import Request

    ran = []
    def run(_srv, req):
        ran.append(req.params)
        return {}

    server = Server(load_methods(), dict(HANDLERS, eval=run, getglobal=run))
    server._run("eval", Request(1, {"expression": "1 + 1"}))
    assert ran == [] and "AUDIT" not in capsys.readouterr().err
    server.pid, server.agent = 4242, object()  # an agent (logging is off for eval: nothing is drained)
    server._run("eval", Request(2, {"expression": "1 + 1"}))
    err = capsys.readouterr().err
    assert ran == [{"expression": "1 + 1"}]
    assert " code pid 4242 eval " in err and '"expression": "1 + 1"' in err, err
    server._run("getglobal", Request(3, {"module": "m", "field": "f"}))  # audited only with `expr`
    assert len(ran) == 2 and "AUDIT" not in capsys.readouterr().err
