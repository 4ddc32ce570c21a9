"""Small helpers the op families share: tolerance builders and input specs."""

from __future__ import annotations

from typing import Callable

from ..dtypes import ALL_TYPES, FLOAT_TYPES
from ..registry import EXACT, Call, InputSpec, Tolerance, ToleranceFn

FLOATS = FLOAT_TYPES
NUMBERS = tuple(t for t in ALL_TYPES if t != "uint64")
SIGNED = ("float32", "float16", "int32", "int64", "int8")
INDEX_TYPES = ("int32", "uint32", "int64")


def out_dtype(call: Call) -> str:
    d = call.inputs[0]
    assert d is not None
    return d.dtype


def ulp(f32: float, f16: float | None = None) -> ToleranceFn:
    """A fixed ULP tolerance for float outputs (integer outputs compare exactly)."""

    def tol(call: Call) -> Tolerance:
        dt = out_dtype(call)
        if dt == "float16":
            return Tolerance(ulp=f16 if f16 is not None else f32)
        return Tolerance(ulp=f32) if dt == "float32" else EXACT

    return tol


def atol(f32: float, f16: float | None = None, *, or_ulp: float | None = None) -> ToleranceFn:
    """An absolute tolerance (optionally 'or within N ULP') for float outputs."""

    def tol(call: Call) -> Tolerance:
        dt = out_dtype(call)
        if dt not in FLOATS:
            return EXACT
        return Tolerance(ulp=or_ulp, abs=f16 if dt == "float16" and f16 is not None else f32)

    return tol


def scaled_ulp(count: Callable[[Call], int]) -> ToleranceFn:
    """ULP tolerance that grows with the number of accumulated terms (WPT: matmul 2K, reductions N...)."""

    def tol(call: Call) -> Tolerance:
        if out_dtype(call) not in FLOATS:
            return EXACT
        return Tolerance(ulp=float(max(count(call), 0)))

    return tol


def exact(call: Call) -> Tolerance:
    return EXACT


def inp(name: str, dtypes: tuple[str, ...] = NUMBERS, **kw: object) -> InputSpec:
    return InputSpec(name, dtypes, **kw)  # type: ignore[arg-type]
