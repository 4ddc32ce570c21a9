"""Matrix product (matmul, gemm): register-blocked, vec4 loads, two tilings picked by the adapter.

Every invocation computes an RM×RN block of the output in registers, reading its inputs through
vec4 loads where a view is contiguous and 4-aligned along the loaded dim. Two tilings:

- ``workgroup`` (real GPUs): a 64×64 output tile per workgroup of 256 invocations (4×4 each); the
  A and B tiles for a K-step of 16 are staged in workgroup memory (one vec4 load per invocation
  per tile), so each input element is read from memory once per tile instead of once per invocation.
- ``register`` (CPU adapters such as SwiftShader): no workgroup memory and no barriers (a barrier
  suspends every invocation of the group on a CPU); each invocation reads its rows of A and its
  columns of B straight from the buffers, which the CPU's caches serve, in 4-wide K steps.

Both are batched with broadcast batch dims (batch strides as uniforms), take any input strides (a
transposed operand costs nothing: B contiguous along K — ``q @ kᵀ`` — uses dot-product accumulation),
and evaluate the fused epilogue (bias, activation, residual, mask) in ``store``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..program import FLAT_WG, Program, grid
from ..step import Step
from ..views import PACKED, View, coalesce
from .elementwise import compute_type, render_store

TILINGS = ("workgroup", "register")


@dataclass(frozen=True)
class Tiling:
    """Invocations per workgroup (tx × ty) and outputs per invocation (rm × rn); rn is a multiple of 4."""

    tx: int
    ty: int
    rm: int
    rn: int

    @property
    def bm(self) -> int:
        return self.ty * self.rm

    @property
    def bn(self) -> int:
        return self.tx * self.rn


# measured on SwiftShader (2 cores): see the README's WebGPU section for the numbers
REGISTER = Tiling(tx=8, ty=8, rm=4, rn=4)
WORKGROUP = Tiling(tx=16, ty=16, rm=4, rn=4)
TK = 16  # K-step of the workgroup tiling


def _vec_ok(view: View, inner: int, inner_len: int) -> bool:
    """Whether a view's loads along dim ``inner`` may be vec4 (contiguous, 4-aligned, plain storage)."""
    if view.value.store in PACKED or view.strides[inner] != 1 or inner_len % 4 or inner_len == 0:
        return False
    return view.offset % 4 == 0 and all(s % 4 == 0 for d, s in enumerate(view.strides) if d != inner)


def matmul_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """The WGSL and grid for one (batched) matrix product with its epilogue."""
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
    u = _Uniforms(prog, m, n, k, nb, ab, bb)
    if prog.tiling == "workgroup":
        tl = WORKGROUP
        body = _workgroup_body(prog, t, u, tl, ab, bb, handle)
    else:
        tl = REGISTER
        body = _register_body(prog, t, u, tl, ab, bb, handle)
    tiles = -(-m // tl.bm) * -(-n // tl.bn) * nb
    return prog.render("  " + "\n  ".join(body), (tl.tx * tl.ty, 1, 1)), grid(tiles, prog.label)


class _Uniforms:
    """Sizes and strides of one product, as uniforms."""

    def __init__(self, prog: Program, m: int, n: int, k: int, nb: int, ab: View, bb: View) -> None:
        self.M, self.N, self.K, self.NB = prog.u32(m), prog.u32(n), prog.u32(k), prog.u32(nb)
        self.sar, self.sak = prog.u32(ab.strides[-2]), prog.u32(ab.strides[-1])
        self.sbk, self.sbn = prog.u32(bb.strides[-2]), prog.u32(bb.strides[-1])


def _prologue(prog: Program, u: _Uniforms, tl: Tiling, handle: tuple[int, int, int]) -> tuple[list[str], str, str]:
    """Which tile and batch this workgroup computes, and the batch offsets of A and B."""
    idx_lines, (ao, bo) = prog.index_code("bi", handle, "x")
    return [
        FLAT_WG,
        f"let tiles_n = ({u.N} + {tl.bn - 1}u) / {tl.bn}u;",
        f"let tiles_m = ({u.M} + {tl.bm - 1}u) / {tl.bm}u;",
        "let tn = wg % tiles_n;",
        "let tm = (wg / tiles_n) % tiles_m;",
        "let bi = wg / (tiles_n * tiles_m);",
        f"if (bi >= {u.NB}) {{ return; }}",
        *idx_lines,
        f"let tx = li % {tl.tx}u;",
        f"let ty = li / {tl.tx}u;",
    ], ao, bo


def _stores(u: _Uniforms, tl: Tiling, r0: str, c0: str, value: Callable[[int, int], str]) -> list[str]:
    """Write the RM×RN block through the epilogue, skipping rows and columns past the output."""
    lines = [f"let ob = bi * {u.M} * {u.N};"]
    for i in range(tl.rm):
        lines.append(f"if ({r0} + {i}u < {u.M}) {{")
        for j in range(tl.rn):
            lines.append(f"  if ({c0} + {j}u < {u.N}) {{ store(ob + ({r0} + {i}u) * {u.N} + {c0} + {j}u, {value(i, j)}); }}")
        lines.append("}")
    return lines


def _register_body(prog: Program, t: str, u: _Uniforms, tl: Tiling, ab: View, bb: View,
                   handle: tuple[int, int, int]) -> list[str]:
    """No workgroup memory: each invocation streams its RM rows of A and RN columns of B, 4 k at a time."""
    rank = len(ab.shape)
    kk = ab.shape[-1]
    n = bb.shape[-1]
    lines, ao, bo = _prologue(prog, u, tl, handle)
    va = _vec_ok(ab, rank - 1, kk)
    vbn = _vec_ok(bb, rank - 1, n)  # B rows are vec4 along N
    vbk = not vbn and _vec_ok(bb, rank - 2, kk)  # B columns are vec4 along K (B = Xᵀ): dot products
    lda = prog.vec_loader(ab.value) if va else prog.loader(ab.value)
    ldb = prog.vec_loader(bb.value) if (vbn or vbk) else prog.loader(bb.value)
    z = f"{t}(0)"
    fma = t in ("f32", "f16")
    lines += [f"let r0 = tm * {tl.bm}u + ty * {tl.rm}u;", f"let c0 = tn * {tl.bn}u + tx * {tl.rn}u;",
              f"let k4n = {u.K} / 4u;"]
    # row bases of A (rows past M read row M-1: their results are not stored)
    for i in range(tl.rm):
        base = f"{ao} + min(r0 + {i}u, {u.M} - 1u) * {u.sar}"
        lines.append(f"let ar{i} = ({base}) / 4u;" if va else f"let ar{i} = {base};")

    def a_vec(i: int) -> str:
        if va:
            return f"{lda}(ar{i} + k4)"
        return f"vec4<{t}>(" + ", ".join(f"{lda}(ar{i} + (k + {q}u) * {u.sak})" for q in range(4)) + ")"

    def mac(acc: str, x: str, y: str) -> str:
        return f"{acc} = fma({x}, {y}, {acc});" if fma else f"{acc} = {acc} + {x} * {y};"

    if vbk:  # dot form: acc{i}_{j} holds 4 partial sums of row i · column j
        for j in range(tl.rn):
            lines.append(f"let bc{j} = ({bo} + min(c0 + {j}u, {u.N} - 1u) * {u.sbn}) / 4u;")
        lines += [f"var acc{i}_{j} = vec4<{t}>({z});" for i in range(tl.rm) for j in range(tl.rn)]
        lines.append("for (var k4 = 0u; k4 < k4n; k4 = k4 + 1u) {")
        lines.append("  let k = k4 * 4u;")
        lines += [f"  let a{i} = {a_vec(i)};" for i in range(tl.rm)]
        lines += [f"  let b{j} = {ldb}(bc{j} + k4);" for j in range(tl.rn)]
        lines += ["  " + mac(f"acc{i}_{j}", f"a{i}", f"b{j}") for i in range(tl.rm) for j in range(tl.rn)]
        lines.append("}")
        # K % 4 == 0 here (vec4 along K), so there is no tail
        return lines + _stores(u, tl, "r0", "c0", lambda i, j: f"dot(acc{i}_{j}, vec4<{t}>(1))" if fma else
                               f"(acc{i}_{j}.x + acc{i}_{j}.y + acc{i}_{j}.z + acc{i}_{j}.w)")

    # outer-product form: acc{i}_{j4} holds columns c0 + 4·j4 .. +3 of row i
    nq = tl.rn // 4
    if vbn:
        for j in range(nq):
            lines.append(f"let bc{j} = ({bo} + min(c0 + {4 * j}u, {u.N} - 4u)) / 4u;")
        sbk4 = f"({u.sbk} / 4u)"

        def b_vec(j: int, kexpr: str) -> str:
            return f"{ldb}(bc{j} + ({kexpr}) * {sbk4})"
    else:
        for j in range(nq):
            for q in range(4):
                lines.append(f"let bc{j}_{q} = {bo} + min(c0 + {4 * j + q}u, {u.N} - 1u) * {u.sbn};")

        def b_vec(j: int, kexpr: str) -> str:
            return (f"vec4<{t}>(" + ", ".join(f"{ldb}(bc{j}_{q} + ({kexpr}) * {u.sbk})" for q in range(4)) + ")")
    lines += [f"var acc{i}_{j} = vec4<{t}>({z});" for i in range(tl.rm) for j in range(nq)]
    lines.append("for (var k4 = 0u; k4 < k4n; k4 = k4 + 1u) {")
    lines.append("  let k = k4 * 4u;")
    lines += [f"  let a{i} = {a_vec(i)};" for i in range(tl.rm)]
    comps = "xyzw"
    for q in range(4):
        lines += [f"  let b{q}_{j} = {b_vec(j, f'k + {q}u')};" for j in range(nq)]
        lines += ["  " + mac(f"acc{i}_{j}", f"vec4<{t}>(a{i}.{comps[q]})", f"b{q}_{j}")
                  for i in range(tl.rm) for j in range(nq)]
    lines.append("}")
    # the K % 4 tail (A is not vec4 then): one k at a time
    if kk % 4:
        lda_s = prog.loader(ab.value)
        arow = (lambda i: f"ar{i} * 4u") if va else (lambda i: f"ar{i}")
        lines.append(f"for (var k = k4n * 4u; k < {u.K}; k = k + 1u) {{")
        lines += [f"  let a{i} = vec4<{t}>({lda_s}({arow(i)} + k * {u.sak}));" for i in range(tl.rm)]
        lines += [f"  let b_{j} = {b_vec(j, 'k')};" for j in range(nq)]
        lines += ["  " + mac(f"acc{i}_{j}", f"a{i}", f"b_{j}") for i in range(tl.rm) for j in range(nq)]
        lines.append("}")
    return lines + _stores(u, tl, "r0", "c0", lambda i, j: f"acc{i}_{j // 4}[{j % 4}]")


def _workgroup_body(prog: Program, t: str, u: _Uniforms, tl: Tiling, ab: View, bb: View,
                    handle: tuple[int, int, int]) -> list[str]:
    """A BM×TK tile of A and a TK×BN tile of B per K-step in workgroup memory; 4×4 per invocation."""
    rank = len(ab.shape)
    kk, n = ab.shape[-1], bb.shape[-1]
    threads = tl.tx * tl.ty
    assert tl.bm * TK // 4 % threads == 0 and TK * tl.bn // 4 % threads == 0, tl
    lines, ao, bo = _prologue(prog, u, tl, handle)
    va = _vec_ok(ab, rank - 1, kk)
    vb = _vec_ok(bb, rank - 1, n)
    lda = prog.vec_loader(ab.value) if va else prog.loader(ab.value)
    ldb = prog.vec_loader(bb.value) if vb else prog.loader(bb.value)
    prog.decls.append(f"var<workgroup> As: array<{t}, {tl.bm * TK}>;")
    prog.decls.append(f"var<workgroup> Bs: array<vec4<{t}>, {TK * tl.bn // 4}>;")
    z = f"{t}(0)"
    fma = t in ("f32", "f16")
    nq = tl.rn // 4
    lines += [f"var acc{i}_{j} = vec4<{t}>({z});" for i in range(tl.rm) for j in range(nq)]
    lines.append(f"for (var k0 = 0u; k0 < {u.K}; k0 = k0 + {TK}u) {{")
    # A tile: BM rows × TK k, as vec4 along k
    lines += [
        f"  for (var q = 0u; q < {tl.bm * TK // 4 // threads}u; q = q + 1u) {{",
        f"    let e = li + q * {threads}u; let r = e / {TK // 4}u; let k4 = e % {TK // 4}u;",
        f"    let gr = tm * {tl.bm}u + r; let gk = k0 + k4 * 4u;",
        f"    var v = vec4<{t}>({z});",
    ]
    if va:
        lines.append(f"    if (gr < {u.M} && gk < {u.K}) {{ v = {lda}(({ao} + gr * {u.sar} + gk) / 4u); }}")
    else:
        lines += [f"    if (gr < {u.M}) {{",
                  *[f"      if (gk + {j}u < {u.K}) {{ v[{j}] = {lda}({ao} + gr * {u.sar} + (gk + {j}u) * {u.sak}); }}"
                    for j in range(4)],
                  "    }"]
    lines += [f"    let s = r * {TK}u + k4 * 4u; As[s] = v.x; As[s + 1u] = v.y; As[s + 2u] = v.z; As[s + 3u] = v.w;",
              "  }"]
    # B tile: TK k × BN columns, as vec4 along n
    lines += [
        f"  for (var q = 0u; q < {TK * tl.bn // 4 // threads}u; q = q + 1u) {{",
        f"    let e = li + q * {threads}u; let kq = e / {tl.bn // 4}u; let c4 = e % {tl.bn // 4}u;",
        f"    let gk = k0 + kq; let gc = tn * {tl.bn}u + c4 * 4u;",
        f"    var v = vec4<{t}>({z});",
    ]
    if vb:
        lines.append(f"    if (gk < {u.K} && gc < {u.N}) {{ v = {ldb}(({bo} + gk * {u.sbk} + gc) / 4u); }}")
    else:
        lines += [f"    if (gk < {u.K}) {{",
                  f"      let base = {bo} + gk * {u.sbk} + gc * {u.sbn};",
                  *[f"      if (gc + {j}u < {u.N}) {{ v[{j}] = {ldb}(base + {j}u * {u.sbn}); }}" for j in range(4)],
                  "    }"]
    lines += ["    Bs[e] = v;", "  }", "  workgroupBarrier();",
              f"  for (var kq = 0u; kq < {TK}u; kq = kq + 1u) {{"]
    lines += [f"    let bv{j} = Bs[kq * {tl.bn // 4}u + tx * {nq}u + {j}u];" for j in range(nq)]
    for i in range(tl.rm):
        lines.append(f"    let av{i} = vec4<{t}>(As[(ty * {tl.rm}u + {i}u) * {TK}u + kq]);")
        for j in range(nq):
            lines.append(f"    acc{i}_{j} = fma(av{i}, bv{j}, acc{i}_{j});" if fma else
                         f"    acc{i}_{j} = acc{i}_{j} + av{i} * bv{j};")
    lines += ["  }", "  workgroupBarrier();", "}",
              f"let r0 = tm * {tl.bm}u + ty * {tl.rm}u;", f"let c0 = tn * {tl.bn}u + tx * {tl.rn}u;"]
    return lines + _stores(u, tl, "r0", "c0", lambda i, j: f"acc{i}_{j // 4}[{j % 4}]")
