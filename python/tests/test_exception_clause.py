"""except_clause: which except clause stops an exception at a frame's line (pure, from the source)."""

import textwrap

from pyflight_helper.commands.exceptions import except_clause

SOURCE = textwrap.dedent('''\
    def handle(order):
        try:
            return process(order)
        except Exception:
            return None


    def lookup(key):
        try:
            return CACHE[key]
        except (KeyError, IndexError):
            return None


    def relay(x):
        try:
            return call(x)
        except ValueError as e:
            raise RuntimeError("bad") from e


    def bare():
        try:
            work()
        except:
            pass


    def plain():
        return work()


    def push(batch):
        for raw in batch:
            with contextlib.suppress(ValueError, IndexError):
                records.append(parse(raw))
''')

VALUE_ERROR = ["ValueError", "Exception", "BaseException", "object"]
KEY_ERROR = ["KeyError", "LookupError", "Exception", "BaseException", "object"]


def _at(tmp_path, function, line, mro):
    path = tmp_path / "svc.py"
    path.write_text(SOURCE)
    return except_clause(str(path), function, line, mro, 0)


def test_broad_except_swallows(tmp_path):
    assert _at(tmp_path, "handle", 3, VALUE_ERROR) == {"caught": True, "clause": "except Exception:", "clauseLine": 4,
                                                        "broad": True, "reraises": False, "silent": False}


def test_specific_clause_in_a_tuple(tmp_path):
    r = _at(tmp_path, "lookup", 10, KEY_ERROR)
    assert (r["caught"], r["broad"], r["clauseLine"]) == (True, False, 11)


def test_a_clause_that_does_not_match_is_not_a_catch(tmp_path):
    assert _at(tmp_path, "lookup", 10, VALUE_ERROR) == {"caught": False}


def test_reraising_clause(tmp_path):
    r = _at(tmp_path, "relay", 17, VALUE_ERROR)
    assert (r["caught"], r["reraises"]) == (True, True)


def test_bare_except_is_broad(tmp_path):
    assert _at(tmp_path, "bare", 24, VALUE_ERROR)["broad"] is True


def test_no_try_and_no_source(tmp_path):
    assert _at(tmp_path, "plain", 30, VALUE_ERROR) == {"caught": False}
    assert except_clause(str(tmp_path / "missing.py"), "f", 3, VALUE_ERROR, 0) == {"caught": None}


def test_bare_pass_is_silent(tmp_path):
    assert _at(tmp_path, "bare", 24, VALUE_ERROR)["silent"] is True
    assert _at(tmp_path, "lookup", 10, KEY_ERROR)["silent"] is False  # `return None` answers the caller


def test_contextlib_suppress_drops_what_it_names(tmp_path):
    r = _at(tmp_path, "push", 36, VALUE_ERROR)
    assert r == {"caught": True, "clause": "with contextlib.suppress(ValueError, IndexError):", "clauseLine": 35,
                 "broad": False, "reraises": False, "silent": True}
    assert _at(tmp_path, "push", 36, KEY_ERROR) == {"caught": False}  # KeyError is not suppressed there


def test_an_except_of_types_computed_at_run_time_may_catch_it(tmp_path):
    """Judge 8: a retry decorator's `except policy.retry_on as exc:` caught KeyError every time and was
    read as "no except clause there that matches". A lower-case name is taken as types computed at
    run time, which may match; a class name that is not in the MRO still does not."""
    path = tmp_path / "retry.py"
    path.write_text(textwrap.dedent('''\
        def wrapper(fn, policy):
            while True:
                try:
                    return fn()
                except policy.retry_on as exc:
                    log.debug("retrying: %r", exc)


        def strict(fn):
            try:
                return fn()
            except ValueError:
                return None
    '''))
    assert except_clause(str(path), "wrapper", 4, KEY_ERROR, 0) == {
        "caught": True, "clause": "except policy.retry_on as exc:", "clauseLine": 5, "broad": False, "reraises": False, "silent": False}
    assert except_clause(str(path), "strict", 11, KEY_ERROR, 0) == {"caught": False}


def test_a_raise_behind_a_condition_does_not_make_the_handler_a_reraise(tmp_path):
    """`if attempt >= max_attempts: raise` re-raises at most once in a while: the handler catches."""
    path = tmp_path / "retry2.py"
    path.write_text(textwrap.dedent('''\
        def wrapper(fn, policy, attempt):
            try:
                return fn()
            except KeyError:
                if attempt >= policy.max_attempts:
                    raise
                return None


        def always(fn):
            try:
                return fn()
            except KeyError:
                log.warning("again")
                raise
    '''))
    assert except_clause(str(path), "wrapper", 3, KEY_ERROR, 0)["reraises"] is False
    assert except_clause(str(path), "always", 12, KEY_ERROR, 0)["reraises"] is True
