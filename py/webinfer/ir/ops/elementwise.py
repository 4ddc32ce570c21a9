"""Elementwise ops: binary with numpy broadcasting, comparisons, logical_not, where, unary, cast."""

from __future__ import annotations

from ..dtypes import FLOAT_TYPES
from ..operand import OperandDesc
from ..registry import Attr, Call, OpSpec, Tolerance, broadcast_shapes, register
from ._common import FLOATS, NUMBERS, SIGNED, atol, described, exact, inp, ulp


def _binary_infer(call: Call) -> list[OperandDesc]:
    a, b = call.inputs
    assert a is not None and b is not None
    return [OperandDesc(a.dtype, broadcast_shapes(call, a.shape, b.shape, names=("a", "b")))]


def _compare_infer(call: Call) -> list[OperandDesc]:
    return [OperandDesc("uint8", _binary_infer(call)[0].shape)]


BINARY = {  # name -> (float32 ULP, float16 ULP, dtypes, notes)
    "add": (1, 1, NUMBERS, "integers wrap around on overflow"),
    "sub": (1, 1, NUMBERS, "integers wrap around on overflow"),
    "mul": (1, 1, NUMBERS, "integers wrap around on overflow"),
    "div": (2, 2, NUMBERS,
            "integer division truncates toward zero (as C and WGSL do); integer division by zero gives 0"),
    "max": (0, 0, NUMBERS, "NaN in either input gives NaN"),
    "min": (0, 0, NUMBERS, "NaN in either input gives NaN"),
    "pow": (32, 2, NUMBERS, "integers: a negative exponent gives trunc(1 / a**-b) (so 1, -1 or 0; 0 for a = 0)"),
}
for _name, (_u32, _u16, _types, _notes) in BINARY.items():
    register(
        OpSpec(
            _name,
            (inp("a", _types), inp("b", _types, same_dtype_as="a")),
            (),
            _binary_infer,
            ulp(_u32, _u16),
            family="binary",
            doc=f"elementwise {_name} with numpy broadcasting",
            notes=_notes,
        )
    )

for _name in ("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal"):
    register(
        OpSpec(
            _name,
            (inp("a"), inp("b", same_dtype_as="a")),
            (),
            _compare_infer,
            exact,
            family="compare",
            doc=f"elementwise {_name.replace('_', ' ')}, 1 where true else 0 (uint8)",
            notes="any comparison with NaN is false (0)",
        )
    )


def _same(call: Call) -> list[OperandDesc]:
    a = call.inputs[0]
    assert a is not None
    return [OperandDesc(a.dtype, a.shape)]


register(OpSpec("logical_not", (inp("a", ("uint8",)),), (), _same, exact, family="compare",
                doc="1 where the input is 0, else 0 (uint8)"))


def _where_infer(call: Call) -> list[OperandDesc]:
    c, t, f = call.inputs
    assert c is not None and t is not None and f is not None
    shape = broadcast_shapes(call, c.shape, t.shape, f.shape, names=("condition", "true_value", "false_value"))
    return [OperandDesc(t.dtype, shape)]


register(
    OpSpec(
        "where",
        (inp("condition", ("uint8",)), inp("true_value"), inp("false_value", same_dtype_as="true_value")),
        (),
        _where_infer,
        exact,
        family="compare",
        doc="true_value where condition is non-zero, else false_value (broadcasting all three)",
        notes="any non-zero condition byte counts as true",
    )
)

# name -> (dtypes, tolerance)
UNARY = {
    "abs": (SIGNED, ulp(0)),
    "neg": (SIGNED, ulp(0)),
    "exp": (FLOATS, ulp(32, 1)),
    "log": (FLOATS, atol(1 / 1024)),
    "sqrt": (FLOATS, ulp(1)),
    "reciprocal": (FLOATS, ulp(2)),
    "erf": (FLOATS, atol(1 / 1024, 1 / 512)),
    "tanh": (FLOATS, atol(1 / 1024, 1 / 512, or_ulp=16)),
    "sigmoid": (FLOATS, ulp(34, 3)),
    "relu": (SIGNED, ulp(0)),
    "floor": (FLOATS, ulp(0)),
    "ceil": (FLOATS, ulp(0)),
    "sin": (FLOATS, atol(1 / 1024, 1 / 512)),
    "cos": (FLOATS, atol(1 / 1024, 1 / 512)),
    "identity": (NUMBERS, ulp(0)),
}
UNARY_NOTES = {
    "abs": "integers: abs of the most negative value wraps to itself",
    "neg": "integers wrap around (neg of the most negative value is itself)",
    "log": "log(0) = -inf, log of a negative number is NaN",
    "sqrt": "sqrt of a negative number is NaN",
    "reciprocal": "1/0 = inf (with the sign of the zero)",
}
for _name, (_types, _tol) in UNARY.items():
    register(OpSpec(_name, (inp("input", _types),), (), _same, _tol, family="unary", doc=f"elementwise {_name}",
                    notes=UNARY_NOTES.get(_name, "")))


def _gelu_decompose(b, inputs, attrs):  # type: ignore[no-untyped-def]
    """gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2)))."""
    (x,) = inputs
    dt = x.dtype
    half = b.constant(0.5, dtype=dt)
    one = b.constant(1.0, dtype=dt)
    inv_sqrt2 = b.constant(0.7071067811865476, dtype=dt)
    return [b.mul(b.mul(x, half), b.add(b.erf(b.mul(x, inv_sqrt2)), one))]


register(
    OpSpec("gelu", (inp("input", FLOATS),), (), _same, atol(1 / 1024, 1 / 512, or_ulp=18), family="unary",
           doc="gaussian error linear unit, exact (erf) form", decompose=_gelu_decompose,
           notes="0.5·x·(1 + erf(x/√2)) evaluated as written, so gelu(-inf) is NaN (as in torch)")
)


def _clamp_infer(call: Call) -> list[OperandDesc]:
    if call["min_value"] > call["max_value"]:
        raise call.error(f"min_value {call['min_value']} is greater than max_value {call['max_value']}")
    return _same(call)


register(
    OpSpec(
        "clamp",
        (inp("input", NUMBERS),),
        (Attr("min_value", "float", float("-inf")), Attr("max_value", "float", float("inf"))),
        _clamp_infer,
        ulp(0),
        family="unary",
        doc="clamp every element into [min_value, max_value]",
        notes="NaN stays NaN; on integers the bounds round inward (ceil(min_value), floor(max_value))",
    )
)


def _cast_infer(call: Call) -> list[OperandDesc]:
    a = call.inputs[0]
    assert a is not None
    return [OperandDesc(call["data_type"], a.shape)]


_CAST_ULP = ulp(1)


@described("1 ULP of data_type; exact for integers")
def _cast_tol(call: Call) -> Tolerance:
    return _CAST_ULP(Call(call.spec, [OperandDesc(call["data_type"], ())], call.attrs, call.node))


register(
    OpSpec(
        "cast",
        (inp("input", NUMBERS),),
        (Attr("data_type", "dtype"),),
        _cast_infer,
        _cast_tol,
        family="unary",
        doc="convert to data_type",
        notes=(
            "float to integer truncates toward zero and saturates at the integer range (NaN gives 0), as WGSL "
            "conversions do; integer to integer keeps the low bits (wraps); to float16 overflows to ±inf"
        ),
    )
)

__all__ = ["BINARY", "UNARY", "FLOAT_TYPES"]
