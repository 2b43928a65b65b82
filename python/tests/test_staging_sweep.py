"""Staging dirs (a 23 MB copy of the agent each) left by killed helpers are swept by the next attach."""

import os
import subprocess
import sys
import time

from pyflight_helper import inject


def _make(root, name, age=0):
    path = root / name
    path.mkdir()
    (path / "flight_profiler_agent.so").write_bytes(b"x")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_sweeps_dead_targets_and_old_dirs_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = _make(tmp_path, "pyflight-agent-%d-abc" % dead.pid)
    old = _make(tmp_path, "pyflight-agent-%d-def" % os.getpid(), age=inject.STALE_AFTER_SECONDS + 5)
    live = _make(tmp_path, "pyflight-agent-%d-ghi" % os.getpid())  # an attach in progress
    other = _make(tmp_path, "someone-elses-%d" % dead.pid)
    removed = inject.sweep_stale_stagings(str(tmp_path))
    assert sorted(removed) == sorted([gone.name, old.name])
    assert not gone.exists() and not old.exists()
    assert live.exists() and other.exists()


def test_live_stagings_are_removed_at_exit(tmp_path):
    # A helper that stops while an attach thread still holds its staging must not leave it behind.
    code = ("import sys, threading, time; sys.path.insert(0, %r)\n"
            "from pyflight_helper import inject\n"
            "s = inject.Staging.__new__(inject.Staging); s.dir = %r\n"
            "import os; os.mkdir(s.dir); inject._live_stagings.add(s)\n"
            "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
            % (os.path.dirname(os.path.dirname(inject.__file__)), str(tmp_path / "pyflight-agent-1-x")))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert not (tmp_path / "pyflight-agent-1-x").exists()
