"""The helper end to end over real pipes: framing, unknown methods, bad lines, errors with codes."""

import json
import os
import subprocess
import sys

HELPER_DIR = os.path.join(os.path.dirname(__file__), "..")


def run_helper(lines):
    env = dict(os.environ, PYTHONPATH=HELPER_DIR)
    proc = subprocess.run([sys.executable, "-m", "pyflight_helper"], input="".join(l + "\n" for l in lines),
                          capture_output=True, text=True, env=env, timeout=30)
    return [json.loads(line) for line in proc.stdout.splitlines()], proc


def test_hello_then_shutdown():
    events, proc = run_helper(['{"id": 1, "method": "hello"}', '{"id": 2, "method": "shutdown"}'])
    by_id = {e["id"]: e for e in events}
    assert by_id[1]["event"] == "end"
    assert os.path.realpath(by_id[1]["data"]["python"]["executable"]) == os.path.realpath(sys.executable)
    assert by_id[1]["data"]["flightProfiler"]["installed"] is True
    assert by_id[2] == {"id": 2, "event": "end", "data": {}}
    assert proc.returncode == 0


def test_errors_have_stable_codes():
    events, _ = run_helper([
        '{"id": 1, "method": "nope"}',
        '{"id": 2, "method": "stack"}',
        '{"id": 3, "method": "attach", "params": {"pid": "x"}}',
    ])
    codes = {e["id"]: e["error"]["code"] for e in events if e["event"] == "error"}
    assert codes == {1: "HELPER_PROTOCOL", 2: "HELPER_PROTOCOL", 3: "BAD_ARGUMENT"}


def test_garbage_line_is_reported_not_crashed():
    events, proc = run_helper(["this is not json"])
    assert events[-1]["event"] == "error"
    assert events[-1]["error"]["code"] == "HELPER_PROTOCOL"
    assert proc.returncode == 0
