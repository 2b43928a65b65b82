"""The audit trail's line: time, local user, kind, pid, method and params, for the rows whose flag applies."""

import re

from pyflight_helper import audit


def test_applies_always_or_only_with_the_named_params():
    assert audit.applies({"kind": "code"}, {})
    assert not audit.applies(None, {"expr": "1"})
    watch = {"kind": "code", "when": ["expr", "filter"]}
    assert not audit.applies(watch, {"module": "m", "method": "f"})
    assert audit.applies(watch, {"module": "m", "method": "f", "filter": "args[0] > 1"})


def test_the_line_says_when_who_what(capsys):
    audit.record("eval", {"expression": "__import__('os').getpid()"}, {"kind": "code"}, 4242)
    audit.record("watch", {"module": "m", "method": "f"}, {"kind": "code", "when": ["expr"]}, 4242)  # not audited
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert re.match(r"^AUDIT \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ \(uid \d+\) code pid 4242 eval "
                    r"\{\"expression\": \"__import__\('os'\).getpid\(\)\"\}$", err[0]), err[0]


def test_long_params_are_cut():
    text = audit.line("consoleInput", {"line": "x" * 10000}, {"kind": "code"}, 1, now=0)
    assert text.startswith("AUDIT 1970-01-01T00:00:00Z ")
    assert "more characters)" in text and len(text) < 4300
