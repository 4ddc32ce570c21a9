"""Shape ops: Reshape, Flatten, Transpose, Concat, Split, Slice, Gather, Unsqueeze, Squeeze, Expand, Tile, Pad,
and the shape sources Shape, Size, ConstantOfShape, Range (folded at import; symbolic dims kept as names)."""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from ....ir.builder import Operand
from ....ir.operand import Dim
from ..importer import NodeCtx, Value, const_value
from ..model import NUMPY, tensor_data, type_name
from . import converter

BIG = 2**62  # slice ends at or beyond this mean "to the end"


def _product(dims: list[Dim]) -> Dim | None:
    """The product of dims as one dim: an int, a single name (times ones), or None when it is not expressible."""
    names = [d for d in dims if isinstance(d, str)]
    static = math.prod(d for d in dims if isinstance(d, int))
    if not names:
        return static
    return names[0] if len(names) == 1 and static == 1 else None


def _reshape(nc: NodeCtx, x: Operand, shape: list[Dim]) -> Operand:
    if list(x.shape) == shape:
        return x
    return nc.op("reshape", [x], new_shape=shape)


@converter("Reshape", fold=True, const_inputs=(1,))
def _reshape_node(nc: NodeCtx) -> None:
    x = nc.x(0)
    target = nc.dims(1, "shape")
    allowzero = nc.attr("allowzero", "int", 0)
    out: list[Dim] = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= x.rank:
                raise nc.error(f"shape {target} copies dim {i} (0), but the input has rank {x.rank}")
            out.append(x.shape[i])
        elif isinstance(d, int) and d < -1:
            raise nc.error(f"shape {target} has the invalid entry {d}")
        else:
            out.append(d)
    if out.count(-1) == 1 and all(isinstance(d, int) for d in x.shape):
        known = math.prod(d for d in out if isinstance(d, int) and d != -1)
        total = math.prod(d for d in x.shape if isinstance(d, int))
        if known and not any(isinstance(d, str) for d in out) and total % known == 0:
            out[out.index(-1)] = total // known
    nc.set(0, _reshape(nc, x, out))


@converter("Flatten", fold=True)
def _flatten(nc: NodeCtx) -> None:
    x = nc.x(0)
    axis = nc.attr("axis", "int", 1)
    if not -x.rank <= axis <= x.rank:
        raise nc.error(f"axis {axis} is out of range for rank {x.rank}")
    if axis < 0:
        axis += x.rank
    head, tail = _product(list(x.shape[:axis])), _product(list(x.shape[axis:]))
    if head is None and tail is None:
        raise nc.error(f"cannot flatten {list(x.shape)} at axis {axis}: both parts mix symbolic dims")
    nc.set(0, _reshape(nc, x, [-1 if head is None else head, -1 if tail is None else tail]))


@converter("Transpose", fold=True)
def _transpose(nc: NodeCtx) -> None:
    x = nc.x(0)
    perm = nc.attr("perm", "ints")
    nc.set(0, nc.op("transpose", [x], permutation=perm if perm is not None else list(reversed(range(x.rank)))))


@converter("Concat", fold=True)
def _concat(nc: NodeCtx) -> None:
    axis = nc.attr("axis", "int")
    if axis is None:
        raise nc.error("attribute 'axis' is required")
    xs = [nc.x(i) for i in range(len(nc.inputs)) if nc.has(i)]
    nc.set(0, nc.op("concat", xs, axis=axis) if len(xs) > 1 else nc.op("identity", xs))


def _split_check(nc: NodeCtx) -> str | None:
    if nc.attr("split", "ints") is not None:
        return "the 'split' attribute (opset < 13) is not supported; give the sizes as input"
    return None


@converter("Split", check=_split_check, fold=True, const_inputs=(1,))
def _split(nc: NodeCtx) -> None:
    x = nc.x(0)
    axis = nc.attr("axis", "int", 0)
    if not -x.rank <= axis < x.rank:
        raise nc.error(f"axis {axis} is out of range for rank {x.rank}")
    axis %= x.rank
    n_out = len(nc.outputs)
    dim = x.shape[axis]
    if nc.has(1):
        sizes = nc.ints(1, "split")
    elif nc.attr("num_outputs", "int") is not None:
        num = nc.attr("num_outputs", "int")
        if not isinstance(dim, int) or num < 1:
            raise nc.error(f"num_outputs {num} of the dim {dim!r}")
        chunk = -(-dim // num)
        sizes = [chunk] * (num - 1) + [dim - chunk * (num - 1)]
        if sizes[-1] < 0:
            raise nc.error(f"cannot split {dim} into {num} parts of {chunk}")
    else:
        if not isinstance(dim, int) or dim % n_out:
            raise nc.error(f"dim {dim!r} does not split into {n_out} equal parts")
        sizes = [dim // n_out] * n_out
    if len(sizes) != n_out:
        raise nc.error(f"{len(sizes)} split sizes for {n_out} outputs")
    parts = nc.ops("split", [x], splits=sizes, axis=axis) if n_out > 1 else [nc.op("identity", [x])]
    for i, p in enumerate(parts):
        nc.set(i, p)


def _clamp_range(start: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX Slice's clamping of start/end for one axis of a static dim."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        return min(max(start, 0), dim), min(max(end, 0), dim)
    return min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)


@converter("Slice", fold=True, const_inputs=(1, 2, 3, 4))
def _slice(nc: NodeCtx) -> None:
    x = nc.x(0)
    starts, ends = nc.ints(1, "starts"), nc.dims(2, "ends")
    axes = nc.ints(3, "axes") if nc.has(3) else list(range(len(starts)))
    steps = nc.ints(4, "steps") if nc.has(4) else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise nc.error(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} differ in length")
    begin = [0] * x.rank
    size: list[Dim] = list(x.shape)
    stride = [1] * x.rank
    reverse: list[tuple[int, list[int]]] = []
    seen = set()
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        if not -x.rank <= ax < x.rank:
            raise nc.error(f"axis {ax} is out of range for rank {x.rank}")
        ax %= x.rank
        if ax in seen:
            raise nc.error(f"axis {ax} is sliced twice")
        seen.add(ax)
        if sp == 0:
            raise nc.error("a step of 0")
        dim = x.shape[ax]
        if isinstance(dim, str) or isinstance(en, str):  # symbolic: [0:dim] or [0:name] with step 1
            if st == 0 and sp == 1 and (en == dim or (isinstance(en, int) and en >= BIG)):
                continue
            if st == 0 and sp == 1 and isinstance(en, str):
                size[ax] = en
                continue
            raise nc.error(f"axis {ax}: slice [{st}:{en}:{sp}] of the symbolic dim {dim!r} cannot be expressed")
        lo, hi = _clamp_range(st, en, sp, dim)
        if sp > 0:
            begin[ax], size[ax], stride[ax] = lo, max(hi - lo, 0), sp
        else:
            reverse.append((ax, list(range(lo, hi, sp))))
    y = x
    if any(b or s != d or t != 1 for b, s, t, d in zip(begin, size, stride, x.shape)):
        y = nc.op("slice", [x], starts=begin, sizes=size, strides=stride if any(t != 1 for t in stride) else None)
    for ax, idx in reverse:  # negative steps: gather the indices in order
        y = nc.op("gather", [y, nc.const_operand(idx, "int64")], axis=ax) if idx else \
            nc.op("slice", [y], starts=[0] * y.rank, sizes=[0 if i == ax else d for i, d in enumerate(y.shape)])
    nc.set(0, y if y is not x else nc.op("identity", [x]))


@converter("Gather", fold=True)
def _gather(nc: NodeCtx) -> None:
    x = nc.x(0)
    idx = nc.value(1)
    if idx.kind == "const":
        arr = idx.array()
        dim = x.shape[nc.attr("axis", "int", 0) % max(x.rank, 1)] if x.rank else None
        if isinstance(dim, int) and arr.size and (arr.min() < -dim or arr.max() >= dim):
            raise nc.error(f"indices out of range for the dim {dim}: {arr.reshape(-1)[:8].tolist()}")
    nc.set(0, nc.op("gather", [x, nc.x(1)], axis=nc.attr("axis", "int", 0)))


def _squeeze_axes(nc: NodeCtx, rank: int) -> list[int] | None:
    axes = nc.attr("axes", "ints")
    if axes is None and nc.has(1):
        axes = nc.ints(1, "axes")
    if axes is None:
        return None
    for a in axes:
        if not -rank <= a < rank:
            raise nc.error(f"axes {axes} are out of range for rank {rank}")
    return sorted({a % rank for a in axes})


@converter("Unsqueeze", fold=True, const_inputs=(1,))
def _unsqueeze(nc: NodeCtx) -> None:
    x = nc.x(0)
    axes = _squeeze_axes(nc, x.rank + len(nc.ints(1, "axes") if nc.has(1) else nc.attr("axes", "ints", [])))
    if not axes:
        raise nc.error("needs axes")
    shape: list[Dim] = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    nc.set(0, _reshape(nc, x, shape) if shape != list(x.shape) else nc.op("identity", [x]))


@converter("Squeeze", fold=True, const_inputs=(1,))
def _squeeze(nc: NodeCtx) -> None:
    x = nc.x(0)
    axes = _squeeze_axes(nc, x.rank)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    for a in axes:
        if x.shape[a] != 1 and not isinstance(x.shape[a], str):
            raise nc.error(f"cannot squeeze axis {a} of {list(x.shape)}: its size is not 1")
    shape = [d for i, d in enumerate(x.shape) if i not in axes]
    nc.set(0, _reshape(nc, x, shape) if axes else nc.op("identity", [x]))


def _broadcast(nc: NodeCtx, a: list[Dim], b: list[Dim]) -> list[Dim]:
    rank = max(len(a), len(b))
    ones: list[Dim] = [1] * rank
    a = ones[: rank - len(a)] + a
    b = ones[: rank - len(b)] + b
    out: list[Dim] = []
    for p, q in zip(a, b):
        if p == 1 or p == q:
            out.append(q)
        elif q == 1:
            out.append(p)
        elif isinstance(p, str) or isinstance(q, str):
            out.append(q if isinstance(p, str) else p)
        else:
            raise nc.error(f"shapes {a} and {b} do not broadcast")
    return out


@converter("Expand", fold=True, const_inputs=(1,))
def _expand(nc: NodeCtx) -> None:
    x = nc.x(0)
    shape = _broadcast(nc, list(x.shape), nc.dims(1, "shape"))
    nc.set(0, nc.op("expand", [x], new_shape=shape) if shape != list(x.shape) else nc.op("identity", [x]))


@converter("Tile", fold=True, const_inputs=(1,))
def _tile(nc: NodeCtx) -> None:
    x = nc.x(0)  # [a, b] tiled [r, s]: [1, a, 1, b] expanded to [r, a, s, b], then [r·a, s·b]
    reps = nc.ints(1, "repeats")
    if len(reps) != x.rank or any(r < 0 for r in reps):
        raise nc.error(f"repeats {reps} must give {x.rank} values >= 0")
    if not all(isinstance(d, int) for d in x.shape):
        raise nc.error(f"tiling the symbolic shape {list(x.shape)} is not supported")
    inter = [v for d in x.shape for v in (1, d)]
    big = [v for r, d in zip(reps, x.shape) for v in (r, d)]
    y = nc.op("expand", [_reshape(nc, x, inter)], new_shape=big)
    nc.set(0, _reshape(nc, y, [r * d for r, d in zip(reps, x.shape)]))  # type: ignore[operator]


PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflection"}


def _pad_check(nc: NodeCtx) -> str | None:
    mode = nc.attr("mode", "string", "constant")
    if mode not in PAD_MODES:
        return f"mode={mode!r} is not supported ({', '.join(PAD_MODES)})"
    return None


@converter("Pad", check=_pad_check, fold=True, const_inputs=(1, 2, 3))
def _pad(nc: NodeCtx) -> None:
    x = nc.x(0)
    pads = nc.ints(1, "pads")
    axes = nc.ints(3, "axes") if nc.has(3) else list(range(x.rank))
    if len(pads) != 2 * len(axes):
        raise nc.error(f"pads {pads} need 2 values for each of the axes {axes}")
    begin, end = [0] * x.rank, [0] * x.rank
    for k, a in enumerate(axes):
        if not -x.rank <= a < x.rank:
            raise nc.error(f"axis {a} is out of range for rank {x.rank}")
        begin[a % x.rank], end[a % x.rank] = pads[k], pads[k + len(axes)]
    value = 0.0
    if nc.has(2):
        arr = nc.const(2, "constant_value").reshape(-1)
        value = float(arr[0]) if arr.size else 0.0
    mode = PAD_MODES[nc.attr("mode", "string", "constant")]
    if any(p < 0 for p in begin + end):  # negative pads crop: slice first
        starts = [max(-b, 0) for b in begin]
        sizes = [d - s - max(-e, 0) if isinstance(d, int) else d for d, s, e in zip(x.shape, starts, end)]
        x = nc.op("slice", [x], starts=starts, sizes=sizes)
        begin, end = [max(b, 0) for b in begin], [max(e, 0) for e in end]
    if not any(begin + end):
        nc.set(0, nc.op("identity", [x]))
        return
    y = nc.op("pad", [x], beginning_padding=begin, ending_padding=end, mode=mode, value=value)
    if mode == "constant" and value == 0.0 and x.rank == 4 and not any(begin[:2] + end[:2]):
        nc.imp.zero_pads[y.name] = (x, [begin[2], end[2], begin[3], end[3]])  # a following Conv may absorb it
    nc.set(0, y)


def _shape_value(dims: list[Dim]) -> Value:
    if all(isinstance(d, int) for d in dims):
        return const_value(np.asarray(dims, dtype=np.int64))
    arr = np.empty(len(dims), dtype=object)
    for i, d in enumerate(dims):
        arr[i] = d
    return Value("shape", elem=TensorProto.INT64, array_=arr)


@converter("Shape")
def _shape(nc: NodeCtx) -> None:
    dims = list(nc.value(0).shape)
    r = len(dims)
    start, end = nc.attr("start", "int", 0), nc.attr("end", "int", r)
    start, end = (min(max(v + r if v < 0 else v, 0), r) for v in (start, end))
    nc.set(0, _shape_value(dims[start:end]))


@converter("Size")
def _size(nc: NodeCtx) -> None:
    total = _product(list(nc.value(0).shape))
    if not isinstance(total, int) and total is not None:
        nc.set(0, Value("shape", elem=TensorProto.INT64, array_=np.array(total, dtype=object)))
    elif total is None:
        raise nc.error("the size of a tensor with several symbolic dims cannot be expressed")
    else:
        nc.set(0, const_value(np.asarray(total, dtype=np.int64)))


def _cos_check(nc: NodeCtx) -> str | None:
    t = nc.attr("value", "tensor")
    if t is not None and t.data_type not in NUMPY:
        return f"value of dtype {type_name(t.data_type)} is not supported"
    return None


@converter("ConstantOfShape", check=_cos_check, fold=True, const_inputs=(0,))
def _constant_of_shape(nc: NodeCtx) -> None:
    dims = nc.dims(0, "shape")  # only reached when the result is big or symbolic: a broadcast scalar
    t = nc.attr("value", "tensor")
    scalar = np.zeros(1, np.float32) if t is None else tensor_data(t, f"{nc.label}: value", None).array()
    one = nc.imp.const_operand(scalar.reshape([1] * len(dims)), f"{nc.label}: value")
    nc.set(0, nc.op("expand", [one], new_shape=dims) if dims else _reshape(nc, one, []))


@converter("Range", fold=True, const_inputs=(0, 1, 2))
def _range(nc: NodeCtx) -> None:
    for i in range(3):
        nc.const(i, ("start", "limit", "delta")[i])
    raise nc.error("its result is too large to compute at import (more than 65,536 values)")
