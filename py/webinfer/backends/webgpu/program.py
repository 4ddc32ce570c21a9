"""Assemble one WGSL compute shader: uniform params, storage bindings, loaders, helpers, the kernel body.

Shapes, strides, offsets and scalar attributes go into a uniform block (``pu(i)`` reads word ``i``);
the WGSL text depends only on structure (op, dtypes, ranks, variants), so one pipeline serves every
shape and the executor caches pipelines by source.

The one indexing helper is :meth:`Program.index`: it splits a flat index over a (coalesced) shape
held in the uniforms and returns, for each view given, the WGSL expression of that element's offset.
Every kernel and every fused epilogue finds its elements through it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .views import PACKED, Value, View

WGSL_SCALAR = {"f32": "f32", "i32": "i32", "u32": "u32", "f16": "f16", "p16": "u32", "pi8": "u32", "pu8": "u32",
               "pi4": "u32", "pu4": "u32"}
COMPUTE_TYPE = {"f32": "f32", "i32": "i32", "u32": "u32", "f16": "f16", "p16": "f32", "pi8": "i32", "pu8": "u32",
                "pi4": "i32", "pu4": "u32", "dq": "f32", "dqh": "f16"}
#: WGSL decoding element ``e`` of a packed binding ``b``
UNPACK = {
    "p16": "unpack2x16float({b}[e >> 1u])[e & 1u]",
    "pi8": "extractBits(bitcast<i32>({b}[e >> 2u]), (e & 3u) * 8u, 8u)",
    "pu8": "extractBits({b}[e >> 2u], (e & 3u) * 8u, 8u)",
    "pi4": "extractBits(bitcast<i32>({b}[e >> 3u]), (e & 7u) * 4u, 4u)",
    "pu4": "extractBits({b}[e >> 3u], (e & 7u) * 4u, 4u)",
}
MAX_GRID = 65535


class Program:
    """One shader under construction; kernels add params, bindings and lines, then call ``render``."""

    def __init__(self, label: str, tiling: str = "workgroup") -> None:
        self.label = label
        self.tiling = tiling  # "workgroup" (GPUs) or "register" (CPU adapters): see kernels/matmul.py
        self.words: list[int] = []
        self.bindings: list[tuple[Value, bool]] = []  # (value, writable), binding i+1
        self.vec4: set[int] = set()  # bindings declared as arrays of vec4
        self.helpers: dict[str, str] = {}
        self.decls: list[str] = []
        self.uses_f16 = False
        self.quant_loaders: dict[int, str] = {}  # virtual value id -> its loader's name

    # -- uniforms ----------------------------------------------------------------------------------
    def u32(self, value: int) -> str:
        """A u32 uniform holding ``value``; returns its WGSL expression."""
        if not 0 <= value < 2**32:
            raise OverflowError(f"{self.label}: {value} does not fit a u32 uniform")
        self.words.append(int(value))
        return f"pu({len(self.words) - 1}u)"

    def i32(self, value: int) -> str:
        value = max(-(2**31), min(2**31 - 1, int(value)))
        self.words.append(value & 0xFFFFFFFF)
        return f"bitcast<i32>(pu({len(self.words) - 1}u))"

    def f32(self, value: float) -> str:
        self.words.append(struct.unpack("<I", struct.pack("<f", _f32(value)))[0])
        return f"bitcast<f32>(pu({len(self.words) - 1}u))"

    def scalar(self, value: float, t: str) -> str:
        """A uniform scalar of compute type ``t`` (f32, f16, i32 or u32)."""
        if t == "f32":
            return self.f32(value)
        if t == "f16":
            self.uses_f16 = True
            return f"f16({self.f32(value)})"
        if t == "i32":
            return self.i32(int(value))
        return self.u32(int(value) & 0xFFFFFFFF)

    # -- bindings ----------------------------------------------------------------------------------
    def bind(self, value: Value, writable: bool = False) -> int:
        """The binding number of ``value`` (one binding per value, however many views read it)."""
        if value.is_virtual:
            raise ValueError(f"{self.label}: {value} has no buffer; read it through its loader")
        for i, (v, w) in enumerate(self.bindings):
            if v is value:
                if writable and not w:
                    self.bindings[i] = (v, True)
                return i + 1
        self.bindings.append((value, writable))
        if value.store == "f16":
            self.uses_f16 = True
        return len(self.bindings)

    def bind_vec4(self, value: Value) -> int:
        """Bind ``value`` as an array of vec4 (for vectorized loads); its scalar loaders adapt at render.

        The declared element type of a binding is decided here, once per value, and every loader of
        that value reads through it: a value read both vectorized (one matmul operand) and element by
        element (the other operand, or an epilogue, over the same buffer) is declared vec4 and its
        scalar loader indexes ``b[e >> 2u][e & 3u]``. Packed storage and written bindings stay scalar.
        """
        if value.store in PACKED:
            raise ValueError(f"{self.label}: {value} is packed; it cannot be read as vec4")
        b = self.bind(value)
        if self.bindings[b - 1][1]:
            raise ValueError(f"{self.label}: {value} is written by this kernel; it cannot be read as vec4")
        self.vec4.add(b)
        return b

    def loader(self, value: Value) -> str:
        """Name of ``fn ldN(e: u32) -> T`` reading element ``e`` of ``value`` (decoding packed storage).

        Its body is written at :meth:`render`, when the binding's element type (scalar or vec4) is final.
        A virtual (dequantized) value gets ``fn ldqK(e: u32)``, which decodes its parts (:meth:`quant_loader`).
        """
        if value.quant is not None:
            return self.quant_loader(value)
        b = self.bind(value)
        name = f"ld{b}"
        self.helpers.setdefault(name, "")  # keeps helper order; filled in by render
        return name

    def vec_loader(self, value: Value) -> str:
        """Name of ``fn ldvN(q: u32) -> vec4<T>`` reading elements 4q..4q+3 of ``value`` (one vec4 load)."""
        b = self.bind_vec4(value)
        name = f"ldv{b}"
        t = WGSL_SCALAR[value.store]
        self.helpers.setdefault(name, f"fn {name}(q: u32) -> vec4<{t}> {{ return b{b}[q]; }}")
        return name

    def _loader_source(self, b: int) -> str:
        value = self.bindings[b - 1][0]
        t = COMPUTE_TYPE[value.store]
        if b in self.vec4:
            body = f"return b{b}[e >> 2u][e & 3u];"
        elif value.store in UNPACK:
            body = "return " + UNPACK[value.store].format(b=f"b{b}") + ";"
        else:
            body = f"return b{b}[e];"
        return f"fn ld{b}(e: u32) -> {t} {{ {body} }}"

    def quant_loader(self, value: Value) -> str:
        """``fn ldqK(e: u32) -> f32`` (f16 for store dqh): element ``e`` (row-major) of a dequantized value.

        It splits ``e`` over the logical shape, reads q at its view's offset and the scale (zero point, bias)
        of the element's block, and returns ``(q - zero_point) · scale + bias``. Shapes, strides and block
        sizes are uniforms, so the source depends only on the rank and which parts exist.
        """
        name = self.quant_loaders.get(value.id)
        if name is not None:
            return name
        quant = value.quant
        assert quant is not None
        name = f"ldq{len(self.quant_loaders)}"
        self.quant_loaders[value.id] = name
        q = quant.q
        rank = len(q.shape)
        lines = ["var r = e;"]
        shape = [self.u32(n) for n in q.shape]
        blocks = [self.u32(max(b, 1)) for b in quant.blocks]
        parts = [("q", q, tuple(q.strides), False)] + [
            (tag, v, quant.scale_strides(v), True)
            for tag, v in (("s", quant.scale), ("z", quant.zero_point), ("b", quant.bias)) if v is not None]
        offs = {}
        for tag, v, strides, _ in parts:
            offs[tag] = (self.u32(v.offset), [self.u32(st) for st in strides])
        for tag, _, _, _ in parts:
            lines.append(f"var {tag}o = {offs[tag][0]};")
        for d in range(rank - 1, -1, -1):
            lines.append(f"let c{d} = r % {shape[d]}; r = r / {shape[d]};" if d else f"let c{d} = r;")
            for tag, _, _, blocked in parts:
                c = f"(c{d} / {blocks[d]})" if blocked else f"c{d}"
                lines.append(f"{tag}o = {tag}o + {c} * {offs[tag][1][d]};")
        lds = {tag: self.loader(v.value) for tag, v, _, _ in parts}
        y = f"f32({lds['q']}(qo))"
        if "z" in lds:
            y = f"({y} - f32({lds['z']}(zo)))"
        y = f"{y} * f32({lds['s']}(so))"
        if "b" in lds:
            y = f"{y} + f32({lds['b']}(bo))"
        t = COMPUTE_TYPE[value.store]
        ret = f"{t}({y})" if t != "f32" else y
        body = "\n  ".join(lines + [f"return {ret};"])
        self.helpers[name] = f"fn {name}(e: u32) -> {t} {{\n  {body}\n}}"
        return name

    def store_ref(self, value: Value, index: str) -> str:
        """The WGSL lvalue of element ``index`` of a value this kernel writes (bound writable, scalar)."""
        b = self.bind(value, writable=True)
        if b in self.vec4:
            raise ValueError(f"{self.label}: {value} is read as vec4 and written by one kernel")
        return f"b{b}[{index}]"

    def helper(self, name: str, source: str) -> str:
        self.helpers.setdefault(name, source)
        return name

    # -- the indexing helper -------------------------------------------------------------------------
    def index(
        self, flat: str, shape: Sequence[int], views: Sequence[tuple[Sequence[int], int]], tag: str
    ) -> tuple[list[str], list[str]]:
        """Split ``flat`` over ``shape`` and give each view's element offset.

        ``views`` holds (strides, offset) per view over ``shape`` (already coalesced). Returns WGSL
        statements and, per view, the name of the u32 holding its offset. Shape, strides and
        offsets are uniforms; only the rank shapes the WGSL.
        """
        return self.index_code(flat, self.index_words(shape, views), tag)

    def index_words(self, shape: Sequence[int], views: Sequence[tuple[Sequence[int], int]]) -> tuple[int, int, int]:
        """Put an index space (shape, and strides + offset per view) into the uniforms; a handle for index_code."""
        base = len(self.words)
        for n in shape:
            self.u32(n)
        for strides, offset in views:
            assert len(strides) == len(shape), (strides, shape)
            self.u32(offset)
            for s in strides:
                self.u32(s)
        return base, len(shape), len(views)

    def index_code(self, flat: str, handle: tuple[int, int, int], tag: str) -> tuple[list[str], list[str]]:
        """WGSL splitting ``flat`` over an index space from index_words; offsets named ``{tag}o{k}``."""
        base, rank, nviews = handle
        lines = [f"var {tag}r = {flat};"]
        coords = [""] * rank
        for d in range(rank - 1, -1, -1):
            c = f"{tag}c{d}"
            if d == 0:
                lines.append(f"let {c} = {tag}r;")
            else:
                lines.append(f"let {c} = {tag}r % pu({base + d}u); {tag}r = {tag}r / pu({base + d}u);")
            coords[d] = c
        names = []
        for k in range(nviews):
            w = base + rank + k * (rank + 1)
            terms = [f"pu({w}u)"] + [f"{coords[d]} * pu({w + 1 + d}u)" for d in range(rank)]
            name = f"{tag}o{k}"
            lines.append(f"let {name} = " + " + ".join(terms) + ";")
            names.append(name)
        return lines, names

    # -- output ------------------------------------------------------------------------------------
    def render(self, body: str, workgroup: tuple[int, int, int]) -> str:
        """The complete WGSL source."""
        n = max(1, (len(self.words) + 3) // 4)
        out = []
        if self.uses_f16:
            out.append("enable f16;")
        out.append(f"struct Params {{ v: array<vec4<u32>, {n}> }}")
        out.append("@group(0) @binding(0) var<uniform> P: Params;")
        out.append("fn pu(i: u32) -> u32 { return P.v[i >> 2u][i & 3u]; }")
        for i, (v, w) in enumerate(self.bindings):
            t = WGSL_SCALAR[v.store]
            if i + 1 in self.vec4:
                t = f"vec4<{t}>"
            access = "read_write" if w else "read"
            out.append(f"@group(0) @binding({i + 1}) var<storage, {access}> b{i + 1}: array<{t}>;")
        for name, src in self.helpers.items():
            out.append(src or self._loader_source(int(name[2:])))  # an empty source: a plain loader ldN
        out.extend(self.decls)
        x, y, z = workgroup
        out.append(
            f"@compute @workgroup_size({x}, {y}, {z})\n"
            "fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32,\n"
            "        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {\n"
            + body
            + "\n}"
        )
        return "\n".join(out) + "\n"


def _f32(value: float) -> float:
    """``value`` as the nearest float32 (inf beyond the range)."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def grid(workgroups: int, what: str) -> tuple[int, int, int]:
    """A dispatch of ``workgroups`` groups as a 2-D grid within maxComputeWorkgroupsPerDimension."""
    from ...errors import BackendError

    if workgroups <= MAX_GRID:
        return (max(workgroups, 0), 1, 1)
    y = -(-workgroups // MAX_GRID)
    if y > MAX_GRID:
        raise BackendError(
            f"webgpu: {what} needs {workgroups} workgroups, more than maxComputeWorkgroupsPerDimension² "
            f"({MAX_GRID}²); the tensor is too large for one dispatch"
        )
    x = -(-workgroups // y)
    return (x, y, 1)


# WGSL: the flat workgroup index under a 2-D grid, and the flat invocation index for 1-D workgroups
FLAT_WG = "let wg = wid.x + wid.y * nwg.x;"


def flat_thread(size: int) -> str:
    return f"let gi = gid.x + gid.y * nwg.x * {size}u;"


def is_packed(view: View | None) -> bool:
    return view is not None and view.value.store in PACKED
