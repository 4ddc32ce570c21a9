"""The elementwise family: one WGSL expression per op, and the kernel that evaluates a fused tree.

``EW_OPS[op]`` turns argument expressions into the op's WGSL expression. Every elementwise op, every
fused chain and every kernel epilogue (bias + activation after a matmul or conv) goes through
``render_store``, which reads each leaf through the indexing helper, evaluates the tree and writes
the result through the output view. Numpy broadcasting is nothing but stride-0 views.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..expr import Acc, Const, Expr, Load, Op, has_acc, walk
from ..program import COMPUTE_TYPE, Program, flat_thread, grid
from ..views import View, coalesce
from .wgslmath import use

INT8 = ("int8", "uint8")


@dataclass
class Ctx:
    """What an op's WGSL expression may depend on."""

    prog: Program
    t: str  # result compute type
    ta: list[str]  # argument compute types
    dtype: str  # result graph dtype
    in_dtypes: list[str]
    attrs: dict[str, Any]

    def fn(self, name: str, t: str | None = None) -> str:
        return use(self.prog, name, t or self.t)

    @property
    def is_float(self) -> bool:
        return self.t in ("f32", "f16")


def _binary(sym: str) -> Callable[[Ctx, list[str]], str]:
    return lambda c, a: f"({a[0]} {sym} {a[1]})"


def _div(c: Ctx, a: list[str]) -> str:
    if c.is_float:
        return f"({a[0]} / {a[1]})"
    return f"select({a[0]} / {a[1]}, {c.t}(0), {a[1]} == {c.t}(0))"


def _minmax(name: str) -> Callable[[Ctx, list[str]], str]:
    def f(c: Ctx, a: list[str]) -> str:
        if c.is_float:
            return f"{c.fn(name)}({a[0]}, {a[1]})"
        return f"{name}({a[0]}, {a[1]})"

    return f


def _pow(c: Ctx, a: list[str]) -> str:
    if c.is_float:
        return f"{c.fn('pow')}({a[0]}, {a[1]})"
    return f"{use(c.prog, 'pow_' + c.t)}({a[0]}, {a[1]})"


def _compare(sym: str) -> Callable[[Ctx, list[str]], str]:
    return lambda c, a: f"select(0u, 1u, {a[0]} {sym} {a[1]})"


def _float_fn(name: str) -> Callable[[Ctx, list[str]], str]:
    return lambda c, a: f"{c.fn(name)}({a[0]})"


def _builtin(name: str) -> Callable[[Ctx, list[str]], str]:
    return lambda c, a: f"{name}({a[0]})"


def _relu(c: Ctx, a: list[str]) -> str:
    return f"select({a[0]}, {c.t}(0), {a[0]} < {c.t}(0))"


def _clamp(c: Ctx, a: list[str]) -> str:
    lo, hi = c.attrs["min_value"], c.attrs["max_value"]
    if c.is_float:
        return f"{c.fn('clamp')}({a[0]}, {c.prog.scalar(lo, c.t)}, {c.prog.scalar(hi, c.t)})"
    from ....ir.dtypes import dtype_info

    info = dtype_info(c.dtype)
    ilo = max(int(info.min), math.ceil(lo) if math.isfinite(lo) else int(info.min))
    ihi = min(int(info.max), math.floor(hi) if math.isfinite(hi) else int(info.max))
    if c.t == "i32":
        ilo, ihi = max(ilo, -(2**31)), min(ihi, 2**31 - 1)
    return f"clamp({a[0]}, {c.prog.scalar(ilo, c.t)}, {c.prog.scalar(ihi, c.t)})"


_INT_RANGE = {"int8": (-128.0, 127.0), "uint8": (0.0, 255.0), "int32": (-2147483648.0, 2147483647.0),
              "int64": (-2147483648.0, 2147483647.0), "uint32": (0.0, 4294967295.0)}


def _cast(c: Ctx, a: list[str]) -> str:
    src, dst = c.ta[0], c.t
    x = a[0]
    src_float, dst_float = src in ("f32", "f16"), dst in ("f32", "f16")
    if src_float and dst_float:
        if c.dtype == "float16" and dst == "f32":  # float16 carried as f32: round to half precision
            return f"{use(c.prog, 'round_f16')}(f32({x}))"
        return f"{dst}({x})"
    if src_float:
        lo, hi = _INT_RANGE[c.dtype]
        if dst == "u32":
            return f"{use(c.prog, 'to_u32', src)}({x}, {hi!r})"
        return f"{use(c.prog, 'to_i32', src)}({x}, {lo!r}, {hi!r})"
    if dst_float:
        v = f"{dst}({x})"
        return f"{use(c.prog, 'round_f16')}({v})" if c.dtype == "float16" and dst == "f32" else v
    # integer to integer: keep the low bits (wrap), as numpy's astype does
    v = x if src == dst else f"bitcast<{dst}>({x})"
    return v  # 8-bit targets are wrapped by the caller (wrap8)


EW_OPS: dict[str, Callable[[Ctx, list[str]], str]] = {
    "add": _binary("+"),
    "sub": _binary("-"),
    "mul": _binary("*"),
    "div": _div,
    "max": _minmax("max"),
    "min": _minmax("min"),
    "pow": _pow,
    "equal": _compare("=="),
    "greater": _compare(">"),
    "greater_or_equal": _compare(">="),
    "lesser": _compare("<"),
    "lesser_or_equal": _compare("<="),
    "logical_not": lambda c, a: f"select(0u, 1u, {a[0]} == 0u)",
    "where": lambda c, a: f"select({a[2]}, {a[1]}, {a[0]} != 0u)",
    "abs": _builtin("abs"),
    "neg": lambda c, a: f"(-{a[0]})",
    "exp": _float_fn("exp"),
    "log": _float_fn("log"),
    "sqrt": _float_fn("sqrt"),
    "reciprocal": lambda c, a: f"({c.t}(1.0) / {a[0]})",
    "erf": _float_fn("erf"),
    "tanh": _float_fn("tanh"),
    "sigmoid": _float_fn("sigmoid"),
    "relu": _relu,
    "floor": _builtin("floor"),
    "ceil": _builtin("ceil"),
    "sin": _float_fn("sin"),
    "cos": _float_fn("cos"),
    "identity": lambda c, a: a[0],
    "gelu": _float_fn("gelu"),
    "clamp": _clamp,
    "cast": _cast,
}


def compute_type(dtype: str, f16: bool) -> str:
    """The WGSL type a value of graph ``dtype`` is computed in."""
    return {"float32": "f32", "float16": "f16" if f16 else "f32", "int32": "i32", "int64": "i32",
            "int8": "i32", "uint32": "u32", "uint8": "u32"}[dtype]


def wrap8(expr: str, dtype: str, t: str) -> str:
    """Wrap an integer result into int8/uint8 range, as numpy's int8/uint8 arithmetic does."""
    if dtype == "int8":
        v = expr if t == "i32" else f"bitcast<i32>({expr})"
        return f"((({v}) << 24u) >> 24u)"
    if dtype == "uint8":
        v = expr if t == "u32" else f"bitcast<u32>({expr})"
        return f"(({v}) & 255u)"
    return expr


def render_tree(
    prog: Program, tree: Expr, leaf: dict[int, str], acc: str, f16: bool, acc_type: str = ""
) -> tuple[list[str], str]:
    """WGSL statements evaluating ``tree`` (loads at the offsets in ``leaf``, keyed by id) and the result."""
    lines: list[str] = []
    names: dict[int, str] = {}
    for k, node in enumerate(walk(tree)):
        t = compute_type(node.dtype, f16)
        if isinstance(node, Acc):
            expr = acc if acc_type in ("", t) else f"{t}({acc})"
        elif isinstance(node, Load):
            expr = f"{prog.loader(node.view.value)}({leaf[id(node)]})"
            if COMPUTE_TYPE[node.view.value.store] != t:
                expr = f"{t}({expr})"
        elif isinstance(node, Const):
            expr = prog.scalar(node.value, t)
        elif isinstance(node, Op):
            args = [names[id(a)] for a in node.args]
            ctx = Ctx(prog, t, [compute_type(a.dtype, f16) for a in node.args], node.dtype,
                      [a.dtype for a in node.args], node.attrs)
            expr = EW_OPS[node.op](ctx, args)
            if node.dtype in INT8:
                expr = wrap8(expr, node.dtype, t)
        else:  # pragma: no cover
            raise AssertionError(node)
        name = f"v{k}"
        lines.append(f"let {name}: {t} = {expr};")
        names[id(node)] = name
    return lines, names[id(tree)]


def render_store(prog: Program, out: View, shape: tuple[int, ...], tree: Expr | None, acc_type: str, f16: bool) -> None:
    """Add ``fn store(oi, acc)``: evaluate the epilogue tree at flat output index ``oi`` and write it."""
    tree = tree if tree is not None else Acc(out.value.dtype)
    lds = [n for n in walk(tree) if isinstance(n, Load)]
    for ld in lds:
        assert ld.view.shape == shape, (ld.view.shape, shape)
    cshape, cstrides = coalesce(shape, [ld.view.strides for ld in lds] + [out.strides])
    views = [(s, ld.view.offset) for s, ld in zip(cstrides, lds)] + [(cstrides[-1], out.offset)]
    idx_lines, offs = prog.index("oi", cshape, views, "e")
    leaf = {id(ld): o for ld, o in zip(lds, offs)}
    tree_lines, result = render_tree(prog, tree, leaf, "acc", f16, acc_type)
    body = "\n  ".join(idx_lines + tree_lines + [f"{prog.store_ref(out.value, offs[-1])} = {result};"])
    param = f", acc: {acc_type}" if has_acc(tree) else ""
    prog.helper("store", f"fn store(oi: u32{param}) {{\n  {body}\n}}")


def render_coord_store(prog: Program, out: View, shape: tuple[int, ...], tree: Expr | None, acc_type: str,
                       f16: bool) -> bool:
    """Add ``fn store(i0: u32, .., acc)`` taking the output element's coordinates over ``shape`` (which the
    epilogue's loads and ``out`` are reshaped to): each offset is a sum of coordinate × stride, no division.

    For kernels that know their coordinates (matrix products: batch, row, column; convolutions: n, channel, y, x):
    the flat ``store(oi)`` of :func:`render_store` splits ``oi`` by division per element, which costs more than the
    product itself when it sums few terms (a 1×1 conv over 16 channels). False (nothing added) when a view cannot
    take ``shape``; the caller then uses :func:`render_store`.
    """
    tree = tree if tree is not None else Acc(out.value.dtype)
    lds = [n for n in walk(tree) if isinstance(n, Load)]
    views = [v.reshape(shape) if v.shape != tuple(shape) else v for v in [*(ld.view for ld in lds), out]]
    if any(v is None for v in views):
        return False
    offs = []
    lines = []
    for k, v in enumerate(views):
        assert v is not None
        terms = [prog.u32(v.offset)] + [f"i{d} * {prog.u32(st)}" for d, st in enumerate(v.strides)
                                        if st and shape[d] != 1]
        lines.append(f"let eo{k} = {' + '.join(terms)};")
        offs.append(f"eo{k}")
    leaf = {id(ld): o for ld, o in zip(lds, offs)}
    tree_lines, result = render_tree(prog, tree, leaf, "acc", f16, acc_type)
    body = "\n  ".join(lines + tree_lines + [f"{prog.store_ref(out.value, offs[-1])} = {result};"])
    params = ", ".join(f"i{d}: u32" for d in range(len(shape)))
    param = f", acc: {acc_type}" if has_acc(tree) else ""
    prog.helper("store", f"fn store({params}{param}) {{\n  {body}\n}}")
    return True


WG = 64


def elementwise_program(
    prog: Program, out: View, shape: tuple[int, ...], tree: Expr, f16: bool
) -> tuple[str, tuple[int, int, int]]:
    """The plain elementwise kernel: one invocation per output element, all work in ``store``."""
    render_store(prog, out, shape, tree, "f32", f16)
    n = math.prod(shape)
    total = prog.u32(n)
    body = f"  {flat_thread(WG)}\n  if (gi >= {total}) {{ return; }}\n  store(gi);"
    return prog.render(body, (WG, 1, 1)), grid(-(-n // WG), prog.label)
