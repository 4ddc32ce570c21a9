"""Numpy reference kernels, one per op: ``KERNELS``, the reference backend's ops table, keyed by registry name.

Float inputs arrive as float64 (the session upcasts), so these kernels are the float64 oracle that
conformance compares every backend with. Each entry is an :class:`OpEntry` whose ``lower`` takes
(inputs, attrs, outs) where ``inputs`` are numpy arrays (``None`` for absent optional inputs) and
``outs`` the output descriptors; the reference runs every op it has, so no entry has a ``check``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...ir.operand import OperandDesc
from ..contract import OpEntry

Kernel = Callable[[Sequence[np.ndarray | None], dict[str, Any], Sequence[OperandDesc]], list[np.ndarray]]
KERNELS: dict[str, OpEntry] = {}


def kernel(*names: str) -> Callable[[Kernel], Kernel]:
    def deco(fn: Kernel) -> Kernel:
        for n in names:
            KERNELS[n] = OpEntry(fn)
        return fn

    return deco


def _elementwise(fn: Callable[..., np.ndarray]) -> Kernel:
    def k(inputs, attrs, outs):  # type: ignore[no-untyped-def]
        with np.errstate(all="ignore"):
            return [np.asarray(fn(*inputs))]

    return k


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero (as C and WGSL do); division by zero gives 0."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return a / b
    dt = np.result_type(a, b)
    safe = np.where(b == 0, 1, b).astype(dt)
    q = (a - np.fmod(a, safe)) // safe  # exact: the remainder has the dividend's sign
    return np.where(b == 0, 0, q).astype(dt)


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Power; for integers a negative exponent gives trunc(1 / a**-b): 1, -1 or 0 (0 for a = 0)."""
    if a.dtype.kind == "f" or b.dtype.kind == "u":
        return np.power(a, b)
    neg = b < 0
    y = np.power(a, np.where(neg, 0, b))
    inv = np.where(a == 1, 1, np.where(a == -1, np.where(np.abs(b) % 2 == 1, -1, 1), 0)).astype(y.dtype)
    return np.where(neg, inv, y)


_BINARY: dict[str, Callable[..., np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": _int_div,
    "max": np.maximum, "min": np.minimum, "pow": _pow,
}
for _n, _f in _BINARY.items():
    KERNELS[_n] = OpEntry(_elementwise(_f))

_COMPARE = {
    "equal": np.equal, "greater": np.greater, "greater_or_equal": np.greater_equal,
    "lesser": np.less, "lesser_or_equal": np.less_equal,
}
for _n, _f in _COMPARE.items():
    KERNELS[_n] = OpEntry(_elementwise(lambda a, b, f=_f: f(a, b).astype(np.uint8)))

KERNELS["logical_not"] = OpEntry(_elementwise(lambda a: (a == 0).astype(np.uint8)))
KERNELS["where"] = OpEntry(_elementwise(lambda c, t, f: np.asarray(np.where(c != 0, t, f))))

try:  # scipy's erf is vectorized and accurate to double precision; math.erf one value at a time is not fast
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - scipy comes with the host extra
    _erf = np.vectorize(math.erf, otypes=[np.float64])

_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs, "neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "reciprocal": lambda x: 1.0 / x, "erf": lambda x: _erf(x) if x.size else x.astype(np.float64),
    "tanh": np.tanh, "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0).astype(x.dtype),
    "floor": np.floor, "ceil": np.ceil, "sin": np.sin, "cos": np.cos, "identity": lambda x: x.copy(),
    "gelu": lambda x: 0.5 * x * (1.0 + (_erf(x / math.sqrt(2.0)) if x.size else x)),
}
for _n, _f in _UNARY.items():
    KERNELS[_n] = OpEntry(_elementwise(_f))


@kernel("clamp")
def _clamp(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    lo, hi = attrs["min_value"], attrs["max_value"]
    if x.dtype.kind != "f":
        info = np.iinfo(x.dtype)
        lo, hi = max(lo, info.min), min(hi, info.max)
        return [np.clip(x, math.ceil(lo), math.floor(hi)).astype(x.dtype)]
    return [np.clip(x, lo, hi)]


@kernel("cast")
def _cast(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    dt = np.dtype(attrs["data_type"])
    with np.errstate(all="ignore"):
        if x.dtype.kind == "f" and dt.kind in "iu":  # truncate, NaN -> 0, saturate: the documented result
            info = np.iinfo(dt)
            x = np.nan_to_num(np.trunc(x.astype(np.float64)), nan=0.0, posinf=np.inf, neginf=-np.inf)
            top = float(info.max)  # for 64-bit types this rounds up to 2**63 (2**64), which is out of range
            y = np.clip(x, info.min, np.nextafter(top, 0.0) if top > info.max else top).astype(dt)
            y[x >= top] = info.max
            return [y]
        if dt.kind == "f":  # round to the target precision, then carry it as float64
            return [x.astype(dt).astype(np.float64)]
        return [x.astype(dt)]


@kernel("matmul")
def _matmul(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    a, b = inputs
    if a.ndim > 2 and b.ndim == 2:  # [..., M, K] @ [K, N] as one 2-D BLAS call (np.matmul loops per matrix: ~8x slower)
        return [(a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + (b.shape[1],))]
    return [np.matmul(a, b)]


@kernel("gemm")
def _gemm(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    a, b, c = inputs
    a = a.T if attrs["a_transpose"] else a
    b = b.T if attrs["b_transpose"] else b
    y = attrs["alpha"] * (a @ b)
    if c is not None and attrs["beta"] != 0.0:  # beta = 0 ignores c (inf/NaN in it do not propagate)
        y = y + attrs["beta"] * c
    return [np.broadcast_to(y, outs[0].shape).copy()]


@kernel("softmax")
def _softmax(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    axis = attrs["axis"]
    if x.size == 0:
        return [x.copy()]
    m = np.max(x, axis=axis, keepdims=True)  # an inf (or NaN) in the slice makes it all NaN, as in torch
    e = np.exp(x - m)
    return [e / np.sum(e, axis=axis, keepdims=True)]


@kernel("layer_normalization")
def _layer_norm(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, scale, bias = inputs
    rank = x.ndim
    axes = tuple(a % rank for a in (attrs["axes"] if attrs["axes"] is not None else range(1, rank)))
    if not axes:
        y = np.zeros_like(x)
    else:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + attrs["epsilon"])
    bshape = [x.shape[i] if i in axes else 1 for i in range(rank)]
    # scale/bias dims follow the order of `axes`; bring them into input order before broadcasting
    order = np.argsort(axes)
    if scale is not None:
        y = y * np.transpose(scale, order).reshape(bshape)
    if bias is not None:
        y = y + np.transpose(bias, order).reshape(bshape)
    return [y]


@kernel("rms_normalization")
def _rms_norm(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, scale = inputs
    rank = x.ndim
    axes = tuple(a % rank for a in attrs["axes"]) if attrs["axes"] is not None else (rank - 1,)
    ms = (x * x).mean(axis=axes, keepdims=True) if axes else x * x
    y = x / np.sqrt(ms + attrs["epsilon"])
    if scale is not None:
        bshape = [x.shape[i] if i in axes else 1 for i in range(rank)]
        y = y * np.transpose(scale, np.argsort(axes)).reshape(bshape)
    return [y]


@kernel("batch_normalization")
def _batch_norm(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, mean, var, scale, bias = inputs
    axis = attrs["axis"] % x.ndim
    shape = [x.shape[axis] if i == axis else 1 for i in range(x.ndim)]
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + attrs["epsilon"])
    if scale is not None:
        y = y * scale.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return [y]


def _axes(x: np.ndarray, attrs: dict[str, Any]) -> tuple[int, ...]:
    return tuple(range(x.ndim)) if attrs["axes"] is None else tuple(a % x.ndim for a in attrs["axes"])


_REDUCE = {"reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max, "reduce_min": np.min}


def _reduce(fn):  # type: ignore[no-untyped-def]
    def k(inputs, attrs, outs):  # type: ignore[no-untyped-def]
        (x,) = inputs
        axes = _axes(x, attrs)
        with np.errstate(all="ignore"):
            if fn is np.mean and x.dtype.kind in "iu":  # integer mean truncates toward zero, like div
                total = np.sum(x.astype(np.int64), axis=axes, keepdims=attrs["keep_dimensions"])
                y = _int_div(total, np.asarray(max(1, math.prod(x.shape[a] for a in axes)), dtype=np.int64))
            elif fn is np.mean and any(x.shape[a] == 0 for a in axes):
                y = np.full(outs[0].shape, np.nan)
            else:
                y = fn(x, axis=axes, keepdims=attrs["keep_dimensions"])
        return [np.asarray(y).astype(x.dtype if x.dtype.kind in "iu" else np.float64)]

    return k


for _n, _rf in _REDUCE.items():
    KERNELS[_n] = OpEntry(_reduce(_rf))


@kernel("reshape")
def _reshape(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    return [inputs[0].reshape(outs[0].shape)]


@kernel("transpose")
def _transpose(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    return [np.transpose(inputs[0], attrs["permutation"]).copy()]


@kernel("concat")
def _concat(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    return [np.concatenate(list(inputs), axis=attrs["axis"])]


@kernel("slice")
def _slice(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    strides = attrs["strides"] or (1,) * x.ndim
    idx = tuple(slice(s, s + n, d) for s, n, d in zip(attrs["starts"], attrs["sizes"], strides))
    return [x[idx].copy()]


@kernel("split")
def _split(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    axis = attrs["axis"] % x.ndim
    bounds = np.cumsum([o.shape[axis] for o in outs])[:-1]
    return [p.copy() for p in np.split(x, bounds, axis=axis)]


@kernel("expand")
def _expand(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    return [np.broadcast_to(inputs[0], outs[0].shape).copy()]


@kernel("gather")
def _gather(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, idx = inputs
    axis = attrs["axis"] % x.ndim
    n = x.shape[axis]
    i = idx.astype(np.int64)
    i = np.where(i < 0, i + n, i)
    i = np.clip(i, 0, max(n - 1, 0))  # out-of-range indices clamp (the documented result)
    if n == 0:
        return [np.zeros(outs[0].shape, dtype=x.dtype)]
    return [np.take(x, i, axis=axis)]


@kernel("scatter_nd")
def _scatter_nd(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, idx, upd = inputs
    k = idx.shape[-1]
    out = x.copy()
    if upd.size == 0:
        return [out]
    dims = np.asarray(x.shape[:k], dtype=np.int64)
    i = idx.astype(np.int64).reshape(-1, k)
    i = np.where(i < 0, i + dims, i)
    i = np.clip(i, 0, dims - 1)  # out-of-range indices clamp (the documented result), as gather's do
    rows = upd.reshape((i.shape[0],) + x.shape[k:])
    for n in range(i.shape[0]):  # in order, so a repeated index keeps the last update (numpy's fancy
        out[tuple(i[n])] = rows[n]  # assignment leaves that unspecified); one slice per index tuple
    return [out]


@kernel("dequantize_linear")
def _dequantize_linear(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, scale, zero_point, bias = inputs
    # split every input axis into (scale dim, block) and give the parameters a 1 for each block, so they
    # broadcast over their blocks without being repeated (the embedding table is 28M elements)
    dims = (1,) * (x.ndim - scale.ndim) + scale.shape
    split = [d for n, s in zip(x.shape, dims) for d in (s, n // s if s else 0)]
    pshape = [d for s in dims for d in (s, 1)]
    q = x.astype(np.float64).reshape(split)
    if zero_point is not None:
        q = q - zero_point.astype(np.float64).reshape(pshape)
    y = q * scale.reshape(pshape)
    if bias is not None:
        y = y + bias.reshape(pshape)
    return [y.reshape(x.shape)]


@kernel("pad")
def _pad(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    (x,) = inputs
    widths = list(zip(attrs["beginning_padding"], attrs["ending_padding"]))
    mode = attrs["mode"]
    if mode == "constant":
        return [np.pad(x, widths, mode="constant", constant_values=np.asarray(attrs["value"]).astype(x.dtype))]
    return [np.pad(x, widths, mode={"edge": "edge", "reflection": "reflect"}[mode])]


def _to_nchw(x: np.ndarray, layout: str) -> np.ndarray:
    return x if layout == "nchw" else x.transpose(0, 3, 1, 2)


def _from_nchw(y: np.ndarray, layout: str) -> np.ndarray:
    return y if layout == "nchw" else y.transpose(0, 2, 3, 1)


def _windows(x: np.ndarray, kh: int, kw: int, oh: int, ow: int, strides, dil) -> np.ndarray:  # type: ignore[no-untyped-def]
    """[n, c, oh, ow, kh, kw] view of every window (im2col without loops)."""
    n, c, h, w = x.shape
    sn, sc, sh, sw = x.strides
    return np.lib.stride_tricks.as_strided(
        x,
        shape=(n, c, oh, ow, kh, kw),
        strides=(sn, sc, sh * strides[0], sw * strides[1], sh * dil[0], sw * dil[1]),
        writeable=False,
    )


_FILTER_TO_OIHW = {"oihw": (0, 1, 2, 3), "hwio": (3, 2, 0, 1), "ohwi": (0, 3, 1, 2), "ihwo": (3, 0, 1, 2)}


@kernel("conv2d")
def _conv2d(inputs, attrs, outs):  # type: ignore[no-untyped-def]
    x, f, bias = inputs
    layout = attrs["input_layout"]
    x = _to_nchw(x, layout)
    f = f.transpose(_FILTER_TO_OIHW[attrs["filter_layout"]])
    pt, pb, pl, pr = attrs["padding"]
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    o, ci, kh, kw = f.shape
    n, c = x.shape[:2]
    oshape = outs[0].shape
    oh, ow = (oshape[2], oshape[3]) if layout == "nchw" else (oshape[1], oshape[2])
    g = attrs["groups"]
    win = _windows(x, kh, kw, oh, ow, attrs["strides"], attrs["dilations"])  # n c oh ow kh kw
    win = win.reshape(n, g, c // g, oh, ow, kh, kw)
    fg = f.reshape(g, o // g, ci, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, fg, optimize=True).reshape(n, o, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return [_from_nchw(out, layout)]


def _pool(reduce: str) -> Kernel:
    def k(inputs, attrs, outs):  # type: ignore[no-untyped-def]
        (x,) = inputs
        layout = attrs["layout"]
        x = _to_nchw(x, layout)
        n, c, h, w = x.shape
        kh, kw = attrs["window_dimensions"] or (h, w)
        pt, pb, pl, pr = attrs["padding"]
        oshape = outs[0].shape
        oh, ow = (oshape[2], oshape[3]) if layout == "nchw" else (oshape[1], oshape[2])
        # room for ceil rounding: windows may run past the padded input; those cells are padding too
        (sh, sw), (dh, dw) = attrs["strides"], attrs["dilations"]
        extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + pt + pb))
        extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + pl + pr))
        fill = -np.inf if reduce == "max" else 0.0
        xp = np.pad(x, ((0, 0), (0, 0), (pt, pb + extra_h), (pl, pr + extra_w)), constant_values=fill)
        win = _windows(xp, kh, kw, oh, ow, (sh, sw), (dh, dw))
        if reduce == "max":
            y = win.max(axis=(4, 5))
        else:
            ones = np.pad(np.ones((1, 1, h, w)), ((0, 0), (0, 0), (pt, pb + extra_h), (pl, pr + extra_w)))
            count = _windows(ones, kh, kw, oh, ow, (sh, sw), (dh, dw)).sum(axis=(4, 5))
            with np.errstate(all="ignore"):
                y = win.sum(axis=(4, 5)) / count  # padding is not counted
        return [_from_nchw(y, layout)]

    return k


KERNELS["average_pool2d"] = OpEntry(_pool("avg"))
KERNELS["max_pool2d"] = OpEntry(_pool("max"))
