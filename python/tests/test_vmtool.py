"""PyFlight's in-target read behind vmtool getInstances (pyflight_agent/reads.py `instances`), run
here on real objects with flight-profiler's real renderer: it must count, render the first N one by
one, evaluate the user's expression on all, and never raise."""

import json
import sys
import types

from pyflight_agent.reads import globals_of, instances


class Order(object):
    def __init__(self, order_id):
        self.order_id = order_id


class Unrenderable(object):
    @property
    def __dict__(self):
        raise RuntimeError("no dict for you")


def run(objects, limit=2, expand=1, expr=None, raw=False):
    """instances() on a module holding only `objects`' class, as the door calls it (JSON both ways)."""
    module = types.ModuleType("pf_test_instances")
    module.Cls = type(objects[0]) if objects else Order
    sys.modules["pf_test_instances"] = module
    try:
        return json.loads(json.dumps(instances("pf_test_instances", "Cls", limit, expand, raw, False, expr)))
    finally:
        del sys.modules["pf_test_instances"]


def test_counts_all_and_renders_the_first_ones():
    orders = [Order(i) for i in range(5)]
    out = run(orders)
    assert out["count"] == 5
    assert [i[0] for i in out["instances"]] == [id(orders[0]), id(orders[1])]
    assert out["instances"][0][1] == "%s.Order" % __name__
    assert out["instances"][0][2] == 'Order({\n  "order_id": 0\n})'
    assert "value" not in out and "error" not in out


def test_user_expression_on_all_instances_and_its_failure():
    orders = [Order(i) for i in range(3)]
    assert run(orders, expr="sum(o.order_id for o in instances)")["value"] == "3"
    failed = run(orders, expr="instances[9]")
    assert failed["error"].rstrip().endswith("IndexError: list index out of range")
    assert failed["count"] == 3


def test_an_instance_that_cannot_be_rendered_does_not_fail_the_listing():
    out = run([Unrenderable()], limit=1)
    assert out["count"] == 1
    assert out["instances"][0][2].startswith("<cannot render: RuntimeError")


def test_no_instances_is_a_count_of_zero():
    class Never(object):
        pass

    module = types.ModuleType("pf_test_none")
    module.Never = Never
    sys.modules["pf_test_none"] = module
    try:
        assert instances("pf_test_none", "Never", 2, 1, False, False) == {"count": 0, "instances": []}
        assert instances("pf_test_none", "Nope", 2, 1, False, False) == {"noClass": True}
    finally:
        del sys.modules["pf_test_none"]


def test_list_globals_expression_never_converts_a_huge_int():
    module = types.ModuleType("pf_test_globals")
    module.HUGE = 10 ** 5000
    module.SMALL = 7
    module.NAME = "x" * 500
    sys.modules["pf_test_globals"] = module
    try:
        rows = globals_of("pf_test_globals")
    finally:
        del sys.modules["pf_test_globals"]
    by_name = {name: (kind, preview) for name, _type, kind, preview in rows}
    assert by_name["HUGE"] == ("value", "")
    assert by_name["SMALL"] == ("value", "7")
    assert by_name["NAME"] == ("value", repr("x" * 80)[:80])
