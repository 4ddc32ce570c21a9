"""The hybrid backend in the page: WebNN islands + a WebGPU island, crossings, interop, per-node accuracy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import webinfer as wi
from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location("webnn_cases", Path(__file__).parents[1] / "webnn" / "webnn_cases.py")
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


def _chain() -> tuple[wi.Graph, dict[str, np.ndarray]]:
    """matmul -> add -> gelu -> softmax, every value an output so each node can be checked."""
    rng = np.random.default_rng(7)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 8])
    w = g.constant(rng.uniform(0, 1, (8, 4)).astype(np.float32), name="w")
    b = g.constant(rng.uniform(-1, 1, (4,)).astype(np.float32), name="b")
    mm = g.matmul(x, w, name="mm")
    h = g.add(mm, b, name="bias")
    a = g.gelu(h, name="act")
    y = g.softmax(a, name="sm")
    graph = g.build({"mm": mm, "bias": h, "act": a, "sm": y})
    return graph, {"x": rng.uniform(0, 1, (2, 8)).astype(np.float32)}


@pytest.fixture(scope="module")
def page(browser_py: BrowserPy) -> BrowserPy:
    browser_py.run(cases.PAGE_RUNNER)
    return browser_py


def _run(page: BrowserPy, graph: wi.Graph, inputs: dict[str, np.ndarray], **options: object) -> dict:
    text = page.run(f"run_cases({cases.payload({'g': (graph, inputs)})!r}, 'hybrid', {options!r})", timeout=300)
    result = json.loads(text)["g"]
    assert "error" not in result, result.get("error")
    return result


def test_one_op_forced_to_webgpu(page: BrowserPy) -> None:
    graph, inputs = _chain()
    result = _run(page, graph, inputs, place={"gelu": "webgpu"})
    got = cases.decode_outputs(result)
    assert cases.node_mismatches(graph, inputs, got) == []
    info = result["info"]
    assert info["backend"] == "hybrid"
    assert info["placement"] == {"mm": "webnn", "bias": "webnn", "act": "webgpu", "sm": "webnn"}
    hybrid = info["hybrid"]
    assert [i["island"] for i in hybrid["islands"]] == ["webnn#0", "webgpu#1", "webnn#2"]
    assert [(c["operand"], c["from"], c["to"], c["bytes"]) for c in hybrid["crossings"]] == [
        ("bias", "webnn#0", "webgpu#1", 32), ("act", "webgpu#1", "webnn#2", 32)]
    assert hybrid["bytes_moved_per_run"] == 64
    assert hybrid["why"]["act"] == "placed by the user (op gelu)"
    # this Chromium's WebNN (TFLite) cannot share tensors with WebGPU: readback, and the browser's reason
    assert hybrid["interop"]["context_from_webgpu_device"] is True
    assert hybrid["interop"]["works"] is False and "createExportableTensor" in hybrid["interop"]["reason"]
    assert hybrid["transfer"] == "readback"
    assert info["device"]["webnn"]["created_with"] == "GPUDevice"
    assert info["device"]["webgpu"]["type"] == "gpu"


def test_capability_sends_what_webnn_lacks_to_webgpu(page: BrowserPy) -> None:
    g = wi.GraphBuilder()
    a = g.input("a", "int32", [2, 3])
    b = g.input("b", "int32", [3, 2])
    f = g.input("f", "float32", [2, 2])
    prod = g.matmul(a, b, name="int_mm")  # WebNN here: matmul takes float32/float16 only
    out = g.add(g.cast(prod, data_type="float32", name="to_float"), f, name="plus")
    graph = g.build({"prod": prod, "plus": out})
    inputs = {"a": np.arange(6, dtype=np.int32).reshape(2, 3) - 2, "b": np.arange(6, dtype=np.int32).reshape(3, 2),
              "f": np.full((2, 2), 0.5, np.float32)}
    result = _run(page, graph, inputs)
    got = cases.decode_outputs(result)
    np.testing.assert_array_equal(got["prod"], inputs["a"] @ inputs["b"])
    np.testing.assert_array_equal(got["plus"], (inputs["a"] @ inputs["b"]).astype(np.float32) + 0.5)
    placement, why = result["info"]["placement"], result["info"]["hybrid"]["why"]
    assert placement == {"int_mm": "webgpu", "to_float": "webnn", "plus": "webnn"}
    assert why["int_mm"] == "webnn: matmul a is int32; this context takes float32, float16"


def test_hybrid_with_a_plain_context_and_run_async(page: BrowserPy) -> None:
    graph, inputs = _chain()
    value = page.run(
        f"""
        import base64, json
        from webinfer.format import from_json
        doc = json.loads({cases.payload({'g': (graph, inputs)})!r})["g"]
        g = from_json(doc["graph"])
        x = wi.Tensor(base64.b64decode(doc["inputs"]["x"]["data"]), dtype="float32", shape=[2, 8])
        sess = wi.compile(g, backend="hybrid", device="cpu", place={{"bias": "webgpu"}})
        a = (await sess.run_async({{"x": x}}))["sm"].tolist()
        b = sess.run({{"x": x}})["sm"].tolist()
        info = sess.info()
        sess.close()
        [a == b, info["hybrid"]["interop"], info["hybrid"]["transfer"], info["placement"]["bias"]]
        """
    )
    same, interop, transfer, where = value
    assert same and transfer == "readback" and where == "webgpu"
    assert interop["context_from_webgpu_device"] is False


def test_webgpu_island_feeding_only_webgpu_keeps_data_on_the_gpu(page: BrowserPy) -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3])
    a = g.exp(x, name="a")  # webgpu#0, read only by webgpu#2
    b = g.neg(x, name="b")  # webnn#1
    c = g.add(a, b, name="c")  # webgpu#2
    graph = g.build({"c": c})
    inputs = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
    value = page.run(
        f"""
        import base64, json
        from webinfer.format import from_json
        doc = json.loads({cases.payload({'g': (graph, inputs)})!r})["g"]
        sess = wi.compile(from_json(doc["graph"]), backend="hybrid", place={{"exp": "webgpu", "add": "webgpu"}})
        x = wi.Tensor(base64.b64decode(doc["inputs"]["x"]["data"]), dtype="float32", shape=[2, 3])
        c = sess.run({{"x": x}})["c"].tolist()
        info = sess.info()
        sess.close()
        [c, [i["island"] for i in info["hybrid"]["islands"]], sess._keep]
        """
    )
    c, islands, keep = value
    assert islands == ["webgpu#0", "webnn#1", "webgpu#2"] and keep == [True, False, False]
    np.testing.assert_allclose(c, np.exp(inputs["x"]) - inputs["x"], rtol=1e-6)


def test_conformance_judges_each_case_with_the_deviations_of_the_backend_that_ran_it(browser_py: BrowserPy) -> None:
    """`webinfer conformance --backend hybrid`: a node on WebNN carries WebNN's (TFLite's) known deviations,
    pinned to their elements; nothing else is excused."""
    from webinfer.tools.conformance import format_report, run_conformance

    report = run_conformance("hybrid", ["exp", "max", "cast", "log"], runner=browser_py.run)
    assert report.ok, format_report(report)
    known = [c for r in report.ops for c in r.results if c.status == "xfail"]
    assert known and all(d.startswith("webnn: ") for c in known for d in c.deviations)
    assert all("selected values out of tolerance" in c.message for c in known)
