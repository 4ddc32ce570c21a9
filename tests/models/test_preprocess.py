"""Pure-Python image preprocessing against PIL + numpy (the torch oracle's pipeline), and its speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from webinfer.errors import InputError
from webinfer.models.preprocess import prepare
from webinfer.tools.project import WEB_DIR

IMAGES = WEB_DIR / "images"
Image = pytest.importorskip("PIL.Image")


def _pil(im, layout="nchw") -> np.ndarray:  # type: ignore[no-untyped-def]
    w, h = im.size
    s = 256 / min(w, h)
    im = im.convert("RGB").resize((round(w * s), round(h * s)), Image.BILINEAR)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    a = (np.asarray(im.crop((left, top, left + 224, top + 224)), np.float32) / 255 - 0.5) / 0.5
    return a.transpose(2, 0, 1)[None] if layout == "nchw" else a[None]


@pytest.mark.parametrize("name", ["chelsea.jpg", "coffee.jpg"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_matches_pil_within_one_level(name, layout):
    im = Image.open(IMAGES / name).convert("RGBA")
    got = np.frombuffer(prepare(im.tobytes(), *im.size, 4, {"layout": layout}), np.float32)
    want = _pil(im, layout)
    diff = np.abs(got.reshape(want.shape) - want)
    # PIL rounds to 8 bits after each pass, we keep floats: one 8-bit level is 2/255 after the [-1, 1] scaling
    assert diff.max() <= 2 / 255 + 1e-6 and diff.mean() < 0.005, (diff.max(), diff.mean())


def test_rgb_and_rgba_agree():
    im = Image.open(IMAGES / "coffee.jpg")
    rgb = prepare(im.convert("RGB").tobytes(), *im.size, 3)
    rgba = prepare(im.convert("RGBA").tobytes(), *im.size, 4)
    assert rgb == rgba


def test_speed_in_cpython(capsys):
    """Reported, not asserted tightly (speed goals are checked by benchmarks): a 224-crop of a 600x400 photo."""
    im = Image.open(IMAGES / "coffee.jpg").convert("RGBA")
    t0 = time.perf_counter()
    prepare(im.tobytes(), *im.size, 4)
    ms = (time.perf_counter() - t0) * 1e3
    with capsys.disabled():
        print(f"\npreprocess 600x400 RGBA -> 1x3x224x224: {ms:.0f} ms (CPython)")
    assert ms < 20_000


@pytest.mark.parametrize("args, fragment", [
    ((b"\0" * 10, 2, 2, 4), "bytes for a 2x2"),
    ((b"\0" * 8, 2, 2, 2), "channels"),
    ((b"", 0, 5, 4), "out of range"),
])
def test_bad_input_is_an_input_error(args, fragment):
    with pytest.raises(InputError, match=fragment):
        prepare(*args)
