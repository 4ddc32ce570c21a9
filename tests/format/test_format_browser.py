"""The format layer inside Pyodide (Python 3.14, no numpy): the schema ships as package data, save/load on
the page's file system, load_bytes from fetched-style bytes, lazy weights, and errors as webinfer errors."""

from __future__ import annotations

import pytest

from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = pytest.mark.browser

ROUND_TRIP = """
import sys, math, os, struct
import webinfer as wi
from webinfer.format import load_bytes, to_bytes, to_json, graph_schema, SafetensorsFile
assert "numpy" not in sys.modules
g = wi.GraphBuilder()
x = g.input("x", "float32", ["batch", 8])
w = g.constant(struct.pack("<128f", *[i / 10 for i in range(128)]), dtype="float32", shape=[8, 16], name="w")
y = g.clamp(g.gelu(g.matmul(x, w)), min_value=-math.inf, max_value=6.0)
parts = g.split(y, [6, 10], axis=1)
graph = g.build({"a": parts[0], "b": parts[1]})
text, files = to_bytes(graph, weights="m.safetensors")
g2 = load_bytes(text, weights=files)
lazy = not g2.constants["w"].loaded
same = to_json(g2) == to_json(graph) and bytes(g2.constants["w"].data()) == bytes(graph.constants["w"].data())
os.makedirs("/tmp/fmt", exist_ok=True)
wi.save(graph, "/tmp/fmt/m.json", weights="m.safetensors")
g3 = wi.load("/tmp/fmt/m.json")
[sys.version_info[:2] >= (3, 12), lazy, same, to_json(g3) == to_json(graph), graph_schema()["$id"],
 list(SafetensorsFile(files["m.safetensors"]).tensors)]
"""

ERRORS = """
import webinfer as wi
from webinfer.format import load_bytes
out = []
for text in (b"[" * 100000,
             b'{"format": "webinfer-graph", "version": 1, "inputs": {}, "nodes": [], "outputs": {"y": "x"}}',
             b'{"a": 1,\\n "b": }'):
    try:
        load_bytes(text, name="m.json")
    except wi.GraphError as e:
        out.append(str(e))
out
"""


def test_round_trip_in_pyodide(browser_py: BrowserPy) -> None:
    py312, lazy, same, same_files, schema_id, keys = browser_py.run(ROUND_TRIP)
    assert py312 and lazy and same and same_files
    assert schema_id == "urn:webinfer:graph-format:1"
    assert keys == ["w"]


def test_errors_in_pyodide(browser_py: BrowserPy) -> None:
    messages = browser_py.run(ERRORS)
    assert messages[0] == "m.json: JSON nests deeper than 64 levels"
    assert messages[1] == "m.json: outputs.y: 'x' is not an input, constant or node output"
    assert messages[2].startswith("m.json: invalid JSON at line 2, column 7")
