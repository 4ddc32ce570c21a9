"""Values (what a GPU buffer holds) and views (shape, strides, offset over a value).

Every kernel reads its inputs and writes its output through a view, so transpose, slice, expand,
split, broadcasting and most reshapes cost no copy: they only change the strides a kernel is given
as uniforms. ``coalesce`` merges dims that are contiguous in every view, so a dense elementwise op
on a [2, 128, 384] tensor indexes as rank 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# storage codes: how a value's elements sit in its buffer
#   f32 i32 u32 f16 -- one WGSL scalar per element
#   p16             -- float16 packed two to a u32 (decoded with unpack2x16float)
#   pi8 pu8         -- int8 / uint8 packed four to a u32 (decoded with extractBits)
#   pi4 pu4         -- int4 / uint4 packed eight to a u32 (element e in bits 4·(e mod 8): the graph's byte order)
#   dq dqh          -- no buffer: a dequantized block-quantized tensor (``Quant``), decoded where it is read
#                      (computed in f32, or f16 with shader-f16)
WORDS_PER_ELEMENT = {"f32": 1.0, "i32": 1.0, "u32": 1.0, "f16": 0.5, "p16": 0.5, "pi8": 0.25, "pu8": 0.25,
                     "pi4": 0.125, "pu4": 0.125, "dq": 0.0, "dqh": 0.0}
PACKED = ("p16", "pi8", "pu8", "pi4", "pu4")
VIRTUAL = ("dq", "dqh")
#: elements per u32 word of the packed integer stores
PER_WORD = {"pi8": 4, "pu8": 4, "pi4": 8, "pu4": 8, "i32": 1, "u32": 1}


@dataclass(eq=False)
class Value:
    """One tensor that lives in a GPU buffer: a graph input, a constant, an intermediate or an output."""

    id: int
    dtype: str  # the graph dtype
    store: str  # storage code (see above)
    size: int  # elements
    kind: str  # "input" | "const" | "temp" | "output" | "raw_out"
    name: str
    writers: list[int] = field(default_factory=list)  # step indices that write it
    readers: list[int] = field(default_factory=list)  # step indices that read it
    buffer: int = -1  # physical buffer assigned by the memory plan
    quant: Quant | None = None  # a virtual value's parts (store dq/dqh): it has no buffer of its own

    @property
    def is_virtual(self) -> bool:
        return self.store in VIRTUAL

    def parts(self) -> list[Value]:
        """The values that hold this value's data: itself, or a virtual value's quantized parts."""
        return [self] if self.quant is None else self.quant.values()

    @property
    def nbytes(self) -> int:
        """Bytes the value occupies (rounded up to whole 4-byte words)."""
        return 4 * max(1, math.ceil(self.size * WORDS_PER_ELEMENT[self.store]))

    def __repr__(self) -> str:
        return f"Value#{self.id}({self.name}, {self.dtype}/{self.store}, {self.size})"


@dataclass(eq=False)
class Quant:
    """A dequantized tensor, never materialized: ``(q - zero_point) · scale + bias`` at each element.

    ``q`` is a view of the quantized integers with the logical shape; ``scale``, ``zero_point`` and ``bias``
    are views over the scale's shape, aligned to the trailing dims; ``blocks[d]`` elements of axis d share one
    scale entry (``webinfer.ir.ops.quantization.block_shape``). Kernels read it through the value's loader
    (``Program.loader``) or, for the matrix products that dominate an LLM, through their own block loops.
    """

    q: View
    scale: View
    zero_point: View | None
    bias: View | None
    blocks: tuple[int, ...]

    def values(self) -> list[Value]:
        out: list[Value] = []
        for v in (self.q, self.scale, self.zero_point, self.bias):
            if v is not None and not any(v.value is o for o in out):
                out.append(v.value)
        return out

    def scale_strides(self, view: View) -> tuple[int, ...]:
        """``view`` (scale-shaped) aligned to q's rank: strides per q axis, 0 where the scale dim is 1."""
        pad = len(self.q.shape) - len(view.shape)
        return (0,) * pad + tuple(0 if n == 1 else s for n, s in zip(view.shape, view.strides))


def dense_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides of ``shape``."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * max(shape[d + 1], 1)
    return tuple(strides)


@dataclass(frozen=True)
class View:
    """Elements of ``value`` at ``offset + sum(coord[d] * strides[d])`` for coords within ``shape``."""

    value: Value
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int = 0

    @classmethod
    def dense(cls, value: Value, shape: Sequence[int]) -> View:
        return cls(value, tuple(shape), dense_strides(shape), 0)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_dense(self) -> bool:
        """Row-major, starting at element 0 and covering the whole value."""
        return self.offset == 0 and self.size == self.value.size and all(
            s == t for s, t, n in zip(self.strides, dense_strides(self.shape), self.shape) if n != 1
        )

    # -- movement ops: each returns a new view of the same value ------------------------------------
    def transpose(self, perm: Sequence[int]) -> View:
        return View(self.value, tuple(self.shape[p] for p in perm), tuple(self.strides[p] for p in perm), self.offset)

    def slice(self, starts: Sequence[int], sizes: Sequence[int], steps: Sequence[int]) -> View:
        shape = tuple((n + s - 1) // s for n, s in zip(sizes, steps))
        offset = self.offset + sum(st * sd for st, sd in zip(starts, self.strides))
        return View(self.value, shape, tuple(sd * s for sd, s in zip(self.strides, steps)), offset)

    def broadcast_to(self, shape: Sequence[int]) -> View:
        """Numpy broadcasting: missing leading dims and size-1 dims get stride 0."""
        pad = len(shape) - len(self.shape)
        assert pad >= 0, (self.shape, shape)
        strides = [0] * pad + [0 if n == 1 and m != 1 else s for n, m, s in zip(self.shape, shape[pad:], self.strides)]
        return View(self.value, tuple(shape), tuple(strides), self.offset)

    def reshape(self, shape: Sequence[int]) -> View | None:
        """The same elements in a new shape, or None when no strides can express it (copy first)."""
        shape = tuple(shape)
        if math.prod(shape) != self.size:
            raise ValueError(f"reshape {self.shape} -> {shape}")
        if self.size == 0 or self.is_dense:
            return View(self.value, shape, dense_strides(shape), self.offset)
        strides = _reshape_strides(self.shape, self.strides, shape)
        return None if strides is None else View(self.value, shape, strides, self.offset)


def _reshape_strides(old: Sequence[int], old_strides: Sequence[int], new: Sequence[int]) -> tuple[int, ...] | None:
    """Strides for viewing (old, old_strides) as ``new`` (PyTorch's computeStride), or None."""
    if not old:
        return tuple(0 for _ in new)
    out = [0] * len(new)
    view_d = len(new) - 1
    chunk_base = old_strides[-1]
    tensor_n = 1
    view_n = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_n *= old[d]
        if d == 0 or (old[d - 1] != 1 and old_strides[d - 1] != tensor_n * chunk_base):
            while view_d >= 0 and (view_n < tensor_n or new[view_d] == 1):
                out[view_d] = view_n * chunk_base
                view_n *= new[view_d]
                view_d -= 1
            if view_n != tensor_n:
                return None
            if d > 0:
                chunk_base = old_strides[d - 1]
                tensor_n = 1
                view_n = 1
    return tuple(out) if view_d == -1 else None


def coalesce(shape: Sequence[int], strides: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Drop size-1 dims and merge neighbours that are contiguous in every stride set.

    ``strides`` holds one stride tuple per view over ``shape``; the result indexes the same
    elements with the fewest dims (at least one).
    """
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in strides]
    for d in dims:
        if out_shape and all(st[-1] == s[d] * shape[d] for st, s in zip(out_strides, strides)):
            out_shape[-1] *= shape[d]
            for st, s in zip(out_strides, strides):
                st[-1] = s[d]
            continue
        out_shape.append(shape[d])
        for st, s in zip(out_strides, strides):
            st.append(s[d])
    if not out_shape:
        return (1,), [(0,) for _ in strides]
    return tuple(out_shape), [tuple(st) for st in out_strides]
