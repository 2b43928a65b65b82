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


def test_the_native_call_named_is_the_one_python_made_not_a_libc_helper_inside_it():
    """An agent that cannot start names the GIL holder's native call; a regex engine sampled inside
    glibc's memmove was named "__memmove_avx512_unaligned_erms" once (CI): the call it is in is the
    engine's. Frames as pystack gives them (innermost first, library as the path it maps)."""
    from pyflight_helper.attach import native_call

    frames = [
        {"function": "__memmove_avx512_unaligned_erms", "library": "/usr/lib/x86_64-linux-gnu/libc.so.6"},
        {"function": "sre_ucs1_match", "library": "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"},
        {"function": "_sre_SRE_Pattern_match_impl", "library": "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"},
    ]
    assert native_call(frames) == "sre_ucs1_match"
    assert native_call(frames[:1]) == "__memmove_avx512_unaligned_erms"
    assert native_call([{"function": "???", "library": "libc.so.6"}]) is None
    assert native_call(None) is None
