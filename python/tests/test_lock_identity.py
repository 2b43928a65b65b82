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
