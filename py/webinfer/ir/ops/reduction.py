"""Reductions over axes: reduce_sum, reduce_mean, reduce_max, reduce_min."""

from __future__ import annotations

from ..operand import OperandDesc, fmt_shape
from ..registry import Attr, Call, OpSpec, Tolerance, dims_product, normalize_axes, register, static_count
from ._common import FLOATS, NUMBERS, described, inp


def _reduced_count(call: Call) -> int | None:
    x = call.inputs[0]
    assert x is not None
    axes = normalize_axes(call, call["axes"], x.rank)
    return dims_product([x.shape[a] for a in axes])


def _infer(call: Call) -> list[OperandDesc]:
    x = call.inputs[0]
    assert x is not None
    axes = normalize_axes(call, call["axes"], x.rank)
    if call.op in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
        raise call.error(f"cannot reduce an empty axis of {fmt_shape(x.shape)} (axes {list(axes)})")
    if call["keep_dimensions"]:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return [OperandDesc(x.dtype, shape)]


def _tol(extra: int, exact: bool = False):  # type: ignore[no-untyped-def]
    @described("exact" if exact else f"N{f'+{extra}' if extra else ''} ULP (N = reduced count)")
    def tol(call: Call) -> Tolerance:
        x = call.inputs[0]
        assert x is not None
        if exact or x.dtype not in FLOATS:
            return Tolerance(ulp=0)
        n = static_count(call, _reduced_count(call), "the reduced element count")
        return Tolerance(ulp=float(n + extra))

    return tol


for _name, _tolfn, _doc, _notes in (
    ("reduce_sum", _tol(0), "sum", "an empty reduction gives 0; integers wrap around"),
    ("reduce_mean", _tol(2), "mean", "an empty reduction gives NaN; integer means truncate toward zero"),
    ("reduce_max", _tol(0, exact=True), "maximum", "NaN propagates; reducing an empty axis is an error"),
    ("reduce_min", _tol(0, exact=True), "minimum", "NaN propagates; reducing an empty axis is an error"),
):
    register(
        OpSpec(
            _name,
            (inp("input", NUMBERS),),
            (Attr("axes", "ints", None, optional=True), Attr("keep_dimensions", "bool", False)),
            _infer,
            _tolfn,
            family="reduction",
            doc=f"{_doc} over axes (default all; [] reduces nothing); keep_dimensions keeps them as size 1",
            notes=_notes,
        )
    )
