"""The planner: decompositions where the context lacks an op, one error naming every unsupported node,
int64 narrowing with range checks, outputs that must be fresh operands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.webnn.limits import Limits
from webinfer.backends.webnn.plan import narrow_int64_bytes, widen_int32_bytes
from webinfer.backends.webnn.planner import check_graph, plan_graph
from webinfer.errors import BackendError, UnsupportedError

LIMITS = json.loads(Path(__file__).with_name("limits_chromium153_cpu.json").read_text())


def _without(*ops: str) -> Limits:
    raw = {k: v for k, v in LIMITS.items() if k not in ops}
    return Limits(raw)


def _mlp() -> wi.Graph:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 8])
    w = g.constant(np.ones((8, 4), np.float32), name="w")
    y = g.layer_normalization(g.matmul(x, w), g.constant(np.ones(4, np.float32)), axes=[1])
    return g.build({"y": g.gelu(y, name="act")})


def test_missing_ops_are_decomposed_through_the_registry() -> None:
    plan, report = plan_graph(_mlp(), _without("gelu", "layerNormalization"))
    assert report["act"].how == "decomposed: mul, erf, add"
    assert report["act"].note and "no 'gelu'" in report["act"].note
    assert report["layer_normalization_0"].how.startswith("decomposed: reduceMean")
    ops = {o["op"] for o in plan.ops}
    assert "gelu" not in ops and "layerNormalization" not in ops and "erf" in ops
    # decomposition constants (0.5, 1/sqrt2, epsilon, ...) travel inline, named after the node
    inline = [c for c in plan.constants if c.data is not None]
    assert inline and all(c.name.startswith(("act/", "layer_normalization_0/")) for c in inline)
    assert plan.how["act"].startswith("decomposed")


def test_every_unsupported_node_is_named_before_building() -> None:
    g = wi.GraphBuilder()
    a = g.input("a", "int32", [2, 2])
    m = g.matmul(a, a, name="int_mm")
    r = g.reduce_mean(m, name="int_mean")
    with pytest.raises(UnsupportedError) as err:
        plan_graph(g.build({"r": r}), Limits(LIMITS))
    text = str(err.value)
    assert "node 'int_mm' (matmul): matmul a is int32" in text
    assert "node 'int_mean' (reduce_mean): reduceMean input is int32" in text
    assert err.value.node == "node 'int_mm' (matmul)"
    assert "hybrid" in text


def test_unsupported_when_decomposition_also_fails() -> None:
    report = check_graph(_mlp(), _without("gelu", "erf"))
    reason = report["act"].reason
    assert reason is not None and "no 'gelu'" in reason and "needs erf" in reason


def test_no_decompose_option() -> None:
    report = check_graph(_mlp(), _without("gelu"), decompose=False)
    assert report["act"].reason == "the context's opSupportLimits() has no 'gelu'"


def test_graph_edges_checked() -> None:
    raw = dict(LIMITS)
    raw["input"] = {"dataTypes": ["float32"], "rankRange": {"min": 0, "max": 8}}
    g = wi.GraphBuilder()
    x = g.input("ids", "int32", [3])
    with pytest.raises(UnsupportedError, match="input 'ids': a graph input of int32"):
        plan_graph(g.build({"y": g.neg(x)}), Limits(raw))


def _ids_graph() -> wi.Graph:
    g = wi.GraphBuilder()
    ids = g.input("ids", "int64", [4])
    table = g.constant(np.arange(12, dtype=np.float32).reshape(6, 2))
    offset = g.constant(np.array([1], np.int64), name="one")
    return g.build({"emb": g.gather(table, g.add(ids, offset)), "ids2": g.add(ids, offset)})


def test_int64_narrowed_when_the_context_has_none() -> None:
    raw = json.loads(json.dumps(LIMITS))
    for role in ("input", "constant", "output"):
        raw[role]["dataTypes"] = [t for t in raw[role]["dataTypes"] if t != "int64"]
    plan, _ = plan_graph(_ids_graph(), Limits(raw))
    assert dict(plan.inputs)["ids"].dtype == "int32"
    assert set(plan.narrowed) == {"ids", "one"}
    one = next(c for c in plan.constants if c.name == "one")
    assert one.data == np.array([1], np.int32).tobytes()
    assert dict(plan.outputs)["ids2"].dtype == "int32"  # the session widens it back on readback


def test_int64_kept_when_supported() -> None:
    plan, _ = plan_graph(_ids_graph(), Limits(LIMITS))
    assert dict(plan.inputs)["ids"].dtype == "int64" and not plan.narrowed


def test_narrowing_refuses_values_that_do_not_fit() -> None:
    ok = np.array([0, -5, 2**31 - 1, -(2**31)], np.int64)
    assert np.frombuffer(narrow_int64_bytes(ok.tobytes(), "x"), np.int32).tolist() == ok.tolist()
    with pytest.raises(BackendError, match="holds 2147483648, which does not fit int32"):
        narrow_int64_bytes(np.array([1, 2**31], np.int64).tobytes(), "input 'ids'")
    assert np.frombuffer(widen_int32_bytes(np.array([-3, 7], np.int32).tobytes()), np.int64).tolist() == [-3, 7]


def test_outputs_that_are_inputs_or_repeated_get_an_identity() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    y = g.relu(x)
    plan, _ = plan_graph(g.build({"x_again": x, "y": y, "y_again": y}), Limits(LIMITS))
    outs = dict(plan.outputs)
    assert len({o.id for o in outs.values()}) == 3
    assert [o["op"] for o in plan.ops] == ["relu", "identity", "identity"]


def test_symbolic_graph_must_be_bound() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 3])
    graph = g.build({"y": g.relu(x)})
    assert check_graph(graph, Limits(LIMITS))["relu_0"].ok  # checking works on symbolic dims
    with pytest.raises(BackendError, match="bind the graph's symbolic dims"):
        plan_graph(graph, Limits(LIMITS))
    plan, _ = plan_graph(graph.specialize({"batch": 2}), Limits(LIMITS))
    assert dict(plan.inputs)["x"].shape == (2, 3)


def test_graph_constants_are_referenced_not_copied() -> None:
    plan, _ = plan_graph(_mlp(), Limits(LIMITS))
    w = next(c for c in plan.constants if c.name == "w")
    assert w.data is None and w.key == "w"
    assert plan.to_dict()["constants"][0]["ref"] == "w"
