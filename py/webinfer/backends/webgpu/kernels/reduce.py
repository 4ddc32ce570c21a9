"""Row reductions: reduce_sum/mean/max/min, softmax (max-subtracted) and layer_normalization (two-pass).

A step's input is split into a *row* space (the dims kept) and a *reduced* space (the axes); both
are index spaces of the one indexing helper, so any axes and any input strides work. One workgroup
of 64 invocations reduces a row through workgroup memory (a tree, no subgroup operations); a
reduction over few elements with many rows, or any with enough rows on a CPU adapter, uses one
invocation per row instead (see ``_serial``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..program import FLAT_WG, Program, flat_thread, grid
from ..step import Step
from .elementwise import compute_type, render_store
from .wgslmath import use

WG = 64


def _combine(kind: str, t: str, prog: Program) -> str:
    """WGSL combining accumulator ``a`` with ``b``."""
    if kind in ("sum", "mean"):
        return "a + b"
    if t in ("f32", "f16"):
        return f"{use(prog, kind, t)}(a, b)"
    return f"{kind}(a, b)"


def _init(kind: str, t: str, prog: Program) -> str:
    if kind in ("sum", "mean"):
        return f"{t}(0)"
    if t in ("f32", "f16"):
        inf = use(prog, "inf", t)
        return f"-{inf}()" if kind == "max" else f"{inf}()"
    if t == "i32":
        return "i32(-2147483648)" if kind == "max" else "2147483647"
    return "0u" if kind == "max" else "4294967295u"


def _tree_reduce(t: str, combine: str, src: str, dst: str) -> list[str]:
    """Workgroup reduction of each invocation's ``src`` into ``dst`` (every invocation gets it)."""
    return [
        f"red[li] = {src};",
        "workgroupBarrier();",
        "for (var st = 32u; st > 0u; st = st >> 1u) {",
        f"  if (li < st) {{ let a = red[li]; let b = red[li + st]; red[li] = {combine}; }}",
        "  workgroupBarrier();",
        "}",
        f"let {dst} = red[0];",
        "workgroupBarrier();",
    ]


SERIAL_WG = 16


def _serial(prog: Program, rows: int, count: int) -> bool:
    """One invocation per row (no workgroup memory, no barriers) instead of one workgroup per row.

    Always for short rows with many of them; on a CPU adapter (``register`` tiling) whenever there are
    enough rows to share out, since a barrier there suspends every invocation of the workgroup.
    """
    if count <= 16 and rows >= WG:
        return True
    return prog.tiling == "register" and rows >= SERIAL_WG and count <= 1 << 16


def _row_head(prog: Program, serial: bool, rows: int) -> tuple[list[str], str, str, tuple[int, int, int]]:
    """The row this invocation (serial) or workgroup reduces; the loop start and step; the grid."""
    if serial:
        return ([flat_thread(SERIAL_WG), f"if (gi >= {prog.u32(rows)}) {{ return; }}", "let row = gi;"], "0u", "1u",
                grid(-(-rows // SERIAL_WG), prog.label))
    head = [FLAT_WG, f"if (wg >= {prog.u32(rows)}) {{ return; }}", "let row = wg;"]
    return head, "li", f"{WG}u", grid(rows, prog.label)


def _total(serial: bool, t: str, combine: str, src: str, dst: str) -> list[str]:
    """Combine the invocations' partial results (a workgroup tree), or take the one serial result."""
    return [f"let {dst} = {src};"] if serial else _tree_reduce(t, combine, src, dst)


def _loop(handle: tuple[int, int, int], prog: Program, count: str, first: str, step: str, inner: list[str],
          tag: str = "r") -> list[str]:
    """A loop over the reduced space; the body sees the element's offsets as ``ro0``, ``ro1``, ..."""
    idx, _ = prog.index_code("r", handle, "r")
    return [f"for (var r = {first}; r < {count}; r = r + {step}) {{", *["  " + s for s in idx + inner], "}"]


def reduce_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """reduce_sum / reduce_mean / reduce_max / reduce_min over ``params['axes']``."""
    (x,) = step.inputs
    kind = step.params["kind"]
    t = compute_type(x.value.dtype, f16)
    acc_t = "f32" if t == "f16" else t
    render_store(prog, step.out, step.shape, step.tree, acc_t, f16)  # type: ignore[arg-type]
    rows_h, red_h, rows, count = _spaces(prog, step)
    ld = prog.loader(x.value)
    combine = _combine(kind, acc_t, prog)
    init = _init(kind, acc_t, prog)
    n = prog.u32(count)
    if kind == "mean":  # floats: 0/0 = NaN for an empty reduction; integers truncate (count >= 1)
        fin = "total / f32(n)" if acc_t == "f32" else f"total / {acc_t}(max(n, 1u))"
    else:
        fin = "total"
    serial = _serial(prog, rows, count)
    row_idx, (ri,) = prog.index_code("row", rows_h, "w")
    inner = [f"let b = {acc_t}({ld}({ri} + ro0));", f"a = {combine};"]
    if not serial:
        prog.decls.append(f"var<workgroup> red: array<{acc_t}, {WG}>;")
    head, first, stride, wg = _row_head(prog, serial, rows)
    lines = [*head, *row_idx, f"let n = {n};", f"var a = {init};",
             *_loop(red_h, prog, "n", first, stride, inner, "r"),
             *_total(serial, acc_t, combine, "a", "total"),
             f"store(row, {fin});" if serial else f"if (li == 0u) {{ store(row, {fin}); }}"]
    return _render(prog, lines, serial, wg)


def _spaces(prog: Program, step: Step) -> tuple[tuple[int, int, int], tuple[int, int, int], int, int]:
    """Index spaces for rows (kept dims) and the reduced dims, from the step's precomputed layout."""
    p = step.params
    rows_h = prog.index_words(p["row_shape"], p["row_views"])
    red_h = prog.index_words(p["red_shape"], p["red_views"])
    return rows_h, red_h, math.prod(p["row_shape"]), p["red_count"]


# exp(x - m) with the difference carried exactly (two-sum): x - m rounds when |x - m| is large, and
# exp turns that rounding into a large relative error (75 ULP at x - m = -75)
EXP_DIFF = """fn {ex}d(x: f32, m: f32) -> f32 {{
  let d = x - m;
  if (d != d || abs(d) > 3.0e38) {{ return {ex}(d); }}
  let bv = d - x;
  let err = (x - (d - bv)) + (-m - bv);
  return {ex}(d) * (1.0 + err);
}}"""


@dataclass(frozen=True)
class _FloatRows:
    """A float32 pass over rows (softmax, layer_normalization): ``head`` picks the row and sets ``n``; the
    loops see the row's element as ``val`` and the row's output offset as ``rl``."""

    prog: Program
    serial: bool
    red_h: tuple[int, int, int]
    first: str
    stride: str
    wg: tuple[int, int, int]
    head: list[str]
    val: str
    rl: str

    def loop(self, inner: list[str], tag: str) -> list[str]:
        return _loop(self.red_h, self.prog, "n", self.first, self.stride, inner, tag)

    def total(self, combine: str, src: str, dst: str) -> list[str]:
        return _total(self.serial, "f32", combine, src, dst)

    def render(self, body: list[str]) -> tuple[str, tuple[int, int, int]]:
        return _render(self.prog, [*self.head, *body], self.serial, self.wg)


def _float_rows(prog: Program, step: Step, f16: bool) -> _FloatRows:
    """Store, index spaces and row head of a float32 row pass over ``step.inputs[0]`` (serial by device only, so
    one pipeline serves every shape)."""
    render_store(prog, step.out, step.shape, step.tree, "f32", f16)  # type: ignore[arg-type]
    rows_h, red_h, rows, count = _spaces(prog, step)
    ld = prog.loader(step.inputs[0].value)
    row_idx, (ri, rl) = prog.index_code("row", rows_h, "w")
    n = prog.u32(count)
    serial = prog.tiling == "register"
    if not serial:
        prog.decls.append(f"var<workgroup> red: array<f32, {WG}>;")
    head, first, stride, wg = _row_head(prog, serial, rows)
    return _FloatRows(prog, serial, red_h, first, stride, wg, [*head, *row_idx, f"let n = {n};"],
                      f"f32({ld}({ri} + ro0))", rl)


def _render(
    prog: Program, lines: list[str], serial: bool, wg: tuple[int, int, int]
) -> tuple[str, tuple[int, int, int]]:
    """The shader (one invocation per row, or one workgroup) and its grid."""
    return prog.render("  " + "\n  ".join(lines), (SERIAL_WG if serial else WG, 1, 1)), wg


def softmax_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """softmax along one axis: max, sum of exp(x - max), then exp(x - max) / sum — one workgroup per row."""
    rows = _float_rows(prog, step, f16)
    mx, ex = use(prog, "max", "f32"), use(prog, "exp", "f32")
    val = rows.val
    lines = ["var a = -inf_f32();",
             *rows.loop([f"a = {mx}(a, {val});"], "r"),
             *rows.total(f"{mx}(a, b)", "a", "m0"),
             "let m = m0;  // an inf or NaN in the row makes the row NaN, as the reference (and torch) do",
             "var s = 0.0;",
             *rows.loop([f"s = s + {ex}d({val}, m);"], "q"),
             *rows.total("a + b", "s", "total"),
             *rows.loop([f"store({rows.rl} + ro1, {ex}d({val}, m) / total);"], "p")]
    prog.helper(f"{ex}d", EXP_DIFF.format(ex=ex))
    return rows.render(lines)


def layer_norm_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """layer_normalization: mean, then variance of (x - mean), then (x - mean) / sqrt(var + eps) · scale + bias;
    rms_normalization: mean of x², then x / sqrt(that + eps) · scale (one pass fewer)."""
    if step.params.get("rms"):
        return _rms_norm(prog, step, f16)
    scale, bias = step.params["has_scale"], step.params["has_bias"]
    rows = _float_rows(prog, step, f16)
    lds = prog.loader(step.inputs[1].value) if scale else None
    ldb = prog.loader(step.inputs[1 + scale].value) if bias else None
    eps = prog.f32(step.params["epsilon"])
    val = rows.val
    y = "(v - mean) * inv"
    if scale:
        y = f"{y} * f32({lds}(ro2))"
    if bias:
        y = f"{y} + f32({ldb}(ro{2 + scale}))"
    lines = ["var a = 0.0;",
             *rows.loop([f"a = a + {val};"], "r"),
             *rows.total("a + b", "a", "sum1"),
             "let mean = sum1 / f32(n);",
             "var s = 0.0;",
             *rows.loop([f"let d = {val} - mean;", "s = s + d * d;"], "q"),
             *rows.total("a + b", "s", "sum2"),
             f"let inv = 1.0 / sqrt(sum2 / f32(n) + {eps});",
             *rows.loop([f"let v = {val};", f"store({rows.rl} + ro1, {y});"], "p")]
    return rows.render(lines)


def _rms_norm(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    scale = step.params["has_scale"]
    rows = _float_rows(prog, step, f16)
    lds = prog.loader(step.inputs[1].value) if scale else None
    eps = prog.f32(step.params["epsilon"])
    val = rows.val
    y = "v * inv" + (f" * f32({lds}(ro2))" if scale else "")
    lines = ["var s = 0.0;",
             *rows.loop([f"let d = {val};", "s = s + d * d;"], "q"),
             *rows.total("a + b", "s", "sum2"),
             f"let inv = 1.0 / sqrt(sum2 / f32(n) + {eps});",
             *rows.loop([f"let v = {val};", f"store({rows.rl} + ro1, {y});"], "p")]
    return rows.render(lines)
