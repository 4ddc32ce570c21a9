"""Composite ops agree with their declared decompositions, and ``expand_composites`` rewrites graphs."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import webinfer as wi
from webinfer.errors import GraphError
from webinfer.ir import get_op
from webinfer.ir.decompose import composite_ops, expand_composites
from webinfer.ir.opcases import CASES, OpCase, make_inputs
from webinfer.ir.tolerance import assert_close

COMPOSITES = composite_ops()
DECOMPOSABLE = [c for c in CASES if c.runnable and c.op in COMPOSITES]


def test_the_composites() -> None:
    assert set(COMPOSITES) == {"gelu", "gemm", "layer_normalization", "batch_normalization", "rms_normalization"}
    for op in COMPOSITES:
        assert any(c.op == op for c in DECOMPOSABLE), f"{op} has no runnable case to test its decomposition"


def _graph(case: OpCase) -> wi.Graph:
    g = wi.GraphBuilder()
    ops = [None if d is None else g.input(f"in{i}", d.dtype, list(d.shape)) for i, d in enumerate(case.inputs)]
    outs = g.apply(case.op, ops, dict(case.attrs))
    return g.build({f"out{k}": o for k, o in enumerate(outs)})


@pytest.mark.parametrize("case", DECOMPOSABLE, ids=lambda c: c.id)
def test_decomposition_matches_the_op(case: OpCase) -> None:
    fused = _graph(case)
    expanded = expand_composites(fused, [case.op])
    assert case.op not in {n.op for n in expanded.nodes}
    assert expanded.inputs == fused.inputs
    assert {k: expanded.operands[v] for k, v in expanded.outputs.items()} == {
        k: fused.operands[v] for k, v in fused.outputs.items()
    }
    arrays = make_inputs(case, zlib.crc32(case.id.encode()))
    feeds = {f"in{i}": a for i, a in enumerate(arrays) if a is not None}
    want = wi.compile(fused, "reference").run(feeds)
    got = wi.compile(expanded, "reference").run(feeds)
    spec = get_op(case.op)
    tol = spec.tolerance(spec.call(case.static_inputs(), case.attrs))
    for name, w in want.items():
        assert_close(got[name].numpy(), w.numpy().astype(np.float64), tol, w.dtype, where=f"{case.id} {name}")


def test_expand_all_by_default_keeps_other_nodes_and_names() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 4])
    w = g.constant(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name="w")
    h = g.gemm(x, w, alpha=0.5, name="mul_0")  # a node name the decomposition would pick for itself
    y = g.gelu(h, name="act")
    z = g.softmax(y, axis=1, name="probs")
    graph = g.build({"z": z, "h": h})
    expanded = expand_composites(graph)
    ops = [n.op for n in expanded.nodes]
    assert "gemm" not in ops and "gelu" not in ops and ops[-1] == "softmax"
    probs = [n for n in expanded.nodes if n.op == "softmax"][0]
    assert probs.name == "probs" and probs.outputs == ("probs",)
    assert list(expanded.outputs) == ["z", "h"] and expanded.outputs["z"] == "probs"
    assert expanded.constants["w"] is graph.constants["w"]
    names = [n.name for n in expanded.nodes]
    assert len(names) == len(set(names))
    x_data = np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)
    a = wi.compile(graph, "reference").run({"x": x_data})
    b = wi.compile(expanded, "reference").run({"x": x_data})
    for k in ("z", "h"):
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-6, atol=1e-7)


def test_expand_only_the_asked_ops() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3])
    y = g.gelu(g.layer_normalization(x, axes=[1]))
    graph = g.build({"y": y})
    ops = [n.op for n in expand_composites(graph, ["gelu"]).nodes]
    assert "layer_normalization" in ops and "gelu" not in ops and "erf" in ops
    assert expand_composites(graph, []) is graph
    assert [n.op for n in expand_composites(graph, "layer_normalization").nodes].count("reduce_mean") == 2


def test_expand_rejects_ops_without_decomposition() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    graph = g.build({"y": g.relu(x)})
    with pytest.raises(GraphError, match="expand_composites: relu has no decomposition"):
        expand_composites(graph, ["relu"])
    with pytest.raises(GraphError, match="unknown op 'nope'"):
        expand_composites(graph, ["nope"])
