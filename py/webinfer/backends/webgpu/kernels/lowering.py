"""The WebGPU ops table: what each graph op becomes in the planner — a fused elementwise tree, a view, or a kernel.

``LOWERINGS[op]`` is a :class:`Kernel` (the contract's ``OpEntry``): ``supports(node, descs, limits)`` says
why WebGPU cannot run a node (checked at compile, before any planning; the hybrid backend places such a
node on WebNN with that reason), ``family`` names the WGSL generator, and ``lower(pl, node)`` uses the
planner's small API:
``pl.view(x)`` (the operand as a view, materializing only if it must), ``pl.elementwise(node, inputs,
build)`` (fusing into a lazy tree), ``pl.kernel(node, family, views, shape, dtype, params)`` (a kernel
whose value later gets an epilogue), ``pl.set_view``, ``pl.set_lazy``, ``pl.desc``, ``pl.concat``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ....ir.graph import Node
from ...contract import CheckFn, NodeDescs, OpEntry
from ..expr import Acc, Const, Expr, Load, Op
from ..views import View, coalesce, dense_strides
from .elementwise import EW_OPS

Lowering = Callable[[Any, Node], None]

#: graph dtypes WGSL can hold (int64 as int32, range-checked at upload; int4/uint4 packed eight to a u32, read only
#: by dequantize_linear: no other op takes them)
WGSL_DTYPES = ("float32", "float16", "int32", "uint32", "int64", "int8", "uint8", "int4", "uint4")


@dataclass(frozen=True)
class Kernel(OpEntry):
    """How one op runs on WebGPU: its family ("elementwise", "view", "concat", "dequantize" or a ``PROGRAMS`` key), its
    lowering into planner work, and (from ``OpEntry``) the check that says why WebGPU cannot run a node."""

    family: str = "elementwise"


def _wgsl_dtypes(node: Node, descs: NodeDescs, limits: Any) -> str | None:
    for d in (*descs.inputs, *descs.outputs):
        if d is not None and d.dtype not in WGSL_DTYPES:
            return f"{d.dtype} has no WGSL representation"
    return None


# int64: WGSL has no 64-bit integers, so int64 data is held and computed as int32 (graph inputs and constants
# are range-checked when uploaded). Ops whose int64 results are always one of their inputs' values (moves,
# selections, max/min, clamps) stay exact; arithmetic could leave the int32 range and wrap, so a node that
# *produces* int64 by arithmetic is refused at compile, by name, never computed wrong (hybrid places it on WebNN).
#: elementwise ops whose int64 results are values of their int64 inputs (or bounds): exact in int32
INT64_EXACT = ("max", "min", "relu", "clamp", "where", "identity")
#: dtypes whose values all fit int32, so a cast from them to int64 is exact
_FITS_INT32 = ("int8", "uint8", "int32", "int64")


def _int64_arith(node: Node, descs: NodeDescs, limits: Any) -> str | None:
    if any(d.dtype == "int64" for d in descs.outputs):
        return (f"{node.op} producing int64: WGSL has no 64-bit integers and computes int64 as int32, where this "
                "result could wrap; refused rather than wrapped (hybrid runs it on WebNN; or compute in int32)")
    return None


def _int64_cast(node: Node, descs: NodeDescs, limits: Any) -> str | None:
    src = descs.inputs[0]
    if descs.outputs[0].dtype == "int64" and src is not None and src.dtype not in _FITS_INT32:
        return (f"cast from {src.dtype} to int64: WGSL computes int64 as int32, which cannot hold every {src.dtype} "
                "value (it would saturate or wrap at the int32 range); refused (hybrid runs it on WebNN)")
    return None


def _int64_fill(node: Node, descs: NodeDescs, limits: Any) -> str | None:
    out = descs.outputs[0].dtype
    value = node.attributes.get("value", 0)
    lo, hi = {"int64": (-(2**31), 2**31 - 1), "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
              "int8": (-128, 127), "uint8": (0, 255)}.get(out, (None, None))
    if lo is not None and not lo <= value <= hi:
        return f"pad value {value:g} does not fit {out}" + (" (computed as int32 here)" if out == "int64" else "")
    return None


LOWERINGS: dict[str, Kernel] = {}


def register(names: Sequence[str], family: str, lower: Lowering, check: CheckFn | None = None) -> None:
    """Add ``names`` to the table: every entry checks dtypes first, then ``check`` (if any)."""

    def supports(node: Node, descs: NodeDescs, limits: Any) -> str | None:
        return _wgsl_dtypes(node, descs, limits) or (check(node, descs, limits) if check else None)

    for name in names:
        LOWERINGS[name] = Kernel(lower, supports, family)


def _ew(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    attrs = dict(node.attributes)
    pl.elementwise(node, list(node.inputs), lambda args: Op(node.op, args, desc.dtype, attrs, node.name))


for _op in EW_OPS:  # a new elementwise op refuses int64 results until it is known to be exact (INT64_EXACT)
    register((_op,), "elementwise", _ew, _int64_cast if _op == "cast" else None if _op in INT64_EXACT else _int64_arith)


def _batch_norm(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    shape, dt = desc.shape, desc.dtype
    axis = node.attributes["axis"] % len(shape)
    bshape = tuple(shape[axis] if i == axis else 1 for i in range(len(shape)))

    def chan(name: str | None) -> Expr | None:
        if name is None:
            return None
        v = pl.view(name).reshape(bshape)
        if v is None:
            v = pl.dense(name).reshape(bshape)
        return Load(v.broadcast_to(shape), dt)

    x, mean, var, scale, bias = node.inputs

    def build(args: list[Expr]) -> Expr:
        (xe,) = args
        m, v = chan(mean), chan(var)
        assert m is not None and v is not None  # mean and variance are required inputs
        y: Expr = Op("div", [Op("sub", [xe, m], dt),
                             Op("sqrt", [Op("add", [v, Const(node.attributes["epsilon"], dt)], dt)], dt)], dt)
        if scale is not None:
            y = Op("mul", [y, chan(scale)], dt)  # type: ignore[list-item]
        if bias is not None:
            y = Op("add", [y, chan(bias)], dt)  # type: ignore[list-item]
        return Op("identity", [y], dt, {}, node.name)

    pl.elementwise(node, [x], build)


register(("batch_normalization",), "elementwise", _batch_norm)


# -- views -----------------------------------------------------------------------------------------
def _reshape(pl: Any, node: Node) -> None:
    shape = pl.desc(node.outputs[0]).shape
    v = pl.view(node.inputs[0]).reshape(shape)
    if v is None:  # strides cannot express it: copy into a dense buffer first
        v = pl.dense(node.inputs[0]).reshape(shape)
    pl.set_view(node.outputs[0], v)


def _transpose(pl: Any, node: Node) -> None:
    v = pl.view(node.inputs[0])
    perm = node.attributes["permutation"]
    if perm is None:
        perm = tuple(reversed(range(len(v.shape))))
    pl.set_view(node.outputs[0], v.transpose(perm))


def _slice(pl: Any, node: Node) -> None:
    v = pl.view(node.inputs[0])
    a = node.attributes
    steps = a["strides"] if a["strides"] is not None else (1,) * len(v.shape)
    pl.set_view(node.outputs[0], v.slice(a["starts"], a["sizes"], steps))


def _expand(pl: Any, node: Node) -> None:
    pl.set_view(node.outputs[0], pl.view(node.inputs[0]).broadcast_to(pl.desc(node.outputs[0]).shape))


def _split(pl: Any, node: Node) -> None:
    v = pl.view(node.inputs[0])
    axis = node.attributes["axis"] % len(v.shape)
    start = 0
    for out in node.outputs:
        shape = pl.desc(out).shape
        starts = [start if d == axis else 0 for d in range(len(shape))]
        pl.set_view(out, v.slice(starts, shape, (1,) * len(shape)))
        start += shape[axis]


register(("reshape",), "view", _reshape)
register(("transpose",), "view", _transpose)
register(("slice",), "view", _slice)
register(("expand",), "view", _expand)
register(("split",), "view", _split)


def _concat(pl: Any, node: Node) -> None:
    pl.concat(node)


register(("concat",), "concat", _concat)


# -- kernels ---------------------------------------------------------------------------------------
def _operand(pl: Any, name: str | None) -> View:
    """A product's operand; a float16 weight cast to float32 is read where it is stored (its loader widens it),
    rather than copied to float32 every run."""
    from ..program import COMPUTE_TYPE
    from .elementwise import compute_type

    v = pl.source_view(name)
    if v.value.store not in ("dq", "dqh") and COMPUTE_TYPE[v.value.store] != compute_type(pl.desc(name).dtype, pl.f16):
        return pl.view(name)
    return v  # type: ignore[no-any-return]


def _matmul(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    a, b = (_operand(pl, i) for i in node.inputs)
    pl.kernel(node, "matmul", [a, b], desc.shape, desc.dtype, {})


def _gemm(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    at = node.attributes
    a, b = _operand(pl, node.inputs[0]), _operand(pl, node.inputs[1])
    if at["a_transpose"]:
        a = a.transpose((1, 0))
    if at["b_transpose"]:
        b = b.transpose((1, 0))
    dt = desc.dtype
    step = pl.kernel(node, "matmul", [a, b], desc.shape, dt, {}, lazy=False)
    tree: Expr = Acc(dt)
    if at["alpha"] != 1.0:
        tree = Op("mul", [tree, Const(at["alpha"], dt)], dt)
    c = node.inputs[2]
    if c is not None and at["beta"] != 0.0:
        ce: Expr = Load(pl.view(c).broadcast_to(desc.shape), dt)
        if at["beta"] != 1.0:
            ce = Op("mul", [ce, Const(at["beta"], dt)], dt)
        tree = Op("add", [tree, ce], dt)
    pl.set_lazy(node.outputs[0], tree, desc.shape, dt, step)


register(("matmul",), "matmul", _matmul, _int64_arith)
register(("gemm",), "matmul", _gemm)


def _split_spaces(x: View, out_shape: tuple[int, ...], red: list[int],
                  extra_red: list[tuple[tuple[int, ...], int]] = (),  # type: ignore[assignment]
                  with_out: bool = True) -> dict[str, Any]:
    """Row space (dims not in ``red``) and reduced space, as coalesced index spaces (input, logical output, extras)."""
    rank = len(x.shape)
    rows = [d for d in range(rank) if d not in red]
    lstr = dense_strides(x.shape)
    row_sets = [[x.strides[d] for d in rows]] + ([[lstr[d] for d in rows]] if with_out else [])
    rshape, rstr = coalesce([x.shape[d] for d in rows], row_sets)
    red_sets = [[x.strides[d] for d in red]] + ([[lstr[d] for d in red]] if with_out else [])
    red_sets += [list(s) for s, _ in extra_red]
    qshape, qstr = coalesce([x.shape[d] for d in red], red_sets)
    row_offsets = [x.offset] + ([0] if with_out else [])
    red_offsets = [0] + ([0] if with_out else []) + [off for _, off in extra_red]
    count = 1
    for d in red:
        count *= x.shape[d]
    return {"row_shape": rshape, "row_views": list(zip(rstr, row_offsets)),
            "red_shape": qshape, "red_views": list(zip(qstr, red_offsets)), "red_count": count}


def _reduce(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    x = pl.view(node.inputs[0])
    rank = len(x.shape)
    axes = node.attributes["axes"]
    red = sorted(a % rank for a in axes) if axes is not None else list(range(rank))
    params = _split_spaces(x, desc.shape, red, with_out=False)
    params["kind"] = node.op.split("_")[1]
    pl.kernel(node, "reduce", [x], desc.shape, desc.dtype, params)


register(("reduce_sum", "reduce_mean"), "reduce", _reduce, _int64_arith)
register(("reduce_max", "reduce_min"), "reduce", _reduce)


def _softmax(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    x = pl.view(node.inputs[0])
    axis = node.attributes["axis"] % len(x.shape)
    pl.kernel(node, "softmax", [x], desc.shape, desc.dtype, _split_spaces(x, desc.shape, [axis]))


def _layer_norm(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    x = pl.view(node.inputs[0])
    rank = len(x.shape)
    axes_attr = node.attributes["axes"]
    rms = node.op == "rms_normalization"
    default = [rank - 1] if rms else range(1, rank)
    axes = [a % rank for a in (axes_attr if axes_attr is not None else default)]
    red = sorted(axes)
    extra, views = [], [x]
    for name in node.inputs[1:]:
        if name is None:
            continue
        v = pl.view(name)  # its dims follow `axes` order; give strides in sorted-axis order
        extra.append((tuple(v.strides[axes.index(d)] for d in red), v.offset))
        views.append(v)
    params = _split_spaces(x, desc.shape, red, extra)
    params.update(has_scale=node.inputs[1] is not None, has_bias=not rms and node.inputs[2] is not None,
                  epsilon=node.attributes["epsilon"], rms=rms)
    pl.kernel(node, "layer_norm", views, desc.shape, desc.dtype, params)


register(("softmax",), "softmax", _softmax)
register(("layer_normalization", "rms_normalization"), "layer_norm", _layer_norm)

_FILTER_OIHW = {"oihw": (0, 1, 2, 3), "hwio": (3, 2, 0, 1), "ohwi": (0, 3, 1, 2), "ihwo": (3, 0, 1, 2)}


def _nchw(v: View, layout: str) -> tuple[int, ...]:
    s = v.strides
    return s if layout == "nchw" else (s[0], s[3], s[1], s[2])


def _out_nchw(shape: tuple[int, ...], layout: str) -> tuple[int, int, int, int]:
    n, a, b, c = shape
    return (n, a, b, c) if layout == "nchw" else (n, c, a, b)


def conv_variant(x_shape: tuple[int, ...], f_oihw: tuple[int, ...], attrs: Any, layout: str) -> str:
    """Which kernel a conv2d takes: "pointwise" (1×1, stride 1, no padding, one group: a matrix product),
    "depthwise" (one input and one output channel per group) or "direct" (the general kernel)."""
    o, ci, kh, kw = f_oihw
    cin = x_shape[1] if layout == "nchw" else x_shape[3]
    if (kh, kw) == (1, 1) and tuple(attrs["strides"]) == (1, 1) and not any(attrs["padding"]) and attrs["groups"] == 1:
        return "pointwise"
    if attrs["groups"] == cin == o and ci == 1:
        return "depthwise"
    return "direct"


def _pointwise(pl: Any, node: Node, x: View, f: View, fperm: tuple[int, ...], layout: str) -> Any:
    """A 1×1 conv as a batched matrix product, or None when the input's spatial dims cannot be one view dim.

    NCHW: out[n] (O × HW) = W (O × C) @ x[n] (C × HW); NHWC: out[n] (HW × O) = x[n] (HW × C) @ Wᵀ (C × O). The
    product's [N, M, N'] index space is the output's own flat order, so the epilogue sees the conv's 4-D shape.
    """
    desc = pl.desc(node.outputs[0])
    n, o = desc.shape[0], f.shape[fperm[0]]
    w = View(f.value, (o, f.shape[fperm[1]]), (f.strides[fperm[0]], f.strides[fperm[1]]), f.offset)
    if layout == "nchw":
        c, h, wd = x.shape[1:]
        xm = x.reshape((n, c, h * wd))
        if xm is None:
            return None
        a, b, matrix = w, xm, (n, o, h * wd)
    else:
        h, wd, c = x.shape[1:]
        xm = x.reshape((n, h * wd, c))
        if xm is None:
            return None
        a, b, matrix = xm, w.transpose((1, 0)), (n, h * wd, o)
    return pl.kernel(node, "matmul", [a, b], desc.shape, desc.dtype, {"matrix": matrix, "variant": "conv2d 1×1"},
                     lazy=False)


def _conv2d(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    at = node.attributes
    layout = at["input_layout"]
    x, f = pl.view(node.inputs[0]), pl.view(node.inputs[1])
    xs = x.shape if layout == "nchw" else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
    fperm = _FILTER_OIHW[at["filter_layout"]]
    fshape = tuple(f.shape[p] for p in fperm)
    o, ci, kh, kw = fshape
    out = _out_nchw(desc.shape, layout)
    dt = desc.dtype
    variant = conv_variant(x.shape, fshape, at, layout)
    step = _pointwise(pl, node, x, f, fperm, layout) if variant == "pointwise" else None
    if step is None:
        params = {"layout": layout, "out_nchw": out, "in_hw": xs[2:], "kernel": (kh, kw), "strides": at["strides"],
                  "dilations": at["dilations"], "pad_tl": (at["padding"][0], at["padding"][2]),
                  "x_strides": _nchw(x, layout), "f_strides": tuple(f.strides[p] for p in fperm),
                  "cin_per_group": ci, "cout_per_group": o // at["groups"],
                  "variant": "conv2d depthwise" if variant == "depthwise" else "conv2d"}
        family = "depthwise" if variant == "depthwise" else "conv2d"
        step = pl.kernel(node, family, [x, f], desc.shape, dt, params, lazy=False)
    tree: Expr = Acc(dt)
    if node.inputs[2] is not None:
        bshape = (1, o, 1, 1) if layout == "nchw" else (1, 1, 1, o)
        bv = pl.view(node.inputs[2]).reshape(bshape)
        tree = Op("add", [tree, Load(bv.broadcast_to(desc.shape), dt)], dt)
    pl.set_lazy(node.outputs[0], tree, desc.shape, dt, step)


def _pool(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    at = node.attributes
    layout = at["layout"]
    x = pl.view(node.inputs[0])
    xs = x.shape if layout == "nchw" else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
    window = at["window_dimensions"] or xs[2:]
    params = {"layout": layout, "out_nchw": _out_nchw(desc.shape, layout), "in_hw": xs[2:], "kernel": tuple(window),
              "strides": at["strides"], "dilations": at["dilations"], "pad_tl": (at["padding"][0], at["padding"][2]),
              "x_strides": _nchw(x, layout), "kind": "max" if node.op == "max_pool2d" else "avg"}
    pl.kernel(node, "pool2d", [x], desc.shape, desc.dtype, params)


register(("conv2d",), "conv2d", _conv2d)  # the family of the general kernel; 1×1 and depthwise convs pick theirs
register(("average_pool2d", "max_pool2d"), "pool2d", _pool)


def _gather(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    x, idx = pl.view(node.inputs[0]), pl.view(node.inputs[1])
    axis = node.attributes["axis"] % len(x.shape)
    oshape, (ostr,) = coalesce(x.shape[:axis], [x.strides[:axis]])
    ishape, (istr,) = coalesce(x.shape[axis + 1:], [x.strides[axis + 1:]])
    jshape, (jstr,) = coalesce(idx.shape, [idx.strides])
    count = 1
    for d in idx.shape:
        count *= d
    params = {"outer_shape": oshape, "outer_strides": ostr, "inner_shape": ishape, "inner_strides": istr,
              "idx_shape": jshape, "idx_strides": jstr, "idx_count": count, "axis_len": x.shape[axis],
              "axis_stride": x.strides[axis]}
    pl.kernel(node, "gather", [x, idx], desc.shape, desc.dtype, params)


def _pad(pl: Any, node: Node) -> None:
    desc = pl.desc(node.outputs[0])
    at = node.attributes
    value = at["value"]
    if desc.dtype not in ("float32", "float16"):
        value = int(value)  # within the dtype's range: the table's check refuses others
    params = {"begin": at["beginning_padding"], "mode": at["mode"], "value": value}
    pl.kernel(node, "pad", [pl.view(node.inputs[0])], desc.shape, desc.dtype, params)


register(("gather",), "gather", _gather)
register(("pad",), "pad", _pad, _int64_fill)


# -- low-bit weights and cache writes ------------------------------------------------------------------------
def _dequantize(pl: Any, node: Node) -> None:
    """No kernel: the output is a virtual value that every reader decodes where it reads (kernels/qmatmul.py
    for matrix products, the value's loader elsewhere), so packed weights stay packed on the device."""
    from ..views import Quant

    desc = pl.desc(node.outputs[0])
    x, scale, zero_point, bias = node.inputs
    q = pl.view(x)
    s = pl.source_view(scale)
    z = pl.source_view(zero_point) if zero_point is not None else None
    b = pl.source_view(bias) if bias is not None else None
    dims = (1,) * (len(q.shape) - len(s.shape)) + s.shape
    blocks = tuple(n if d == 1 else n // d if d else 1 for n, d in zip(q.shape, dims))
    store = "dqh" if pl.f16 and desc.dtype == "float16" else "dq"
    value = pl.new_value(desc.dtype, desc.size, "virtual", node.outputs[0], store)
    value.quant = Quant(q, s, z, b, blocks)
    pl.set_view(node.outputs[0], View.dense(value, desc.shape))


register(("dequantize_linear",), "dequantize", _dequantize)


def _scatter_nd(pl: Any, node: Node) -> None:
    """Copy the input, then write the updates over it; a graph input the scatter alone reads, whose result is a
    graph output (a KV cache: past in, present out), is updated in place instead — only the updates are written,
    and the output shares the input's buffer (see ``Planner.update_in_place``)."""
    pl.scatter(node)


register(("scatter_nd",), "scatter", _scatter_nd)
