"""Softmax, LogSoftmax, LayerNormalization, BatchNormalization (inference)."""

from __future__ import annotations

from ..importer import NodeCtx
from . import converter
from .elementwise import _float_check


@converter("Softmax", check=_float_check)
def _softmax(nc: NodeCtx) -> None:
    x = nc.x(0)
    nc.set(0, nc.op("softmax", [x], axis=nc.attr("axis", "int", -1)))


@converter("LogSoftmax", check=_float_check)
def _log_softmax(nc: NodeCtx) -> None:
    x = nc.x(0)  # x - max - log(sum(exp(x - max))): no overflow, no log(0) for small probabilities
    axis = nc.attr("axis", "int", -1)
    if x.rank == 0 or not -x.rank <= axis < x.rank:
        raise nc.error(f"axis {axis} is out of range for rank {x.rank}")
    axes = [axis % x.rank]
    shifted = nc.op("sub", [x, nc.op("reduce_max", [x], axes=axes, keep_dimensions=True)])
    total = nc.op("reduce_sum", [nc.op("exp", [shifted])], axes=axes, keep_dimensions=True)
    nc.set(0, nc.op("sub", [shifted, nc.op("log", [total])]))


def _ln_check(nc: NodeCtx) -> str | None:
    return _float_check(nc)


@converter("LayerNormalization", check=_ln_check)
def _layer_norm(nc: NodeCtx) -> None:
    x = nc.x(0)
    axis = nc.attr("axis", "int", -1)
    if not -x.rank <= axis < x.rank:
        raise nc.error(f"axis {axis} is out of range for rank {x.rank}")
    axis %= x.rank
    want = list(x.shape[axis:])
    params = []
    for k in (1, 2):  # ONNX lets scale and bias broadcast to X.shape[axis:]; webinfer wants those dims exactly
        p = nc.opt(k)
        if p is not None and list(p.shape) != want:
            if p.rank < len(want):
                p = nc.op("reshape", [p], new_shape=[1] * (len(want) - p.rank) + list(p.shape))
            p = nc.op("expand", [p], new_shape=want)
        params.append(p)
    axes, eps = list(range(axis, x.rank)), nc.attr("epsilon", "float", 1e-5)
    nc.set(0, nc.op("layer_normalization", [x, params[0], params[1]], axes=axes, epsilon=eps))
    if any(o for o in nc.outputs[1:]):  # the statistics, when asked for: mean and 1/sqrt(var + eps), kept dims
        mean = nc.op("reduce_mean", [x], axes=axes, keep_dimensions=True)
        centered = nc.op("sub", [x, mean])
        var = nc.op("reduce_mean", [nc.op("mul", [centered, centered])], axes=axes, keep_dimensions=True)
        nc.set(1, mean)
        nc.set(2, nc.op("reciprocal", [nc.op("sqrt", [nc.op("add", [var, nc.const_operand(eps, x.dtype)])])]))


def _bn_check(nc: NodeCtx) -> str | None:
    if nc.attr("training_mode", "int", 0):
        return "training_mode=1 is not supported (inference only)"
    if any(o for o in nc.outputs[1:]):
        return "the running mean/variance outputs (training) are not supported"
    return _float_check(nc)


@converter("BatchNormalization", check=_bn_check)
def _batch_norm(nc: NodeCtx) -> None:
    x = nc.x(0)
    if x.rank < 2:
        raise nc.error(f"input must have rank >= 2, got {x.rank}")
    nc.set(0, nc.op("batch_normalization", [x, nc.x(3), nc.x(4), nc.x(1), nc.x(2)], axis=1,
                    epsilon=nc.attr("epsilon", "float", 1e-5)))
