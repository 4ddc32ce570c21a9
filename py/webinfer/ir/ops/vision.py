"""2-D convolution and pooling, in nchw or nhwc layout."""

from __future__ import annotations

from ..operand import Dim, OperandDesc, fmt_shape
from ..registry import Attr, Call, OpSpec, Tolerance, register
from ._common import FLOATS, described, inp, ulp

LAYOUTS = ("nchw", "nhwc")
FILTER_LAYOUTS = ("oihw", "hwio", "ohwi", "ihwo")


def out_size(
    call: Call, size: int, k: int, pad_b: int, pad_e: int, stride: int, dilation: int, ceil: bool, axis: str
) -> int:
    """Output length of one spatial axis; an error when the window does not fit."""
    span = (k - 1) * dilation + 1
    padded = size + pad_b + pad_e
    if padded < span:
        raise call.error(f"{axis}: the window ({span} with dilation) is larger than the padded input ({padded})")
    num = padded - span
    return (-(-num // stride) if ceil else num // stride) + 1


def _pairs(call: Call) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    pad, strides, dil = call["padding"], call["strides"], call["dilations"]
    if len(pad) != 4:
        raise call.error(f"padding needs 4 values [top, bottom, left, right], got {list(pad)}")
    if len(strides) != 2 or len(dil) != 2:
        raise call.error(f"strides and dilations need 2 values, got {list(strides)} and {list(dil)}")
    if any(p < 0 for p in pad) or any(s < 1 for s in strides) or any(d < 1 for d in dil):
        raise call.error("padding must be >= 0, strides and dilations >= 1")
    return pad, strides, dil


def _out_shape(call: Call, layout: str, nchw: tuple[Dim, int, int, int], window: tuple[int, int],
               pairs: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]], ceil: bool) -> tuple[Dim, ...]:
    """The output shape in ``layout`` for output batch/channels/input plane ``nchw``, each spatial axis by out_size."""
    n, c, h, w = nchw
    (kh, kw), (pad, (sh, sw), (dh, dw)) = window, pairs
    oh = out_size(call, h, kh, pad[0], pad[1], sh, dh, ceil, "height")
    ow = out_size(call, w, kw, pad[2], pad[3], sw, dw, ceil, "width")
    return (n, c, oh, ow) if layout == "nchw" else (n, oh, ow, c)


def nhwc_dims(call: Call, x: OperandDesc, layout: str) -> tuple:
    if x.rank != 4:
        raise call.error(f"input must have rank 4 ({layout}), got {fmt_shape(x.shape)}")
    n, c, h, w = x.shape if layout == "nchw" else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
    for label, d in (("height", h), ("width", w), ("channels", c)):
        if not isinstance(d, int):
            raise call.error(f"input {label} must be static, got {d!r} in {fmt_shape(x.shape)}")
    return n, c, h, w


def filter_ohwi(call: Call, f: OperandDesc) -> tuple[int, int, int, int]:
    """(out channels, kh, kw, in channels per group) from the filter in its layout."""
    if f.rank != 4 or not f.is_static:
        raise call.error(f"filter must be a static rank-4 tensor, got {fmt_shape(f.shape)}")
    s = dict(zip(call["filter_layout"], f.shape))
    return s["o"], s["h"], s["w"], s["i"]  # type: ignore[return-value]


def _conv_infer(call: Call) -> list[OperandDesc]:
    x, f, bias = call.inputs
    assert x is not None and f is not None
    layout = call["input_layout"]
    n, c, h, w = nhwc_dims(call, x, layout)
    o, kh, kw, ci = filter_ohwi(call, f)
    pairs = _pairs(call)
    g = call["groups"]
    if g < 1 or c % g or o % g:
        raise call.error(f"groups {g} must divide input channels {c} and output channels {o}")
    if ci * g != c:
        raise call.error(
            f"filter {fmt_shape(f.shape)} ({call['filter_layout']}) takes {ci} input channels per group; "
            f"input has {c} channels in {g} group(s), so {c // g} expected"
        )
    shape = _out_shape(call, layout, (n, o, h, w), (kh, kw), pairs, False)
    if bias is not None and (bias.rank != 1 or bias.shape[0] != o):
        raise call.error(f"bias must be [{o}] (one per output channel), got {fmt_shape(bias.shape)}")
    return [OperandDesc(x.dtype, shape)]


@described("2·kh·kw·Cin/groups ULP (+1 with bias)")
def _conv_tol(call: Call) -> Tolerance:
    f = call.inputs[1]
    assert f is not None
    o, kh, kw, ci = filter_ohwi(call, f)
    return Tolerance(ulp=2.0 * kh * kw * ci + (1 if call.inputs[2] is not None else 0))


_CONV_ATTRS = (
    Attr("padding", "ints", (0, 0, 0, 0)),
    Attr("strides", "ints", (1, 1)),
    Attr("dilations", "ints", (1, 1)),
)

register(
    OpSpec(
        "conv2d",
        (inp("input", FLOATS), inp("filter", FLOATS, same_dtype_as="input"),
         inp("bias", FLOATS, optional=True, same_dtype_as="input")),
        _CONV_ATTRS
        + (
            Attr("groups", "int", 1),
            Attr("input_layout", "str", "nchw", choices=LAYOUTS),
            Attr("filter_layout", "str", "oihw", choices=FILTER_LAYOUTS),
        ),
        _conv_infer,
        _conv_tol,
        family="vision",
        doc="2-D convolution with groups (depthwise when groups = channels), strides, dilations, padding",
        notes="padding is [top, bottom, left, right] with zeros; filter_layout names the filter's dims (o, i, h, w)",
    )
)


def _window(call: Call, h: int, w: int) -> tuple[int, int]:
    wd = call["window_dimensions"]
    if wd is None:
        return h, w
    if len(wd) != 2 or wd[0] < 1 or wd[1] < 1:
        raise call.error(f"window_dimensions needs 2 values >= 1, got {list(wd)}")
    return wd[0], wd[1]


def _pool_infer(call: Call) -> list[OperandDesc]:
    x = call.inputs[0]
    assert x is not None
    layout = call["layout"]
    n, c, h, w = nhwc_dims(call, x, layout)
    window, pairs = _window(call, h, w), _pairs(call)
    sizes = call["output_sizes"]
    if sizes is None:
        return [OperandDesc(x.dtype, _out_shape(call, layout, (n, c, h, w), window, pairs,
                                                call["rounding_type"] == "ceil"))]
    # WebNN: output_sizes, when given, replaces rounding_type; it must be the floor sizes or the ceil sizes
    floor = _out_shape(call, layout, (n, c, h, w), window, pairs, False)
    ceil = _out_shape(call, layout, (n, c, h, w), window, pairs, True)
    at = (2, 3) if layout == "nchw" else (1, 2)
    floor_hw, ceil_hw = [floor[i] for i in at], [ceil[i] for i in at]
    if list(sizes) not in (floor_hw, ceil_hw):
        legal = f"{floor_hw} (floor) or {ceil_hw} (ceil)" if floor_hw != ceil_hw else f"{floor_hw}"
        raise call.error(f"output_sizes must be {legal} [height, width], got {list(sizes)}")
    return [OperandDesc(x.dtype, floor if list(sizes) == floor_hw else ceil)]


@described("kh·kw+2 ULP")
def _avg_tol(call: Call) -> Tolerance:
    x = call.inputs[0]
    assert x is not None
    _, _, h, w = nhwc_dims(call, x, call["layout"])
    kh, kw = _window(call, h, w)
    return Tolerance(ulp=float(kh * kw + 2))


_POOL_ATTRS = (
    Attr("window_dimensions", "ints", None, optional=True),
    *_CONV_ATTRS,
    Attr("layout", "str", "nchw", choices=LAYOUTS),
    Attr("rounding_type", "str", "floor", choices=("floor", "ceil")),
    Attr("output_sizes", "ints", None, optional=True),
)
#: attributes renamed to WebNN's names; graph files written before the rename are read with the new name
_POOL_RENAMED = {"output_shape_rounding": "rounding_type"}

register(
    OpSpec("average_pool2d", (inp("input", FLOATS),), _POOL_ATTRS, _pool_infer, _avg_tol, family="vision",
           doc="mean over each window (padding excluded from the count); default window: the whole plane",
           notes=(
               "padding cells are not counted (as webnn-baseline does); rounding_type 'ceil' (or output_sizes "
               "naming the ceil size) uses WebNN's formula, so a last window may lie wholly in the padding: it "
               "averages nothing and gives NaN"
           ), renamed_attrs=_POOL_RENAMED)
)
register(
    OpSpec("max_pool2d", (inp("input", FLOATS),), _POOL_ATTRS, _pool_infer, ulp(0), family="vision",
           doc="maximum over each window; default window: the whole plane",
           notes="padding never wins (it is -inf); a window wholly in the padding gives -inf; NaN propagates",
           renamed_attrs=_POOL_RENAMED)
)
