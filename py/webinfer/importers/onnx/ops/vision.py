"""Conv, AveragePool, MaxPool, GlobalAveragePool, GlobalMaxPool: 2-D (and 1-D through a height-1 plane)."""

from __future__ import annotations

from typing import Any

from ....ir.builder import Operand
from ..importer import NodeCtx
from . import converter
from .elementwise import _float_check

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def pool_attrs(window: list[int], strides: list[int], dilations: list[int], padding: list[int]) -> dict[str, Any]:
    """The attributes of average_pool2d / max_pool2d (nchw). The one place that names them: rounding is always floor
    here (ONNX's ceil_mode becomes extra end padding), so renaming the rounding attribute is a one-line change."""
    return {"window_dimensions": window, "strides": strides, "dilations": dilations, "padding": padding,
            "layout": "nchw", "rounding_type": "floor"}


def _spatial_check(nc: NodeCtx, rank_from: int = 0) -> str | None:
    reason = _float_check(nc)
    if reason:
        return reason
    for key in ("kernel_shape", "strides", "dilations"):
        v = nc.attr(key, "ints")
        if v is not None and len(v) not in (1, 2):
            return f"{len(v)}-D {key} {v}: webinfer converts 1-D and 2-D {nc.op_type} only"
    pad = nc.attr("auto_pad", "string", "NOTSET")
    if pad not in AUTO_PADS:
        return f"auto_pad={pad!r} is not one of {', '.join(AUTO_PADS)}"
    return None


def _pool_check(nc: NodeCtx) -> str | None:
    if nc.op_type == "MaxPool" and len(nc.outputs) > 1 and nc.outputs[1]:
        return "the Indices output is not supported"
    return _spatial_check(nc)


def _as_2d(nc: NodeCtx, x: Operand) -> tuple[Operand, bool]:
    """A rank-3 (1-D) input as [N, C, 1, W]; rank 4 as is; other ranks are an error."""
    if x.rank == 3:
        return nc.op("reshape", [x], new_shape=[x.shape[0], x.shape[1], 1, x.shape[2]]), True
    if x.rank != 4:
        raise nc.error(f"input must be [N, C, H, W] (or [N, C, W]), got rank {x.rank}")
    return x, False


def _pair(nc: NodeCtx, key: str, default: int, is_1d: bool) -> list[int]:
    v = nc.attr(key, "ints")
    if v is None:
        return [default, default]
    if len(v) != (1 if is_1d else 2):
        raise nc.error(f"{key} {v} must have {1 if is_1d else 2} values")
    return [default] + list(v) if is_1d else list(v)


def _padding(nc: NodeCtx, size: tuple[int, int], window: list[int], strides: list[int], dilations: list[int],
             is_1d: bool) -> list[int]:
    """[top, bottom, left, right] from pads or auto_pad (SAME_UPPER puts the odd cell at the end)."""
    auto = nc.attr("auto_pad", "string", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for n, k, s, d in zip(size, window, strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            out += [small, total - small] if auto == "SAME_UPPER" else [total - small, small]
        return out
    if auto == "VALID":
        return [0, 0, 0, 0]
    pads = nc.attr("pads", "ints")
    if pads is None:
        return [0, 0, 0, 0]
    if len(pads) != (2 if is_1d else 4) or any(p < 0 for p in pads):
        raise nc.error(f"pads {pads} must be {2 if is_1d else 4} values >= 0")
    if is_1d:
        return [0, 0, pads[0], pads[1]]
    return [pads[0], pads[2], pads[1], pads[3]]


def _back(nc: NodeCtx, y: Operand, is_1d: bool) -> Operand:
    return nc.op("reshape", [y], new_shape=[y.shape[0], y.shape[1], y.shape[3]]) if is_1d else y


@converter("Conv", check=_spatial_check)
def _conv(nc: NodeCtx) -> None:
    x, is_1d = _as_2d(nc, nc.x(0))
    w = nc.x(1)
    if w.rank == 3:
        w = nc.op("reshape", [w], new_shape=[w.shape[0], w.shape[1], 1, w.shape[2]])
    if w.rank != 4 or not all(isinstance(d, int) for d in w.shape):
        raise nc.error(f"weights must be a static [M, C/group, kH, kW] tensor, got {list(w.shape)}")
    window = [int(w.shape[2]), int(w.shape[3])]  # type: ignore[arg-type]
    kernel = nc.attr("kernel_shape", "ints")
    if kernel is not None and ([1] + list(kernel) if is_1d else list(kernel)) != window:
        raise nc.error(f"kernel_shape {kernel} does not match the weights {list(w.shape)}")
    strides = _pair(nc, "strides", 1, is_1d)
    dilations = _pair(nc, "dilations", 1, is_1d)
    size = (int(x.shape[2]), int(x.shape[3]))  # type: ignore[arg-type]
    padding = _padding(nc, size, window, strides, dilations, is_1d)
    pre = nc.imp.zero_pads.get(x.name)
    if pre is not None:  # a zero Pad feeding the conv (TF-"same" exports): fold it into the conv's padding
        x, extra = pre
        padding = [p + e for p, e in zip(padding, extra)]
    y = nc.op("conv2d", [x, w, nc.opt(2)], padding=padding, strides=strides, dilations=dilations,
              groups=nc.attr("group", "int", 1))
    nc.set(0, _back(nc, y, is_1d))


@converter("AveragePool", "MaxPool", check=_pool_check)
def _pool(nc: NodeCtx) -> None:
    x, is_1d = _as_2d(nc, nc.x(0))
    kernel = nc.attr("kernel_shape", "ints")
    if kernel is None:
        raise nc.error("attribute 'kernel_shape' is required")
    window = _pair(nc, "kernel_shape", 1, is_1d)
    strides = _pair(nc, "strides", 1, is_1d)
    dilations = _pair(nc, "dilations", 1, is_1d)
    size = (int(x.shape[2]), int(x.shape[3]))  # type: ignore[arg-type]
    padding = _padding(nc, size, window, strides, dilations, is_1d)
    if nc.attr("ceil_mode", "int", 0):  # ONNX's ceil: a last window must start inside the input or its left pad
        for axis in (0, 1):
            n, k, s, d = size[axis], window[axis], strides[axis], dilations[axis]
            b, e = padding[2 * axis], padding[2 * axis + 1]
            span = (k - 1) * d + 1
            floor_out = (n + b + e - span) // s + 1
            ceil_out = -(-(n + b + e - span) // s) + 1
            if (ceil_out - 1) * s >= n + b:
                ceil_out -= 1
            if ceil_out > floor_out:
                padding[2 * axis + 1] += (ceil_out - 1) * s + span - (n + b + e)
    explicit = nc.attr("auto_pad", "string", "NOTSET") == "NOTSET"
    if nc.op_type == "AveragePool" and nc.attr("count_include_pad", "int", 0) and any(padding):
        # the pads count in the mean: make them real zeros; only the ceil overhang stays uncounted
        given = _padding(nc, size, window, strides, dilations, is_1d) if explicit else list(padding)
        x = nc.op("pad", [x], beginning_padding=[0, 0, given[0], given[2]],
                  ending_padding=[0, 0, given[1], given[3]])
        padding = [p - g for p, g in zip(padding, given)]
    op = "average_pool2d" if nc.op_type == "AveragePool" else "max_pool2d"
    y = nc.op(op, [x], **pool_attrs(window, strides, dilations, padding))
    nc.set(0, _back(nc, y, is_1d))


@converter("GlobalAveragePool", "GlobalMaxPool", check=_float_check)
def _global_pool(nc: NodeCtx) -> None:
    x = nc.x(0)
    if x.rank < 3:
        raise nc.error(f"input must be [N, C, spatial...], got rank {x.rank}")
    op = "reduce_mean" if nc.op_type == "GlobalAveragePool" else "reduce_max"
    nc.set(0, nc.op(op, [x], axes=list(range(2, x.rank)), keep_dimensions=True))
