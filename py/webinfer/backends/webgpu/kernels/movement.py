"""Data movement kernels: gather (indices clamped in WGSL), scatter (the writes of scatter_nd), pad (constant, edge,
reflection) and pack.

``pack`` writes a graph output whose dtype WGSL cannot store (float16 without shader-f16, int8,
uint8) as packed u32 words, one invocation per word (so no two invocations write one word).
"""

from __future__ import annotations

import math

from ..program import WGSL_SCALAR, Program, flat_thread, grid
from ..step import Step
from ..views import coalesce
from .elementwise import compute_type, render_store
from .wgslmath import use

WG = 64


def gather_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """out[outer, j, inner] = x[outer, clamp(idx[j]), inner]; negative indices count from the end."""
    x, idx = step.inputs
    p = step.params
    t = compute_type(step.dtype, f16)
    render_store(prog, step.out, step.shape, step.tree, t, f16)  # type: ignore[arg-type]
    ldx, ldi = prog.loader(x.value), prog.loader(idx.value)
    outer_h = prog.index_words(p["outer_shape"], [(p["outer_strides"], x.offset)])
    idx_h = prog.index_words(p["idx_shape"], [(p["idx_strides"], idx.offset)])
    inner_h = prog.index_words(p["inner_shape"], [(p["inner_strides"], 0)])
    n_axis, s_axis = prog.i32(p["axis_len"]), prog.u32(p["axis_stride"])
    inner_n, j_n = prog.u32(math.prod(p["inner_shape"])), prog.u32(p["idx_count"])
    total = math.prod(step.shape)
    oc, (oo,) = prog.index_code("ou", outer_h, "a")
    ic, (io,) = prog.index_code("jj", idx_h, "b")
    nc, (no,) = prog.index_code("inn", inner_h, "c")
    if idx.value.store in ("u32", "pu8"):
        read = f"let raw = {ldi}({io}); var k = i32(min(raw, u32(max({n_axis} - 1, 0))));"
    else:
        read = f"var k = i32({ldi}({io})); if (k < 0) {{ k = k + {n_axis}; }}"
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}", "let oi = gi;",
             f"let inn = oi % {inner_n}; let rest = oi / {inner_n};",
             f"let jj = rest % {j_n}; let ou = rest / {j_n};",
             *oc, *ic, *nc, read,
             f"k = clamp(k, 0, max({n_axis} - 1, 0));",
             f"var v = {t}(0);",
             f"if ({n_axis} > 0) {{ v = {t}({ldx}({oo} + u32(k) * {s_axis} + {no})); }}",
             "store(oi, v);"]
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)


def scatter_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """out[idx[u, 0], ..., idx[u, k-1], inner] = updates[u, inner]: one invocation per update element.

    Only the updates are written (the planner has put the input's values in ``out`` already, or ``out`` is the
    input itself, updated in place). Negative indices count from the end and out-of-range ones clamp, as
    gather's: never a write out of bounds.
    """
    idx, upd = step.inputs
    out = step.out
    assert out is not None
    k = step.params["depth"]
    total = math.prod(upd.shape)
    lead = idx.shape[:-1]
    inner_shape = out.shape[k:]
    inner = math.prod(inner_shape)
    ldi, ldu = prog.loader(idx.value), prog.loader(upd.value)
    ushape, (ustr,) = coalesce(upd.shape, [upd.strides])
    upd_h = prog.index_words(ushape, [(ustr, upd.offset)])
    lshape, (lstr,) = coalesce(lead or (1,), [idx.strides[:-1] or (0,)])
    idx_h = prog.index_words(lshape, [(lstr, idx.offset)])
    ishape, (istr,) = coalesce(inner_shape or (1,), [out.strides[k:] or (0,)])
    inner_h = prog.index_words(ishape, [(istr, out.offset)])
    uc, (uo,) = prog.index_code("gi", upd_h, "a")
    ic, (io,) = prog.index_code("u", idx_h, "b")
    nc, (no,) = prog.index_code("e", inner_h, "c")
    last = prog.u32(idx.strides[-1])
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}", f"let inner = {prog.u32(max(inner, 1))};",
             "let u = gi / inner;", "let e = gi % inner;", *uc, *ic, *nc, f"var off = {no};"]
    unsigned = idx.value.store in ("u32", "pu8")
    for d in range(k):
        n, st = prog.i32(out.shape[d]), prog.u32(out.strides[d])
        read = f"{ldi}({io} + {d}u * {last})"
        lines.append(f"{{ var c = i32({read});" if not unsigned else f"{{ var c = i32(min({read}, 2147483647u));")
        if not unsigned:
            lines.append(f"  if (c < 0) {{ c = c + {n}; }}")
        lines += [f"  c = clamp(c, 0, max({n} - 1, 0));", f"  off = off + u32(c) * {st}; }}"]
    t = WGSL_SCALAR[out.value.store]
    lines.append(f"{prog.store_ref(out.value, 'off')} = {t}({ldu}({uo}));")
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)


def pad_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    (x,) = step.inputs
    p = step.params
    t = compute_type(step.dtype, f16)
    render_store(prog, step.out, step.shape, step.tree, t, f16)  # type: ignore[arg-type]
    ldx = prog.loader(x.value)
    shape = step.shape
    rank = len(shape)
    mode = p["mode"]
    value = prog.scalar(p["value"], t)
    total = math.prod(shape)
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}", "let oi = gi;", "var r = oi;",
             f"var off = {prog.u32(x.offset)};", "var inside = true;"]
    for d in range(rank - 1, -1, -1):
        od, nd, bd, sd = prog.u32(shape[d]), prog.i32(x.shape[d]), prog.i32(p["begin"][d]), prog.u32(x.strides[d])
        lines.append(f"{{ let c = i32(r % {od}); r = r / {od}; var q = c - {bd};")
        if mode == "constant":
            lines.append(f"  if (q < 0 || q >= {nd}) {{ inside = false; q = 0; }}")
        elif mode == "edge":
            lines.append(f"  q = clamp(q, 0, {nd} - 1);")
        else:
            lines.append(f"  if (q < 0) {{ q = -q; }} if (q >= {nd}) {{ q = 2 * ({nd} - 1) - q; }}")
        lines.append(f"  off = off + u32(q) * {sd}; }}")
    lines += [f"var v = {value};", f"if (inside) {{ v = {t}({ldx}(off)); }}", "store(oi, v);"]
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)


def pack_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """Pack a dense float16 (computed in f32), int8 or uint8 value into u32 words for readback."""
    (x,) = step.inputs
    out = step.out
    assert out is not None
    store = out.value.store
    per = {"p16": 2, "pi4": 8, "pu4": 8}.get(store, 4)
    bits = 32 // per
    n = x.size
    words = -(-n // per)
    ld = prog.loader(x.value)
    dst = prog.store_ref(out.value, "gi")
    nn, nw = prog.u32(n), prog.u32(words)
    lines = [flat_thread(WG), f"if (gi >= {nw}) {{ return; }}", f"let e = gi * {per}u;", "var w = 0u;"]
    for j in range(per):
        if store == "p16":
            conv = f"{use(prog, 'f16_bits')}(f32({ld}(e + {j}u)))"
            lines.append(f"if (e + {j}u < {nn}) {{ w = w | ({conv} << {16 * j}u); }}")
        else:
            bits_of = f"(bitcast<u32>({ld}(e + {j}u)) & {(1 << bits) - 1}u)"
            lines.append(f"if (e + {j}u < {nn}) {{ w = w | ({bits_of} << {bits * j}u); }}")
    lines.append(f"{dst} = w;")
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-words // WG), prog.label)
