"""conv2d (groups, depthwise, strides, dilations, padding) and average/max pooling.

Input, filter and output layouts are all just strides: the lowering hands the kernel the input as
(n, c, h, w) strides and the filter as (o, i, kh, kw) strides whatever their layouts, so nchw/nhwc and
every filter layout share one shader. One invocation computes one output element; the output index
runs in the output's own layout, so neighbouring invocations write neighbouring memory.
"""

from __future__ import annotations

import math

from ..program import Program, flat_thread, grid
from ..step import Step
from .elementwise import render_store
from .wgslmath import use

WG = 64


def _out_coords(prog: Program, step: Step) -> list[str]:
    """WGSL naming n, o (channel), y, x of output element ``oi`` in the output's layout."""
    n, c, oh, ow = step.params["out_nchw"]
    if step.params["layout"] == "nchw":
        return [f"let x = oi % {prog.u32(ow)}; var t = oi / {prog.u32(ow)};",
                f"let y = t % {prog.u32(oh)}; t = t / {prog.u32(oh)};",
                f"let o = t % {prog.u32(c)}; let n = t / {prog.u32(c)};"]
    return [f"let o = oi % {prog.u32(c)}; var t = oi / {prog.u32(c)};",
            f"let x = t % {prog.u32(ow)}; t = t / {prog.u32(ow)};",
            f"let y = t % {prog.u32(oh)}; let n = t / {prog.u32(oh)};"]


def _window_params(prog: Program, step: Step) -> dict[str, str]:
    p = step.params
    names = {}
    for key, val in (("H", p["in_hw"][0]), ("W", p["in_hw"][1]), ("KH", p["kernel"][0]), ("KW", p["kernel"][1]),
                     ("SH", p["strides"][0]), ("SW", p["strides"][1]), ("DH", p["dilations"][0]),
                     ("DW", p["dilations"][1]), ("PT", p["pad_tl"][0]), ("PL", p["pad_tl"][1])):
        names[key] = prog.i32(val)
    return names


def conv2d_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    x, f = step.inputs[:2]
    p = step.params
    acc_t = "f32"  # conv sums in f32 (fma) whatever the storage type
    render_store(prog, step.out, step.shape, step.tree, acc_t, f16)  # type: ignore[arg-type]
    w = _window_params(prog, step)
    ldx, ldf = prog.loader(x.value), prog.loader(f.value)
    sx = [prog.u32(s) for s in p["x_strides"]]  # n c h w
    sf = [prog.u32(s) for s in p["f_strides"]]  # o i kh kw
    xo, fo = prog.u32(x.offset), prog.u32(f.offset)
    cig, og = prog.u32(p["cin_per_group"]), prog.u32(p["cout_per_group"])
    total = math.prod(step.shape)
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}", "let oi = gi;", *_out_coords(prog, step),
             f"let g = o / {og};",
             f"let iy0 = i32(y) * {w['SH']} - {w['PT']};",
             f"let ix0 = i32(x) * {w['SW']} - {w['PL']};",
             "var acc = 0.0;",
             f"for (var ci = 0u; ci < {cig}; ci = ci + 1u) {{",
             f"  let xb = {xo} + n * {sx[0]} + (g * {cig} + ci) * {sx[1]};",
             f"  let fb = {fo} + o * {sf[0]} + ci * {sf[1]};",
             f"  for (var ky = 0; ky < {w['KH']}; ky = ky + 1) {{",
             f"    let iy = iy0 + ky * {w['DH']};",
             f"    if (iy < 0 || iy >= {w['H']}) {{ continue; }}",
             f"    for (var kx = 0; kx < {w['KW']}; kx = kx + 1) {{",
             f"      let ix = ix0 + kx * {w['DW']};",
             f"      if (ix < 0 || ix >= {w['W']}) {{ continue; }}",
             f"      acc = fma(f32({ldx}(xb + u32(iy) * {sx[2]} + u32(ix) * {sx[3]})), "
             f"f32({ldf}(fb + u32(ky) * {sf[2]} + u32(kx) * {sf[3]})), acc);",
             "    }",
             "  }",
             "}",
             "store(oi, acc);"]
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)


def pool2d_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """average_pool2d (padding not counted) and max_pool2d; windows past the input count as padding."""
    (x,) = step.inputs
    p = step.params
    render_store(prog, step.out, step.shape, step.tree, "f32", f16)  # type: ignore[arg-type]
    w = _window_params(prog, step)
    ldx = prog.loader(x.value)
    sx = [prog.u32(s) for s in p["x_strides"]]
    xo = prog.u32(x.offset)
    is_max = p["kind"] == "max"
    total = math.prod(step.shape)
    if is_max:
        mx = use(prog, "max", "f32")
        use(prog, "inf", "f32")
        init, update, fin = "-inf_f32()", f"acc = {mx}(acc, v);", "acc"
    else:
        init, update, fin = "0.0", "acc = acc + v; cnt = cnt + 1.0;", "acc / cnt"
        use(prog, "inf", "f32")
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}", "let oi = gi;", *_out_coords(prog, step),
             f"let iy0 = i32(y) * {w['SH']} - {w['PT']};",
             f"let ix0 = i32(x) * {w['SW']} - {w['PL']};",
             f"let xb = {xo} + n * {sx[0]} + o * {sx[1]};",
             f"var acc = {init};",
             "var cnt = 0.0;",
             f"for (var ky = 0; ky < {w['KH']}; ky = ky + 1) {{",
             f"  let iy = iy0 + ky * {w['DH']};",
             f"  if (iy < 0 || iy >= {w['H']}) {{ continue; }}",
             f"  for (var kx = 0; kx < {w['KW']}; kx = kx + 1) {{",
             f"    let ix = ix0 + kx * {w['DW']};",
             f"    if (ix < 0 || ix >= {w['W']}) {{ continue; }}",
             f"    let v = f32({ldx}(xb + u32(iy) * {sx[2]} + u32(ix) * {sx[3]}));",
             f"    {update}",
             "  }",
             "}",
             f"store(oi, {fin});"]
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)
