"""ONNX's node tests for every op the importer converts, on the reference backend: every case passes or is refused
with a reason (a dtype, attribute or version the importer declines before converting); nothing fails or crashes.
The page path (cases prepared on the host, run by ``run_payload`` in the page, judged on the host) with a fake
page runner; the README's per-op table."""

from __future__ import annotations

import ast
import base64
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")

from webinfer.importers.onnx import supported_ops  # noqa: E402
from webinfer.tools import onnx_nodetests  # noqa: E402
from webinfer.tools.cli import main  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def report() -> onnx_nodetests.Report:
    return onnx_nodetests.run_report(backend="reference")


def test_no_case_fails_or_crashes(report: onnx_nodetests.Report) -> None:
    bad = [f"{r.outcome} {r.case}: {r.detail}" for r in report.unaccounted]
    assert not bad, "\n".join(bad)
    assert {r.outcome for r in report.results} == {"pass", "refused"}


def test_every_claimed_op_passes_some_case(report: onnx_nodetests.Report) -> None:
    passed = Counter(r.op for r in report.results if r.outcome == "pass")
    missing = [op for op in supported_ops() if op not in onnx_nodetests._SKIP_OPS and not passed[op]]
    assert not missing, missing


def test_refusals_say_why(report: onnx_nodetests.Report) -> None:
    for r in report.results:
        if r.outcome == "refused":
            assert r.detail and any(w in r.detail for w in ("support", "only", "opset")), r


def test_table_counts(report: onnx_nodetests.Report) -> None:
    table = onnx_nodetests.table(report.results)
    assert "| Conv | 6 | 6 | 0 | 0 | 0 | 0 |" in table and "| LayerNormalization |" in table


def _rows(table: str) -> dict[str, list[str]]:
    return {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in table.splitlines()[2:])}


def test_readme_table_is_current_for_the_reference(report: onnx_nodetests.Report) -> None:
    """The README's counts of cases, refusals and reference passes are what the importer gives now (its webgpu and
    webnn columns are recorded runs: see the README for the command)."""
    text = README.read_text(encoding="utf-8")
    current = onnx_nodetests.embedded(text)
    assert current is not None, "README.md lost its <!-- onnx-nodetests:start/end --> markers"
    readme = _rows(current)
    header = [c.strip() for c in current.splitlines()[0].strip("|").split("|")]
    assert header[:4] == ["ONNX op", "node tests", "refused by the importer", "reference"]
    fresh = _rows(onnx_nodetests.readme_table([report.to_json()]))
    stale = {op: (readme.get(op, [])[:4], row[:4]) for op, row in fresh.items() if readme.get(op, [])[:4] != row[:4]}
    assert not stale, ("README ONNX node-test table is stale (README, now): "
                       f"{stale}; rerun the command above the table in README.md")


def _fake_page(mangle: Any = lambda r: r) -> Any:
    """A page runner that runs the payload on the reference backend (as the page would on its backend)."""

    def run(src: str) -> Any:
        if "run_payload_json" not in src:
            return "fake device"
        payload, _backend, options = ast.literal_eval("(" + src.split("run_payload_json(", 1)[1].rstrip()[:-1] + ")")
        return [mangle(r) for r in onnx_nodetests.run_payload_json(payload, "reference", options)]

    return run


def test_page_path_judges_on_the_host() -> None:
    rep = onnx_nodetests.run_report(["Relu", "Sub"], "webgpu", runner=_fake_page())
    assert rep.ok and rep.device == "fake device"
    assert rep.per_op()["Relu"] == Counter({"pass": 2}) and rep.per_op()["Sub"]["refused"] == 3

    def spoil(r: dict[str, Any]) -> dict[str, Any]:
        for outputs in r["outputs"]:
            for name, (dtype, _shape, data) in outputs.items():
                a = np.frombuffer(base64.b64decode(data), dtype=dtype).copy()
                a.flat[0] += 1
                outputs[name][2] = base64.b64encode(a.tobytes()).decode()
        return r

    bad = onnx_nodetests.run_report(["Relu"], "webgpu", runner=_fake_page(spoil))
    assert not bad.ok and {r.outcome for r in bad.results} == {"fail"}
    assert "output 'y' at [" in bad.results[0].detail and "rtol 0.001" in bad.results[0].detail


def test_unsupported_is_accounted_and_explained_is_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "outputs": [], "unsupported": "relu input is int8; this context takes float32"}

    rep = onnx_nodetests.run_report(["Relu"], "webnn", runner=_fake_page(refuse))
    assert rep.ok and {r.outcome for r in rep.results} == {"unsupported"}
    assert "this context takes" in rep.results[0].detail

    def error(r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "outputs": [], "error": "BackendError: build failed"}

    monkeypatch.setitem(onnx_nodetests.EXPLAINED, ("webnn", "test_relu"), "a known bug")
    rep = onnx_nodetests.run_report(["Relu"], "webnn", runner=_fake_page(error))
    by_case = {r.case: r for r in rep.results}
    assert by_case["test_relu"].explained == "a known bug" and by_case["test_relu"].accounted
    assert not by_case["test_relu_expanded_ver18"].accounted and not rep.ok  # an error without a reason fails the run
    rep = onnx_nodetests.run_report(["Relu"], "webnn", runner=_fake_page())
    assert {r.case: r.outcome for r in rep.results}["test_relu"] == "xpass" and not rep.ok  # listed but passes
    assert rep.to_json()["ops"]["Relu"] == {"pass": 1, "xpass": 1}


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="runs in the browser"):
        onnx_nodetests.run_report(["Relu"], "webgpu")
    with pytest.raises(ValueError, match="unknown backend"):
        onnx_nodetests.run_report(["Relu"], "cuda")
    with pytest.raises(ValueError, match="does not convert NotAnOp"):
        onnx_nodetests.run_report(["NotAnOp"])


def test_readme_table_cells() -> None:
    ref = {"backend": "reference", "ops": {"Add": {"pass": 5, "refused": 3}}}
    nn = {"backend": "webnn", "ops": {"Add": {"pass": 2, "refused": 3, "unsupported": 2, "explained": 1}}}
    table = onnx_nodetests.readme_table([ref, nn])
    assert table.splitlines()[0] == "| ONNX op | node tests | refused by the importer | reference | webnn |"
    assert "| Add | 8 | 3 | 5 | 2 · 2 unsupported · 1 known deviation |" in table
    assert table.splitlines()[-1] == "| **all** | **8** | **3** | **5** | **2 · 2 unsupported · 1 known deviation** |"


def test_write_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--onnx", "--backend", "reference", "--ops", "Relu,Sub", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["backend"] == "reference" and data["ops"]["Sub"] == {"pass": 6, "refused": 3}
    reports = tmp_path / "reference.json"
    reports.write_text(json.dumps(data))
    doc = tmp_path / "doc.md"
    doc.write_text(f"x\n{onnx_nodetests.START}\nold\n{onnx_nodetests.END}\ny\n")
    assert onnx_nodetests.main(["--write", str(doc), str(reports)]) == 0
    assert re.search(r"\| Sub \| 9 \| 3 \| 6 \|", doc.read_text())
    assert main(["conformance", "--onnx", "--backend", "reference", "--ops", "Relu"]) == 0
    assert "| Relu | 2 | 2 | 0 | 0 | 0 | 0 |" in capsys.readouterr().out
