"""A Python process started from source for a test, returned once it prints READY (not collected:
no test_ prefix). Shared by the tests that borrow a thread of a real process."""
import subprocess
import sys
import time

SLEEPING_MAIN = """
print("READY", flush=True)
import time
time.sleep(3600)
"""


def start(code):
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(0.2)
    return proc
