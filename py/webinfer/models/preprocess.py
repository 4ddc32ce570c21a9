"""Image preprocessing in pure Python (no numpy, no PIL): in the page the pixels come from a canvas as RGBA bytes.

``prepare(pixels, width, height, channels=4, config=...)`` resizes so the shorter side is ``resize_shorter``
(bilinear with PIL's antialiasing: a triangle filter widened by the scale when shrinking), takes the centre
``crop`` × ``crop`` square, scales to [0, 1], normalizes with ``mean``/``std`` and returns float32 bytes in NCHW
(or NHWC) order, batch 1. Only the cropped pixels are computed: the resize and the crop are one pass per axis.
It matches ``PIL.Image.resize(..., BILINEAR)`` + crop within about one 8-bit level (PIL rounds to 8 bits after
each pass; this keeps floats), which ``tests/models/test_preprocess.py`` checks.
"""

from __future__ import annotations

import array
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError

DEFAULT = {"resize_shorter": 256, "crop": 224, "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
           "layout": "nchw"}


def _coefficients(in_size: int, out_size: int, first: int, count: int) -> list[tuple[int, list[float]]]:
    """For output positions first..first+count-1 of a resize in_size -> out_size: (first input index, weights)."""
    scale = in_size / out_size
    fscale = max(scale, 1.0)
    support = 1.0 * fscale  # the bilinear (triangle) filter's support, widened when shrinking (antialias)
    out = []
    for i in range(first, first + count):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        weights = [max(0.0, 1.0 - abs((x + 0.5 - center) / fscale)) for x in range(lo, hi)]
        total = sum(weights)
        out.append((lo, [w / total for w in weights] if total else weights))
    return out


def _taps(coefficients: list[tuple[int, list[float]]]) -> list[tuple[list[int], list[float]]]:
    """Per filter tap: the input index and weight of every output position (short filters padded with weight 0),
    so a resize is a few list comprehensions instead of a loop per output value."""
    n = max(len(ws) for _, ws in coefficients)
    return [([lo + min(t, len(ws) - 1) for lo, ws in coefficients],
             [ws[t] if t < len(ws) else 0.0 for _, ws in coefficients]) for t in range(n)]


def _apply(src: list[int], taps: list[tuple[list[int], list[float]]]) -> list[float]:
    """One resized line: the weighted sums of ``src`` that ``taps`` describe (summed in tap order)."""
    (index, weight), rest = taps[0], taps[1:]
    acc = [w * src[i] for i, w in zip(index, weight)]
    for index, weight in rest:
        acc = [v + w * src[i] for v, i, w in zip(acc, index, weight)]
    return acc


def resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``shorter`` (rounded as PIL-based pipelines do)."""
    s = shorter / min(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def prepare(pixels: bytes | bytearray | memoryview | Sequence[int], width: int, height: int, channels: int = 4,
            config: Mapping[str, Any] | None = None) -> bytes:
    """Float32 bytes of the model input [1, 3, crop, crop] (or [1, crop, crop, 3] with layout "nhwc")."""
    cfg = {**DEFAULT, **(config or {})}
    crop, shorter = int(cfg["crop"]), int(cfg["resize_shorter"])
    if channels not in (3, 4):
        raise InputError(f"preprocess: channels must be 3 (RGB) or 4 (RGBA), got {channels}")
    if width < 1 or height < 1 or width * height > 1 << 26:
        raise InputError(f"preprocess: image size {width}x{height} is out of range")
    data = memoryview(bytes(pixels)) if not isinstance(pixels, (bytes, bytearray, memoryview)) else memoryview(pixels)
    data = data.cast("B")
    if len(data) != width * height * channels:
        raise InputError(f"preprocess: {len(data)} bytes for a {width}x{height} image with {channels} channels "
                         f"({width * height * channels} expected)")
    rw, rh = resized_size(width, height, shorter)
    if rw < crop or rh < crop:
        raise InputError(f"preprocess: the resized image {rw}x{rh} is smaller than the crop {crop}")
    left, top = (rw - crop) // 2, (rh - crop) // 2
    cols = _coefficients(width, rw, left, crop)
    rows = _coefficients(height, rh, top, crop)
    needed = sorted({y for lo, ws in rows for y in range(lo, lo + len(ws))})
    # horizontal pass over the rows the vertical pass reads: per row, 3 channel lists of `crop` floats
    col_taps = _taps(cols)
    stride = width * channels
    horiz: dict[int, list[list[float]]] = {}
    for y in needed:
        row = data[y * stride:(y + 1) * stride].tolist()
        horiz[y] = [_apply(row[c::channels], col_taps) for c in range(3)]
    scale = float(cfg["scale"])
    mean, std = [float(m) for m in cfg["mean"]], [float(s) for s in cfg["std"]]
    out_planes = []
    for c in range(3):
        a, b = scale / std[c], -mean[c] / std[c]
        plane: list[float] = []
        for lo, ws in rows:
            acc = [ws[0] * p for p in horiz[lo][c]]
            for k in range(1, len(ws)):
                acc = [v + ws[k] * p for v, p in zip(acc, horiz[lo + k][c])]
            plane.extend([v * a + b for v in acc])
        out_planes.append(plane)
    if cfg["layout"] == "nhwc":
        flat = [v for triple in zip(*out_planes) for v in triple]
    else:
        flat = out_planes[0] + out_planes[1] + out_planes[2]
    if not all(math.isfinite(v) for v in flat[:1]):
        raise InputError("preprocess: non-finite output (check mean/std)")
    return array.array("f", flat).tobytes()


__all__ = ["DEFAULT", "prepare", "resized_size"]
