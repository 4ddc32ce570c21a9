"""WebNN backend bugs that ONNX's node tests found (``webinfer conformance --onnx --backend webnn``), each as a minimal
strict xfail: the backend hands MLGraphBuilder a graph WebNN refuses, so the session fails with a BackendError from
``build()`` instead of running the graph or raising ``UnsupportedError`` (with the reason) before any WebNN call.

The node-test cases they break are listed in ``webinfer.tools.onnx_nodetests.EXPLAINED``. When the backend is fixed
these tests XPASS, which fails the suite (strict): then drop the marker here and the entries there.
"""

from __future__ import annotations

import pytest

from webinfer.tools.pytest_plugin import BrowserPy

#: graph source (GraphBuilder ``g``, input ``x`` float32 [2] = [1, -1]) -> what the outputs must be
CASES = {
    # ONNX Shape / Constant / ConstantOfShape / Dropout's mask import to an output that no op computes
    "constant_output": ('graph = g.build({"y": g.relu(x), "c": g.constant([3.0, 4.0], dtype="float32", shape=[2])})',
                        {"y": [1.0, 0.0], "c": [3.0, 4.0]}),
    # ONNX CastLike's `like` (only its dtype matters) and the empty-set reductions: a zero-size input no op reads
    "unused_zero_size_input": ('e = g.input("e", "float32", [0])\ngraph = g.build({"y": g.relu(x)})',
                               {"y": [1.0, 0.0]}),
    # ONNX Shape with start > end: an empty constant output
    "zero_size_constant_output": ('graph = g.build({"y": g.relu(x), "c": g.constant(b"", dtype="int32", shape=[0])})',
                                  {"y": [1.0, 0.0], "c": []}),
}

RUN = """
import webinfer as wi
from webinfer.errors import UnsupportedError
g = wi.GraphBuilder()
x = g.input("x", "float32", [2])
{graph}
feeds = {{"x": wi.Tensor([1.0, -1.0], dtype="float32")}}
if "e" in graph.inputs:
    feeds["e"] = wi.Tensor(b"", dtype="float32", shape=[0])
try:
    sess = wi.compile(graph, backend="webnn")
    try:
        got = {{k: v.tolist() for k, v in sess.run(feeds).items()}}
    finally:
        sess.close()
except UnsupportedError as e:
    got = {{"unsupported": e.reason}}
got
"""


@pytest.mark.browser
@pytest.mark.xfail(strict=True, reason="webnn backend: MLGraphBuilder.build() refuses these graphs (see module doc)")
@pytest.mark.parametrize("case", sorted(CASES))
def test_webnn_runs_or_refuses_up_front(browser_py: BrowserPy, case: str) -> None:
    graph, want = CASES[case]
    got = browser_py.run(RUN.format(graph=graph))
    assert "unsupported" in got or got == want, got
