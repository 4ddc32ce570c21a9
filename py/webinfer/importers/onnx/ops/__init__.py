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
        shape = nc.imp.values[nc.inputs[0]].shape
        if pads is None or not all(isinstance(d, int) for d in shape):
            return None
        return math.prod(shape) + sum(abs(p) for p in pads) * max(1, math.prod(shape))  # type: ignore[arg-type]
    return None


def _compare_with_negatives(nc: NodeCtx, present: list[str]) -> bool:
    """A comparison of dims is known when the other side is all negative (dims never are)."""
    for n in present:
        v = nc.imp.values[n]
        if v.kind == "shape":
            continue
        arr = v.array()
        if arr.dtype.kind not in "iuf" or not np.all(arr < 0):
            return False
    return sum(nc.imp.values[n].kind == "shape" for n in present) == 1


def _always(nc: NodeCtx, present: list[str]) -> bool:
    return True


def _cast_to_int(nc: NodeCtx, present: list[str]) -> bool:
    from onnx import TensorProto

    return nc.attr("to", "int") in (TensorProto.INT64, TensorProto.INT32)


#: ops that may be folded over shapes holding symbolic dims (and when): data movement and +, -, ×, ÷, whose stand-in
#: results identify each dim exactly; comparisons only against negative numbers (never equal to a dim).
SHAPE_SAFE: dict[str, Callable[[NodeCtx, list[str]], bool]] = {
    **{op: _always for op in ("Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Identity", "Flatten",
                              "Add", "Sub", "Mul", "Div", "Neg", "Where", "ReduceProd", "Expand", "Transpose",
                              "Split")},
    "Cast": _cast_to_int,
    **{op: _compare_with_negatives for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")},
}

from . import elementwise, linalg, normalization, reduction, shape, vision  # noqa: E402,F401  (register converters)

__all__ = ["CONVERTERS", "Converter", "SHAPE_SAFE", "converter", "result_size"]
