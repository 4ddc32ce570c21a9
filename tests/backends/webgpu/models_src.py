"""Graphs the WebGPU tests (and the README benchmark) build on both sides: an MLP and a transformer block.

Pure Python (no numpy): weights come from ``random.Random(seed)`` packed with ``struct``, so the host
and the Pyodide page build byte-identical graphs. ``SOURCE`` is this file's text, for ``exec`` in a page.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any


def _weights(rng: random.Random, shape: list[int], scale: float) -> bytes:
    n = math.prod(shape)
    return struct.pack(f"<{n}f", *(rng.gauss(0.0, scale) for _ in range(n)))


def build_mlp(hidden: int = 64, seed: int = 0) -> Any:
    """x[batch, hidden] -> relu(x W1 + b1) W2 + b2 -> gelu: a symbolic batch dim."""
    import webinfer as wi

    rng = random.Random(seed)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", hidden])

    def const(shape: list[int], scale: float) -> Any:
        return g.constant(_weights(rng, shape, scale), dtype="float32", shape=shape)

    h = g.relu(g.add(g.matmul(x, const([hidden, 2 * hidden], hidden ** -0.5)), const([2 * hidden], 0.1)))
    y = g.gelu(g.add(g.matmul(h, const([2 * hidden, hidden], (2 * hidden) ** -0.5)), const([hidden], 0.1)))
    return g.build({"y": y})


def build_block(hidden: int = 64, seq: int = 16, heads: int = 4, seed: int = 0) -> Any:
    """A pre-LN transformer encoder block: attention (softmax) + GELU MLP, residuals, layer norms."""
    import webinfer as wi

    rng = random.Random(seed)
    g = wi.GraphBuilder()
    d = hidden // heads
    x = g.input("x", "float32", [1, seq, hidden])

    def const(shape: list[int], scale: float) -> Any:
        return g.constant(_weights(rng, shape, scale), dtype="float32", shape=shape)

    def dense(t: Any, n_in: int, n_out: int) -> Any:
        return g.add(g.matmul(t, const([n_in, n_out], n_in ** -0.5)), const([n_out], 0.02))

    def heads_of(t: Any, perm: list[int]) -> Any:
        return g.transpose(g.reshape(t, new_shape=[1, seq, heads, d]), permutation=perm)

    ln1 = g.layer_normalization(x, const([hidden], 0.1), const([hidden], 0.1), axes=[2])
    q = heads_of(dense(ln1, hidden, hidden), [0, 2, 1, 3])
    k = heads_of(dense(ln1, hidden, hidden), [0, 2, 3, 1])
    v = heads_of(dense(ln1, hidden, hidden), [0, 2, 1, 3])
    scores = g.mul(g.matmul(q, k), g.constant(1.0 / math.sqrt(d)))
    attn = g.matmul(g.softmax(scores, axis=-1), v)
    merged = g.reshape(g.transpose(attn, permutation=[0, 2, 1, 3]), new_shape=[1, seq, hidden])
    h = g.add(x, dense(merged, hidden, hidden))
    ln2 = g.layer_normalization(h, const([hidden], 0.1), const([hidden], 0.1), axes=[2])
    y = g.add(h, dense(g.gelu(dense(ln2, hidden, 4 * hidden)), 4 * hidden, hidden))
    return g.build({"y": y})


def block_input(hidden: int, seq: int, seed: int = 1) -> list[list[list[float]]]:
    rng = random.Random(seed)
    return [[[rng.gauss(0.0, 1.0) for _ in range(hidden)] for _ in range(seq)]]
