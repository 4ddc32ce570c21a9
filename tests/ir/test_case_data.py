"""The op cases' data keeps the registry's tolerances sufficient for float32 arithmetic in any order.

A sum of K rounded terms computed in float32 (any order, fma or not) is off by at most about
K·u·Σ|terms| (u = 2^-24). One ULP of the result is at least u·|result|. So an N-ULP tolerance holds
whatever order a backend sums in as long as K·Σ|terms| <= N·|result| for every output element: the
terms must not cancel. This checks that for every runnable case of the summing ops, so the tolerance
table is the only judge in ``webinfer conformance`` (no "cancellation" excuse is needed).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate
from webinfer.ir.opcases import (
    ACCUMULATING,
    CASES,
    POSITIVE,
    OpCase,
    default_data,
    make_inputs,
)
from webinfer.ir.tolerance import node_tolerance
from webinfer.tools.conformance import _attrs_json, case_graph

SUMS = ("matmul", "gemm", "conv2d", "average_pool2d", "reduce_sum", "reduce_mean")


def _terms(graph: wi.Graph) -> int:
    """How many rounded operations feed one output element (the K of the error bound)."""
    node = graph.nodes[0]
    shapes = [None if i is None else graph.operands[i].shape for i in node.inputs]
    a = node.attributes
    if node.op == "matmul":
        return int(shapes[0][-1])
    if node.op == "gemm":
        return int(shapes[0][0] if a["a_transpose"] else shapes[0][1]) + 2
    if node.op == "conv2d":
        f = shapes[1]
        return math.prod(f) // max(f[{"oihw": 0, "hwio": 3, "ohwi": 0, "ihwo": 3}[a["filter_layout"]]], 1) + 1
    if node.op == "average_pool2d":
        x = shapes[0]
        hw = x[2:] if a["layout"] == "nchw" else x[1:3]
        return math.prod(a["window_dimensions"] or hw) + 1
    axes = a["axes"]
    x = shapes[0]
    red = range(len(x)) if axes is None else [d % len(x) for d in axes]
    return max(1, math.prod(x[d] for d in red)) + (node.op == "reduce_mean")


def _graph_and_inputs(case: OpCase) -> tuple[wi.Graph, list[Any]]:
    descs = [None if d is None else [d.dtype, list(d.shape)] for d in case.inputs]
    g = case_graph(case.op, descs, _attrs_json(dict(case.attrs)))
    if case.bind:
        g = g.specialize(dict(case.bind))
    return g, make_inputs(case, seed=zlib.crc32(case.id.encode()))


def _magnitude(graph: wi.Graph, arrays: list[Any]) -> np.ndarray:
    """Σ|terms| per output element: the same op on |inputs| (and |alpha|, |beta|)."""
    node = graph.nodes[0]
    attrs = dict(node.attributes)
    if node.op == "gemm":
        attrs["alpha"], attrs["beta"] = abs(attrs["alpha"]), abs(attrs["beta"])
    descs = [None if i is None else [graph.operands[i].dtype, list(graph.operands[i].shape)] for i in node.inputs]
    g = case_graph(node.op, descs, _attrs_json(attrs))
    feeds = {f"in{i}": wi.Tensor(np.abs(a)) for i, a in enumerate(arrays) if a is not None}
    return np.asarray(evaluate(g, feeds)["out0"], dtype=np.float64)


FLOAT_SUM_CASES = [c for c in CASES if c.runnable and c.op in SUMS
                   and any(d is not None and d.dtype.startswith("float") for d in c.inputs)]


def test_accumulating_ops_default_to_positive_float_data() -> None:
    for op in ACCUMULATING:
        assert default_data("float32", op, 0) == POSITIVE
    assert default_data("float32", "batch_normalization", 1)[1] < 0  # the mean: x - mean > 0
    assert default_data("float32", "add", 0)[0] == "normal"


@pytest.mark.parametrize("case", FLOAT_SUM_CASES, ids=lambda c: c.id)
def test_no_case_cancels_beyond_its_tolerance(case: OpCase) -> None:
    graph, arrays = _graph_and_inputs(case)
    if any(a is not None and not np.all(np.isfinite(a)) for a in arrays):
        pytest.skip("edge data (NaN/inf): not a rounding question")
    feeds = {f"in{i}": wi.Tensor(a) for i, a in enumerate(arrays) if a is not None}
    result = np.asarray(evaluate(graph, feeds)["out0"], dtype=np.float64)
    finite = np.isfinite(result)  # an empty mean is NaN by definition: no rounding there
    if not finite.any():
        return
    mag = np.broadcast_to(_magnitude(graph, arrays), result.shape)[finite]
    result = result[finite]
    tol = node_tolerance(graph, graph.nodes[0])
    assert tol.ulp is not None
    k = _terms(graph)
    worst = np.max(k * mag - tol.ulp * np.abs(result))
    ratio = float(np.max(mag / np.maximum(np.abs(result), 1e-300)))
    assert worst <= 0, (f"{case.id}: K={k} terms, tolerance {tol.ulp:g} ULP, but Σ|terms|/|result| reaches "
                        f"{ratio:.3g} (> {tol.ulp / k:.3g}): the data lets the sum cancel")


def test_the_mixed_sign_cases_exist_and_mix_signs() -> None:
    mixed = [c for c in FLOAT_SUM_CASES if c.note == "mixed sign"]
    assert {c.op for c in mixed} >= {"matmul", "conv2d"}
    for c in mixed:
        _, arrays = _graph_and_inputs(c)
        assert (arrays[0] < 0).any() and (arrays[0] > 0).any(), c.id
