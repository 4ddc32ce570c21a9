"""Matrix products with block-quantized weights (kernels/qmatmul.py) and the standalone dequantize, on the host
through ``wgpu`` on SwiftShader's Vulkan (the library the browser's WebGPU uses here) when it is there.

``x @ Wᵀ`` with W in llama.cpp's Q4_1 (uint4 + float16 scale and min), Q4_0 (int4 + scale) and Q8_0 (int8 +
scale), made by the ``gguf`` package's quantizers, for 1 row (decode: the block-sum form), 3 rows and 11 rows (a
full tile of 8 dequantizing per k, plus a remainder), in both tilings; and a dequantized weight read back whole.
The plan keeps the weight packed: no float copy of it among the buffers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate

sys.path.insert(0, str(Path(__file__).parent))
import wgpu_host  # noqa: E402

gguf = pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def dev() -> Any:
    d = wgpu_host.device()
    if d is None:
        pytest.skip("wgpu found no adapter here")
    return d


def quantized_linear(n: int, k: int, kind: str, m: int, with_w: bool = True) -> tuple[wi.Graph, np.ndarray]:
    """``y = x @ dequantize(W)ᵀ`` (and the dequantized W as output ``w``), W quantized by ``gguf``; also W as
    ``gguf`` dequantizes it."""
    from gguf.quants import dequantize, quantize

    from webinfer.importers.gguf import q4_0_to_int4, q4_1_to_uint4, q8_0_to_int8

    T = gguf.GGMLQuantizationType
    qtype = {"q4_1": T.Q4_1, "q4_0": T.Q4_0, "q8_0": T.Q8_0}[kind]
    w = np.random.default_rng(0).standard_normal((n, k)).astype(np.float32)
    raw = quantize(w, qtype)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [m, k])

    def half(data: bytes) -> wi.Operand:
        return g.cast(g.constant(data, dtype="float16", shape=[n, k // 32]), data_type="float32")

    bias = None
    if kind == "q4_1":
        q, d, mins = q4_1_to_uint4(raw.tobytes())
        qc, bias = g.constant(q, dtype="uint4", shape=[n, k]), half(mins)
    elif kind == "q4_0":
        q, d = q4_0_to_int4(raw.tobytes())
        qc = g.constant(q, dtype="int4", shape=[n, k])
    else:
        q, d = q8_0_to_int8(raw.tobytes())
        qc = g.constant(q, dtype="int8", shape=[n, k])
    wt = g.dequantize_linear(qc, half(d), None, bias)
    outputs = {"y": g.gemm(x, wt, b_transpose=True), **({"w": wt} if with_w else {})}
    return g.build(outputs), dequantize(raw, qtype)


@pytest.mark.parametrize("tiling", ["register", "workgroup"])
@pytest.mark.parametrize("m", [1, 3, 11])
@pytest.mark.parametrize("kind", ["q4_1", "q4_0", "q8_0"])
def test_quantized_matmul_matches_the_reference(dev: Any, kind: str, m: int, tiling: str) -> None:
    n, k = 72, 96
    graph, w = quantized_linear(n, k, kind, m)
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    plan = wgpu_host.plan_for(graph, tiling)
    got = wgpu_host.HostExecutor(dev, plan, graph).run({"x": x})
    ref = evaluate(graph, {"x": wi.Tensor(x)})
    np.testing.assert_array_equal(got["w"], w)  # the standalone dequantize: exact
    np.testing.assert_allclose(np.asarray(ref["w"]), w)
    bound = 2 * k * np.finfo(np.float32).eps * (np.abs(x) @ np.abs(w).T) + 1e-6
    assert (np.abs(got["y"] - np.asarray(ref["y"])) <= bound).all()


def test_the_weight_stays_packed_in_the_plan() -> None:
    n, k = 64, 128
    graph, _ = quantized_linear(n, k, "q4_1", 1, with_w=False)
    plan = wgpu_host.plan_for(graph)
    consts = sum(b["size"] for b in plan.spec["buffers"] if b["kind"] == "const")
    assert consts == n * k // 2 + 2 * n * (k // 32) * 2  # nibbles + float16 scales and mins: no float copy
    assert any("dequantized where read" in v for v in plan.placement.values()), plan.placement
