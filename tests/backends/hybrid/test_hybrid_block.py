"""A transformer block (hidden 384, seq 128, 12 heads, FFN 1536) on webnn, webgpu and hybrid: each matches
the float64 reference; build and run times are printed (``pytest -s``) — the README's numbers."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest

import webinfer as wi
import webinfer.format
from webinfer.backends.reference import evaluate
from webinfer.tensor import Tensor
from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HIDDEN, SEQ, HEADS, FFN = 384, 128, 12, 1536


def transformer_block(hidden: int = HIDDEN, seq: int = SEQ, heads: int = HEADS, ffn: int = FFN) -> wi.Graph:
    """A post-LN BERT encoder layer (as all-MiniLM-L6-v2's) with random weights; batch is symbolic."""
    rng = np.random.default_rng(0)
    g = wi.GraphBuilder()

    def w(name: str, *shape: int, scale: float = 0.05) -> wi.Operand:
        return g.constant(rng.normal(0, scale, shape).astype(np.float32), name=name)

    def linear(x: wi.Operand, name: str, n_in: int, n_out: int) -> wi.Operand:
        return g.add(g.matmul(x, w(name + ".w", n_in, n_out)), w(name + ".b", n_out, scale=0.01))

    def norm(x: wi.Operand, name: str) -> wi.Operand:
        return g.layer_normalization(x, g.constant(np.ones(hidden, np.float32), name=name + ".g"),
                                     w(name + ".b", hidden, scale=0.01), axes=[2], epsilon=1e-12)

    dh = hidden // heads
    x = g.input("x", "float32", ["batch", seq, hidden])
    qkv = g.transpose(g.reshape(linear(x, "qkv", hidden, 3 * hidden), new_shape=["batch", seq, 3 * heads, dh]),
                      permutation=[0, 2, 1, 3])
    q, k, v = g.split(qkv, 3, axis=1)
    scores = g.mul(g.matmul(q, g.transpose(k, permutation=[0, 1, 3, 2])), g.constant(1 / math.sqrt(dh)))
    ctx = g.matmul(g.softmax(scores, axis=3), v)
    ctx = g.reshape(g.transpose(ctx, permutation=[0, 2, 1, 3]), new_shape=["batch", seq, hidden])
    x = norm(g.add(linear(ctx, "attn.out", hidden, hidden), x), "norm1")
    h = g.gelu(linear(x, "ffn.in", hidden, ffn))
    x = norm(g.add(linear(h, "ffn.out", ffn, hidden), x), "norm2")
    return g.build({"y": x})


PAGE = """
import base64, statistics, time
import webinfer as wi
from webinfer.format import load_bytes

def bench(backend, graph_json, weights_b64, x_b64, runs=5, **options):
    graph = load_bytes(graph_json, weights={"block.safetensors": base64.b64decode(weights_b64)})
    x = wi.Tensor(base64.b64decode(x_b64), dtype="float32", shape=[1, %(seq)d, %(hidden)d])
    t0 = time.perf_counter()
    sess = wi.compile(graph, backend=backend, bindings={"batch": 1}, **options)  # build for batch 1 now
    compile_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    y = sess.run({"x": x})["y"]
    first_ms = (time.perf_counter() - t0) * 1e3
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run({"x": x})["y"].tobytes()
        times.append((time.perf_counter() - t0) * 1e3)
    info = sess.info()
    js_run_ms = sess.bench({"x": x}, runs) if backend == "webnn" else None  # write + dispatch + read, in JS
    sess.close()
    return {"compile_ms": compile_ms, "first_run_ms": first_ms, "run_ms": statistics.median(times),
            "build_ms": info["webnn"]["build_ms"] if backend == "webnn" else None, "js_run_ms": js_run_ms,
            "placement": sorted(set(info["placement"].values())),
            "y": base64.b64encode(y.tobytes()).decode()}
""" % {"seq": SEQ, "hidden": HIDDEN}  # noqa: UP031 - the page's code has many braces of its own


@pytest.fixture(scope="module")
def block() -> dict:
    graph = transformer_block()
    text, files = wi.format.to_bytes(graph, weights="block.safetensors")
    x = np.random.default_rng(1).normal(0, 1, (1, SEQ, HIDDEN)).astype(np.float32)
    ref = evaluate(graph.specialize({"batch": 1}), {"x": Tensor(x)})["y"]
    return {"json": text.decode(), "weights": base64.b64encode(files["block.safetensors"]).decode(),
            "x": base64.b64encode(x.tobytes()).decode(), "ref": ref}


@pytest.mark.parametrize(("backend", "options"), [("webnn", {"device": "cpu"}), ("webgpu", {}),
                                                   ("hybrid", {"place": {"gelu": "webgpu"}})])
def test_block_matches_reference(browser_py: BrowserPy, block: dict, backend: str, options: dict) -> None:
    browser_py.run(PAGE)
    result = browser_py.run(
        f"bench({backend!r}, {block['json']!r}, {block['weights']!r}, {block['x']!r}, **{options!r})", timeout=600)
    y = np.frombuffer(base64.b64decode(result.pop("y")), np.float32).reshape(1, SEQ, HIDDEN)
    print(f"\n{backend} {json.dumps(options)}: " + json.dumps({k: round(v, 1) if isinstance(v, float) else v
                                                              for k, v in result.items()}))
    # 13 ops deep, ending in layer normalization: a few float32 roundings amplified by the norms
    np.testing.assert_allclose(y, block["ref"], atol=2e-3, rtol=0)
