"""A small EfficientNet-like conv net the layout and conv tests build on both sides (host and page).

Pure Python (no numpy): weights from ``random.Random(seed)`` packed with ``struct``, so the host and the Pyodide
page build byte-identical graphs. NCHW as an ONNX import gives it: a stride-2 stem conv with TF-"same" padding,
inverted-residual blocks (1×1 expand, depthwise 3×3 / 5×5 with stride 1 or 2, 1×1 project, residual add),
ReLU6 as ``clamp(0, 6)``, a max pool and an average pool, a global average pool (``reduce_mean`` over H, W with
kept dims), flatten (``reshape``) and ``gemm``.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any


def _weights(rng: random.Random, shape: list[int], scale: float) -> bytes:
    n = math.prod(shape)
    return struct.pack(f"<{n}f", *(rng.gauss(0.0, scale) for _ in range(n)))


def build_convnet(size: int = 16, width: int = 8, classes: int = 10, seed: int = 0, batch: Any = "batch") -> Any:
    """The net on ``[batch, 3, size, size]`` (``size`` a multiple of 4) -> logits ``[batch, classes]``."""
    import webinfer as wi

    rng = random.Random(seed)
    g = wi.GraphBuilder()
    x = g.input("pixels", "float32", [batch, 3, size, size])

    def conv(v: Any, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
             pad: tuple[int, int, int, int] = (0, 0, 0, 0), relu6: bool = True) -> Any:
        fan = cin // groups * k * k
        f = g.constant(_weights(rng, [cout, cin // groups, k, k], (2.0 / fan) ** 0.5), dtype="float32",
                       shape=[cout, cin // groups, k, k])
        b = g.constant(_weights(rng, [cout], 0.1), dtype="float32", shape=[cout])
        y = g.conv2d(v, f, b, padding=list(pad), strides=[stride, stride], groups=groups)
        return g.clamp(y, min_value=0.0, max_value=6.0) if relu6 else y

    w, mid = width, 3 * width
    stem = conv(x, 3, w, 3, 2, pad=(0, 1, 0, 1))  # size/2
    y = conv(stem, w, mid, 1)
    y = conv(y, mid, mid, 3, 1, groups=mid, pad=(1, 1, 1, 1))
    y = g.add(conv(y, mid, w, 1, relu6=False), stem)
    y = g.max_pool2d(y, window_dimensions=[3, 3], padding=[1, 1, 1, 1])
    y2 = conv(y, w, mid, 1)
    y2 = conv(y2, mid, mid, 5, 2, groups=mid, pad=(1, 2, 1, 2))  # size/4
    y2 = conv(y2, mid, 2 * w, 1, relu6=False)
    y2 = g.average_pool2d(y2, window_dimensions=[3, 3], padding=[1, 1, 1, 1])
    head = conv(y2, 2 * w, 4 * w, 1)
    pooled = g.reduce_mean(head, axes=[2, 3], keep_dimensions=True)
    flat = g.reshape(pooled, [batch, 4 * w])
    fc = g.constant(_weights(rng, [classes, 4 * w], (1.0 / (4 * w)) ** 0.5), dtype="float32", shape=[classes, 4 * w])
    fb = g.constant(_weights(rng, [classes], 0.1), dtype="float32", shape=[classes])
    return g.build({"logits": g.gemm(flat, fc, fb, b_transpose=True)})


def pixels(batch: int, size: int = 16, seed: int = 1) -> bytes:
    """Float32 inputs in [-1, 1] for ``[batch, 3, size, size]``."""
    rng = random.Random(seed)
    n = batch * 3 * size * size
    return struct.pack(f"<{n}f", *(rng.uniform(-1.0, 1.0) for _ in range(n)))
