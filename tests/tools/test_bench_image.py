"""`webinfer bench --compare --model convnet-tiny|efficientnet-lite0` plumbing on the host: the tiny conv net is a
model onnxruntime loads and agrees with, the photo rows, the cases and pairs, and the check that judges each case."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
ort_host = pytest.importorskip("onnxruntime")
np = pytest.importorskip("numpy")
pytest.importorskip("PIL")

import webinfer.backends  # noqa: E402
from webinfer.tools.bench import image  # noqa: E402
from webinfer.tools.bench.compare import Array  # noqa: E402


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> image.ImageSpec:
    return image.ImageSpec("convnet-tiny", batch=5, cache=tmp_path_factory.mktemp("bench-image"))


def test_the_reference_equals_onnxruntime_on_the_same_file(spec: image.ImageSpec) -> None:
    sess = ort_host.InferenceSession(str(spec.prepared.onnx), providers=["CPUExecutionProvider"])
    x = np.frombuffer(spec.inputs()[image.INPUT].data, "<f4").reshape(5, 3, image.TINY_SIZE, image.TINY_SIZE)
    (want,) = sess.run(None, {image.INPUT: x})
    got = spec.reference()[image.OUTPUT]
    assert got.shape == (5, image.TINY_CLASSES)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


def test_rows_cycle_through_the_photos_then_their_mirrors(spec: image.ImageSpec) -> None:
    photos = sorted(p.name for p in image.photos_dir().glob("*.jpg"))
    data, names = image.image_rows(5, 16)
    assert len(photos) >= 2 and len(data) == 5 * 3 * 16 * 16 * 4
    variants = photos + [f"{p} mirrored" for p in photos]
    assert names == [variants[i % len(variants)] for i in range(5)]
    rows = np.frombuffer(data, "<f4").reshape(5, 3, 16, 16)
    np.testing.assert_array_equal(rows[len(photos)], rows[0][:, :, ::-1])


def test_cases_cover_every_browser_backend_and_ort_ep_and_pairs_name_real_cases(spec: image.ImageSpec) -> None:
    cases = spec.cases()
    labels = [c.label for c in cases]
    browser = webinfer.backends.names(browser=True)
    assert labels[: len(browser)] == [f"webinfer-{b}" for b in browser]
    assert "webinfer-webnn-nchw" in labels
    assert {"ort-webnn", "ort-webnn-opt", "ort-wasm", "ort-wasm-opt", "ort-webgpu", "ort-webgpu-opt"} <= set(labels)
    by = {c.label: c for c in cases}
    assert by["webinfer-webnn-nchw"].params["options"]["layout"] == "keep"
    assert by["webinfer-webnn"].params["options"]["bindings"] == {"batch": 5}
    for pair in spec.pairs():
        for side in (pair.peer, pair.base):
            assert side.startswith("best:") or side in by, side


def test_prepare_writes_an_ort_optimized_file_onnxruntime_loads(spec: image.ImageSpec) -> None:
    spec.prepare([c for c in spec.cases() if c.label in ("ort-wasm", "ort-wasm-opt")])
    optimized = spec.prepared.build / spec.describe()["onnx"]["optimized"]["file"]
    assert optimized.name == "model.extended.b5.onnx"
    sess = ort_host.InferenceSession(str(optimized), providers=["CPUExecutionProvider"])
    assert [i.shape for i in sess.get_inputs()] == [[5, 3, image.TINY_SIZE, image.TINY_SIZE]]


def test_check_passes_the_reference_and_fails_a_wrong_top5(spec: image.ImageSpec) -> None:
    ref = spec.reference()[image.OUTPUT].astype("<f4")
    case = spec.cases()[0]
    ok = spec.check(case, {image.OUTPUT: Array("float32", ref.shape, ref.tobytes())})
    assert ok["ok"] and ok["top5"]["same_order"] == 5
    wrong = ref.copy()
    wrong[:, [0, 1]] = wrong[:, [1, 0]]
    bad = spec.check(case, {image.OUTPUT: Array("float32", wrong.shape, wrong.tobytes())})
    assert not bad["ok"]
    missing = spec.check(case, {})
    assert not missing["ok"]
