"""A small EfficientNet-like conv net (depthwise 3×3 and 5×5, 1×1 expand/project, residual add, ReLU6, max and average
pools, global average pool, gemm) in the page on webnn, webgpu and hybrid, against the host's float64 reference.

WebNN: the layout pass plans the NCHW net in NHWC (the context prefers it): one transpose, reported by info().
WebGPU (SwiftShader here): 1×1 convs as matrix products, the depthwise kernel, fused clamp/residual epilogues.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
NS: dict[str, Any] = {}
exec(compile((HERE / "convnet_src.py").read_text(), "convnet_src.py", "exec"), NS)
SIZE, BATCH = 20, 2

SETUP = f"""
import base64, json
import webinfer as wi
exec(compile({(HERE / "convnet_src.py").read_text()!r}, "convnet_src.py", "exec"))
GRAPH = build_convnet(size={SIZE})
X = wi.Tensor(pixels({BATCH}, {SIZE}), dtype="float32", shape=[{BATCH}, 3, {SIZE}, {SIZE}])

def run_on(backend, **options):
    sess = wi.compile(GRAPH, backend=backend, bindings={{"batch": {BATCH}}}, **options)
    try:
        out = sess.run({{"pixels": X}})["logits"]
        info = sess.info()
        keep = {{k: info.get(k) for k in ("backend", "placement")}}
        keep["webnn"] = info.get("webnn") and {{k: info["webnn"].get(k) for k in ("layout", "plan")}}
        keep["plan"] = info.get("plan") and {{k: info["plan"].get(k) for k in ("dispatches", "fused")}}
        return json.dumps({{"out": base64.b64encode(out.tobytes()).decode(), "info": keep}})
    finally:
        sess.close()
"""


@pytest.fixture(scope="module")
def page(browser_py: Any) -> Any:
    browser_py.run(SETUP)
    return browser_py


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    graph = NS["build_convnet"](size=SIZE).specialize({"batch": BATCH})
    x = np.frombuffer(NS["pixels"](BATCH, SIZE), np.float32).reshape(BATCH, 3, SIZE, SIZE)
    return np.asarray(evaluate(graph, {"pixels": wi.Tensor(x)})["logits"])


def _run(page: Any, backend: str, options: str = "") -> tuple[np.ndarray, dict[str, Any]]:
    got = json.loads(page.run(f"run_on({backend!r}{', ' + options if options else ''})", timeout=600))
    return np.frombuffer(base64.b64decode(got["out"]), np.float32).reshape(BATCH, -1), got["info"]


def _close(got: np.ndarray, ref: np.ndarray) -> None:
    """Float32 through 8 convs vs float64: within 2e-5 of the largest logit (a layout or indexing bug is far out)."""
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * float(np.abs(ref).max()))
    assert [list(np.argsort(-r)[:5]) for r in got] == [list(np.argsort(-r)[:5]) for r in ref]


def test_webnn_plans_nhwc_once_and_matches(page: Any, reference: np.ndarray) -> None:
    got, info = _run(page, "webnn", "device='cpu'")
    _close(got, reference)
    layout = info["webnn"]["layout"]
    assert layout["preferred"] == "nhwc" and layout["applied"] and layout["converted"] == 10
    assert layout["transposes"] == 1 and layout["transposes_in_plan"] == 1
    assert info["webnn"]["plan"]["transposes"] == 1


def test_webnn_with_the_graph_layout_matches_too(page: Any, reference: np.ndarray) -> None:
    got, info = _run(page, "webnn", "device='cpu', layout='keep'")
    _close(got, reference)
    assert info["webnn"]["layout"]["transposes_in_plan"] == 0 and "layout='keep'" in info["webnn"]["layout"]["summary"]


def test_webgpu_conv_kernels_match(page: Any, reference: np.ndarray) -> None:
    got, info = _run(page, "webgpu")
    _close(got, reference)
    fused = info["plan"]["fused"]
    assert any(label.endswith("+add_0") for label in fused)  # the residual add is the project conv's epilogue
    assert sum("clamp" in label for label in fused) == 6  # every ReLU6 fused into its conv
    assert info["plan"]["dispatches"] == 12


def test_hybrid_matches(page: Any, reference: np.ndarray) -> None:
    got, _ = _run(page, "hybrid")
    _close(got, reference)
