"""Operand descriptors: a dtype and a shape whose dims are ints or symbolic names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import GraphError
from .dtypes import DType, dtype_info

Dim = int | str
Shape = tuple[Dim, ...]

MAX_RANK = 8
MAX_DIM = 2**40  # any single dim beyond this is a lie, not a tensor


def check_dim(d: object, where: str) -> Dim:
    """Validate one dim: a non-negative int, or a non-empty identifier-like name."""
    if isinstance(d, bool):
        raise GraphError(f"{where}: dimension {d!r} is a bool, expected an int or a name")
    if isinstance(d, int):
        if d < 0 or d > MAX_DIM:
            raise GraphError(f"{where}: dimension {d} is out of range [0, {MAX_DIM}]")
        return d
    if isinstance(d, str):
        if (not d or len(d) > 64 or not d.isascii() or not (d[0].isalpha() or d[0] == "_")
                or not all(c.isalnum() or c == "_" for c in d)):
            raise GraphError(
                f"{where}: symbolic dimension {d!r} must be a name like 'batch' (ASCII letters, digits, _)"
            )
        return d
    raise GraphError(f"{where}: dimension {d!r} is a {type(d).__name__}, expected an int or a name")


def check_shape(shape: object, where: str) -> Shape:
    """Validate a shape given as a list/tuple of dims."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (list, tuple)):
        raise GraphError(f"{where}: shape must be a list of dims, got {shape!r}")
    if len(shape) > MAX_RANK:
        raise GraphError(f"{where}: rank {len(shape)} exceeds the maximum {MAX_RANK}")
    return tuple(check_dim(d, where) for d in shape)


def _as_tuple(shape: Any) -> tuple:
    if isinstance(shape, (str, bytes)):
        raise GraphError(f"operand: shape must be a list of dims, got {shape!r}")
    try:
        return tuple(shape)
    except TypeError:
        raise GraphError(f"operand: shape must be a list of dims, got {shape!r}") from None


def fmt_shape(shape: Iterable[Dim]) -> str:
    """Shapes in messages: ``[2, 3]``, ``[batch, 384]``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class OperandDesc:
    """The dtype and shape of one value in a graph."""

    dtype: str
    shape: Shape

    def __post_init__(self) -> None:
        dtype_info(self.dtype, where="operand")
        shape = self.shape if isinstance(self.shape, (list, tuple)) else _as_tuple(self.shape)
        try:
            object.__setattr__(self, "shape", check_shape(tuple(shape), "operand"))
        except GraphError as e:  # name the whole shape (built only when there is an error)
            raise GraphError(str(e).replace("operand:", f"operand {self.dtype}{fmt_shape(shape)}:", 1)) from None

    @property
    def info(self) -> DType:
        return dtype_info(self.dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(d for d in self.shape if isinstance(d, str))

    @property
    def size(self) -> int:
        """Number of elements; the shape must be static."""
        if not self.is_static:
            raise GraphError(f"shape {fmt_shape(self.shape)} is symbolic; bind its dims first")
        n = 1
        for d in self.shape:
            assert isinstance(d, int)
            n *= d
        return n

    @property
    def byte_length(self) -> int:
        return self.info.nbytes(self.size)

    def bind(self, bindings: Mapping[str, int]) -> OperandDesc:
        """The same descriptor with symbolic dims replaced by their bound sizes where known."""
        return OperandDesc(self.dtype, tuple(bindings.get(d, d) if isinstance(d, str) else d for d in self.shape))

    def to_json(self) -> dict:
        return {"dataType": self.dtype, "shape": list(self.shape)}

    def __str__(self) -> str:
        return f"{self.dtype}{fmt_shape(self.shape)}"
