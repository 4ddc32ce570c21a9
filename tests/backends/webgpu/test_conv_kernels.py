"""The conv2d kernels (1×1 as a matrix product, depthwise, direct) picked and run right — on the host, through
``wgpu`` on SwiftShader's Vulkan (the library the browser's WebGPU uses here) when it is there.

Which kernel each conv takes is checked always; running the registry's conv2d/pool conformance cases and a small
EfficientNet-like net (depthwise 3×3 and 5×5, 1×1 expand/project, residual add, ReLU6, pools) on the host's
adapter needs ``wgpu`` and an adapter, else those tests skip. The browser runs the same in
``tests/backends/test_convnet_browser.py``.
"""

from __future__ import annotations

import base64
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate
from webinfer.backends.webgpu.kernels.lowering import conv_variant

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import wgpu_host  # noqa: E402

NS: dict[str, Any] = {}
exec(compile((HERE.parent / "convnet_src.py").read_text(), "convnet_src.py", "exec"), NS)


@pytest.fixture(scope="module")
def dev() -> Any:
    d = wgpu_host.device()
    if d is None:
        pytest.skip("wgpu found no adapter here")
    return d


def _attrs(**kw: Any) -> dict[str, Any]:
    return {"strides": (1, 1), "padding": (0, 0, 0, 0), "groups": 1, **kw}


def test_conv_variants() -> None:
    assert conv_variant((1, 16, 8, 8), (32, 16, 1, 1), _attrs(), "nchw") == "pointwise"
    assert conv_variant((1, 8, 8, 16), (32, 16, 1, 1), _attrs(), "nhwc") == "pointwise"
    assert conv_variant((1, 16, 8, 8), (32, 16, 1, 1), _attrs(strides=(2, 2)), "nchw") == "direct"
    assert conv_variant((1, 16, 8, 8), (32, 16, 1, 1), _attrs(padding=(1, 1, 1, 1)), "nchw") == "direct"
    assert conv_variant((1, 16, 8, 8), (16, 1, 3, 3), _attrs(groups=16), "nchw") == "depthwise"
    assert conv_variant((1, 16, 8, 8), (32, 1, 3, 3), _attrs(groups=16), "nchw") == "direct"  # multiplier 2
    assert conv_variant((1, 16, 8, 8), (16, 4, 3, 3), _attrs(groups=4), "nchw") == "direct"


def test_the_conv_net_plans_matrix_products_and_fused_epilogues() -> None:
    graph = NS["build_convnet"](batch=2, size=16)
    plan = wgpu_host.plan_for(graph)
    kinds = Counter(d["kind"] for d in plan.spec["dispatches"])
    assert kinds == {"conv2d+clamp": 1, "conv2d 1×1+clamp": 3, "conv2d depthwise+clamp": 2, "conv2d 1×1+add": 1,
                     "conv2d 1×1": 1, "max_pool2d": 1, "average_pool2d": 1, "reduce_mean": 1, "gemm": 1}, kinds
    # the 1×1 epilogues index (batch, row, column): no division per element
    code = next(p["code"] for p in plan.spec["pipelines"] if "fn store(i0: u32, i1: u32, i2: u32" in p["code"])
    body = code[code.index("fn store("):code.index("}", code.index("fn store("))]
    assert "%" not in body and "/" not in body


@pytest.mark.parametrize(("size", "batch"), [(16, 2), (20, 1)])
def test_the_conv_net_matches_the_reference(dev: Any, size: int, batch: int) -> None:
    graph = NS["build_convnet"](batch=batch, size=size)
    x = np.frombuffer(NS["pixels"](batch, size), np.float32).reshape(batch, 3, size, size)
    want = np.asarray(evaluate(graph, {"pixels": wi.Tensor(x)})["logits"])
    got = wgpu_host.run_plan(dev, graph, {"pixels": x})["logits"]
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def _conformance(ops: list[str]) -> list[tuple[str, Any, Any, list[Any]]]:
    from webinfer.tools.conformance import prepare, select_cases

    payload, expected = prepare(select_cases(ops))
    out = []
    for item in payload:
        graph, ref, arrays = expected[item["id"]]
        if graph is None or any(a is not None and a.dtype != np.float32 for a in arrays):
            continue  # float32 cases: what the host runner moves
        out.append((item["id"], graph, ref, arrays))
    return out


@pytest.mark.parametrize("tiling", ["register", "workgroup"])
def test_conv_and_pool_conformance_cases_on_the_host_adapter(dev: Any, tiling: str) -> None:
    from webinfer.tools.conformance import compare_case

    cases = _conformance(["conv2d", "average_pool2d", "max_pool2d"])
    assert len(cases) > 10
    failed = []
    for cid, graph, ref, arrays in cases:
        if any(0 in tuple(graph.operands[o].shape) for o in graph.outputs.values()):
            continue  # empty outputs: no dispatch to check here
        feeds = {f"in{i}": a for i, a in enumerate(arrays) if a is not None}
        got = wgpu_host.HostExecutor(dev, wgpu_host.plan_for(graph, tiling), graph).run(feeds)
        outs = [("float32", list(v.shape), base64.b64encode(v.tobytes()).decode()) for v in got.values()]
        res = compare_case(cid, graph.nodes[0].op, graph, ref, {"outputs": outs}, "webgpu")
        if res.status not in ("pass", "xfail"):
            failed.append(f"{cid}: {res.status} {res.message}")
    assert not failed, "\n".join(failed)
