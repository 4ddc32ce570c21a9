"""How each op becomes MLGraphBuilder calls: the WebNN backend's ops table, keyed by the op's registry name.

Each entry (the backend contract's) pairs ``supports(node, descs, limits) -> reason | None`` (is this
node accepted by the context's ``opSupportLimits()``, and why not) with ``lower(builder, node,
operands, outs)``, which records the WebNN calls on a :class:`~webinfer.backends.webnn.plan.PlanBuilder`.
Ops whose registry entry declares a ``decompose`` fall back to it when the context lacks the direct op
(or the table has no entry; see ``planner.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...ir.graph import Node
from ...ir.operand import OperandDesc, fmt_shape
from ..contract import NodeDescs, no_entry_reason
from .limits import Limits
from .plan import PlanBuilder, PlanOperand

Operands = Sequence[PlanOperand | None]
LowerFn = Callable[[PlanBuilder, Node, Operands, Sequence[OperandDesc]], list[PlanOperand]]
CheckFn = Callable[[Node, NodeDescs, Limits], str | None]
NoteFn = Callable[[Node, Limits], str | None]


def camel(name: str) -> str:
    """Registry name -> WebNN method name: ``greater_or_equal`` -> ``greaterOrEqual``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass(frozen=True)
class Lowering:
    """One op's WebNN lowering: the method, the WebNN role of each input, the recorder, extra checks."""

    webnn: str
    roles: tuple[str, ...]
    lower: LowerFn
    check: CheckFn | None = None
    out_role: str = "output"
    variadic: bool = False
    note: NoteFn | None = None  # how a workaround is used (not a failure), for info()
    rebias_uint4: bool = False  # takes uint4 operands held as int4 (u - 8) and undoes the offset itself
    decompose_only: bool = False  # WebNN has no such op: ``check`` always refuses, so the registry's decompose runs

    def supports(self, node: Node, descs: NodeDescs, limits: Limits | None = None) -> str | None:
        """Why the context cannot run this node with the direct WebNN op, or None (``limits`` None: no context
        known, so only what holds for every context is checked)."""
        limits = limits if limits is not None else Limits(None)
        reason = limits.check_op(self.webnn)
        if reason:
            return reason
        roles = [self.roles[0]] * len(descs.inputs) if self.variadic else list(self.roles)
        for role, d in zip(roles, descs.inputs):
            if d is not None:
                reason = limits.check_operand(self.webnn, role, d) or _check_dims(self.webnn, role, d, limits)
                if reason:
                    return reason
        for d in descs.outputs:
            reason = (limits.check_operand(self.webnn, self.out_role, d)
                      or _check_dims(self.webnn, self.out_role, d, limits))
            if reason:
                return reason
        first = next((d for d in descs.inputs if d is not None), None)
        if first is not None and limits.features.get(f"{self.webnn}.{first.dtype}"):  # a value probe failed
            return limits.features[f"{self.webnn}.{first.dtype}"]
        return self.check(node, descs, limits) if self.check else None


def _check_dims(op: str, role: str, d: OperandDesc, limits: Limits) -> str | None:
    if any(isinstance(x, int) and x == 0 for x in d.shape):
        return f"{op} {role} {fmt_shape(d.shape)} is empty; WebNN has no zero-size tensors"
    return limits.check_size(d)


LOWERINGS: dict[str, Lowering] = {}


def _register(names: Sequence[str], roles: tuple[str, ...], lower: LowerFn, webnn: str | None = None,
              **kw: Any) -> None:
    for name in names:
        LOWERINGS[name] = Lowering(webnn or camel(name), roles, lower, **kw)


def _axis(axis: int, rank: int) -> int:
    return axis % rank if rank else 0


def _in(ops: Operands, i: int) -> PlanOperand:
    op = ops[i]
    assert op is not None, f"input {i} is required"
    return op


# -- families -----------------------------------------------------------------------------------------


def _same_args(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """Ops whose WebNN call takes the operands as they are: add(a, b), exp(x), where(c, t, f)."""
    return [b.call(camel(node.op), list(ops), outs[0])]


def _div(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """Float division as is; integer division with x / 0 = 0 (the IR's rule) made explicit, since backends
    differ there (TFLite's int32 div zeroes the *whole* output when any divisor is 0)."""
    x, y = _in(ops, 0), _in(ops, 1)
    if x.desc.info.is_float:
        return [b.call("div", [x, y], outs[0])]
    zero, one = b.scalar(0, y.dtype), b.scalar(1, y.dtype)
    is_zero = b.call("equal", [y, zero], OperandDesc("uint8", y.shape))
    safe = b.call("where", [is_zero, one, y], y.desc)
    quotient = b.call("div", [x, safe], outs[0])
    return [b.call("where", [is_zero, b.scalar(0, outs[0].dtype), quotient], outs[0])]


_register(("add", "sub", "mul", "max", "min", "pow"), ("a", "b"), _same_args)
_register(("div",), ("a", "b"), _div)
_register(("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal"), ("a", "b"), _same_args)
_register(("logical_not",), ("a",), _same_args)
_register(("where",), ("condition", "trueValue", "falseValue"), _same_args)
_register(
    ("abs", "neg", "exp", "log", "reciprocal", "erf", "tanh", "sigmoid", "relu", "gelu", "floor", "ceil",
     "sin", "cos", "identity"),
    ("input",),
    _same_args,
)

_TWO_100, _TWO_M64, _TWO_32 = 2.0**100, 2.0**-64, 2.0**32


def _sqrt(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """sqrt as is, or — where the context's float32 sqrt is not correctly rounded ("sqrt.accuracy" probe:
    TFLite is 2 ULP off in places, ~1.5x too large above ~8.5e37 and NaN at +inf) — refined: huge inputs
    scaled by 2^-64 first (exact), then one Newton step y' = (y + x/y) / 2 (within 1 ULP of the correctly
    rounded root), kept only where 0 < y < inf; +inf gives +inf."""
    x = _in(ops, 0)
    if x.dtype != "float32" or not b.features.get("sqrt.accuracy"):
        return [b.call("sqrt", [x], outs[0])]
    d, u8 = x.desc, OperandDesc("uint8", x.shape)
    big = b.call("greater", [x, b.scalar(_TWO_100, "float32")], u8)
    y = b.call("sqrt", [b.call("where", [big, b.call("mul", [x, b.scalar(_TWO_M64, "float32")], d), x], d)], d)
    y = b.call("where", [big, b.call("mul", [y, b.scalar(_TWO_32, "float32")], d), y], d)
    step = b.call("mul", [b.call("add", [y, b.call("div", [x, y], d)], d), b.scalar(0.5, "float32")], d)
    y = b.call("where", [b.call("greater", [y, b.scalar(0.0, "float32")], u8), step, y], d)
    inf = b.scalar(math.inf, "float32")
    return [b.call("where", [b.call("equal", [x, inf], u8), inf, y], outs[0])]


def _sqrt_note(node: Node, limits: Limits) -> str | None:
    reason = limits.features.get("sqrt.accuracy")
    if reason:
        return f"float32 sqrt refined (scaling + one Newton step; +inf kept): {reason}"
    return None


_register(("sqrt",), ("input",), _sqrt, note=_sqrt_note)
_register(("matmul",), ("a", "b"), _same_args)


def _clamp(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    lo, hi = node.attributes["min_value"], node.attributes["max_value"]
    info = x.desc.info
    if info.is_integer:  # integer clamps take integer bounds inside the dtype's range
        lo, hi = max(lo, info.min), min(hi, info.max)
        lo, hi = int(max(lo, -(2**53))), int(min(hi, 2**53))
    return [b.call("clamp", [x], outs[0], {"minValue": lo, "maxValue": hi})]


_register(("clamp",), ("input",), _clamp)


def _cast(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    return [b.call("cast", [_in(ops, 0), outs[0].dtype], outs[0])]


_register(("cast",), ("input",), _cast)


def _gemm(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    a = node.attributes
    options = {"c": ops[2], "alpha": a["alpha"], "beta": a["beta"],
               "aTranspose": a["a_transpose"], "bTranspose": a["b_transpose"]}
    return [b.call("gemm", [_in(ops, 0), _in(ops, 1)], outs[0], options)]


_register(("gemm",), ("a", "b", "c"), _gemm)


def _softmax(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    return [b.call("softmax", [x, _axis(node.attributes["axis"], x.rank)], outs[0])]


_register(("softmax",), ("input",), _softmax)


def _layer_norm(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    axes = node.attributes["axes"]
    axes = list(range(1, x.rank)) if axes is None else [_axis(a, x.rank) for a in axes]
    options = {"scale": ops[1], "bias": ops[2], "axes": axes, "epsilon": node.attributes["epsilon"]}
    return [b.call("layerNormalization", [x], outs[0], options)]


_register(("layer_normalization",), ("input", "scale", "bias"), _layer_norm)


def _batch_norm(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    options = {"scale": ops[3], "bias": ops[4], "axis": _axis(node.attributes["axis"], x.rank),
               "epsilon": node.attributes["epsilon"]}
    return [b.call("batchNormalization", [x, _in(ops, 1), _in(ops, 2)], outs[0], options)]


_register(("batch_normalization",), ("input", "mean", "variance", "scale", "bias"), _batch_norm)


def _reduce(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    axes = node.attributes["axes"]
    axes = list(range(x.rank)) if axes is None else [_axis(a, x.rank) for a in axes]
    return [b.call(camel(node.op), [x], outs[0], {"axes": axes, "keepDimensions": node.attributes["keep_dimensions"]})]


_register(("reduce_sum", "reduce_mean", "reduce_max", "reduce_min"), ("input",), _reduce)


def _to_out_shape(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """reshape and expand: the target shape is the node's (inferred, static) output shape."""
    return [b.call(camel(node.op), [_in(ops, 0), list(outs[0].shape)], outs[0])]


_register(("reshape", "expand"), ("input",), _to_out_shape)


def _transpose(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    perm = node.attributes["permutation"]
    perm = list(reversed(range(x.rank))) if perm is None else list(perm)
    return [b.call("transpose", [x], outs[0], {"permutation": perm})]


_register(("transpose",), ("input",), _transpose)


def _concat(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    first = _in(ops, 0)
    return [b.call("concat", [list(ops), _axis(node.attributes["axis"], first.rank)], outs[0])]


_register(("concat",), ("inputs",), _concat, variadic=True)


def _slice(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    a = node.attributes
    strided = a["strides"] is not None and any(s != 1 for s in a["strides"])
    options = {"strides": list(a["strides"])} if strided else None
    return [b.call("slice", [_in(ops, 0), list(a["starts"]), list(a["sizes"])], outs[0], options)]


_register(("slice",), ("input",), _slice)


def _split(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    splits = node.attributes["splits"]
    splits = splits if isinstance(splits, int) else list(splits)
    return b.call_multi("split", [x, splits], outs, {"axis": _axis(node.attributes["axis"], x.rank)})


_register(("split",), ("input",), _split, out_role="outputs")


def _gather(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    x = _in(ops, 0)
    return [b.call("gather", [x, _in(ops, 1)], outs[0], {"axis": _axis(node.attributes["axis"], x.rank)})]


_register(("gather",), ("input", "indices"), _gather)


def _pad(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    a = node.attributes
    x = _in(ops, 0)
    begin, end = list(a["beginning_padding"]), list(a["ending_padding"])
    if a["mode"] == "edge" and b.features.get("pad.edge"):
        return [_pad_edge(b, x, begin, end)]
    options = {"mode": a["mode"], "value": a["value"]}
    return [b.call("pad", [x, begin, end], outs[0], options)]


def _pad_edge(b: PlanBuilder, x: PlanOperand, begin: list[int], end: list[int]) -> PlanOperand:
    """Edge padding from slice + expand + concat, axis by axis (for backends whose pad lacks "edge")."""
    cur = x
    for axis, (pb, pe) in enumerate(zip(begin, end)):
        if not (pb or pe):
            continue
        last = cur.shape[axis] - 1
        parts = (([_edge_slab(b, cur, axis, 0, pb)] if pb else []) + [cur]
                 + ([_edge_slab(b, cur, axis, last, pe)] if pe else []))
        grown = tuple(d + pb + pe if i == axis else d for i, d in enumerate(cur.shape))
        cur = b.call("concat", [parts, axis], OperandDesc(cur.dtype, grown))
    return cur


def _edge_slab(b: PlanBuilder, x: PlanOperand, axis: int, index: int, copies: int) -> PlanOperand:
    """``copies`` repeats of the slice of ``x`` at ``index`` along ``axis``."""
    starts = [index if i == axis else 0 for i in range(x.rank)]
    one = [1 if i == axis else d for i, d in enumerate(x.shape)]
    piece = b.call("slice", [x, starts, one], OperandDesc(x.dtype, tuple(one)))
    wide = [copies if i == axis else d for i, d in enumerate(x.shape)]
    return b.call("expand", [piece, wide], OperandDesc(x.dtype, tuple(wide)))


def _pad_note(node: Node, limits: Limits) -> str | None:
    reason = limits.features.get("pad.edge")
    if node.attributes["mode"] == "edge" and reason:
        return f"edge padding built from slice/expand/concat: this context's pad refuses it ({reason})"
    return None


_register(("pad",), ("input",), _pad, note=_pad_note)


def _conv2d(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    a = node.attributes
    options = {"bias": ops[2], "padding": list(a["padding"]), "strides": list(a["strides"]),
               "dilations": list(a["dilations"]), "groups": a["groups"], "inputLayout": a["input_layout"],
               "filterLayout": a["filter_layout"]}
    return [b.call("conv2d", [_in(ops, 0), _in(ops, 1)], outs[0], options)]


_register(("conv2d",), ("input", "filter", "bias"), _conv2d)


def _pool(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    a = node.attributes
    x = _in(ops, 0)
    nchw = a["layout"] == "nchw"
    h, w = (x.shape[2], x.shape[3]) if nchw else (x.shape[1], x.shape[2])
    oh, ow = (int(outs[0].shape[2]), int(outs[0].shape[3])) if nchw else (int(outs[0].shape[1]), int(outs[0].shape[2]))
    window = list(a["window_dimensions"]) if a["window_dimensions"] is not None else [h, w]
    options: dict[str, Any] = {"windowDimensions": window, "padding": list(a["padding"]), "strides": list(a["strides"]),
                               "dilations": list(a["dilations"]), "layout": a["layout"]}
    if a["rounding_type"] == "ceil" or a["output_sizes"] is not None:  # outputSizes pins the shape (Chromium 153
        options.update(roundingType=a["rounding_type"], outputSizes=[oh, ow])  # ignores roundingType)
    y = b.call(camel(node.op), [x], outs[0], options)
    if node.op == "average_pool2d" and (any(a["padding"]) or _overhangs(a, (h, w), window, (oh, ow))):
        # windows over padding (explicit, or ceil rounding's overhang): divide by the average of ones, so the
        # result averages the real cells only, whatever the backend divides by (TFLite counts padding it
        # had to make explicit, e.g. asymmetric padding)
        ones = b.scalar(1.0, x.dtype, (1, 1, h, w) if nchw else (1, h, w, 1))
        count = b.call("averagePool2d", [ones], OperandDesc(x.dtype, (1, 1, oh, ow) if nchw else (1, oh, ow, 1)),
                       options)
        y = b.call("div", [y, count], outs[0])
    return [y]


def _overhangs(a: Any, size: tuple[int, int], window: list[int], out: tuple[int, int]) -> bool:
    pad, strides, dil = a["padding"], a["strides"], a["dilations"]
    for i in range(2):
        span = (window[i] - 1) * dil[i] + 1
        if (out[i] - 1) * strides[i] + span > size[i] + pad[2 * i] + pad[2 * i + 1]:
            return True
    return False


def _pool_check(node: Node, descs: NodeDescs, limits: Limits) -> str | None:
    webnn = camel(node.op)
    if any(d != 1 for d in node.attributes["dilations"]) and limits.features.get(f"{webnn}.dilations"):
        return f"{webnn} with dilations {list(node.attributes['dilations'])}: {limits.features[f'{webnn}.dilations']}"
    return None


_register(("average_pool2d", "max_pool2d"), ("input",), _pool, check=_pool_check)


# -- low-bit weights, the KV-cache write, RMSNorm (issue 14) ----------------------------------------------


def _aligned(b: PlanBuilder, t: PlanOperand, rank: int) -> PlanOperand:
    """``t`` reshaped to ``rank`` dims (1s in front): Chromium wants dequantizeLinear's scale at the input's rank."""
    if t.rank == rank:
        return t
    shape = (1,) * (rank - t.rank) + t.shape
    return b.call("reshape", [t, list(shape)], OperandDesc(t.dtype, shape))


def _dequantize(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """dequantizeLinear, block-wise as plain per-axis broadcasting: each blocked axis n (scale dim s, 1 < s < n) is
    split into [s, n/s] with the scale's [s, 1] beside it, so the context only ever broadcasts; the output is
    reshaped back. uint4 held as int4 (u - 8) gets the zero point 8 lower (none given: -8); webinfer's ``bias``
    (Q4_1's block minimum) is added after, in the split shape."""
    x, scale, zp, bias = _in(ops, 0), _in(ops, 1), ops[2], ops[3]
    scale = _aligned(b, scale, x.rank)
    if zp is not None:
        zp = _aligned(b, zp, x.rank)  # a uint4 zero point is held as int4 (z - 8) just as the input is
    elif x.id in b.rebiased:  # (u - 8) - (-8) = u: the int4 nibble 0x8 is -8
        zp = b.constant(f"{b.node}/zero_point", OperandDesc("int4", scale.shape), bytes([0x88]) * _nbytes4(scale))
    else:  # Chromium 153 wants a zeroPoint: a zero of the input's dtype
        zp = _zeros(b, x.dtype, scale.shape)
    if bias is not None:
        bias = _aligned(b, bias, x.rank)
    split: list[int] = []
    pshape: list[int] = []
    for n, s in zip(x.shape, scale.shape):
        if 1 < s < n:
            split += [s, n // s]
            pshape += [s, 1]
        else:
            split.append(n)
            pshape.append(s)
    out = outs[0]
    if len(split) != x.rank:
        def blocks(t: PlanOperand, shape: list[int]) -> PlanOperand:
            return b.call("reshape", [t, shape], OperandDesc(t.dtype, tuple(shape)))

        x, scale, zp = blocks(x, split), blocks(scale, pshape), blocks(zp, pshape)
        bias = None if bias is None else blocks(bias, pshape)
    inner = OperandDesc(out.dtype, tuple(split))
    y = b.call("dequantizeLinear", [x, scale, zp], inner)
    if bias is not None:
        y = b.call("add", [y, bias], inner)
    else:  # Chromium 153's TFLite fails to build dequantizeLinear feeding a transpose (even through a reshape)
        y = b.call("identity", [y], inner)
    if len(split) != len(out.shape):
        y = b.call("reshape", [y, list(out.shape)], out)
    return [y]


def _nbytes4(t: PlanOperand) -> int:
    return (math.prod(t.shape) + 1) // 2


def _zeros(b: PlanBuilder, dtype: str, shape: tuple[int, ...]) -> PlanOperand:
    if dtype in ("int4", "uint4"):
        return b.constant(f"{b.node}/zero_point", OperandDesc(dtype, shape), bytes((math.prod(shape) + 1) // 2))
    return b.scalar(0, dtype, shape)


def _dequantize_check(node: Node, descs: NodeDescs, limits: Limits) -> str | None:
    x, scale, zp, bias = descs.inputs
    assert x is not None and scale is not None
    split = sum(2 if isinstance(n, int) and isinstance(s, int) and 1 < s < n else 1
                for n, s in zip(x.shape, (1,) * (x.rank - scale.rank) + tuple(scale.shape)))
    for role, d in (("input", x), ("scale", scale), ("output", descs.outputs[0])):
        reason = limits.check_operand("dequantizeLinear", role, OperandDesc(d.dtype, (1,) * split))
        if reason:
            return f"{reason} (block-wise axes split in two: rank {split})"
    if bias is not None:
        return limits.check_operand("add", "a", OperandDesc(bias.dtype, (1,) * split))
    return None


_register(("dequantize_linear",), ("input", "scale", "zeroPoint", "scale"), _dequantize, check=_dequantize_check,
          rebias_uint4=True)


def _scatter_nd(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    """scatterND with the IR's index rule made explicit (negative counts from the end, out of range clamps), on
    indices normalized once per (indices, input dims) and shared by every scatter that uses them."""
    x, idx, upd = _in(ops, 0), _in(ops, 1), _in(ops, 2)
    k = idx.shape[-1]
    dims = tuple(x.shape[:k])
    key = ("scatter_nd.indices", idx.id, dims)
    safe = b.memo.get(key)
    if safe is None:
        bound = b.constant(f"{b.node}/dims", OperandDesc(idx.dtype, (k,)), _ints(dims, idx.dtype))
        top = b.constant(f"{b.node}/last", OperandDesc(idx.dtype, (k,)), _ints([d - 1 for d in dims], idx.dtype))
        negative = b.call("lesser", [idx, b.scalar(0, idx.dtype)], OperandDesc("uint8", idx.shape))
        wrapped = b.call("where", [negative, b.call("add", [idx, bound], idx.desc), idx], idx.desc)
        safe = b.call("min", [b.call("max", [wrapped, b.scalar(0, idx.dtype)], idx.desc), top], idx.desc)
        b.memo[key] = safe
    return [b.call("scatterND", [x, safe, upd], outs[0])]


def _ints(values: Sequence[int], dtype: str) -> bytes:
    import array

    return array.array("i" if dtype == "int32" else "q", values).tobytes()


_register(("scatter_nd",), ("input", "indices", "updates"), _scatter_nd, webnn="scatterND")


def _no_rms(node: Node, descs: NodeDescs, limits: Limits) -> str | None:
    return "WebNN has no RMS normalization: the registry's decomposition runs"


def _never(b: PlanBuilder, node: Node, ops: Operands, outs: Sequence[OperandDesc]) -> list[PlanOperand]:
    raise AssertionError(f"{node.label}: {node.op} is always decomposed on WebNN")


_register(("rms_normalization",), ("input", "scale"), _never, check=_no_rms, decompose_only=True)


def supports(node: Node, descs: NodeDescs, limits: Limits) -> str | None:
    """Why the context cannot run ``node`` with its direct WebNN op (None: it can)."""
    lowering = LOWERINGS.get(node.op)
    if lowering is None:
        return no_entry_reason("webnn", node.op)
    return lowering.supports(node, descs, limits)


def note(node: Node, limits: Limits) -> str | None:
    """A note (not a failure) on how a supported node is built: workarounds, non-preferred layouts."""
    lowering = LOWERINGS.get(node.op)
    extra = lowering.note(node, limits) if lowering and lowering.note else None
    return extra or layout_note(node, limits)


def layout_note(node: Node, limits: Limits) -> str | None:
    """A note (not a failure) when a node's layout differs from the context's preferredInputLayout."""
    preferred = limits.preferred_input_layout
    layout = node.attributes.get("input_layout") or node.attributes.get("layout")
    if preferred and layout and layout != preferred:
        return f"{layout} input; the context prefers {preferred} (the browser transposes around it)"
    return None


__all__ = ["LOWERINGS", "Lowering", "NodeDescs", "camel", "layout_note", "note", "supports"]
