"""Locks that the source names alike, told apart by object: the fixtures deadlock_same_name.py
(two classes' `self.lock`) and deadlock_two_accounts.py (`self._lock`, then `other._lock`) run
for real; their stacks are read as `pyflight stack` reads them, the objects' addresses with
py-spy's locals; without locals, `self.attr` is qualified by the method's class."""

import copy
import os
import subprocess
import sys

import pytest

from pyflight_helper.blocking import link_holders
from pyflight_helper.commands.stack import stack

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures")


@pytest.fixture
def target():
    started = []

    def start(name, *args):
        child = subprocess.Popen([sys.executable, os.path.join(FIXTURES, name), *args], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, cwd=FIXTURES)
        started.append(child)
        assert child.stdout.readline().startswith(b"READY")
        return child.pid

    yield start
    for child in started:
        child.kill()
        child.wait()


def _threads(result):
    return {t["name"]: t for t in result["threads"]}


@pytest.mark.parametrize("flag", [[], ["--rlock"]])
def test_two_classes_self_lock_by_address(target, flag):
    threads = _threads(stack(target("deadlock_same_name.py", *flag), None))
    payments, flusher = threads["payments"], threads["audit-flusher"]
    assert payments["blockedOn"]["heldBy"] == ["audit-flusher"]
    assert flusher["blockedOn"]["heldBy"] == ["payments"]
    assert payments["blockedOn"]["owner"].startswith("AuditLog at 0x")
    assert [h["owner"].split(" at ")[0] for h in payments["holding"]] == ["AccountLedger"]
    assert payments["holding"][0]["lock"] == flusher["blockedOn"]["lock"]


@pytest.mark.parametrize("flag", [[], ["--rlock"]])
def test_two_accounts_self_then_other_by_address(target, flag):
    threads = _threads(stack(target("deadlock_two_accounts.py", *flag), None))
    ab, ba = threads["transfer-a-b"], threads["transfer-b-a"]
    assert ab["blockedOn"]["expression"] == "other._lock" and ab["blockedOn"]["heldBy"] == ["transfer-b-a"]
    assert ba["blockedOn"]["heldBy"] == ["transfer-a-b"]
    assert ab["holding"][0]["expression"] == "self._lock" and ab["holding"][0]["lock"] == ba["blockedOn"]["lock"]
    assert ab["blockedOn"]["lock"] != ba["blockedOn"]["lock"]


def test_without_locals_the_class_tells_two_self_locks_apart(target):
    result = stack(target("deadlock_same_name.py"), None)
    bare = copy.deepcopy(result["threads"])
    for t in bare:
        t.pop("holding", None)
        if t.get("blockedOn"):
            for key in ("heldBy", "lock", "owner"):
                t["blockedOn"].pop(key, None)
    threads = {t["name"]: t for t in link_holders(bare, None)}
    assert threads["payments"]["blockedOn"]["lock"] == "AuditLog.lock"
    assert threads["payments"]["blockedOn"]["heldBy"] == ["audit-flusher"]
    assert threads["audit-flusher"]["blockedOn"]["heldBy"] == ["payments"]
    assert threads["payments"]["holding"][0]["lock"] == "AccountLedger.lock"


def test_without_locals_other_lock_has_maybe_holders(target):
    result = stack(target("deadlock_two_accounts.py"), None)
    bare = copy.deepcopy(result["threads"])
    for t in bare:
        t.pop("holding", None)
        if t.get("blockedOn"):
            for key in ("heldBy", "lock", "owner"):
                t["blockedOn"].pop(key, None)
    threads = {t["name"]: t for t in link_holders(bare, None)}
    ab = threads["transfer-a-b"]
    assert "heldBy" not in ab["blockedOn"]
    assert ab["blockedOn"]["maybeHeldBy"] == ["transfer-b-a"]
    assert threads["transfer-b-a"]["blockedOn"]["maybeHeldBy"] == ["transfer-a-b"]
    assert ab["holding"] == [{"expression": "self._lock", "file": ab["blockedOn"]["file"], "line": 26, "maybe": True}]


def test_a_thread_holding_the_same_text_in_an_outer_frame_holds_it_for_the_others():
    # Frames in deadlock_two_accounts.py, nothing read about objects: "nested" is inside
    # `with self._lock:` (line 26) in an outer call and, in an inner call, blocked on
    # `with self._lock:` again (another account's); "plain" waits on `with self._lock:` (line 26).
    path = os.path.abspath(os.path.join(FIXTURES, "deadlock_two_accounts.py"))
    frame = lambda line: {"function": "Account.transfer_to", "file": path, "line": line, "kind": "python"}  # noqa: E731
    nested = {"name": "nested", "frames": [frame(26), frame(29)],
              "blockedOn": {"expression": "self._lock", "file": path, "line": 26, "kind": "lock"}}
    plain = {"name": "plain", "frames": [frame(26)], "blockedOn": {"expression": "self._lock", "file": path, "line": 26, "kind": "lock"}}
    link_holders([nested, plain], None)
    assert plain["blockedOn"]["heldBy"] == ["nested"]
    assert "heldBy" not in nested["blockedOn"]  # never its own holder
    assert [h["line"] for h in nested["holding"]] == [26]
