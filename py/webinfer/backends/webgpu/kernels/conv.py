"""conv2d (groups, depthwise, strides, dilations, padding) and average/max pooling.

Input, filter and output layouts are all just strides: the lowering hands the kernel the input as
(n, c, h, w) strides and the filter as (o, i, kh, kw) strides whatever their layouts, so nchw/nhwc and
every filter layout share one shader. A conv takes one of three kernels (``lowering.conv_variant``): a 1×1
conv with stride 1 and no padding is a matrix product (``matmul.py``); a depthwise conv gets
:func:`depthwise_program`; any other conv :func:`conv2d_program`. Both conv kernels bake the window (size,
strides, dilations) into the WGSL and unroll it, read padding as zero through a clamped address and a select
(no branch), let neighbouring invocations own neighbouring output columns, and hand the epilogue the output
coordinates (no division per element). Pools compute one output element per invocation.
"""

from __future__ import annotations

import math
from typing import Any

from ..program import Program, flat_thread, grid
from ..step import Step
from .elementwise import render_coord_store, render_store
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


OC_BLOCK = 8  # output channels per direct-conv invocation: each input value loaded once feeds all of them


def _store_call(layout: str, n: str, c: str, y: str, x: str, value: str) -> str:
    """``store`` at output element (n, c, y, x) in the output's own layout (its coordinates, no division)."""
    coords = (n, c, y, x) if layout == "nchw" else (n, y, x, c)
    return f"store({', '.join(coords)}, {value});"


def _columns(prog: Program, p: dict[str, Any], x: str) -> list[str]:
    """WGSL for the column taps of the window at output column ``x``: per tap its clamped input offset ``cx{j}``
    and whether it lies inside the input (``okx{j}``)."""
    kw, sw, dw = p["kernel"][1], p["strides"][1], p["dilations"][1]
    w, pl, sxw = prog.i32(p["in_hw"][1]), prog.i32(p["pad_tl"][1]), prog.u32(p["x_strides"][3])
    lines = [f"let bx = i32({x}) * {sw} - {pl};"]
    for j in range(kw):
        lines += [f"let ix{j} = bx + {j * dw};", f"let okx{j} = ix{j} >= 0 && ix{j} < {w};",
                  f"let cx{j} = u32(clamp(ix{j}, 0, {w} - 1)) * {sxw};"]
    return lines


def _row(prog: Program, p: dict[str, Any], iy: str, name: str) -> list[str]:
    """WGSL for the input row ``iy`` (an i32 expression): its clamped offset ``ry{name}`` and ``oky{name}``."""
    h, sxh = prog.i32(p["in_hw"][0]), prog.u32(p["x_strides"][2])
    return [f"let iy{name} = {iy};", f"let oky{name} = iy{name} >= 0 && iy{name} < {h};",
            f"let ry{name} = u32(clamp(iy{name}, 0, {h} - 1)) * {sxh};"]


def conv2d_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """The general conv2d (any groups, strides, dilations, padding, layouts): one invocation computes ``OC_BLOCK``
    output channels of one group at one output pixel, so each input value it loads feeds them all; the window
    (size, strides, dilations) is baked in and unrolled, the channels loop. Neighbouring invocations own
    neighbouring output columns; the filter reads of a SIMD group share their address (one load, broadcast).
    Padding reads clamp the address and select zero: no branch. The epilogue takes the output coordinates."""
    x, f = step.inputs[:2]
    p = step.params
    assert render_coord_store(prog, step.out, step.shape, step.tree, "f32", f16)  # type: ignore[arg-type]
    n, c, oh, ow = p["out_nchw"]
    copg, cig = p["cout_per_group"], p["cin_per_group"]
    groups = c // copg
    blocks = -(-copg // OC_BLOCK)
    total = n * groups * blocks * oh * ow
    u = {k: prog.u32(v) for k, v in (("OW", ow), ("OH", oh), ("OB", blocks), ("G", groups), ("COPG", copg),
                                      ("CIG", cig), ("C", c))}
    sxn, sxc = prog.u32(p["x_strides"][0]), prog.u32(p["x_strides"][1])
    sfo, sfi, sfh, sfw = (prog.u32(v) for v in p["f_strides"])
    ldx, ldf = prog.loader(x.value), prog.loader(f.value)
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}",
             f"let x = gi % {u['OW']}; var t = gi / {u['OW']};",
             f"let y = t % {u['OH']}; t = t / {u['OH']};",
             f"let ob = t % {u['OB']}; t = t / {u['OB']};",
             f"let g = t % {u['G']}; let n = t / {u['G']};",
             f"let o0 = g * {u['COPG']} + ob * {OC_BLOCK}u;"]
    (kh, kw), sh, dh = p["kernel"], p["strides"][0], p["dilations"][0]
    lines += _columns(prog, p, "x")
    lines.append(f"let by = i32(y) * {sh} - {prog.i32(p['pad_tl'][0])};")
    for i in range(kh):
        lines += _row(prog, p, f"by + {i * dh}", str(i))
    lines.append(f"let xb = {prog.u32(x.offset)} + n * {sxn} + g * {u['CIG']} * {sxc};")
    lines += [f"let fb{j} = {prog.u32(f.offset)} + min(o0 + {j}u, {u['C']} - 1u) * {sfo};" for j in range(OC_BLOCK)]
    lines += [f"var a{j} = 0.0;" for j in range(OC_BLOCK)]
    lines += [f"for (var ci = 0u; ci < {u['CIG']}; ci = ci + 1u) {{",
              f"  let xc = xb + ci * {sxc};",
              f"  let fc = ci * {sfi};"]
    for i in range(kh):
        for j in range(kw):
            lines += ["  {", f"    let v = select(0.0, f32({ldx}(xc + ry{i} + cx{j})), oky{i} && okx{j});",
                      f"    let fk = fc + {i}u * {sfh} + {j}u * {sfw};"]
            lines += [f"    a{o} = fma(v, f32({ldf}(fb{o} + fk)), a{o});" for o in range(OC_BLOCK)]
            lines.append("  }")
    lines.append("}")
    for o in range(OC_BLOCK):
        lines.append(f"if (ob * {OC_BLOCK}u + {o}u < {u['COPG']}) {{ "
                     f"{_store_call(p['layout'], 'n', f'o0 + {o}u', 'y', 'x', f'a{o}')} }}")
    return prog.render("  " + "\n  ".join(lines), (WG, 1, 1)), grid(-(-total // WG), prog.label)


DW_ROWS = 8  # output rows per depthwise invocation: they share input rows and weights, loaded once


def depthwise_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """Depthwise conv2d (one input and one output channel per group): one invocation computes ``DW_ROWS`` output
    rows of one column. Window size, strides and dilations are baked in (the loops unroll; a few pipelines serve
    every depthwise layer); sizes, paddings and strides of the tensors are uniforms.

    Its weights are loaded once and used for every row; each input row the window passes over is loaded once
    per column tap and feeds every output row that needs it (a 3×3 stride-1 window over 8 rows: 30 loads for 72
    products, against 72). Neighbouring invocations own neighbouring columns, so on a CPU adapter the lanes of one
    SIMD group load neighbouring addresses (stride 1). Padding reads clamp the address and select zero: no branch.
    """
    x, f = step.inputs[:2]
    p = step.params
    assert render_coord_store(prog, step.out, step.shape, step.tree, "f32", f16)  # type: ignore[arg-type]
    n, c, oh, ow = p["out_nchw"]
    (kh, kw), sh, dh = p["kernel"], p["strides"][0], p["dilations"][0]
    rows = min(DW_ROWS, oh)
    blocks = -(-oh // rows)
    total = n * c * blocks * ow
    u = {k: prog.u32(v) for k, v in (("OW", ow), ("OH", oh), ("C", c), ("YB", blocks))}
    sxn, sxc = prog.u32(p["x_strides"][0]), prog.u32(p["x_strides"][1])
    sfo, _, sfh, sfw = (prog.u32(v) for v in p["f_strides"])
    ldx, ldf = prog.loader(x.value), prog.loader(f.value)
    lines = [flat_thread(WG), f"if (gi >= {prog.u32(total)}) {{ return; }}",
             f"let x = gi % {u['OW']}; var t = gi / {u['OW']};",
             f"let yb = t % {u['YB']}; t = t / {u['YB']};",
             f"let c = t % {u['C']}; let n = t / {u['C']};",
             f"let y0 = yb * {rows}u;",
             f"let xb = {prog.u32(x.offset)} + n * {sxn} + c * {sxc};",
             f"let fb = {prog.u32(f.offset)} + c * {sfo};"]
    lines += [f"let w{i}_{j} = f32({ldf}(fb + {i}u * {sfh} + {j}u * {sfw}));" for i in range(kh) for j in range(kw)]
    lines += _columns(prog, p, "x")
    lines.append(f"let by = i32(y0) * {sh} - {prog.i32(p['pad_tl'][0])};")
    lines += [f"var a{r} = 0.0;" for r in range(rows)]
    for row in range((rows - 1) * sh + (kh - 1) * dh + 1):
        taps = [(r, i) for r in range(rows) for i in range(kh) if r * sh + i * dh == row]
        if not taps:
            continue
        lines += ["{", *("  " + line for line in _row(prog, p, f"by + {row}", ""))]
        for j in range(kw):
            lines.append(f"  let v{j} = select(0.0, f32({ldx}(xb + ry + cx{j})), oky && okx{j});")
            lines += [f"  a{r} = fma(v{j}, w{i}_{j}, a{r});" for r, i in taps]
        lines.append("}")
    for r in range(rows):
        y = f"y0 + {r}u"
        lines.append(f"if ({y} < {u['OH']}) {{ {_store_call(p['layout'], 'n', 'c', y, 'x', f'a{r}')} }}")
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
