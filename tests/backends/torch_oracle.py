"""An independent float64 implementation of op set v1 in torch (CPU), one entry per op.

Used to check the numpy reference kernels: where the two agree at the registry tolerance, the reference
means what the registry says. Written from the ops' documented semantics (WebNN + the notes in each
registry entry), with torch's own ops wherever torch has one (conv2d, pools, layer_norm, batch_norm,
softmax, gelu, erf ...). Importable without torch (the table's keys are checked against the registry);
calling an oracle needs torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from webinfer.ir.operand import OperandDesc

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the coverage test runs without torch
    torch = None  # type: ignore[assignment]
    F = None  # type: ignore[assignment]

Oracle = Callable[[list[Any], dict[str, Any], Sequence[OperandDesc]], list[Any]]
ORACLES: dict[str, Oracle] = {}


def oracle(*names: str) -> Callable[[Oracle], Oracle]:
    def deco(fn: Oracle) -> Oracle:
        for n in names:
            ORACLES[n] = fn
        return fn

    return deco


def run(
    op: str, arrays: Sequence[np.ndarray | None], attrs: dict[str, Any], outs: Sequence[OperandDesc]
) -> list[np.ndarray]:
    """The oracle's outputs as numpy: float64 for float outputs, the output dtype (wrapped) for integers."""
    tensors = [None if a is None else _to_torch(a) for a in arrays]
    results = ORACLES[op](tensors, dict(attrs), outs)
    final = []
    for r, desc in zip(results, outs):
        arr = r.detach().numpy() if isinstance(r, torch.Tensor) else np.asarray(r)
        if desc.dtype.startswith("float"):
            final.append(arr.astype(np.float64))
        else:
            final.append(arr.astype(np.int64).astype(desc.dtype))  # integer results wrap like the kernels'
    return final


def _to_torch(a: np.ndarray) -> Any:
    if a.dtype.kind == "f":
        return torch.from_numpy(a.astype(np.float64))
    return torch.from_numpy(a.astype(np.int64))


def _is_float(t: Any) -> bool:
    return t.dtype.is_floating_point


# ---- elementwise ---------------------------------------------------------------------------------------
def _binary(fn: Callable[[Any, Any], Any]) -> Oracle:
    return lambda ins, attrs, outs: [fn(ins[0], ins[1])]


def _div(a: Any, b: Any) -> Any:
    if _is_float(a):
        return a / b
    q = torch.div(a, torch.where(b == 0, torch.ones_like(b), b), rounding_mode="trunc")
    return torch.where(b == 0, torch.zeros_like(q), q)


def _pow(a: Any, b: Any) -> Any:
    if _is_float(a):
        return torch.pow(a, b)
    a, b = torch.broadcast_tensors(a, b)
    pos = torch.pow(a, torch.clamp(b, min=0))
    odd = torch.remainder(b, 2) == 1
    inv = torch.where(a == 1, 1, torch.where(a == -1, torch.where(odd, -1, 1), 0))
    return torch.where(b < 0, inv, pos)


for _n, _f in {"add": torch and torch.add, "sub": torch and torch.sub, "mul": torch and torch.mul, "div": _div,
               "max": torch and torch.maximum, "min": torch and torch.minimum, "pow": _pow}.items():
    ORACLES[_n] = _binary(lambda a, b, f=_f: f(a, b))  # type: ignore[misc]

_COMPARISONS = {"equal": "eq", "greater": "gt", "greater_or_equal": "ge", "lesser": "lt", "lesser_or_equal": "le"}
for _n, _m in _COMPARISONS.items():
    ORACLES[_n] = _binary(lambda a, b, m=_m: getattr(torch, m)(a, b).to(torch.uint8))  # type: ignore[misc]

ORACLES["logical_not"] = lambda ins, attrs, outs: [(ins[0] == 0).to(torch.uint8)]
ORACLES["where"] = lambda ins, attrs, outs: [torch.where(ins[0] != 0, ins[1], ins[2])]

_UNARY = {
    "abs": "abs", "neg": "neg", "exp": "exp", "log": "log", "sqrt": "sqrt", "reciprocal": "reciprocal",
    "erf": "erf", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "floor": "floor", "ceil": "ceil",
    "sin": "sin", "cos": "cos", "identity": "clone",
}
for _n, _m in _UNARY.items():
    ORACLES[_n] = lambda ins, attrs, outs, m=_m: [getattr(torch, m)(ins[0])]  # type: ignore[misc]
ORACLES["gelu"] = lambda ins, attrs, outs: [F.gelu(ins[0], approximate="none")]


@oracle("clamp")
def _clamp(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x = ins[0]
    lo, hi = attrs["min_value"], attrs["max_value"]
    if _is_float(x):
        return [torch.clamp(x, min=lo, max=hi)]
    info = np.iinfo(outs[0].dtype)
    lo_i = max(int(info.min), math.ceil(lo)) if math.isfinite(lo) else int(info.min)
    hi_i = min(int(info.max), math.floor(hi)) if math.isfinite(hi) else int(info.max)
    return [torch.clamp(x, min=lo_i, max=hi_i)]


_TORCH_FLOAT = {"float32": "float32", "float16": "float16"}


@oracle("cast")
def _cast(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, to = ins[0], attrs["data_type"]
    if to in _TORCH_FLOAT:  # round to the target precision (float16 overflows to inf)
        return [x.to(getattr(torch, _TORCH_FLOAT[to])).to(torch.float64)]
    if _is_float(x):  # truncate toward zero, NaN -> 0, saturate at the integer range
        info = np.iinfo(to)
        t = torch.nan_to_num(torch.trunc(x), nan=0.0, posinf=math.inf, neginf=-math.inf)
        t = torch.clamp(t, min=float(info.min), max=float(info.max))
        if to == "int64":  # float64 cannot hold int64's max exactly; saturate in Python ints
            return [np.array([min(max(int(v), int(info.min)), int(info.max)) for v in t.tolist()], dtype=np.int64)]
        return [t.to(torch.int64)]
    return [x]  # integer to integer: the low bits (run() wraps into the output dtype)


# ---- linalg ---------------------------------------------------------------------------------------------
ORACLES["matmul"] = lambda ins, attrs, outs: [torch.matmul(ins[0], ins[1])]


@oracle("gemm")
def _gemm(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    a, b, c = ins
    a = a.t() if attrs["a_transpose"] else a
    b = b.t() if attrs["b_transpose"] else b
    if c is None or attrs["beta"] == 0.0:
        return [attrs["alpha"] * torch.mm(a, b)]
    return [torch.addmm(c.expand(a.shape[0], b.shape[1]), a, b, beta=attrs["beta"], alpha=attrs["alpha"])]


# ---- normalization ----------------------------------------------------------------------------------------
ORACLES["softmax"] = lambda ins, attrs, outs: [torch.softmax(ins[0], dim=attrs["axis"])]


@oracle("layer_normalization")
def _layer_norm(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, scale, bias = ins
    rank = x.dim()
    axes = [a % rank for a in (attrs["axes"] if attrs["axes"] is not None else range(1, rank))]
    if not axes:
        y = torch.zeros_like(x)
        return [y + bias if bias is not None else y]
    # move the normalized axes to the end, in the order `axes` lists them: then torch's layer_norm
    # takes scale and bias exactly as WebNN lays them out
    rest = [i for i in range(rank) if i not in axes]
    perm = rest + axes
    xt = x.permute(perm)
    y = F.layer_norm(xt, [x.shape[a] for a in axes], weight=scale, bias=bias, eps=attrs["epsilon"])
    return [y.permute([perm.index(i) for i in range(rank)])]


@oracle("rms_normalization")
def _rms_norm(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, scale = ins
    rank = x.dim()
    axes = [a % rank for a in attrs["axes"]] if attrs["axes"] is not None else [rank - 1]
    if not axes:
        return [x / torch.sqrt(x * x + attrs["epsilon"])]
    # torch's rms_norm normalizes the trailing dims: move `axes` there, in the order they are listed
    rest = [i for i in range(rank) if i not in axes]
    perm = rest + axes
    y = F.rms_norm(x.permute(perm), [x.shape[a] for a in axes], weight=scale, eps=attrs["epsilon"])
    return [y.permute([perm.index(i) for i in range(rank)])]


@oracle("batch_normalization")
def _batch_norm(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, mean, var, scale, bias = ins
    axis = attrs["axis"] % x.dim()
    xt = x.movedim(axis, 1) if x.dim() > 1 else x.unsqueeze(0)
    y = F.batch_norm(xt, mean, var, weight=scale, bias=bias, training=False, eps=attrs["epsilon"])
    return [y.movedim(1, axis) if x.dim() > 1 else y.squeeze(0)]


# ---- reductions -----------------------------------------------------------------------------------------------
def _reduce(kind: str) -> Oracle:
    def fn(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
        x = ins[0]
        axes = tuple(range(x.dim())) if attrs["axes"] is None else tuple(a % x.dim() for a in attrs["axes"])
        keep = attrs["keep_dimensions"]
        if not axes:
            return [x.clone()]
        if kind == "mean" and not _is_float(x):
            total = torch.sum(x, dim=axes, keepdim=keep)
            return [torch.div(total, math.prod(x.shape[a] for a in axes), rounding_mode="trunc")]
        f = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[kind]
        return [f(x, dim=axes, keepdim=keep)]

    return fn


for _k in ("sum", "mean", "max", "min"):
    ORACLES[f"reduce_{_k}"] = _reduce(_k)

# ---- data movement --------------------------------------------------------------------------------------------
ORACLES["reshape"] = lambda ins, attrs, outs: [torch.reshape(ins[0], tuple(outs[0].shape))]
ORACLES["transpose"] = lambda ins, attrs, outs: [
    ins[0].permute(attrs["permutation"] if attrs["permutation"] is not None else tuple(reversed(range(ins[0].dim()))))
]
ORACLES["concat"] = lambda ins, attrs, outs: [torch.cat(list(ins), dim=attrs["axis"])]
ORACLES["expand"] = lambda ins, attrs, outs: [ins[0].expand(tuple(outs[0].shape))]


@oracle("slice")
def _slice(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x = ins[0]
    strides = attrs["strides"] or (1,) * x.dim()
    return [x[tuple(slice(s, s + n, d) for s, n, d in zip(attrs["starts"], attrs["sizes"], strides))]]


@oracle("split")
def _split(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    axis = attrs["axis"] % ins[0].dim()
    return list(torch.split(ins[0], [int(o.shape[axis]) for o in outs], dim=axis))


@oracle("gather")
def _gather(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, idx = ins
    axis = attrs["axis"] % x.dim()
    n = x.shape[axis]
    i = torch.clamp(torch.where(idx < 0, idx + n, idx), 0, n - 1).reshape(-1)
    picked = torch.index_select(x, axis, i)
    return [picked.reshape(tuple(outs[0].shape))]


@oracle("scatter_nd")
def _scatter_nd(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, idx, upd = ins
    k = idx.shape[-1]
    dims = torch.tensor(x.shape[:k], dtype=torch.int64)
    i = idx.reshape(-1, k)
    i = torch.where(i < 0, i + dims, i)
    i = torch.minimum(torch.clamp(i, min=0), dims - 1)
    out = x.clone()
    out.index_put_(tuple(i.t()), upd.reshape((i.shape[0],) + tuple(x.shape[k:])))
    return [out]


@oracle("pad")
def _pad(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x = ins[0]
    begin, end, mode = attrs["beginning_padding"], attrs["ending_padding"], attrs["mode"]
    if mode == "constant":
        widths = [w for b, e in zip(reversed(begin), reversed(end)) for w in (b, e)]  # F.pad: last dim first
        return [F.pad(x, widths, mode="constant", value=attrs["value"])]
    for axis, (b, e) in enumerate(zip(begin, end)):  # gather each axis through an index map
        d = x.shape[axis]
        pos = torch.arange(-b, d + e)
        if mode == "edge":
            src = torch.clamp(pos, 0, d - 1)
        else:  # reflection without repeating the edge
            src = torch.where(pos < 0, -pos, torch.where(pos >= d, 2 * (d - 1) - pos, pos))
        x = torch.index_select(x, axis, src)
    return [x]


# ---- vision -----------------------------------------------------------------------------------------------------
_TO_OIHW = {"oihw": (0, 1, 2, 3), "hwio": (3, 2, 0, 1), "ohwi": (0, 3, 1, 2), "ihwo": (3, 0, 1, 2)}


@oracle("conv2d")
def _conv2d(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, w, bias = ins
    nhwc = attrs["input_layout"] == "nhwc"
    if nhwc:
        x = x.permute(0, 3, 1, 2)
    w = w.permute(_TO_OIHW[attrs["filter_layout"]])
    pt, pb, pl, pr = attrs["padding"]
    x = F.pad(x, (pl, pr, pt, pb))
    y = F.conv2d(x, w, bias, stride=tuple(attrs["strides"]), dilation=tuple(attrs["dilations"]), groups=attrs["groups"])
    return [y.permute(0, 2, 3, 1) if nhwc else y]


def _pool(kind: str) -> Oracle:
    def fn(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
        x = ins[0]
        nhwc = attrs["layout"] == "nhwc"
        if nhwc:
            x = x.permute(0, 3, 1, 2)
        h, w = x.shape[2], x.shape[3]
        kh, kw = attrs["window_dimensions"] or (h, w)
        pt, pb, pl, pr = attrs["padding"]
        strides, dil = tuple(attrs["strides"]), tuple(attrs["dilations"])
        oh, ow = (outs[0].shape[1], outs[0].shape[2]) if nhwc else (outs[0].shape[2], outs[0].shape[3])
        # rounding_type "ceil" / output_sizes: the last windows may run past the padded input (WebNN's formula);
        # that overhang is more padding, so torch pools in floor mode over exactly (oh, ow) windows
        pb += max(0, (oh - 1) * strides[0] + (kh - 1) * dil[0] + 1 - (h + pt + pb))
        pr += max(0, (ow - 1) * strides[1] + (kw - 1) * dil[1] + 1 - (w + pl + pr))
        if kind == "max":  # padding is -inf, so it never wins; torch handles dilation itself
            xp = F.pad(x, (pl, pr, pt, pb), value=-math.inf)
            y = F.max_pool2d(xp, (kh, kw), stride=strides, dilation=dil)
        elif dil == (1, 1):  # sum of the input cells / count of the input cells in each window
            xp = F.pad(x, (pl, pr, pt, pb))
            ones = F.pad(torch.ones_like(x), (pl, pr, pt, pb))
            total = F.avg_pool2d(xp, (kh, kw), stride=strides, divisor_override=1)
            count = F.avg_pool2d(ones, (kh, kw), stride=strides, divisor_override=1)
            y = total / count
        else:  # avg_pool2d has no dilation: unfold the windows
            xp = F.pad(x, (pl, pr, pt, pb))
            ones = F.pad(torch.ones_like(x), (pl, pr, pt, pb))
            n, c = x.shape[:2]
            cols = F.unfold(xp.reshape(n * c, 1, *xp.shape[2:]), (kh, kw), dilation=dil, stride=strides)
            cnt = F.unfold(ones.reshape(n * c, 1, *ones.shape[2:]), (kh, kw), dilation=dil, stride=strides)
            y = (cols.sum(1) / cnt.sum(1)).reshape(n, c, oh, ow)
        assert tuple(y.shape[2:]) == (oh, ow), (tuple(y.shape), oh, ow)
        return [y.permute(0, 2, 3, 1) if nhwc else y]

    return fn


ORACLES["average_pool2d"] = _pool("avg")
ORACLES["max_pool2d"] = _pool("max")


# ---- quantization -------------------------------------------------------------------------------------------------
@oracle("dequantize_linear")
def _dequantize_linear(ins: list[Any], attrs: dict[str, Any], outs: Sequence[OperandDesc]) -> list[Any]:
    x, scale, zero_point, bias = ins

    def expand(p: Any) -> Any:  # repeat each per-block value over its block
        p = p.reshape((1,) * (x.dim() - p.dim()) + tuple(p.shape))
        for axis in range(x.dim()):
            if p.shape[axis] == 1:
                p = p.expand(*[x.shape[a] if a == axis else p.shape[a] for a in range(x.dim())])
            elif p.shape[axis] != x.shape[axis]:
                p = torch.repeat_interleave(p, x.shape[axis] // p.shape[axis], dim=axis)
        return p

    q = x.to(torch.float64)
    if zero_point is not None:
        q = q - expand(zero_point.to(torch.float64))
    y = q * expand(scale)
    return [y + expand(bias) if bias is not None else y]
