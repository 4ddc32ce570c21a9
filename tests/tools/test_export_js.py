"""``webinfer export-js``: the module text, the CLI, the JS replay under node (mock builder) and in the page."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.reference import evaluate
from webinfer.tensor import Tensor
from webinfer.tools.cli import main
from webinfer.tools.export_js import export_file, export_module, parse_bindings

WEBNN_TESTS = Path(__file__).parents[1] / "backends" / "webnn"
LIMITS = WEBNN_TESTS / "limits_chromium153_cpu.json"


def _model(tmp_path: Path, symbolic: bool = False) -> Path:
    rng = np.random.default_rng(3)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch" if symbolic else 2, 8])
    w = g.constant(rng.uniform(0, 1, (8, 6)).astype(np.float32), name="w")
    b = g.constant(np.array([0.5, -0.5, 0.25, 0.0, 1.0, -1.0], np.float32), name="b")
    h = g.gelu(g.add(g.matmul(x, w), b))
    y0, y1 = g.split(h, splits=2, axis=1)
    out = g.layer_normalization(g.mul(y0, y1), axes=[1])
    wi.save(g.build({"y": out, "half": y1}), str(tmp_path / "m.json"), weights="m.safetensors", inline_max_bytes=32)
    return tmp_path / "m.json"


def test_module_holds_runtime_plan_and_weight_refs(tmp_path: Path) -> None:
    graph = wi.load(str(_model(tmp_path)))
    text = export_module(graph, source="m.json", module_name="m.mjs")
    assert "export class Executor" in text and "export async function build(context, weightsUrl)" in text
    assert 'export const WEIGHT_FILES = ["m.safetensors"];' in text
    assert '"ref": {"file": "m.safetensors", "key": "w"}' in text
    assert '"name": "b", "dataType": "float32", "shape": [6], "inline": ' in text  # small constant: inline
    assert '"op": "split"' in text and '"multi": true' in text
    assert not [line for line in text.splitlines() if line.startswith("import ")]  # standalone: no imports


def test_symbolic_dims_need_bindings(tmp_path: Path) -> None:
    path = _model(tmp_path, symbolic=True)
    with pytest.raises(wi.GraphError, match="symbolic dims \\(batch\\); bind them with --bind"):
        export_file(path, tmp_path / "m.mjs")
    summary = export_file(path, tmp_path / "m.mjs", bindings={"batch": 3})
    assert '"shape": [3, 8]' in (tmp_path / "m.mjs").read_text() and summary["weights"] == ["m.safetensors"]
    assert parse_bindings(["batch=3", "seq=128"]) == {"batch": 3, "seq": 128}
    with pytest.raises(wi.GraphError, match="NAME=SIZE"):
        parse_bindings(["batch"])


def test_limits_check_and_decompose(tmp_path: Path) -> None:
    _model(tmp_path)
    raw = json.loads(LIMITS.read_text())
    del raw["gelu"]
    limits_path = tmp_path / "limits.json"
    limits_path.write_text(json.dumps(raw))
    export_file(tmp_path / "m.json", tmp_path / "m.mjs", limits_path=limits_path)
    text = (tmp_path / "m.mjs").read_text()
    assert '"op": "gelu"' not in text and '"op": "erf"' in text
    raw["matmul"]["a"]["dataTypes"] = ["float16"]
    limits_path.write_text(json.dumps(raw))
    with pytest.raises(wi.UnsupportedError, match="node 'matmul_0' \\(matmul\\): matmul a is float32"):
        export_file(tmp_path / "m.json", tmp_path / "m.mjs", limits_path=limits_path)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _model(tmp_path)
    assert main(["export-js", str(path), "-o", str(tmp_path / "out.mjs"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["module"].endswith("out.mjs") and summary["nodes"] == 6
    assert main(["export-js", str(tmp_path / "missing.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["export-js", str(_model(tmp_path, symbolic=True))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("webinfer export-js: the graph has symbolic dims (batch)") and err.count("export-js:") == 1


NODE_DRIVER = r"""
const calls = [];
globalThis.MLGraphBuilder = class {
  constructor(context) { this.context = context; }
  input(name, desc) { return { kind: "input", name, shape: desc.shape }; }
  constant(desc, view) {
    return { kind: "constant", shape: desc.shape, type: view.constructor.name, values: Array.from(view) };
  }
  build(outputs) { return Promise.resolve({ outputs, destroy() {} }); }
};
for (const op of ["matmul", "add", "gelu", "split", "mul", "layerNormalization", "identity"]) {
  MLGraphBuilder.prototype[op] = function (...args) {
    calls.push([op, args]);
    return op === "split" ? [{ kind: op, part: 0 }, { kind: op, part: 1 }] : { kind: op };
  };
}
const context = {
  createTensor: async (d) => ({ d, destroy() {} }), writeTensor() {}, dispatch() {},
  readTensor: async () => new ArrayBuffer(0),
};
const mod = await import(process.argv[2]);
const model = await mod.build(context, process.argv[3]);
const summary = calls.map(([op, args]) => [op, args.map((a) => (a && a.kind) || a)]);
const constants = calls[0][1][1];
const wrong = await model.run({ x: new Float32Array(3) }).then(() => null, (e) => String(e));
console.log(JSON.stringify({ summary, outputs: Object.keys(model.executor.namedOutputs), w: constants, wrong }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_replay_under_node_with_a_mock_builder(tmp_path: Path) -> None:
    export_file(_model(tmp_path), tmp_path / "m.mjs")
    weights = (tmp_path / "m.safetensors").read_bytes()
    url = "data:application/octet-stream;base64," + base64.b64encode(weights).decode()
    driver = tmp_path / "driver.mjs"
    driver.write_text(NODE_DRIVER)
    proc = subprocess.run(["node", str(driver), str(tmp_path / "m.mjs"), url], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    ops = [op for op, _ in got["summary"]]
    assert ops == ["matmul", "add", "gelu", "split", "mul", "layerNormalization"]
    assert got["summary"][3][1][1] == 2  # split(x, 2, {axis}) with operands resolved, numbers kept
    assert got["outputs"] == ["y", "half"]
    assert got["wrong"] == "Error: webinfer: input 'x' has 3 elements; float32[2,8] takes 16"  # not the browser's words
    w = got["w"]  # the matmul's weights came from the safetensors file, typed and exact
    assert w["type"] == "Float32Array" and w["shape"] == [8, 6]
    np.testing.assert_array_equal(np.array(w["values"], np.float32),
                                  wi.load(str(tmp_path / "m.json")).constants["w"].data().cast("f").tolist())


PAGE_JS = """async ([moduleText, weightsB64, inputB64]) => {
  const bytes = Uint8Array.from(atob(weightsB64), (c) => c.charCodeAt(0));
  const weightsUrl = URL.createObjectURL(new Blob([bytes]));
  const moduleUrl = URL.createObjectURL(new Blob([moduleText], { type: "text/javascript" }));
  const { build } = await import(moduleUrl);
  const context = await navigator.ml.createContext({ deviceType: "cpu" });
  const model = await build(context, weightsUrl);
  const x = new Float32Array(Uint8Array.from(atob(inputB64), (c) => c.charCodeAt(0)).buffer);
  const out = await model.run({ x });
  model.destroy();
  const values = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v)]));
  return { values, type: out.y.constructor.name, buildMs: model.buildMs };
}"""


def _cases_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("webnn_cases", WEBNN_TESTS / "webnn_cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_module_runs_in_the_page_and_matches_reference(tmp_path: Path, webinfer_browser) -> None:  # type: ignore[no-untyped-def]
    path = _model(tmp_path)
    graph = wi.load(str(path))
    # every value an output, so each node is checked against the reference on its actual inputs
    every = {o: o for n in graph.nodes for o in n.outputs}
    wi.save(wi.Graph(graph.inputs, graph.constants, graph.nodes, {**every, "y": graph.outputs["y"]}),
            str(tmp_path / "all.json"), weights="all.safetensors", inline_max_bytes=32)
    export_file(tmp_path / "all.json", tmp_path / "all.mjs")
    x = np.random.default_rng(5).uniform(0, 1, (2, 8)).astype(np.float32)
    page = webinfer_browser.open_blank()  # plain JS: no Pyodide in this page
    try:
        got = page.evaluate(PAGE_JS, [(tmp_path / "all.mjs").read_text(),
                                      base64.b64encode((tmp_path / "all.safetensors").read_bytes()).decode(),
                                      base64.b64encode(x.tobytes()).decode()])
    finally:
        page.close()
    assert got["type"] == "Float32Array" and got["buildMs"] > 0
    full = wi.load(str(tmp_path / "all.json"))
    values = {k: np.array(v, np.float32).reshape(full.operands[k].shape) for k, v in got["values"].items() if k != "y"}
    assert _cases_module().node_mismatches(full, {"x": x}, values) == []
    ref = evaluate(full, {"x": Tensor(x)})
    np.testing.assert_allclose(np.array(got["values"]["y"]).reshape(2, 3), ref["y"], atol=1e-3)
