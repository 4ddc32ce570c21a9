"""Matrix products: batched, broadcasting ``matmul`` and ``gemm`` (alpha·op(A)·op(B) + beta·C)."""

from __future__ import annotations

from ...errors import GraphError
from ..operand import OperandDesc, fmt_shape
from ..registry import Attr, Call, OpSpec, Tolerance, broadcast_shapes, register, same_dims, static_count
from ._common import FLOATS, described, inp

MATMUL_TYPES = FLOATS + ("int32", "uint32", "int64")


def _matmul_infer(call: Call) -> list[OperandDesc]:
    a, b = call.inputs
    assert a is not None and b is not None
    for label, d in (("a", a), ("b", b)):
        if d.rank < 2:
            raise call.error(f"input {label!r} must have rank >= 2, got {fmt_shape(d.shape)}")
    if not same_dims(a.shape[-1], b.shape[-2]):
        raise call.error(f"inner dimensions differ: a is {fmt_shape(a.shape)}, b is {fmt_shape(b.shape)}")
    try:
        batch = broadcast_shapes(call, a.shape[:-2], b.shape[:-2])
    except GraphError:
        raise call.error(
            f"batch dimensions cannot be broadcast: a is {fmt_shape(a.shape)}, b is {fmt_shape(b.shape)}"
        ) from None
    return [OperandDesc(a.dtype, batch + (a.shape[-2], b.shape[-1]))]


@described("2·K ULP (K = inner size)")
def _matmul_tol(call: Call) -> Tolerance:
    a = call.inputs[0]
    assert a is not None
    if a.dtype not in FLOATS:
        return Tolerance(ulp=0)
    return Tolerance(ulp=2.0 * static_count(call, a.shape[-1], "the inner size K"))


register(
    OpSpec(
        "matmul",
        (inp("a", MATMUL_TYPES), inp("b", MATMUL_TYPES, same_dtype_as="a")),
        (),
        _matmul_infer,
        _matmul_tol,
        family="linalg",
        doc="matrix product over the last two dims; leading (batch) dims broadcast",
        notes="both inputs need rank >= 2 (no implicit 1-D promotion); integers wrap around on overflow",
    )
)


def _gemm_infer(call: Call) -> list[OperandDesc]:
    a, b, c = call.inputs
    assert a is not None and b is not None
    for label, d in (("a", a), ("b", b)):
        if d.rank != 2:
            raise call.error(f"input {label!r} must have rank 2, got {fmt_shape(d.shape)}")
    m, ka = (a.shape[1], a.shape[0]) if call["a_transpose"] else a.shape
    kb, n = (b.shape[1], b.shape[0]) if call["b_transpose"] else b.shape
    if not same_dims(ka, kb):
        raise call.error(
            f"inner dimensions differ: a is {fmt_shape(a.shape)} (a_transpose={call['a_transpose']}), "
            f"b is {fmt_shape(b.shape)} (b_transpose={call['b_transpose']})"
        )
    if c is not None:
        if c.rank > 2 or not all(d == 1 or same_dims(d, want) for d, want in zip(c.shape[::-1], (n, m))):
            raise call.error(f"input 'c' is {fmt_shape(c.shape)}, which does not broadcast to the output [{m}, {n}]")
    return [OperandDesc(a.dtype, (m, n))]


@described("2·K ULP, +1 if alpha ≠ 1, +1 for c, +1 if beta ≠ 1")
def _gemm_tol(call: Call) -> Tolerance:
    a = call.inputs[0]
    assert a is not None
    t = 2.0 * static_count(call, a.shape[0] if call["a_transpose"] else a.shape[1], "the inner size K")
    t += call["alpha"] != 1.0
    if call.inputs[2] is not None and call["beta"] != 0.0:
        t += 1 + (call["beta"] != 1.0)
    return Tolerance(ulp=t)


def _gemm_decompose(bld, inputs, attrs):  # type: ignore[no-untyped-def]
    """gemm = alpha * (A' @ B') + beta * C."""
    a, b, c = inputs
    if attrs["a_transpose"]:
        a = bld.transpose(a, permutation=[1, 0])
    if attrs["b_transpose"]:
        b = bld.transpose(b, permutation=[1, 0])
    y = bld.matmul(a, b)
    if attrs["alpha"] != 1.0:
        y = bld.mul(y, bld.constant(attrs["alpha"], dtype=y.dtype))
    if c is not None and attrs["beta"] != 0.0:
        if attrs["beta"] != 1.0:
            c = bld.mul(c, bld.constant(attrs["beta"], dtype=y.dtype))
        y = bld.add(y, c)
    return [y]


register(
    OpSpec(
        "gemm",
        (inp("a", FLOATS), inp("b", FLOATS, same_dtype_as="a"), inp("c", FLOATS, optional=True, same_dtype_as="a")),
        (
            Attr("alpha", "float", 1.0),
            Attr("beta", "float", 1.0),
            Attr("a_transpose", "bool", False),
            Attr("b_transpose", "bool", False),
        ),
        _gemm_infer,
        _gemm_tol,
        family="linalg",
        doc="alpha * (A' @ B') + beta * C for rank-2 A, B (optionally transposed); C broadcasts",
        decompose=_gemm_decompose,
        notes="c broadcasts one way to [M, N]; with beta = 0, c is ignored (inf/NaN in c do not propagate)",
    )
)
