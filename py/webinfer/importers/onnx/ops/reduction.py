"""ReduceMean/Sum/Max/Min and the composites ReduceSumSquare/L1/L2/LogSum/LogSumExp (axes as attribute or input)."""

from __future__ import annotations

import math

import numpy as np

from ....ir.builder import Operand
from ..importer import NodeCtx
from . import converter

DIRECT = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max", "ReduceMin": "reduce_min"}
COMPOSITE = ("ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")


def reduce_axes(nc: NodeCtx, rank: int) -> list[int] | None:
    """The axes to reduce ([] reduces nothing, None all) from the attribute (older versions) or the input."""
    axes = nc.attr("axes", "ints")
    if axes is None and nc.has(1):
        axes = nc.ints(1, "axes")
    if not axes:
        return [] if nc.attr("noop_with_empty_axes", "int", 0) else None
    for a in axes:
        if not -rank <= a < rank:
            raise nc.error(f"axes {axes} are out of range for rank {rank}")
    return sorted({a % rank for a in axes})


#: what a reduction over nothing gives (ONNX: the op's identity element)
EMPTY = {"ReduceMax": -math.inf, "ReduceMin": math.inf, "ReduceLogSumExp": -math.inf}


def _empty(nc: NodeCtx, x: Operand, axes: list[int] | None, keep: bool) -> bool:
    """A reduction over an empty axis: the identity element in the output's shape (True when handled)."""
    rank = x.rank
    ax = range(rank) if axes is None else axes
    if nc.op_type not in EMPTY or not any(x.shape[a] == 0 for a in ax):
        return False
    shape = [1 if i in ax else d for i, d in enumerate(x.shape)] if keep else [d for i, d in enumerate(x.shape)
                                                                             if i not in ax]
    fill = EMPTY[nc.op_type]
    if x.dtype not in ("float32", "float16"):
        fill = 0 if fill < 0 else 1  # bools: max of nothing is false, min of nothing true
    value = nc.imp.const_operand(np.full([1] * len(shape), fill, dtype=np.dtype(x.dtype)), nc.label)
    nc.set(0, nc.op("expand", [value], new_shape=shape))
    return True


@converter(*DIRECT, fold=True, const_inputs=(1,))
def _reduce(nc: NodeCtx) -> None:
    x = nc.x(0)
    axes = reduce_axes(nc, x.rank)
    keep = bool(nc.attr("keepdims", "int", 1))
    if _empty(nc, x, axes, keep):
        return
    nc.set(0, nc.op(DIRECT[nc.op_type], [x], axes=axes, keep_dimensions=keep))


@converter(*COMPOSITE, const_inputs=(1,))
def _reduce_composite(nc: NodeCtx) -> None:
    x = nc.x(0)
    axes = reduce_axes(nc, x.rank)
    keep = bool(nc.attr("keepdims", "int", 1))
    op = nc.op_type
    if _empty(nc, x, axes, keep):
        return

    def total(t: Operand, keep_dims: bool = keep) -> Operand:
        return nc.op("reduce_sum", [t], axes=axes, keep_dimensions=keep_dims)

    if op == "ReduceSumSquare":
        y = total(nc.op("mul", [x, x]))
    elif op == "ReduceL1":
        y = total(nc.op("abs", [x]))
    elif op == "ReduceL2":
        y = nc.op("sqrt", [total(nc.op("mul", [x, x]))])
    elif op == "ReduceLogSum":
        y = nc.op("log", [total(x)])
    else:  # log(sum(exp(x - m))) + m with m the max: no overflow
        if axes == []:
            nc.set(0, nc.op("identity", [x]))
            return
        m = nc.op("reduce_max", [x], axes=axes, keep_dimensions=True)
        y = nc.op("add", [nc.op("log", [total(nc.op("exp", [nc.op("sub", [x, m])]), True)]), m])
        if not keep:
            y = nc.op("reshape", [y], new_shape=[d for i, d in enumerate(x.shape)
                                                  if axes is not None and i not in axes])
    nc.set(0, y)
