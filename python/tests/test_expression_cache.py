"""flight-profiler's expression resolvers compile their expression on every evaluation (a third of
what a watched call costs). The bootstrap's patch compiles once per resolver; answers, filters and
failures must stay what upstream gives, on the real classes installed with flight-profiler."""

import builtins
import importlib

import pytest

from pyflight_agent import patches

resolvers = pytest.importorskip("flight_profiler.common.expression_resolver")


@pytest.fixture
def upstream_and_patched():
    importlib.reload(resolvers)
    upstream = (resolvers.MethodInvocationExprResolver, resolvers.FilterExprResolver, resolvers.InstanceExprResolver)
    upstream = tuple(type(c.__name__, (c,), dict(c.__dict__)) for c in upstream)  # copies keep upstream's methods
    patches.patch_expression_cache()
    patched = (resolvers.MethodInvocationExprResolver, resolvers.FilterExprResolver, resolvers.InstanceExprResolver)
    yield upstream, patched
    importlib.reload(resolvers)


def _outcome(call):
    try:
        return ("value", call())
    except Exception as error:  # noqa: BLE001 - the failure is what is compared
        return ("raised", type(error).__name__)


@pytest.mark.parametrize("expr", ["args, kwargs", "return_obj * 2", "target", "kwargs.get('k', len(args))", "1/0", "args[", "undefined_name"])
def test_invocation_answers_as_upstream(upstream_and_patched, expr):
    (up, _, _), (mine, _, _) = upstream_and_patched
    a, b = up(expr), mine(expr)
    for call in [(None, 3, 1, 2), ("obj", 5), (None, None)]:
        assert _outcome(lambda: b.eval(*call, k=9)) == _outcome(lambda: a.eval(*call, k=9))


@pytest.mark.parametrize("expr", [None, "args[0] > 3", "cost < 0", "return_obj", "1/0", "args["])
def test_filter_answers_as_upstream(upstream_and_patched, expr):
    (_, up, _), (_, mine, _) = upstream_and_patched
    a, b = up(expr), mine(expr)
    for call in [(None, 3, 1.0, 5), (None, 0, 2.0, 1), (None, None, 0.5)]:
        assert _outcome(lambda: b.eval_filter(*call)) == _outcome(lambda: a.eval_filter(*call))


def test_instance_expression_answers_as_upstream(upstream_and_patched):
    (_, _, up), (_, _, mine) = upstream_and_patched
    assert mine("target.real + 1").eval_target(41) == up("target.real + 1").eval_target(41) == 42


def test_compiled_once_per_resolver(upstream_and_patched, monkeypatch):
    (up, up_filter, _), (mine, mine_filter, _) = upstream_and_patched
    compiled = []
    real_exec = builtins.exec

    def counting_exec(*args):
        compiled.append(1)
        return real_exec(*args)

    monkeypatch.setattr(builtins, "exec", counting_exec)

    def evaluations(resolver, check):
        compiled.clear()
        for i in range(100):
            assert resolver.eval(None, None, i) == i + 1
            assert bool(check.eval_filter(None, None, 0.0, i)) is (i > 0)
        return len(compiled)

    assert evaluations(up("args[0] + 1"), up_filter("args[0] > 0")) == 200
    assert evaluations(mine("args[0] + 1"), mine_filter("args[0] > 0")) == 2


def test_a_bad_expression_fails_on_every_call(upstream_and_patched):
    _, (mine, _, _) = upstream_and_patched
    resolver = mine("args[")
    for _ in range(3):
        with pytest.raises(SyntaxError):
            resolver.eval(None, None, 1)


def test_the_users_traceback_of_a_failing_expression_shows_neither_upstream_nor_the_bootstrap(upstream_and_patched):
    """The patched resolver adds bootstrap frames to a failing expression's traceback; the record
    shows the user only the expression's own line (as before the patch)."""
    import traceback

    from pyflight_helper.commands.probes import clean_traceback

    _, (mine, _, _) = upstream_and_patched
    try:
        mine("undefined_x + 1").eval(None, None, 1)
    except NameError:
        raw = traceback.format_exc()
    assert "patches.py" in raw  # what the filter below must drop
    shown = clean_traceback(raw)
    assert "patches.py" not in shown and "flight_profiler" not in shown
    assert shown.strip().splitlines()[-1] == "NameError: name 'undefined_x' is not defined"
