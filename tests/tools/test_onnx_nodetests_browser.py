"""ONNX's node tests in the page, on webgpu and webnn: a small representative subset (the full run is
``webinfer conformance --onnx --backend B``; its counts are in the README). Every case passes, or has its reason:
the importer's refusal, the backend's up-front ``UnsupportedError``, or an entry of ``EXPLAINED``."""

from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("onnx")

from webinfer.tools import onnx_nodetests  # noqa: E402
from webinfer.tools.pytest_plugin import BrowserPy  # noqa: E402

# convolution and pooling, a matmul family, an elementwise op with int8/uint8 cases, reshaping, and Shape (folded to
# a constant output: a known webnn bug)
OPS = ["Conv", "AveragePool", "Gemm", "Sub", "Transpose", "Shape"]


@pytest.mark.parametrize("backend", ["webgpu", "webnn"])
def test_node_tests_subset_in_the_page(browser_py: BrowserPy, backend: str) -> None:
    report = onnx_nodetests.run_report(OPS, backend, runner=lambda src: browser_py.run(src, timeout=600))
    text = onnx_nodetests.format_report(report, verbose=True)
    assert report.ok, text
    ops = report.per_op()
    assert set(ops) == set(OPS)
    assert ops["Conv"] == Counter({"pass": 6}) and ops["Gemm"] == Counter({"pass": 11}), text
    assert ops["Sub"]["refused"] == 3 and ops["AveragePool"]["refused"] == 6
    if backend == "webgpu":  # SwiftShader: every case the importer takes passes
        assert all(set(c) <= {"pass", "refused"} for c in ops.values()), text
        assert "swiftshader" in report.device.lower()
    else:  # TFLite's context: no int8/uint8/uint32 sub, no pool dilations; constant outputs are a known bug
        assert ops["Sub"]["unsupported"] == 3 and ops["AveragePool"]["unsupported"] == 1, text
        assert ops["Shape"]["explained"] == ops["Shape"].total() and report.device.startswith("WebNN")
        unsupported = [r for r in report.results if r.outcome == "unsupported"]
        assert all("this context takes" in r.detail or "dilations" in r.detail for r in unsupported), text
