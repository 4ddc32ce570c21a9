"""The webnn backend in the page (Chromium's WebNN, TFLite CPU): every case vs the float64 reference."""

from __future__ import annotations

import json

import pytest
from webnn_cases import CASES, PAGE_RUNNER, decode_outputs, mismatches, payload

from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = pytest.mark.browser

#: Cases this Chromium gets wrong, each with the reason (strict: a fix makes the test fail).
KNOWN_DEVIATIONS: dict[str, str] = {}


@pytest.fixture(scope="module")
def results(browser_py: BrowserPy) -> dict:
    browser_py.run(PAGE_RUNNER)
    cases = {name: case() for name, case in CASES.items()}
    text = browser_py.run(f"run_cases({payload(cases)!r}, 'webnn', {{'device': 'cpu'}})", timeout=300)
    return {"cases": cases, "results": json.loads(text)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_reference(name: str, results: dict) -> None:
    if name in KNOWN_DEVIATIONS:
        pytest.xfail(KNOWN_DEVIATIONS[name])
    result = results["results"][name]
    assert "error" not in result, result.get("error")
    graph, inputs = results["cases"][name]
    assert mismatches(graph, inputs, decode_outputs(result)) == []


SESSION_SETUP = """
import json
import webinfer as wi
from webinfer import ffi
from webinfer.backends.webnn import Limits, WebNNContext, WebNNSession

def mlp(shape=(2, 8)):
    g = wi.GraphBuilder()
    x = g.input("x", "float32", list(shape))
    w = g.constant([[0.25 * ((i + j) % 3) for j in range(4)] for i in range(8)], dtype="float32", name="w")
    return g.build({"y": g.gelu(g.matmul(x, w), name="act")})

ROW = [float(i) / 8 for i in range(8)]
"""


def test_info_reports_context_plan_and_times(browser_py: BrowserPy) -> None:
    browser_py.run(SESSION_SETUP)
    info = browser_py.run(
        """
        sess = wi.compile(mlp(), backend="webnn", device="npu")
        out = sess.run({"x": [ROW, ROW]})
        info = sess.info()
        info["tensor_device"] = next(iter(out.values())).device
        sess.close()
        info
        """
    )
    assert info["tensor_device"] == "npu asked, likely cpu"  # the tensor does not claim an NPU either
    assert info["backend"] == "webnn" and info["placement"] == {"matmul_0": "webnn", "act": "webnn"}
    device = info["device"]
    assert device["asked"] == {"device": "npu"}
    assert device["created_with"] == {"deviceType": "npu", "accelerated": True, "powerPreference": "low-power"}
    assert device["same_limits_as_cpu_context"] is True  # this build: npu has the cpu backend's limits
    assert "likely runs on the same CPU backend" in device["note"]
    assert device["features"]["pad.edge"].startswith("NotSupportedError")
    webnn = info["webnn"]
    assert webnn["nodes"]["act"] == {"op": "gelu", "webnn": "gelu"}
    assert webnn["plan"]["calls_by_op"] == {"gelu": 1, "matmul": 1}
    assert webnn["build_ms"] > 0 and webnn["run_ms"] > 0 and info["stats"]["compile_ms"] >= webnn["build_ms"]
    assert info["closed"] is False


def test_runs_reuse_one_graph_and_leak_nothing(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        sess = WebNNSession(mlp())
        before = ffi.ledger.live()
        outs = [sess.run({"x": [ROW, [v * k for v in ROW]]})["y"].tolist() for k in (1.0, 2.0, 3.0)]
        after = ffi.ledger.live()
        built = sess.stats["graphs_built"]
        sess.close()
        closed_error = None
        try:
            sess.run({"x": [ROW, ROW]})
        except wi.BackendError as e:
            closed_error = str(e)
        [outs[0][0] == outs[2][0], outs[0][1] != outs[2][1], before == after, built, closed_error]
        """
    )
    same_row, different_row, no_leak, built, closed_error = value
    assert same_row and different_row and no_leak and built == 1
    assert "closed" in closed_error


def test_run_async(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        sess = WebNNSession(mlp())
        a = (await sess.run_async({"x": [ROW, ROW]}))["y"].tolist()
        b = sess.run({"x": [ROW, ROW]})["y"].tolist()
        sess.close()
        a == b
        """
    )
    assert value is True


def test_symbolic_dims_build_once_per_shape(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        g = wi.GraphBuilder()
        x = g.input("x", "float32", ["batch", 8])
        graph = g.build({"s": g.reduce_sum(x, axes=[1])})
        sess = WebNNSession(graph)
        r = [sess.run({"x": [ROW] * n})["s"].tolist() for n in (1, 3, 1)]
        built = sess.stats["graphs_built"]
        sess.close()
        [r, built]
        """
    )
    (r, built) = value
    assert r[0] == [3.5] and r[1] == [3.5] * 3 and built == 2


def test_unsupported_nodes_named_before_building(browser_py: BrowserPy) -> None:
    text = browser_py.run(
        """
        g = wi.GraphBuilder()
        a = g.input("a", "int32", [2, 2])
        graph = g.build({"y": g.matmul(a, a, name="int_mm")})
        try:
            wi.compile(graph, backend="webnn")
            message = None
        except wi.UnsupportedError as e:
            message = [str(e), e.node, e.reason]
        message
        """
    )
    message, node, reason = text
    assert "node 'int_mm' (matmul): matmul a is int32; this context takes float32, float16" in message
    assert node == "node 'int_mm' (matmul)" and reason.startswith("matmul a is int32")


def test_int64_narrowed_on_a_context_without_int64(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        ctx = WebNNContext.open(device="cpu")
        raw = json.loads(ctx.limits.fingerprint())
        for role in ("input", "constant", "output"):
            raw[role]["dataTypes"] = [t for t in raw[role]["dataTypes"] if t != "int64"]
        ctx.limits = Limits(raw, ctx.limits.features)   # plan as for a context that has no int64
        g = wi.GraphBuilder()
        ids = g.input("ids", "int64", [3])
        table = g.constant([[float(i), float(-i)] for i in range(5)], dtype="float32")
        graph = g.build({"emb": g.gather(table, ids), "ids": g.add(ids, g.constant(1, dtype="int64"))})
        sess = WebNNSession(graph, context=ctx)
        out = sess.run({"ids": wi.Tensor([4, 0, 2], dtype="int64")})
        result = [out["emb"].tolist(), out["ids"].dtype, out["ids"].tolist(), sess.info()["webnn"]["int64_narrowed"]]
        try:
            sess.run({"ids": wi.Tensor([1, 2**40, 0], dtype="int64")})
        except wi.InputError as e:
            result.append(str(e))
        sess.close()
        ctx.destroy()
        result
        """
    )
    emb, dtype, ids, narrowed, error = value
    assert emb == [[4.0, -4.0], [0.0, 0.0], [2.0, -2.0]]
    assert dtype == "int64" and ids == [5, 1, 3]
    assert set(narrowed) == {"ids", "const_1"}
    assert "input 'ids' holds 1099511627776, which does not fit int32" in error


def test_context_from_a_gpu_device(browser_py: BrowserPy) -> None:
    device = browser_py.run(
        """
        sess = WebNNSession(mlp(), gpu_device=True)
        y = sess.run({"x": [ROW, ROW]})["y"].tolist()
        info = sess.info()["device"]
        sess.close()
        info
        """
    )
    assert device["created_with"] == "GPUDevice" and device["asked"] == {"gpu_device": True}
    assert device["same_limits_as_cpu_context"] is True


def test_constants_made_at_build_survive_the_wasm_heap_growing(browser_py: BrowserPy) -> None:
    # A lazily made constant (a re-laid filter, a weight read from a file) may grow the wasm heap while the
    # constants before it are being handed to the builder: growth detaches the heap's old ArrayBuffer, so views
    # of the earlier constants taken before it would be dead ("Cannot perform Construct on a detached ArrayBuffer").
    browser_py.run(SESSION_SETUP)
    value = browser_py.run(
        """
        import array, pyodide_js
        from webinfer.ir.graph import Constant
        g = wi.GraphBuilder()
        x = g.input("x", "float32", [4])
        a = g.constant([1.0, 2.0, 3.0, 4.0], "float32", [4], name="a")
        b = g.constant([10.0, 20.0, 30.0, 40.0], "float32", [4], name="b")
        graph = g.build({"y": g.add(g.add(x, a), b)})
        heap = pyodide_js._module.HEAP8.length

        def grow():
            junk = bytearray(heap + (64 << 20))  # more than the whole heap: it must grow
            junk[-1] = 1
            del junk
            return memoryview(array.array("f", [10.0, 20.0, 30.0, 40.0]).tobytes())

        graph.constants["a"] = Constant(graph.constants["a"].desc, loader=lambda: memoryview(
            array.array("f", [1.0, 2.0, 3.0, 4.0]).tobytes()))
        graph.constants["b"] = Constant(graph.constants["b"].desc, loader=grow)
        sess = WebNNSession(graph)
        y = sess.run({"x": [0.5] * 4})["y"].tolist()
        sess.close()
        [y, pyodide_js._module.HEAP8.length > heap]
        """
    )
    assert value == [[11.5, 22.5, 33.5, 44.5], True]
