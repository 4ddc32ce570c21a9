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

WGSL_SCALAR = {"f32": "f32", "i32": "i32", "u32": "u32", "f16": "f16", "p16": "u32", "pi8": "u32", "pu8": "u32"}
COMPUTE_TYPE = {"f32": "f32", "i32": "i32", "u32": "u32", "f16": "f16", "p16": "f32", "pi8": "i32", "pu8": "u32"}
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
        """
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
        else:
            body = {
                "p16": f"return unpack2x16float(b{b}[e >> 1u])[e & 1u];",
                "pi8": f"return extractBits(bitcast<i32>(b{b}[e >> 2u]), (e & 3u) * 8u, 8u);",
                "pu8": f"return extractBits(b{b}[e >> 2u], (e & 3u) * 8u, 8u);",
            }.get(value.store, f"return b{b}[e];")
        return f"fn ld{b}(e: u32) -> {t} {{ {body} }}"

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
            out.append(src or self._loader_source(int(name[2:])))
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
