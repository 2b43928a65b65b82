"""PyFlight's watch expression (patches.render_call) writes what reprlib.Repr with its limits writes,
however it gets there (a Repr made once per width, plain repr for short scalars at any depth)."""

import array
import collections
import reprlib
import sys

from pyflight_agent import patches


def reference(args, kwargs, return_obj, names, width=120):
    """render_call as it was: a new Repr per call, every value through reprlib's dispatch."""
    try:
        r = reprlib.Repr()
        r.maxstring = r.maxother = width
        r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 10
        pos = list(args)
        out = []
        for name, kind in names:
            if kind > 1 or not pos:
                break
            out.append(name + "=" + r.repr(pos.pop(0)))
        out += [r.repr(v) for v in pos]
        out += [str(k) + "=" + r.repr(v) for k, v in kwargs.items()]
        return ", ".join(out) + "\x00" + r.repr(return_obj)
    except Exception:
        return "?\x00?"


class Broken(object):
    def __repr__(self):
        raise RuntimeError("no repr")


class Text(str):
    def __repr__(self):
        return "Text(%s)" % str.__repr__(self)


class Number(int):
    pass


def values():
    recursive = [1]
    recursive.append(recursive)
    big = 10 ** 39
    yield from [0, -1, True, False, None, 1.5, float("nan"), float("inf"), -0.0, 1e300, 2 ** 64, big, big * 10, -big, -(big * 10)]
    yield from ["", "a", "x" * 117, "x" * 118, "x" * 119, "x" * 200, "é" * 150, "quote ' and \" both", "\x00\n", b"bytes", b"b" * 300]
    yield from [[1, 2, 3], list(range(11)), (1,), (1, "a", None), tuple(range(20)), {"k": [1, {"d": (2,)}]}, dict.fromkeys(range(12)),
                {1, 2}, frozenset([3]), set(range(15)), collections.deque([1, 2]), array.array("i", [1, 2]), recursive,
                [[[[[[[1]]]]]]], [["x" * 200]], Broken(), [Broken()], Text("t"), Number(5), [Text("u"), Number(6)], 1j, object,
                range(3), {"x" * 150: 1.25}]
    if hasattr(sys, "set_int_max_str_digits"):
        yield 10 ** 5000  # longer than the int repr limit: reprlib's own answer (or a failure), as before


def test_the_same_text_as_reprlib_for_every_kind_of_value():
    names = [("a", 1), ("b", 1), ("c", 3)]
    for value in values():
        for width in (120, 2000, 10):
            for call in [((value,), {}, value), ((1, value), {"k": value}, None), ((), {"kw": value}, [value])]:
                assert patches.render_call(*call, names, width) == reference(*call, names, width), (value, width)
