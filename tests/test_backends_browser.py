"""Which backends a page offers, what ``auto`` picks, and hybrid without WebGPU (own page: it hides APIs)."""

from __future__ import annotations

import pytest

from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = pytest.mark.browser

GRAPH = """
import webinfer as wi
g = wi.GraphBuilder()
x = g.input("x", "float32", [2])
graph = g.build({"y": g.gelu(x)})
"""


def test_available_backends_says_what_this_page_can_run(browser_py: BrowserPy) -> None:
    # no numpy in the page: the reference backend is not offered
    assert browser_py.run("import webinfer as wi\nwi.available_backends()") == ["webgpu", "webnn", "hybrid"]


def test_auto_honours_webinfer_backend(browser_py: BrowserPy) -> None:
    got = browser_py.run(
        GRAPH
        + """
import os
os.environ["WEBINFER_BACKEND"] = "webnn"
try:
    s = wi.compile(graph)
    backend = [s.backend, s.run({"x": [1.0, 2.0]})["y"].backend]
    s.close()
finally:
    del os.environ["WEBINFER_BACKEND"]
backend
"""
    )
    assert got == ["webnn", "webnn"]


def test_auto_prefers_webnn_over_a_software_webgpu_adapter(browser_py: BrowserPy) -> None:
    """Here WebGPU is SwiftShader (a CPU emulation): auto picks WebNN and says why in info()."""
    got = browser_py.run(
        GRAPH
        + """
from webinfer import ffi
s = wi.compile(graph)
out = [ffi.webgpu_adapter_summary(), s.backend, s.info()["chosen_by"]]
s.close()
out
"""
    )
    adapter, backend, why = got
    assert adapter["software"] is True and adapter["fallback"] is True
    assert backend == "webnn"
    assert "software" in why and "WebNN" in why


def test_without_webgpu_auto_picks_webnn_and_hybrid_runs_on_webnn(browser_py: BrowserPy) -> None:
    got = browser_py.run(
        GRAPH
        + """
import js
js.eval("Object.defineProperty(navigator, 'gpu', {value: undefined, configurable: true})")
try:
    out = {"available": wi.available_backends()}
    s = wi.compile(graph)
    out["auto"] = s.backend
    s.close()
    h = wi.compile(graph, backend="hybrid")
    out["hybrid"] = [h.run({"x": [1.0, 2.0]})["y"].backend, h.placement(), h.info()["hybrid"]["interop"]["reason"]]
    h.close()
    try:
        wi.compile(graph, backend="hybrid", place={"gelu": "webgpu"})
    except wi.UnsupportedError as e:
        out["forced"] = str(e)
finally:
    js.eval("delete navigator.gpu")
out
"""
    )
    assert got["available"] == ["webnn", "hybrid"]
    assert got["auto"] == "webnn"
    assert got["hybrid"][0] == "webnn" and got["hybrid"][1] == {"gelu_0": "webnn"}
    assert "navigator.gpu is missing" in got["hybrid"][2]
    assert "gelu (node 'gelu_0') is placed on webgpu" in got["forced"] and "navigator.gpu is missing" in got["forced"]
