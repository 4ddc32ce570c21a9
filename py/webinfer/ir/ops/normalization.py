"""softmax, layer_normalization, rms_normalization and batch_normalization."""

from __future__ import annotations

from collections.abc import Iterable

from ..operand import Dim, OperandDesc, fmt_shape
from ..registry import Attr, Call, OpSpec, Tolerance, normalize_axes, normalize_axis, register, same_dims, static_count
from ._common import FLOATS, atol, described, inp, ulp


def _softmax_infer(call: Call) -> list[OperandDesc]:
    x = call.inputs[0]
    assert x is not None
    if x.rank < 1:
        raise call.error("input must have rank >= 1")
    normalize_axis(call, call["axis"], x.rank)
    return [x]


@described("3N+3 ULP (N = size of axis)")
def _softmax_tol(call: Call) -> Tolerance:
    x = call.inputs[0]
    assert x is not None
    n = static_count(call, x.shape[call["axis"] % x.rank], "the size of the softmax axis")
    return Tolerance(ulp=3.0 * n + 3)


register(
    OpSpec(
        "softmax",
        (inp("input", FLOATS),),
        (Attr("axis", "int", -1),),
        _softmax_infer,
        _softmax_tol,
        family="normalization",
        doc="exp(x - max) / sum(exp(x - max)) along axis",
        notes="an inf or NaN along the axis makes that slice NaN (as in torch)",
    )
)


def _check_params(
    call: Call, x: OperandDesc, params: Iterable[tuple[str, OperandDesc | None]], expected: tuple[Dim, ...], where: str
) -> None:
    """Each given parameter input (scale, bias, mean, ...) has the input's dtype and exactly the dims ``expected``."""
    for label, d in params:
        if d is None:
            continue
        if d.dtype != x.dtype:
            raise call.error(f"input {label!r} has dtype {d.dtype}, input has {x.dtype}")
        if d.rank != len(expected) or not all(same_dims(p, q) for p, q in zip(d.shape, expected)):
            raise call.error(f"input {label!r} is {fmt_shape(d.shape)}, expected {fmt_shape(expected)} ({where})")


def _ln_infer(call: Call) -> list[OperandDesc]:
    x, scale, bias = call.inputs
    assert x is not None
    axes = normalize_axes(call, call["axes"] if call["axes"] is not None else tuple(range(1, x.rank)), x.rank)
    if call["epsilon"] < 0:
        raise call.error(f"epsilon must be >= 0, got {call['epsilon']}")
    expected = tuple(x.shape[a] for a in axes)
    _check_params(call, x, (("scale", scale), ("bias", bias)), expected, f"the input dims at axes {list(axes)}")
    return [x]


def _scale_and_bias(b, y, scale, bias, fit):  # type: ignore[no-untyped-def]
    """``y · scale + bias`` in a decomposition, each of scale and bias optional and shaped by ``fit`` for y."""
    if scale is not None:
        y = b.mul(y, fit(scale))
    if bias is not None:
        y = b.add(y, fit(bias))
    return y


def _ln_decompose(b, inputs, attrs):  # type: ignore[no-untyped-def]
    """(x - mean) / sqrt(var + eps) * scale + bias, with mean and var over axes."""
    x, scale, bias = inputs
    rank = len(x.shape)
    axes = [a % rank for a in (attrs["axes"] if attrs["axes"] is not None else range(1, rank))]
    mean = b.reduce_mean(x, axes=axes, keep_dimensions=True)
    centered = b.sub(x, mean)
    var = b.reduce_mean(b.mul(centered, centered), axes=axes, keep_dimensions=True)
    y = b.div(centered, b.sqrt(b.add(var, b.constant(attrs["epsilon"], dtype=x.dtype))))
    return [_scale_and_bias(b, y, scale, bias, _aligner(b, x, axes))]


def _aligner(b, x, axes):  # type: ignore[no-untyped-def]
    """A function giving a scale/bias (dims in the order `axes` lists them) the input's order and rank."""
    rank = len(x.shape)
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    bshape = [x.shape[i] if i in axes else 1 for i in range(rank)]

    def aligned(t):  # type: ignore[no-untyped-def]
        if order != list(range(len(order))):
            t = b.transpose(t, permutation=order)
        return b.reshape(t, new_shape=bshape) if list(t.shape) != bshape else t

    return aligned


register(
    OpSpec(
        "layer_normalization",
        (inp("input", FLOATS), inp("scale", FLOATS, optional=True), inp("bias", FLOATS, optional=True)),
        (Attr("axes", "ints", None, optional=True), Attr("epsilon", "float", 1e-5)),
        _ln_infer,
        atol(1 / 1024, 1 / 512),
        family="normalization",
        doc="normalize over axes (default: all but the first), then scale and bias",
        decompose=_ln_decompose,
        notes=(
            "scale and bias have the input's dims at `axes`, in the order `axes` lists them (WebNN); "
            "variance is the biased (population) one; empty axes give bias (or 0)"
        ),
    )
)


def _rms_axes(call_or_attrs, rank: int) -> list[int]:  # type: ignore[no-untyped-def]
    axes = call_or_attrs["axes"]
    return [a % rank for a in axes] if axes is not None else [rank - 1]


def _rms_infer(call: Call) -> list[OperandDesc]:
    x, scale = call.inputs
    assert x is not None
    if x.rank < 1 and call["axes"] is None:
        raise call.error("input must have rank >= 1 (the default axes is the last one)")
    axes = normalize_axes(call, call["axes"] if call["axes"] is not None else (x.rank - 1,), x.rank)
    if call["epsilon"] < 0:
        raise call.error(f"epsilon must be >= 0, got {call['epsilon']}")
    expected = tuple(x.shape[a] for a in axes)
    _check_params(call, x, (("scale", scale),), expected, f"the input dims at axes {list(axes)}")
    return [x]


def _rms_decompose(b, inputs, attrs):  # type: ignore[no-untyped-def]
    """x / sqrt(mean(x², axes) + epsilon) * scale."""
    x, scale = inputs
    rank = len(x.shape)
    axes = _rms_axes(attrs, rank)
    ms = b.reduce_mean(b.mul(x, x), axes=axes, keep_dimensions=True)
    y = b.div(x, b.sqrt(b.add(ms, b.constant(attrs["epsilon"], dtype=x.dtype))))
    return [_scale_and_bias(b, y, scale, None, _aligner(b, x, axes))]


register(
    OpSpec(
        "rms_normalization",
        (inp("input", FLOATS), inp("scale", FLOATS, optional=True)),
        (Attr("axes", "ints", None, optional=True), Attr("epsilon", "float", 1e-5)),
        _rms_infer,
        atol(1 / 1024, 1 / 512),
        family="normalization",
        doc="x / sqrt(mean(x², axes) + epsilon) · scale, over axes (default: the last)",
        decompose=_rms_decompose,
        notes=(
            "RMSNorm (Llama, T5): no mean is subtracted and there is no bias; scale has the input's dims at "
            "`axes`, in the order `axes` lists them (as layer_normalization's); empty axes give x / sqrt(x² + "
            "epsilon). WebNN has no such op: backends without a kernel run the decomposition"
        ),
    )
)


def _bn_infer(call: Call) -> list[OperandDesc]:
    x = call.inputs[0]
    assert x is not None
    axis = normalize_axis(call, call["axis"], x.rank)
    if call["epsilon"] < 0:
        raise call.error(f"epsilon must be >= 0, got {call['epsilon']}")
    params = zip(("mean", "variance", "scale", "bias"), call.inputs[1:])
    _check_params(call, x, params, (x.shape[axis],), f"input dim at axis {axis}")
    return [x]


def _bn_decompose(b, inputs, attrs):  # type: ignore[no-untyped-def]
    x, mean, var, scale, bias = inputs
    rank = len(x.shape)
    axis = attrs["axis"] % rank
    shape = [x.shape[axis] if i == axis else 1 for i in range(rank)]

    def r(t):  # type: ignore[no-untyped-def]
        return b.reshape(t, new_shape=shape)

    y = b.div(b.sub(x, r(mean)), b.sqrt(b.add(r(var), b.constant(attrs["epsilon"], dtype=x.dtype))))
    return [_scale_and_bias(b, y, scale, bias, r)]


register(
    OpSpec(
        "batch_normalization",
        (
            inp("input", FLOATS),
            inp("mean", FLOATS),
            inp("variance", FLOATS),
            inp("scale", FLOATS, optional=True),
            inp("bias", FLOATS, optional=True),
        ),
        (Attr("axis", "int", 1), Attr("epsilon", "float", 1e-5)),
        _bn_infer,
        ulp(6),
        family="normalization",
        doc="(x - mean) / sqrt(variance + epsilon) * scale + bias along axis (inference form)",
        decompose=_bn_decompose,
        notes="mean, variance, scale and bias are 1-D with the size of the input dim at axis",
    )
)
