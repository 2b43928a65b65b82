"""The capability table (capabilities.json): which row an interpreter gets, and what it refuses."""

import pytest

from pyflight_helper import capabilities, errors
from pyflight_helper.errors import HelperError


def facts(minor, free_threaded=False, stripped=False, version=None):
    return {"implementation": "CPython", "version": version or "%d.%d.0" % minor, "minor": list(minor),
            "freeThreaded": free_threaded, "stripped": stripped}


@pytest.mark.parametrize("f, family", [
    (facts((3, 7)), "cpython-old"),
    (facts((3, 9)), "cpython-3.8-3.9"),
    (facts((3, 10)), "cpython-3.10"),
    (facts((3, 11), stripped=True), "cpython-3.10-3.13-stripped"),
    (facts((3, 12)), "cpython-3.12"),
    (facts((3, 13)), "cpython-3.13"),
    (facts((3, 13), free_threaded=True), "cpython-free-threaded"),
    (facts((3, 14)), "cpython-3.14"),
    (facts((3, 14), free_threaded=True), "cpython-free-threaded"),
    (facts((3, 15)), "cpython-future"),
    (facts((3, 14), stripped=True), "cpython-3.14"),
    (dict(facts((3, 10)), implementation="PyPy"), "not-cpython"),
])
def test_family(f, family):
    assert capabilities.family(f)["id"] == family


def test_tested_rows_refuse_nothing():
    for minor in ((3, 10), (3, 11), (3, 12), (3, 13)):
        for stripped in (False, True):
            report = capabilities.report(facts(minor, stripped=stripped))
            assert report["tested"], minor
            assert not [k for k, v in report["features"].items() if v["status"] == "refused"], minor
            for feature in report["features"]:
                capabilities.require(feature, facts(minor, stripped=stripped))


def test_untested_rows_refuse_the_agent_with_reason_and_next_step(monkeypatch):
    monkeypatch.delenv(capabilities.OVERRIDE_VARIABLE, raising=False)
    with pytest.raises(HelperError) as raised:
        capabilities.require("agent", facts((3, 14), version="3.14.1"))
    assert raised.value.code == errors.INTERPRETER_UNSUPPORTED
    assert "CPython 3.14.1" in raised.value.message and "sys.remote_exec" in raised.value.message
    assert capabilities.OVERRIDE_VARIABLE in raised.value.hint
    capabilities.require("stack", facts((3, 14)))  # read from outside: not refused
    with pytest.raises(HelperError) as raised:
        capabilities.require("gilstat", facts((3, 13), free_threaded=True, version="3.13.1"))
    assert "(free-threaded)" in raised.value.message and "no GIL" in raised.value.message


def test_override_lets_an_overridable_refusal_run(monkeypatch):
    monkeypatch.setenv(capabilities.OVERRIDE_VARIABLE, "1")
    capabilities.require("agent", facts((3, 9)))
    report = capabilities.report(facts((3, 9)))
    assert report["features"]["agent"]["status"] == "untested" and report["features"]["agent"]["overridden"]
    with pytest.raises(HelperError):  # no GIL to measure: not overridable
        capabilities.require("gilstat", facts((3, 13), free_threaded=True))


def test_this_interpreter_has_a_row():
    report = capabilities.report()
    assert report["facts"]["minor"][0] == 3 and report["family"]
