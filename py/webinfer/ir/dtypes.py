"""Data types, named as in WebNN, with the facts every layer needs (size, struct code, range).

``int4`` and ``uint4`` are packed: two elements per byte, element 2i in the low nibble of byte i and
element 2i+1 in the high nibble (WebNN's and ONNX's packing), so ``n`` elements take ``ceil(n / 2)``
bytes. They hold quantized weights (the input of ``dequantize_linear``); no other op computes on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GraphError


@dataclass(frozen=True)
class DType:
    """One element type: its WebNN name, byte size, struct code, kind and value range."""

    name: str
    itemsize: int
    struct_code: str  # for struct.pack/unpack and memoryview.cast where supported
    kind: str  # "float" | "int" | "uint"
    safetensors: str  # the dtype string safetensors files use
    min: float
    max: float
    bits: int = 0  # bits per element; 0 means 8 * itemsize

    @property
    def packed(self) -> bool:
        """Several elements per byte (int4, uint4)."""
        return 0 < self.bits < 8

    def nbytes(self, count: int) -> int:
        """Bytes that ``count`` elements take (packed types round up to a whole byte)."""
        if self.packed:
            return (count * self.bits + 7) // 8
        return count * self.itemsize

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_integer(self) -> bool:
        return self.kind != "float"

    def __str__(self) -> str:
        return self.name


_TABLE = [
    DType("float32", 4, "f", "float", "F32", -3.4028234663852886e38, 3.4028234663852886e38),
    DType("float16", 2, "e", "float", "F16", -65504.0, 65504.0),
    DType("int32", 4, "i", "int", "I32", -(2**31), 2**31 - 1),
    DType("uint32", 4, "I", "uint", "U32", 0, 2**32 - 1),
    DType("int64", 8, "q", "int", "I64", -(2**63), 2**63 - 1),
    DType("uint64", 8, "Q", "uint", "U64", 0, 2**64 - 1),
    DType("int8", 1, "b", "int", "I8", -128, 127),
    DType("uint8", 1, "B", "uint", "U8", 0, 255),
    # packed: itemsize and struct code describe the storage byte; safetensors has no 4-bit integer type, so
    # the format stores the packed bytes as U8 (the graph JSON declares the logical dtype and shape)
    DType("int4", 1, "B", "int", "U8", -8, 7, bits=4),
    DType("uint4", 1, "B", "uint", "U8", 0, 15, bits=4),
]

DTYPES: dict[str, DType] = {d.name: d for d in _TABLE}
FLOAT_TYPES = ("float32", "float16")
INT_TYPES = ("int32", "uint32", "int64", "uint64", "int8", "uint8")
PACKED_TYPES = ("int4", "uint4")
ALL_TYPES = tuple(d.name for d in _TABLE if not d.packed)  # the types ops compute on
NUMERIC_TYPES = ALL_TYPES
BY_SAFETENSORS: dict[str, DType] = {d.safetensors: d for d in _TABLE if not d.packed}


def dtype_info(name: str, *, where: str = "") -> DType:
    """The DType called ``name``; a GraphError naming ``where`` if there is none."""
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        prefix = f"{where}: " if where else ""
        raise GraphError(f"{prefix}unknown dtype {name!r}; expected one of {', '.join(DTYPES)}") from None


def pack_nibbles(values: list[int] | tuple[int, ...], signed: bool) -> bytes:
    """4-bit integers (checked to be in range by the caller) packed two per byte, element 2i low."""
    mask = [v & 0xF for v in values] if signed else list(values)
    if len(mask) % 2:
        mask.append(0)
    lo, hi = bytes(mask[0::2]), bytes(mask[1::2])
    # bytes as big ints: one OR over the whole row instead of a Python loop per byte (no numpy in the browser)
    return (int.from_bytes(lo, "little") | (int.from_bytes(hi, "little") << 4)).to_bytes(len(lo), "little")


_LO = bytes(b & 0xF for b in range(256))
_HI = bytes(b >> 4 for b in range(256))
_LO_SIGNED = bytes((b & 0xF) ^ 0x8 for b in range(256))  # offset binary: v + 8, undone after unpacking
_HI_SIGNED = bytes((b >> 4) ^ 0x8 for b in range(256))


def unpack_nibbles(data: bytes | bytearray | memoryview, count: int, signed: bool) -> list[int]:
    """The first ``count`` 4-bit integers of packed ``data`` (element 2i in the low nibble of byte i)."""
    raw = bytes(data)
    lo = raw.translate(_LO_SIGNED if signed else _LO)
    hi = raw.translate(_HI_SIGNED if signed else _HI)
    merged = bytearray(2 * len(raw))
    merged[0::2] = lo
    merged[1::2] = hi
    if signed:
        return [v - 8 for v in merged[:count]]
    return list(merged[:count])
