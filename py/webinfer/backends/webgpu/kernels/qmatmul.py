"""Matrix products with a block-quantized B: the weights stay packed, each kernel dequantizes in its inner loop.

A Llama linear layer is ``x @ Wᵀ`` with W ``[N, K]`` quantized in blocks of ``bk`` along K (llama.cpp's
Q4_0/Q4_1/Q8_0; onnxruntime-web's MatMulNBits has the same layout). These kernels read W as it sits in
its buffer — 4-bit nibbles (eight to a u32) or int8 (four to a u32) — plus one scale (zero point, bias)
per block, and never write a dequantized copy:

- ``register`` tiling (CPU adapters such as SwiftShader): an invocation owns ``rm`` rows × 4 columns in
  registers, no workgroup memory and no barriers (see matmul.py). For a few rows (decode: one token is
  one row) it sums ``a·q`` and ``a`` over each block and applies the block's scale once,
  ``acc += d·Σa·q + (m − z·d)·Σa`` (llama.cpp's form); for a full tile of 8 rows it dequantizes each
  weight once per k, ``w = d·q + m − z·d``, shared by the 8 rows.
- ``workgroup`` tiling (GPUs), few rows: one workgroup of 64 invocations per 4 output columns; the 16
  lanes of a column stride over its words (so neighbouring lanes read neighbouring words) and reduce
  their partial sums in workgroup memory. More rows use the tiled matmul, whose B tile loads decode
  each weight through the value's loader, once per tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..program import FLAT_WG, Program, grid
from ..views import PER_WORD, View

#: rows at most for the block-sum (decode) form; larger products dequantize per k for a tile of 8 rows
FEW_ROWS = 4
GPU_LANES = 16  # lanes per output column in the workgroup form
GPU_COLS = 4  # output columns per workgroup in the workgroup form (64 invocations)
REG_TX = 16  # invocations per workgroup along N (register form); each owns RN columns strided by REG_TX
REG_TY = 4
REG_RN = 4


@dataclass(frozen=True)
class QuantB:
    """B of a product as ``Wᵀ``: W ``[N, K]`` quantized in blocks of ``block`` along K, stored ``per`` to a word."""

    q: View  # [N, K], row-major
    scale: View
    zero_point: View | None
    bias: View | None
    block: int
    per: int
    store: str


def quant_b(b: View, k: int, n: int) -> QuantB | None:
    """The fast layout, or None (then the generic kernels read B through its dequantizing loader)."""
    quant = b.value.quant
    if quant is None or len(quant.q.shape) != 2:
        return None
    q = quant.q
    per = PER_WORD.get(q.value.store)
    if per is None or q.shape != (n, k) or q.strides != (k, 1) or q.offset % per or k % per:
        return None
    if b.offset != 0 or b.strides[-2:] != (1, k) or any(s != 0 for s in b.strides[:-2]):
        return None  # B must be Wᵀ exactly, broadcast over any batch dims
    bn, bk = quant.blocks
    if bn != 1 or bk % per or k % bk:
        return None
    return QuantB(q, quant.scale, quant.zero_point, quant.bias, bk, per, q.value.store)


def _extract(store: str, word: str, s: int) -> str:
    """Element ``s`` of a packed word, as f32."""
    if store in ("i32", "u32"):
        return f"f32({word})"
    bits = 4 if store in ("pi4", "pu4") else 8
    if store in ("pi4", "pi8"):
        return f"f32(extractBits(bitcast<i32>({word}), {s * bits}u, {bits}u))"
    return f"f32(extractBits({word}, {s * bits}u, {bits}u))"


class _Parts:
    """Uniforms and loaders of a QuantB: word index of a column's row, scale (zero point, bias) offsets."""

    def __init__(self, prog: Program, qb: QuantB, k: int) -> None:
        self.qb = qb
        self.bq = f"b{prog.bind(qb.q.value)}"
        self.qbase = prog.u32(qb.q.offset // qb.per)
        self.qrow = prog.u32(k // qb.per)
        self.nblk = prog.u32(k // qb.block)
        self.wpb = qb.block // qb.per  # words per block: in the WGSL (loop bounds unroll better)
        self.views: dict[str, tuple[str, str, str, str]] = {}  # tag -> (loader, offset, stride n, stride block)
        for tag, v in (("s", qb.scale), ("z", qb.zero_point), ("b", qb.bias)):
            if v is None:
                continue
            strides = (0,) * (2 - len(v.shape)) + tuple(0 if d == 1 else s for d, s in zip(v.shape, v.strides))
            self.views[tag] = (prog.loader(v.value), prog.u32(v.offset), prog.u32(strides[0]), prog.u32(strides[1]))

    @property
    def has_offset(self) -> bool:
        return "b" in self.views or "z" in self.views

    def row_starts(self, col: str, j: str) -> list[str]:
        """Per-column bases: q word of the row, and each part's offset."""
        lines = [f"let qr{j} = {self.qbase} + {col} * {self.qrow};"]
        for tag, (_, off, sn, _) in self.views.items():
            lines.append(f"let {tag}r{j} = {off} + {col} * {sn};")
        return lines

    def block_params(self, blk: str, j: str) -> list[str]:
        """``d{j}`` (scale) and ``o{j}`` (bias − zero_point·scale) of block ``blk`` of column j."""
        ld, _, _, sb = self.views["s"]
        lines = [f"let d{j} = f32({ld}(sr{j} + {blk} * {sb}));"]
        if self.has_offset:
            o = "0.0"
            if "b" in self.views:
                ldb, _, _, bb = self.views["b"]
                o = f"f32({ldb}(br{j} + {blk} * {bb}))"
            if "z" in self.views:
                ldz, _, _, zb = self.views["z"]
                o = f"{o} - f32({ldz}(zr{j} + {blk} * {zb})) * d{j}"
            lines.append(f"let o{j} = {o};")
        return lines


def register_body(prog: Program, qb: QuantB, u: Any, tl: Any, ao: str, lda: str, k: int) -> list[str]:
    """The register form (CPU adapters): ``tl.rm`` rows × ``tl.rn`` columns per invocation, in registers.

    Columns are strided by the group width (as matmul.py's register tiling); a column's words are read whole
    and their elements extracted in registers. Up to FEW_ROWS rows use the block-sum form, a tile of 8 rows
    dequantizes each weight once per k for all of them.
    """
    p = _Parts(prog, qb, k)
    few = tl.rm <= FEW_ROWS
    rows, cols = range(tl.rm), range(tl.rn)
    lines = [f"let r0 = tm * {tl.bm}u + ty * {tl.rm}u;", f"let c0 = tn * {tl.bn}u + tx;"]
    # rows past M read row M-1 and columns past N column N-1: their results are not stored
    lines += [f"let ar{i} = {ao} + min(r0 + {i}u, {u.M} - 1u) * {u.sar};" for i in rows]
    for j in cols:
        lines.append(f"let cc{j} = min(c0 + {tl.tx * j}u, {u.N} - 1u);")
        lines += p.row_starts(f"cc{j}", str(j))
    lines += [f"var acc{i}_{j} = 0.0;" for i in rows for j in cols]
    lines.append(f"for (var blk = 0u; blk < {p.nblk}; blk = blk + 1u) {{")
    body: list[str] = []
    for j in cols:
        body += p.block_params("blk", str(j))
    if few:
        body += [f"var dot{i}_{j} = 0.0;" for i in rows for j in cols]
        if p.has_offset:
            body += [f"var sa{i} = 0.0;" for i in rows]
    body.append(f"for (var w = 0u; w < {p.wpb}u; w = w + 1u) {{")
    inner = [f"let kw = (blk * {p.wpb}u + w) * {qb.per}u;"]
    inner += [f"let qw{j} = {p.bq}[qr{j} + blk * {p.wpb}u + w];" for j in cols]
    for s in range(qb.per):  # each element in its own block: the names repeat
        e = [f"let a{i} = {lda}(ar{i} + (kw + {s}u) * {u.sak});" for i in rows]
        e += [f"let q{j} = {_extract(qb.store, f'qw{j}', s)};" for j in cols]
        if few:
            if p.has_offset:
                e += [f"sa{i} = sa{i} + a{i};" for i in rows]
            e += [f"dot{i}_{j} = fma(a{i}, q{j}, dot{i}_{j});" for i in rows for j in cols]
        else:
            e += [f"let w{j} = " + (f"fma(d{j}, q{j}, o{j});" if p.has_offset else f"d{j} * q{j};") for j in cols]
            e += [f"acc{i}_{j} = fma(a{i}, w{j}, acc{i}_{j});" for i in rows for j in cols]
        inner += ["{", *["  " + x for x in e], "}"]
    body += ["  " + x for x in inner] + ["}"]
    if few:
        body += [f"acc{i}_{j} = fma(d{j}, dot{i}_{j}, acc{i}_{j});" for i in rows for j in cols]
        if p.has_offset:
            body += [f"acc{i}_{j} = fma(o{j}, sa{i}, acc{i}_{j});" for i in rows for j in cols]
    lines += ["  " + x for x in body] + ["}"]
    for i in rows:
        lines.append(f"if (r0 + {i}u < {u.M}) {{")
        for j in cols:
            c = f"c0 + {tl.tx * j}u"
            lines.append(f"  if ({c} < {u.N}) {{ {u.store(f'r0 + {i}u', c, f'acc{i}_{j}')} }}")
        lines.append("}")
    return lines


def workgroup_program(prog: Program, qb: QuantB, u: Any, rm: int, handle: tuple[int, int, int], lda: str,
                      k: int) -> tuple[list[str], tuple[int, int, int]]:
    """The workgroup form for a few rows (GPUs): GPU_LANES lanes per column stride over its words, then reduce."""
    p = _Parts(prog, qb, k)
    rows = range(rm)
    wg = GPU_LANES * GPU_COLS
    idx_lines, (ao, _) = prog.index_code("bi", handle, "x")
    lines = [FLAT_WG, f"let groups = ({u.N} + {GPU_COLS - 1}u) / {GPU_COLS}u;", "let cg = wg % groups;",
             "let bi = wg / groups;", f"if (bi >= {u.NB}) {{ return; }}", *idx_lines,
             f"let lane = li % {GPU_LANES}u;", f"let col = cg * {GPU_COLS}u + li / {GPU_LANES}u;",
             f"let cc = min(col, {u.N} - 1u);", *p.row_starts("cc", ""),
             *[f"let ar{i} = {ao} + min({i}u, {u.M} - 1u) * {u.sar};" for i in rows],
             *[f"var acc{i} = 0.0;" for i in rows],
             f"for (var w = lane; w < {p.qrow}; w = w + {GPU_LANES}u) {{",
             f"  let blk = w / {p.wpb}u;",
             *["  " + x for x in p.block_params("blk", "")],
             f"  let qw = {p.bq}[qr + w];", f"  let kw = w * {qb.per}u;",
             *[f"  var dot{i} = 0.0; var sa{i} = 0.0;" for i in rows]]
    for s in range(qb.per):
        e = [f"let q = {_extract(qb.store, 'qw', s)};"]
        for i in rows:
            e += [f"let a{i} = {lda}(ar{i} + (kw + {s}u) * {u.sak});", f"dot{i} = fma(a{i}, q, dot{i});"]
            if p.has_offset:
                e.append(f"sa{i} = sa{i} + a{i};")
        lines += ["  {", *["    " + x for x in e], "  }"]
    for i in rows:
        lines.append(f"  acc{i} = fma(d, dot{i}, acc{i});")
        if p.has_offset:
            lines.append(f"  acc{i} = fma(o, sa{i}, acc{i});")
    lines.append("}")
    prog.decls.append(f"var<workgroup> red: array<f32, {wg * rm}>;")
    lines += [f"red[li * {rm}u + {i}u] = acc{i};" for i in rows]
    lines.append("workgroupBarrier();")
    st = GPU_LANES // 2
    while st:
        lines.append(f"if (lane < {st}u) {{")
        lines += [f"  red[li * {rm}u + {i}u] = red[li * {rm}u + {i}u] + red[(li + {st}u) * {rm}u + {i}u];"
                  for i in rows]
        lines += ["}", "workgroupBarrier();"]
        st //= 2
    lines.append(f"if (lane == 0u && col < {u.N}) {{")
    lines += [f"  if ({i}u < {u.M}) {{ {u.store(f'{i}u', 'col', f'red[li * {rm}u + {i}u]')} }}" for i in rows]
    lines.append("}")
    groups = -(-u.n_value // GPU_COLS) * u.nb_value
    return lines, grid(groups, prog.label)
