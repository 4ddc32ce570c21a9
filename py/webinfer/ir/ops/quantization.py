"""Low-bit weights: ``dequantize_linear`` turns block-quantized integers (int4/uint4/int8/...) into floats.

WebNN's ``dequantizeLinear`` semantics, ``(input − zero_point) × scale``, with ``scale`` (and
``zero_point``) block-wise: each scale dim divides the matching input dim, and one scale value covers a
block of ``input dim / scale dim`` elements along that axis (a scale dim of 1 covers the whole axis, so
per-tensor and per-axis scales are special cases). webinfer adds an optional ``bias`` of the scale's
shape, added after the product: llama.cpp's Q4_1 stores a per-block minimum m, w = d·q + m.
"""

from __future__ import annotations

from ..dtypes import PACKED_TYPES
from ..operand import Dim, OperandDesc, fmt_shape
from ..registry import Call, OpSpec, Tolerance, register
from ._common import FLOATS, described, inp

QUANTIZED_TYPES = PACKED_TYPES + ("int8", "uint8", "int32")


def block_shape(call: Call, x: OperandDesc, scale: OperandDesc) -> tuple[Dim, ...]:
    """The block size per input axis (scale aligned to the input's trailing dims); errors name both shapes."""
    if scale.rank > x.rank:
        raise call.error(f"input 'scale' is {fmt_shape(scale.shape)}, of higher rank than the input "
                         f"{fmt_shape(x.shape)}")
    dims = (1,) * (x.rank - scale.rank) + scale.shape
    blocks: list[Dim] = []
    for axis, (n, s) in enumerate(zip(x.shape, dims)):
        if s == 1:
            blocks.append(n)
        elif n == s:
            blocks.append(1)
        elif isinstance(n, int) and isinstance(s, int) and s > 0 and n % s == 0:
            blocks.append(n // s)
        else:
            raise call.error(
                f"input 'scale' is {fmt_shape(scale.shape)}: its dim {s} at axis {axis} does not divide the input "
                f"dim {n} of {fmt_shape(x.shape)} (each scale dim must divide the input dim: block = input / scale)"
            )
    return tuple(blocks)


def _dequantize_infer(call: Call) -> list[OperandDesc]:
    x, scale, zero_point, bias = call.inputs
    assert x is not None and scale is not None
    block_shape(call, x, scale)
    for label, d in (("zero_point", zero_point), ("bias", bias)):
        if d is not None and d.shape != scale.shape:
            raise call.error(f"input {label!r} is {fmt_shape(d.shape)}; it must have the scale's shape "
                             f"{fmt_shape(scale.shape)}")
    if bias is not None and bias.dtype != scale.dtype:
        raise call.error(f"input 'bias' has dtype {bias.dtype} but 'scale' has {scale.dtype}; they must match")
    return [OperandDesc(scale.dtype, x.shape)]


@described("1 ULP, 2 with bias")
def _dequantize_tol(call: Call) -> Tolerance:
    # (q - zero_point) is an exact small integer; one rounding for the product, one more for + bias
    return Tolerance(ulp=2.0 if call.inputs[3] is not None else 1.0)


register(
    OpSpec(
        "dequantize_linear",
        (
            inp("input", QUANTIZED_TYPES),
            inp("scale", FLOATS),
            inp("zero_point", QUANTIZED_TYPES, optional=True, same_dtype_as="input"),
            inp("bias", FLOATS, optional=True),
        ),
        (),
        _dequantize_infer,
        _dequantize_tol,
        family="quantization",
        doc="(input - zero_point) * scale + bias, with block-wise scale, zero_point and bias",
        notes=(
            "WebNN dequantizeLinear, block-wise: scale is aligned to the input's trailing dims and each of its "
            "dims divides the input dim (block = input dim / scale dim; 1 = the whole axis); zero_point "
            "(input's dtype) and bias (scale's dtype) have the scale's shape; the output has the scale's dtype. "
            "bias is webinfer's addition for llama.cpp Q4_1 (w = d·q + m): Q4_1 is (uint4 q, float16 d, "
            "bias float16 m) with blocks of 32 along the rows; Q8_0 is (int8 q, float16 d). "
            "The 2 ULP with a bias hold where d·q and the bias do not cancel (the cases' data keep them apart)"
        ),
    )
)
