"""Tiled matrix product (matmul, gemm): 32×32 output tiles in workgroup memory, 4×4 per invocation.

Batched with broadcast batch dims (batch strides as uniforms), any input strides (so transposes
from ``gemm`` or a ``transpose`` node cost nothing), vec4 loads where an input is contiguous and
4-aligned along the loaded dim, and the fused epilogue (bias, activation, residual) in ``store``.
"""

from __future__ import annotations

import math

from ..program import FLAT_WG, Program, grid
from ..step import Step
from ..views import PACKED, View, coalesce
from .elementwise import compute_type, render_store

TM = TN = 32
TK = 16


def _vec_ok(view: View, inner: int, inner_len: int) -> bool:
    """Whether a view's loads along dim ``inner`` may be vec4 (contiguous, 4-aligned, plain storage)."""
    if view.value.store in PACKED or view.strides[inner] != 1 or inner_len % 4:
        return False
    return view.offset % 4 == 0 and all(s % 4 == 0 for d, s in enumerate(view.strides) if d != inner)


def matmul_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    a, b = step.inputs
    shape = step.shape
    batch, (m, n) = shape[:-2], shape[-2:]
    k = a.shape[-1]
    t = compute_type(step.dtype, f16)
    render_store(prog, step.out, shape, step.tree, t, f16)  # type: ignore[arg-type]
    ab = a.broadcast_to(batch + (m, k))
    bb = b.broadcast_to(batch + (k, n))
    nb = math.prod(batch)
    bshape, (sa, sb) = coalesce(batch or (1,), [ab.strides[:-2] or (0,), bb.strides[:-2] or (0,)])
    handle = prog.index_words(bshape, [(sa, ab.offset), (sb, bb.offset)])
    M, N, K, NB = prog.u32(m), prog.u32(n), prog.u32(k), prog.u32(nb)
    sar, sak = prog.u32(ab.strides[-2]), prog.u32(ab.strides[-1])
    sbk, sbn = prog.u32(bb.strides[-2]), prog.u32(bb.strides[-1])
    va = prog.bind_vec4(a.value) if _vec_ok(ab, len(ab.shape) - 1, k) else None
    vb = prog.bind_vec4(b.value) if _vec_ok(bb, len(bb.shape) - 1, n) and b.value is not a.value else None
    lda = None if va else prog.loader(a.value)
    ldb = None if vb else prog.loader(b.value)
    prog.decls.append(f"var<workgroup> As: array<{t}, {TM * TK}>;")
    prog.decls.append(f"var<workgroup> Bs: array<vec4<{t}>, {TK * TN // 4}>;")
    z = f"{t}(0)"
    idx_lines, (ao, bo) = prog.index_code("bi", handle, "x")
    lines = [
        FLAT_WG,
        f"let tiles_n = ({N} + {TN - 1}u) / {TN}u;",
        f"let tiles_m = ({M} + {TM - 1}u) / {TM}u;",
        "let tn = wg % tiles_n;",
        "let tm = (wg / tiles_n) % tiles_m;",
        "let bi = wg / (tiles_n * tiles_m);",
        f"if (bi >= {NB}) {{ return; }}",
        *idx_lines,
        "let tx = li % 8u;",
        "let ty = li / 8u;",
    ]
    lines += [f"var acc{i} = vec4<{t}>({z});" for i in range(4)]
    lines.append(f"for (var k0 = 0u; k0 < {K}; k0 = k0 + {TK}u) {{")
    if va:  # A tile: 32 rows × 16 k as 128 vec4, two per invocation
        lines += [
            "  for (var q = 0u; q < 2u; q = q + 1u) {",
            "    let e = li + q * 64u; let r = e / 4u; let k4 = e % 4u;",
            f"    let gr = tm * {TM}u + r; let gk = k0 + k4 * 4u;",
            f"    var v = vec4<{t}>({z});",
            f"    if (gr < {M} && gk < {K}) {{ v = b{va}[({ao} + gr * {sar} + gk) / 4u]; }}",
            f"    let s = r * {TK}u + k4 * 4u; As[s] = v.x; As[s + 1u] = v.y; As[s + 2u] = v.z; As[s + 3u] = v.w;",
            "  }",
        ]
    else:
        lines += [
            f"  for (var q = 0u; q < {TM * TK // 64}u; q = q + 1u) {{",
            f"    let e = li + q * 64u; let r = e / {TK}u; let kk = e % {TK}u;",
            f"    let gr = tm * {TM}u + r; let gk = k0 + kk;",
            f"    var v = {z};",
            f"    if (gr < {M} && gk < {K}) {{ v = {lda}({ao} + gr * {sar} + gk * {sak}); }}",
            "    As[e] = v;",
            "  }",
        ]
    lines += [
        f"  for (var q = 0u; q < {TK * TN // 4 // 64}u; q = q + 1u) {{",
        f"    let e = li + q * 64u; let kk = e / {TN // 4}u; let c4 = e % {TN // 4}u;",
        f"    let gk = k0 + kk; let gc = tn * {TN}u + c4 * 4u;",
        f"    var v = vec4<{t}>({z});",
    ]
    if vb:
        lines.append(f"    if (gk < {K} && gc < {N}) {{ v = b{vb}[({bo} + gk * {sbk} + gc) / 4u]; }}")
    else:
        lines += [
            f"    if (gk < {K}) {{",
            f"      let base = {bo} + gk * {sbk} + gc * {sbn};",
            *[f"      if (gc + {j}u < {N}) {{ v[{j}] = {ldb}(base + {j}u * {sbn}); }}" for j in range(4)],
            "    }",
        ]
    lines += [
        "    Bs[e] = v;",
        "  }",
        "  workgroupBarrier();",
        f"  for (var kk = 0u; kk < {TK}u; kk = kk + 1u) {{",
        f"    let bv = Bs[kk * {TN // 4}u + tx];",
        *[(f"    acc{i} = fma(vec4<{t}>(As[(ty * 4u + {i}u) * {TK}u + kk]), bv, acc{i});" if t in ("f32", "f16") else
           f"    acc{i} = acc{i} + As[(ty * 4u + {i}u) * {TK}u + kk] * bv;") for i in range(4)],
        "  }",
        "  workgroupBarrier();",
        "}",
        f"let r0 = tm * {TM}u + ty * 4u;",
        f"let c0 = tn * {TN}u + tx * 4u;",
        f"let ob = bi * {M} * {N};",
    ]
    for i in range(4):
        lines.append(f"if (r0 + {i}u < {M}) {{")
        for j in range(4):
            lines.append(f"  if (c0 + {j}u < {N}) {{ store(ob + (r0 + {i}u) * {N} + c0 + {j}u, acc{i}[{j}]); }}")
        lines.append("}")
    body = "  " + "\n  ".join(lines)
    tiles = -(-m // TM) * -(-n // TN) * nb
    return prog.render(body, (64, 1, 1)), grid(tiles, prog.label)
