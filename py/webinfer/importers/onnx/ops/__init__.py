"""One converter per ONNX op type, found by name (as onnx2torch and ORT's WebNN EP op builders are).

A converter turns one ONNX node into registry ops through the :class:`~..importer.NodeCtx` it gets
(``nc.x(i)`` an input operand, ``nc.const(i)`` a constant input, ``nc.attr(name, kind, default)``,
``nc.op(op, inputs, **attrs)`` to emit a webinfer node, ``nc.set(i, operand)`` an output). ``check`` says,
before anything is built, why a node cannot be converted (attributes, dtypes) or None. ``fold=True`` lets the
importer evaluate the node at import when all its inputs are known (shape subgraphs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..importer import NodeCtx

ConvertFn = Callable[[NodeCtx], None]
CheckFn = Callable[[NodeCtx], "str | None"]


@dataclass(frozen=True)
class Converter:
    """How one ONNX op type becomes webinfer ops."""

    op_type: str
    convert: ConvertFn
    check: CheckFn | None = None
    fold: bool = False
    const_inputs: tuple[int, ...] = ()  # inputs that must be known at import (shapes, axes, pads)


CONVERTERS: dict[str, Converter] = {}


def converter(*op_types: str, check: CheckFn | None = None, fold: bool = False,
              const_inputs: tuple[int, ...] = ()) -> Callable[[ConvertFn], ConvertFn]:
    """Register ``fn`` as the converter of ``op_types`` (each name once)."""

    def deco(fn: ConvertFn) -> ConvertFn:
        for op in op_types:
            if op in CONVERTERS:
                raise ValueError(f"ONNX op {op} has two converters")
            CONVERTERS[op] = Converter(op, fn, check, fold, const_inputs)
        return fn

    return deco


def _known_ints(nc: NodeCtx, i: int) -> list[int] | None:
    if not nc.has(i):
        return None
    v = nc.imp.values.get(nc.inputs[i])
    if v is None or v.kind != "const":
        return None
    arr = v.array()
    if arr.size > 64:
        return None
    return [int(x) for x in arr.reshape(-1)]


def result_size(nc: NodeCtx) -> int | None:
    """An upper bound of the elements a foldable node would produce from known inputs, for ops that can make a big
    tensor from small inputs (None: the result is no bigger than the inputs)."""
    op = nc.op_type
    if op == "ConstantOfShape":
        dims = _known_ints(nc, 0)
        return None if dims is None else math.prod(max(d, 0) for d in dims)
    if op in ("Expand", "Tile"):
        dims = _known_ints(nc, 1)
        if dims is None:
            return None
        shape = [d for d in nc.imp.values[nc.inputs[0]].shape if isinstance(d, int)]
        return math.prod(max(d, 1) for d in dims) * max(1, math.prod(shape))
    if op == "Range":
        vals = [nc.imp.values[n].array().reshape(-1) for n in nc.inputs[:3]]
        try:
            start, limit, delta = (float(v[0]) for v in vals)
            n = math.ceil((limit - start) / delta) if delta else math.inf
        except (IndexError, ValueError, OverflowError):
            return None
        return 2**62 if not math.isfinite(n) else max(int(n), 0)
    if op == "Pad":
        pads = _known_ints(nc, 1)
        dims = [d for d in nc.imp.values[nc.inputs[0]].shape if isinstance(d, int)]
        if pads is None or len(dims) != len(nc.imp.values[nc.inputs[0]].shape):
            return None
        return math.prod(dims) + sum(abs(p) for p in pads) * max(1, math.prod(dims))
    return None


def _compare_with_negatives(nc: NodeCtx) -> bool:
    """A comparison of dims is known when the other side is all negative (dims never are)."""
    kinds = [nc.imp.values[n].kind for n in nc.inputs if n]
    for n in nc.inputs:
        v = nc.imp.values[n] if n else None
        if v is None or v.kind == "shape":
            continue
        arr = v.array()
        if arr.dtype.kind not in "iuf" or not np.all(arr < 0):
            return False
    return kinds.count("shape") == 1


def _data_only(*params: int) -> Callable[[NodeCtx], bool]:
    """Foldable when the symbolic dims are in the data, not in the inputs saying where (indices, bounds, shapes, axes):
    a stand-in number used as a slice bound would be clamped, and the result would look like a constant."""

    def ok(nc: NodeCtx) -> bool:
        return not any(i < len(nc.inputs) and nc.inputs[i] and nc.imp.values[nc.inputs[i]].kind == "shape"
                       for i in params)

    return ok


def _cast_to_int(nc: NodeCtx) -> bool:
    from onnx import TensorProto

    return bool(nc.attr("to", "int") in (TensorProto.INT64, TensorProto.INT32))


#: ops that may be folded over shapes holding symbolic dims, and when: data movement and +, -, ×, ÷ on the dims
#: themselves (each dim's stand-ins come out unchanged, or the entry is an expression webinfer cannot name);
#: comparisons only against negative numbers (never equal to a dim).
SHAPE_SAFE: dict[str, Callable[[NodeCtx], bool]] = {
    **{op: _data_only() for op in ("Concat", "Identity", "Flatten", "Add", "Sub", "Mul", "Div", "Neg", "Transpose")},
    **{op: _data_only(1, 2, 3, 4) for op in ("Gather", "Unsqueeze", "Squeeze", "Slice", "Reshape", "Expand", "Split",
                                             "ReduceProd")},
    "Where": _data_only(0),
    "Cast": _cast_to_int,
    **{op: _compare_with_negatives for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")},
}

from . import elementwise, linalg, normalization, reduction, shape, vision  # noqa: E402,F401  (register converters)

__all__ = ["CONVERTERS", "Converter", "SHAPE_SAFE", "converter", "result_size"]
