"""The door's policy (door.py, plain Python): what flight-profiler requests it lets run."""

from pyflight_agent import door


def _door(allow_code):
    return door.Door({"allowCode": allow_code}, {}, None)


def test_flight_profilers_console_never_runs_whatever_code_execution_allows():
    # It swaps every thread's sys.stdout for a StringIO it frees a line later (see _UNSAFE_CONSOLE).
    for allow_code in (True, False):
        code, message, hint = _door(allow_code).refusal("console", None)
        assert code == "UNSAFE_IN_TARGET"
        assert "every thread" in message and "Open Console" in hint


def test_code_execution_off_refuses_reload_and_lets_observation_run():
    off, on = _door(False), _door(True)
    assert off.refusal("reload", "--mod m --func f")[0] == "CODE_EXECUTION_OFF"
    assert on.refusal("reload", "--mod m --func f") is None
    for target in ("stack", "gilstat", "perf"):
        assert off.refusal(target, "") is None
