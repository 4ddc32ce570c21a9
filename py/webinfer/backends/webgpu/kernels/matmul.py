"""Matrix product (matmul, gemm): register-blocked, two tilings picked by the adapter.

Every invocation computes an RM×RN block of the output in registers. Two tilings:

- ``workgroup`` (real GPUs): a 64×64 output tile per workgroup of 256 invocations (4×4 each); the
  A and B tiles of each K-step of 16 are staged in workgroup memory with vec4 loads where a view is
  contiguous and 4-aligned (one load per invocation per tile), so an input element is read from
  memory once per tile instead of once per invocation.
- ``register`` (CPU adapters such as SwiftShader): no workgroup memory and no barriers (a barrier
  suspends every invocation of the group on a CPU). Each invocation owns 8 rows × 4 columns, the
  columns strided by the group width so that the lanes of one SIMD group read B at consecutive
  addresses and A at a single one — the two patterns SwiftShader turns into one vector load.

Both are batched with broadcast batch dims (batch strides as uniforms), take any input strides (a
transposed operand, ``q @ kᵀ``, costs no copy), and evaluate the fused epilogue (bias, activation,
residual, mask) in ``store``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..program import FLAT_WG, Program, grid
from ..step import Step
from ..views import PACKED, VIRTUAL, View, coalesce
from . import qmatmul
from .elementwise import compute_type, render_coord_store, render_store
from .qmatmul import quant_b

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


# REGISTER: chosen on SwiftShader (2 cores) among 4×4, 4×8, 8×4, 12×4 blocks and 8- or 16-wide
# groups (bench_block.py; 8×4 in 16×4 invocations was fastest or tied, 4×4 ~1.4× slower, 8×8 spills)
REGISTER = Tiling(tx=16, ty=4, rm=8, rn=4)
WORKGROUP = Tiling(tx=16, ty=16, rm=4, rn=4)
TK = 16  # K-step of the workgroup tiling


def _vec_ok(view: View, inner: int, inner_len: int) -> bool:
    """Whether a view's loads along dim ``inner`` may be vec4 (contiguous, 4-aligned, plain storage)."""
    if view.value.store in PACKED + VIRTUAL or view.strides[inner] != 1 or inner_len % 4 or inner_len == 0:
        return False
    return view.offset % 4 == 0 and all(s % 4 == 0 for d, s in enumerate(view.strides) if d != inner)


def matmul_program(prog: Program, step: Step, f16: bool) -> tuple[str, tuple[int, int, int]]:
    """The WGSL and grid for one (batched) matrix product with its epilogue."""
    a, b = step.inputs
    # "matrix": the product's (batch..., M, N) when the step's shape is another view of the same flat order (a 1×1
    # conv: the output [N, O, H, W] is the product [N, O, H·W]); the epilogue indexes the step's own shape
    shape = tuple(step.params.get("matrix", step.shape))
    assert math.prod(shape) == math.prod(step.shape), (shape, step.shape)
    batch, (m, n) = shape[:-2], shape[-2:]
    k = a.shape[-1]
    t = compute_type(step.dtype, f16)
    ab, bb, batch, m = fold_rows(a.broadcast_to(batch + (m, k)), b.broadcast_to(batch + (k, n)), batch, m)
    nb = math.prod(batch)
    # the epilogue at (batch, row, column): no division per element (else the flat index, split by division)
    coords = render_coord_store(prog, step.out, (nb, m, n), step.tree, t, f16)  # type: ignore[arg-type]
    if not coords:
        render_store(prog, step.out, step.shape, step.tree, t, f16)  # type: ignore[arg-type]
    bshape, (sa, sb) = coalesce(batch or (1,), [ab.strides[:-2] or (0,), bb.strides[:-2] or (0,)])
    handle = prog.index_words(bshape, [(sa, ab.offset), (sb, bb.offset)])
    u = _Uniforms(prog, m, n, k, nb, ab, bb, coords)
    qb = quant_b(bb, k, n) if t == "f32" else None
    if qb is not None and prog.tiling == "workgroup" and m <= qmatmul.FEW_ROWS:
        body, wgrid = qmatmul.workgroup_program(prog, qb, u, m, handle, prog.loader(ab.value), k)
        return prog.render("  " + "\n  ".join(body), (qmatmul.GPU_LANES * qmatmul.GPU_COLS, 1, 1)), wgrid
    if prog.tiling == "workgroup":
        tl = WORKGROUP
        body = _workgroup_body(prog, t, u, tl, ab, bb, handle)
    else:
        tl = register_tiling(m)
        if qb is not None:
            body, ao, _ = _prologue(prog, u, tl, handle)
            body += qmatmul.register_body(prog, qb, u, tl, ao, prog.loader(ab.value), k)
        else:
            body = _register_body(prog, t, u, tl, ab, bb, handle)
    tiles = -(-m // tl.bm) * -(-n // tl.bn) * nb
    return prog.render("  " + "\n  ".join(body), (tl.tx * tl.ty, 1, 1)), grid(tiles, prog.label)


def register_tiling(m: int) -> Tiling:
    """REGISTER for 8 rows or more; fewer rows (decode: one token) get exactly ``m`` rows per invocation and one
    row of invocations per group, so no invocation computes rows past M."""
    return REGISTER if m >= REGISTER.rm else Tiling(tx=REGISTER.tx, ty=1, rm=max(m, 1), rn=REGISTER.rn)


def fold_rows(ab: View, bb: View, batch: tuple[int, ...], m: int) -> tuple[View, View, tuple[int, ...], int]:
    """Fold trailing batch dims that B broadcasts over into A's rows, when one stride covers them.

    Grouped-query attention multiplies the g query heads of a KV head by the same K: as ``[g, M, K] @ [K, N]``
    that is g products of M rows; as ``[g·M, K] @ [K, N]`` one product of g·M rows (at decode M = 1, so the
    kernel gets g rows instead of one). The output's flat index is the same either way.
    """
    while batch and bb.strides[len(batch) - 1] == 0:
        d = len(batch) - 1
        g = batch[d]
        row = ab.strides[-2]
        if m != 1 and ab.strides[d] != m * row:
            break
        new_row = ab.strides[d] if m == 1 else row
        ab = View(ab.value, ab.shape[:d] + (g * m, ab.shape[-1]), ab.strides[:d] + (new_row, ab.strides[-1]),
                  ab.offset)
        bb = View(bb.value, bb.shape[:d] + bb.shape[-2:], bb.strides[:d] + bb.strides[-2:], bb.offset)
        batch, m = batch[:d], g * m
    return ab, bb, batch, m


class _Uniforms:
    """Sizes and strides of one product, as uniforms."""

    def __init__(self, prog: Program, m: int, n: int, k: int, nb: int, ab: View, bb: View, coords: bool) -> None:
        self.M, self.N, self.K, self.NB = prog.u32(m), prog.u32(n), prog.u32(k), prog.u32(nb)
        self.n_value, self.nb_value = n, nb
        self.sar, self.sak = prog.u32(ab.strides[-2]), prog.u32(ab.strides[-1])
        self.sbk, self.sbn = prog.u32(bb.strides[-2]), prog.u32(bb.strides[-1])
        self.coords = coords

    def store(self, row: str, col: str, value: str) -> str:
        """The call that writes element (row, col) of this workgroup's product through the epilogue."""
        if self.coords:
            return f"store(bi, {row}, {col}, {value});"
        return f"store(bi * {self.M} * {self.N} + ({row}) * {self.N} + {col}, {value});"


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
    lines = []
    for i in range(tl.rm):
        lines.append(f"if ({r0} + {i}u < {u.M}) {{")
        for j in range(tl.rn):
            lines.append(f"  if ({c0} + {j}u < {u.N}) {{ {u.store(f'{r0} + {i}u', f'{c0} + {j}u', value(i, j))} }}")
        lines.append("}")
    return lines


def _register_body(prog: Program, t: str, u: _Uniforms, tl: Tiling, ab: View, bb: View,
                   handle: tuple[int, int, int]) -> list[str]:
    """No workgroup memory: each invocation accumulates RM rows × RN columns in scalar registers.

    Neighbouring invocations own neighbouring columns (invocation ``tx`` has columns ``tx + TX·j``), so
    on a CPU adapter the lanes of one SIMD group read B at consecutive addresses (one vector load when
    B is contiguous along N) and A at one address (one load, broadcast). vec4 loads per invocation
    would be 16 scalar loads there, so none are used.
    """
    lines, ao, bo = _prologue(prog, u, tl, handle)
    lda, ldb = prog.loader(ab.value), prog.loader(bb.value)
    z = f"{t}(0)"
    fma = t in ("f32", "f16")
    lines += [f"let r0 = tm * {tl.bm}u + ty * {tl.rm}u;", f"let c0 = tn * {tl.bn}u + tx;"]
    # rows past M read row M-1 and columns past N column N-1: their results are not stored
    lines += [f"let ar{i} = {ao} + min(r0 + {i}u, {u.M} - 1u) * {u.sar};" for i in range(tl.rm)]
    lines += [f"let bc{j} = {bo} + min(c0 + {tl.tx * j}u, {u.N} - 1u) * {u.sbn};" for j in range(tl.rn)]
    lines += [f"var acc{i}_{j} = {z};" for i in range(tl.rm) for j in range(tl.rn)]

    def step(k: str, pad: str) -> list[str]:
        out = [f"{pad}let a{i} = {lda}(ar{i} + ({k}) * {u.sak});" for i in range(tl.rm)]
        out += [f"{pad}let b{j} = {ldb}(bc{j} + ({k}) * {u.sbk});" for j in range(tl.rn)]
        out += [f"{pad}acc{i}_{j} = fma(a{i}, b{j}, acc{i}_{j});" if fma else
                f"{pad}acc{i}_{j} = acc{i}_{j} + a{i} * b{j};" for i in range(tl.rm) for j in range(tl.rn)]
        return out

    lines.append(f"let k4n = {u.K} / 4u;")
    lines.append("for (var k4 = 0u; k4 < k4n; k4 = k4 + 1u) {")
    for q in range(4):  # each k in its own block: the names repeat
        lines += ["  {", *step(f"k4 * 4u + {q}u", "    "), "  }"]
    lines.append("}")
    lines.append(f"for (var k = k4n * 4u; k < {u.K}; k = k + 1u) {{")
    lines += step("k", "  ")
    lines.append("}")
    out = []
    for i in range(tl.rm):
        out.append(f"if (r0 + {i}u < {u.M}) {{")
        for j in range(tl.rn):
            c = f"c0 + {tl.tx * j}u"
            out.append(f"  if ({c} < {u.N}) {{ {u.store(f'r0 + {i}u', c, f'acc{i}_{j}')} }}")
        out.append("}")
    return lines + out


@dataclass(frozen=True)
class _TileAxis:
    """One axis of a staged tile: the in-tile index ``local``, the matrix index ``glob`` = ``start`` + local
    (times 4 on the vec4 axis), its bound and its stride in the input."""

    local: str
    glob: str
    start: str
    bound: str
    stride: str


def _load_tile(t: str, threads: int, size: tuple[int, int], outer: _TileAxis, inner: _TileAxis, ld: str, vec: bool,
               offset: str, store: str) -> list[str]:
    """A loop staging a ``size`` tile in workgroup memory as vec4s along ``inner``, a share per invocation:
    ``v`` holds the vec4 at (outer, inner), zero outside the matrix, and ``store`` puts it into the tile."""
    rows, cols = size
    o, i = outer, inner
    lines = [
        f"  for (var q = 0u; q < {rows * cols // 4 // threads}u; q = q + 1u) {{",
        f"    let e = li + q * {threads}u; let {o.local} = e / {cols // 4}u; let {i.local} = e % {cols // 4}u;",
        f"    let {o.glob} = {o.start} + {o.local}; let {i.glob} = {i.start} + {i.local} * 4u;",
        f"    var v = vec4<{t}>({t}(0));",
    ]
    if vec:
        lines.append(f"    if ({o.glob} < {o.bound} && {i.glob} < {i.bound}) "
                     f"{{ v = {ld}(({offset} + {o.glob} * {o.stride} + {i.glob}) / 4u); }}")
    else:
        lines += [f"    if ({o.glob} < {o.bound}) {{",
                  f"      let base = {offset} + {o.glob} * {o.stride} + {i.glob} * {i.stride};",
                  *[f"      if ({i.glob} + {j}u < {i.bound}) {{ v[{j}] = {ld}(base + {j}u * {i.stride}); }}"
                    for j in range(4)],
                  "    }"]
    return lines + [f"    {store}", "  }"]


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
    lines += _load_tile(t, threads, (tl.bm, TK), _TileAxis("r", "gr", f"tm * {tl.bm}u", u.M, u.sar),
                        _TileAxis("k4", "gk", "k0", u.K, u.sak), lda, va, ao,
                        f"let s = r * {TK}u + k4 * 4u; "
                        "As[s] = v.x; As[s + 1u] = v.y; As[s + 2u] = v.z; As[s + 3u] = v.w;")
    # B tile: TK k × BN columns, as vec4 along n
    lines += _load_tile(t, threads, (TK, tl.bn), _TileAxis("kq", "gk", "k0", u.K, u.sbk),
                        _TileAxis("c4", "gc", f"tn * {tl.bn}u", u.N, u.sbn), ldb, vb, bo, "Bs[e] = v;")
    lines += ["  workgroupBarrier();",
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
