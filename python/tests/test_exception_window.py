"""The exception window (pyflight_agent/exception_hook.py) in a process of each interpreter here."""

import subprocess

import pytest

from machine_pythons import interpreters
from pyflight_agent import exception_hook

# A window whose helper comes back after the grace (a loaded host: ci on stop 31 lost the window's
# count that way) has been removed by its own timer; what it counted is still read, once, and nothing
# stays hooked or registered.
READ_AFTER_ITS_TIMER_REMOVED_IT = r"""
import importlib.util, sys, threading, time
spec = importlib.util.spec_from_file_location("_hook", sys.argv[1])
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)
hook.GRACE_SECONDS = 0.2
stop = []
def failing():
    while not stop:
        try:
            int("x")
        except ValueError:
            time.sleep(0.01)
thread = threading.Thread(target=failing, name="failing")
thread.start()
try:
    hook.start(0.5, 1000)
    deadline = time.monotonic() + 30
    while hook.check()["registered"] and time.monotonic() < deadline:
        time.sleep(0.05)
    removed_by_timer = not hook.check()["registered"]
    result = hook.finish()
    again = hook.finish()
finally:
    stop.append(1)
    thread.join()
counted = sum(e["count"] for e in result.get("exceptions", []) if e["type"] == "ValueError")
print("OK" if removed_by_timer and counted > 0 and not result["stillTraced"] and again.get("missing")
      and hook.check() == {"stillTraced": [], "registered": False}
      else "BAD %r %r %r" % (removed_by_timer, counted, {k: v for k, v in result.items() if k != "exceptions"}))
"""


@pytest.mark.parametrize("python", interpreters())
def test_a_window_its_timer_removed_is_still_read(python, tmp_path):
    if python is None:
        pytest.skip("this interpreter is not installed here")
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True).stdout.strip()
    if version == "3.10":
        pytest.skip("no exception window on 3.10 (every Python call has a C frame there): watch -e instead")
    app = tmp_path / "app.py"  # the window counts the application's own files, not `-c` code
    app.write_text(READ_AFTER_ITS_TIMER_REMOVED_IT)
    done = subprocess.run([python, str(app), exception_hook.__file__], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "OK", done.stdout[-2000:]
