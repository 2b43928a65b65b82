"""Maps the flight_profiler client's real failure output (recorded) to our stable codes."""

import os

import pytest

from pyflight_helper import errors
from pyflight_helper.attach import _classify_failure

RECORDED = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "recorded", "client")


def read(name):
    with open(os.path.join(RECORDED, name), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("recording, code", [
    ("attach-pid-not-exists.txt", errors.PID_NOT_FOUND),
    ("attach-not-python.txt", errors.VERSION_MISMATCH),
])
def test_recorded_client_failures(recording, code):
    # a live pid, so the "did the target exit?" check does not take over
    failure = _classify_failure(os.getpid(), read(recording))
    assert failure.code == code
    assert failure.hint


def test_dead_target_wins_over_output():
    failure = _classify_failure(4000000 if not os.path.exists("/proc/4000000") else 4000001, "anything")
    assert failure.code == errors.TARGET_EXITED


def test_unknown_output_keeps_the_last_line():
    failure = _classify_failure(os.getpid(), "line one\nsomething odd happened\n")
    assert failure.code == errors.ATTACH_FAILED
    assert "something odd happened" in failure.message
