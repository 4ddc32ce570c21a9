"""Sample graphs for the format tests: every op with non-default attributes, every dtype, symbolic dims,
multi-output split, absent optional inputs, inf attributes. No numpy needed (the no-numpy test uses them).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

import webinfer as wi
from webinfer.ir import Graph


def _f32(n: int, scale: float = 0.1) -> list[float]:
    return [((i * 37) % 17 - 8) * scale for i in range(n)]


def mlp() -> Graph:
    """The DESIGN.md example: symbolic batch, one constant big enough for the weights file."""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 8])
    w = g.constant(_f32(8 * 16), dtype="float32", shape=[8, 16], name="w")
    b = g.constant(_f32(16, 0.01), dtype="float32", shape=[16], name="b")
    y = g.gelu(g.add(g.matmul(x, w), b))
    return g.build({"y": y})


def ops() -> Graph:
    """Every registered op (checked by a test), most with attributes away from their defaults."""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 4, 6])
    img = g.input("img", "float32", [1, 5, 5, 4])  # nhwc
    idx = g.input("ids", "int32", ["batch", 3])
    mask = g.input("mask", "uint8", ["batch", 4, 6])
    one = g.constant(1.0, dtype="float32")
    outs = {}
    a = x
    for op in ("add", "sub", "mul", "div", "max", "min", "pow"):
        a = getattr(g, op)(a, one)
    for op in ("abs", "neg", "exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "relu", "gelu",
               "floor", "ceil", "sin", "cos", "identity"):
        a = getattr(g, op)(a)
    a = g.clamp(a, min_value=-math.inf, max_value=6.0)
    a = g.clamp(a, min_value=-1.5)  # max_value stays inf
    for op in ("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal"):
        outs[op] = g.logical_not(getattr(g, op)(a, x))
    outs["where"] = g.where(g.logical_not(mask), a, x)
    outs["softmax"] = g.softmax(a, axis=1)
    scale = g.constant(_f32(24), dtype="float32", shape=[4, 6], name="ln_scale")
    outs["ln"] = g.layer_normalization(a, scale, None, axes=[1, 2], epsilon=1e-3)
    outs["ln_default"] = g.layer_normalization(a)
    outs["rms"] = g.rms_normalization(a, g.constant(_f32(6), dtype="float32", shape=[6]), axes=[2], epsilon=1e-6)
    outs["rms_default"] = g.rms_normalization(a)
    rows = g.reshape(g.slice(idx, starts=[0, 0], sizes=["batch", 1]), new_shape=["batch", 1])
    outs["scatter_nd"] = g.scatter_nd(a, rows, a)
    q4 = g.constant(bytes(range(0, 256, 3))[:48], dtype="uint4", shape=[3, 32], name="q4")  # 48 packed bytes
    d = g.constant([0.5, 0.25, 2.0], dtype="float16", shape=[3, 1])
    outs["q4_1"] = g.dequantize_linear(q4, d, None, g.constant([-1.0, 0.0, 1.5], dtype="float16", shape=[3, 1]))
    q8 = g.constant(list(range(-128, 128, 4)), dtype="int8", shape=[2, 32])
    outs["q8_0"] = g.dequantize_linear(q8, g.constant([0.1, 0.2], dtype="float32", shape=[2, 1]),
                                       g.constant([3, -3], dtype="int8", shape=[2, 1]))
    mean = g.constant(_f32(4), dtype="float32", shape=[4])
    var = g.constant([1.0, 2.0, 3.0, 4.0], dtype="float32", shape=[4])
    outs["bn"] = g.batch_normalization(a, mean, var, None, mean, axis=1, epsilon=1e-4)
    outs["rsum"] = g.reduce_sum(a, axes=[2], keep_dimensions=True)
    outs["rmean"] = g.reduce_mean(a)
    outs["rmax"] = g.reduce_max(a, axes=[-1])
    outs["rmin"] = g.reduce_min(a, axes=[], keep_dimensions=False)
    parts = g.split(a, [2, 4], axis=2)  # multi-output, list form
    halves = g.split(a, 2, axis=1)  # int form
    outs["concat"] = g.concat([parts[1], parts[0], *halves[:0]], axis=-1)
    outs["half1"] = halves[1]
    outs["reshape"] = g.reshape(a, new_shape=["batch", -1])
    outs["reshape_sym"] = g.reshape(a, new_shape=["batch", 24])
    outs["transpose"] = g.transpose(a, permutation=[0, 2, 1])
    outs["transpose_default"] = g.transpose(a)
    outs["slice"] = g.slice(a, starts=[0, 1, 0], sizes=["batch", 2, 6], strides=[1, 1, 2])
    outs["expand"] = g.expand(g.reshape(one, new_shape=[1, 1]), new_shape=["batch", 3])
    table = g.constant(_f32(20 * 4), dtype="float32", shape=[20, 4], name="table")  # 320 B: weights file
    outs["gather"] = g.gather(table, idx, axis=0)
    outs["pad"] = g.pad(a, beginning_padding=[0, 1, 2], ending_padding=[0, 0, 1], mode="constant", value=-math.inf)
    outs["pad_edge"] = g.pad(a, beginning_padding=[0, 1, 1], ending_padding=[0, 1, 0], mode="reflection")
    outs["cast"] = g.cast(a, data_type="float16")
    m = g.reshape(g.slice(a, starts=[0, 0, 0], sizes=[1, 4, 6]), new_shape=[4, 6])
    wt = g.constant(_f32(5 * 6), dtype="float32", shape=[5, 6], name="gemm_b")
    outs["gemm"] = g.gemm(m, wt, alpha=0.5, beta=0.0, b_transpose=True)
    outs["gemm_c"] = g.gemm(m, wt, g.constant(_f32(5), dtype="float32", shape=[5]), b_transpose=True)
    flt = g.constant(_f32(3 * 3 * 1 * 4), dtype="float32", shape=[3, 3, 1, 4], name="dw_filter")  # hwio, depthwise
    outs["conv"] = g.conv2d(img, flt, None, padding=[1, 1, 0, 2], strides=[2, 1], dilations=[1, 1], groups=4,
                            input_layout="nhwc", filter_layout="hwio")
    outs["avgpool"] = g.average_pool2d(img, window_dimensions=[2, 3], strides=[2, 2], layout="nhwc",
                                       rounding_type="ceil")
    outs["maxpool"] = g.max_pool2d(img, padding=[1, 1, 1, 1], dilations=[2, 2], window_dimensions=[2, 2],
                                   layout="nhwc")
    return g.build(outs)


# every dtype, with the values that are hard to carry through JSON: inf, nan, -0.0, integer extremes
DTYPE_VALUES: dict[str, list[object]] = {
    "float32": [0.0, -0.0, 1.5, -math.inf, math.inf, math.nan, 3.4028234663852886e38, 1e-45, 0.1],
    "float16": [0.0, -0.0, 65504.0, -65504.0, math.inf, -math.inf, math.nan, 6e-08, 0.099975586],
    "int32": [0, -1, 2**31 - 1, -(2**31)],
    "uint32": [0, 1, 2**32 - 1],
    "int64": [0, -1, 2**63 - 1, -(2**63)],
    "uint64": [0, 2**64 - 1, 12345678901234567890],
    "int8": [0, -128, 127],
    "uint8": [0, 255],
    "int4": [0, -8, 7, -1, 3],  # packed two per byte; an odd count leaves half a byte
    "uint4": [0, 15, 1, 8, 7],
}


def dtypes(big: int = 160) -> Graph:
    """Each dtype twice: a small (inline) constant with edge values and a big one (weights file), as outputs."""
    g = wi.GraphBuilder()
    outs = {}
    for dt, values in DTYPE_VALUES.items():
        if wi.DTYPES[dt].packed:  # no struct code for 4-bit values: lists (Tensor packs them)
            outs[f"small_{dt}"] = g.constant(values, dtype=dt, shape=[len(values)], name=f"small_{dt}")
            outs[f"big_{dt}"] = g.constant(values * big, dtype=dt, shape=[big, len(values)], name=f"big_{dt}")
            continue
        code = wi.DTYPES[dt].struct_code
        raw = struct.pack(f"<{len(values)}{code}", *values)
        outs[f"small_{dt}"] = g.constant(raw, dtype=dt, shape=[len(values)], name=f"small_{dt}")
        n = big * len(values)
        big_raw = struct.pack(f"<{n}{code}", *(values * big))
        outs[f"big_{dt}"] = g.constant(big_raw, dtype=dt, shape=[big, len(values)], name=f"big_{dt}")
    outs["empty"] = g.constant(b"", dtype="float32", shape=[0, 3], name="empty")
    outs["scalar"] = g.constant(b"\x00\x00\xc0\x7f", dtype="float32", shape=[], name="scalar_nan")
    return g.build(outs)


def unicode_names() -> Graph:
    """Names with non-ASCII characters, quotes, spaces and dots, in inputs, constants, nodes and outputs."""
    g = wi.GraphBuilder()
    x = g.input("входные данные", "float32", ["batch", 4])
    w = g.constant(_f32(4 * 4), dtype="float32", shape=[4, 4], name='权重 "w".0')
    y = g.matmul(x, w, name="matmul 🚀")
    return g.build({"sortie·y": g.relu(y, name="relu\u2028x")})


SAMPLES: dict[str, Callable[[], Graph]] = {"mlp": mlp, "ops": ops, "dtypes": dtypes, "unicode": unicode_names}
