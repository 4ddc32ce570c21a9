"""Small helpers the op families share: tolerance builders (each with a description) and input specs."""

from __future__ import annotations

from collections.abc import Callable

from ..dtypes import ALL_TYPES, FLOAT_TYPES
from ..registry import EXACT, Call, InputSpec, Tolerance, ToleranceFn

FLOATS = FLOAT_TYPES
NUMBERS = tuple(t for t in ALL_TYPES if t != "uint64")
SIGNED = ("float32", "float16", "int32", "int64", "int8")
INDEX_TYPES = ("int32", "uint32", "int64")


def out_dtype(call: Call) -> str:
    """The dtype tolerances are measured in: the first input's (ops that change dtype say otherwise)."""
    d = call.inputs[0]
    assert d is not None
    return d.dtype


def described(doc: str) -> Callable[[ToleranceFn], ToleranceFn]:
    """Attach a short description (shown in the op table) to a tolerance function."""

    def deco(fn: ToleranceFn) -> ToleranceFn:
        fn.doc = doc  # type: ignore[attr-defined]
        return fn

    return deco


def _fmt_abs(v: float) -> str:
    inv = 1 / v
    return f"1/{inv:g}" if inv.is_integer() else f"{v:g}"


def ulp(f32: float, f16: float | None = None) -> ToleranceFn:
    """A fixed ULP tolerance for float outputs (integer outputs compare exactly)."""
    f16v = f16 if f16 is not None else f32

    @described("exact" if f32 == 0 and f16v == 0 else f"{f32:g} ULP" + (f" (f16: {f16v:g})" if f16v != f32 else ""))
    def tol(call: Call) -> Tolerance:
        dt = out_dtype(call)
        if dt == "float16":
            return Tolerance(ulp=f16v)
        return Tolerance(ulp=f32) if dt == "float32" else EXACT

    return tol


def atol(f32: float, f16: float | None = None, *, or_ulp: float | None = None) -> ToleranceFn:
    """An absolute tolerance (optionally 'or within N ULP') for float outputs."""
    doc = f"abs {_fmt_abs(f32)}" + (f" (f16: {_fmt_abs(f16)})" if f16 is not None and f16 != f32 else "")
    if or_ulp is not None:
        doc += f" or {or_ulp:g} ULP"

    @described(doc)
    def tol(call: Call) -> Tolerance:
        dt = out_dtype(call)
        if dt not in FLOATS:
            return EXACT
        return Tolerance(ulp=or_ulp, abs=f16 if dt == "float16" and f16 is not None else f32)

    return tol


@described("exact")
def exact(call: Call) -> Tolerance:
    """Data movement and comparisons: bit-exact."""
    return EXACT


def inp(name: str, dtypes: tuple[str, ...] = NUMBERS, **kw: object) -> InputSpec:
    """An InputSpec taking ``dtypes`` (all numeric types by default)."""
    return InputSpec(name, dtypes, **kw)  # type: ignore[arg-type]
