"""Data types, named as in WebNN, with the facts every layer needs (size, struct code, range)."""

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
]

DTYPES: dict[str, DType] = {d.name: d for d in _TABLE}
FLOAT_TYPES = ("float32", "float16")
INT_TYPES = ("int32", "uint32", "int64", "uint64", "int8", "uint8")
ALL_TYPES = tuple(DTYPES)
NUMERIC_TYPES = ALL_TYPES
BY_SAFETENSORS: dict[str, DType] = {d.safetensors: d for d in _TABLE}


def dtype_info(name: str, *, where: str = "") -> DType:
    """The DType called ``name``; a GraphError naming ``where`` if there is none."""
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        prefix = f"{where}: " if where else ""
        raise GraphError(f"{prefix}unknown dtype {name!r}; expected one of {', '.join(DTYPES)}") from None
