"""fold.py on the host: which constant-only values are folded, the prologue graphs that compute them (chunked,
each output behind a zero input), and that prologues + step graph compute what the graph does (reference)."""

from __future__ import annotations

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate
from webinfer.backends.webnn.fold import ZERO, fold_constants


def _graph(layers: int = 3):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    g = wi.GraphBuilder()
    h = g.input("x", "float32", ["T", 64])
    for i in range(layers):
        q = g.constant(rng.integers(0, 256, 64 * 64 // 2, dtype=np.uint8).tobytes(), dtype="uint4", shape=[64, 64],
                       name=f"w{i}.q")
        scale = g.cast(g.constant(rng.uniform(0.01, 0.1, (64, 2)).astype(np.float16), name=f"w{i}.scale"),
                       data_type="float32")
        w = g.dequantize_linear(q, scale, name=f"w{i}")
        h = g.gemm(h, w, b_transpose=True)
    norm = g.constant(np.ones(64, np.float32), name="norm")
    y = g.mul(g.reshape(h, new_shape=["T", 64]), g.reshape(norm, new_shape=[1, 64]))  # no growth: not folded
    return g.build({"y": y})


def test_the_dequantized_weights_are_folded_in_chunks() -> None:
    graph = _graph()
    folding = fold_constants(graph, chunk_bytes=2 * (64 * 32 + 64 * 2 * 2))  # two weights' constants a chunk
    assert folding is not None
    assert folding.values == ["w0", "w1", "w2"]  # the dequantized values, not the casts inside them
    assert set(folding.step.inputs) == {"x", "w0", "w1", "w2"} and set(folding.step.constants) == {"norm"}
    assert [list(p.outputs) for p in folding.prologues] == [["w0", "w1"], ["w2"]]
    assert folding.value_bytes == 3 * 64 * 64 * 4 and folding.source_bytes == 3 * (64 * 32 + 64 * 2 * 2)
    assert folding.by_dtype() == {"float32": 3 * 64 * 64 * 4}
    for p in folding.prologues:  # each value leaves through add(value, zero): TFLite computes it, not folds it
        assert list(p.inputs) == [f"{ZERO}.float32"] and all(v.endswith(ZERO) for v in p.outputs.values())


def test_prologues_and_step_graph_compute_the_graph() -> None:
    graph = _graph()
    folding = fold_constants(graph)
    assert folding is not None and len(folding.prologues) == 1
    x = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    values: dict[str, np.ndarray] = {}
    for p in folding.prologues:
        values.update(evaluate(p, {f"{ZERO}.float32": wi.Tensor(np.zeros(1, np.float32))}))
    feeds = {"x": wi.Tensor(x), **{k: wi.Tensor(v.astype(np.float32)) for k, v in values.items()}}
    got = evaluate(folding.step.specialize({"T": 3}), feeds)["y"]
    want = evaluate(graph.specialize({"T": 3}), {"x": wi.Tensor(x)})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build", [
    lambda g, x: g.add(x, g.constant(np.ones(4, np.float32))),  # constants used as they are
    lambda g, x: g.add(x, g.reshape(g.constant(np.ones(4, np.float32)), new_shape=[1, 4])),  # no growth
])
def test_nothing_to_fold(build) -> None:  # type: ignore[no-untyped-def]
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 4])
    assert fold_constants(g.build({"y": build(g, x)})) is None
