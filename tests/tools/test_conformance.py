"""``webinfer conformance`` on the host: the reference backend, the comparison and deviation rules, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from webinfer.errors import GraphError
from webinfer.ir.registry import Tolerance
from webinfer.tools import conformance as conf
from webinfer.tools.cli import main


def test_reference_backend_passes_its_own_cases() -> None:
    report = conf.run_conformance("reference", ["add", "matmul", "softmax", "gather", "cast"])
    assert report.ok, conf.format_report(report)
    assert sorted(r.op for r in report.ops) == ["add", "cast", "gather", "matmul", "softmax"]
    assert all(r.cases >= 3 for r in report.ops)


def test_unknown_op_and_backend_are_errors() -> None:
    with pytest.raises(GraphError, match="unknown op 'nope'"):
        conf.select_cases(["nope"])
    with pytest.raises(ValueError, match="unknown backend"):
        conf.run_conformance("cuda", ["add"])
    with pytest.raises(ValueError, match="runs in the browser"):
        conf.run_conformance("webgpu", ["add"])


def test_symbolic_cases_run_with_their_bindings() -> None:
    cases = [c for c in conf.select_cases(["reshape"]) if c.bind]
    assert cases
    report = conf.run_conformance("reference", ["reshape", "expand"])
    assert report.ok, conf.format_report(report)


def _fake_runner(mangle):  # type: ignore[no-untyped-def]
    """A page runner that runs the cases on the reference backend, then lets a test spoil the outputs."""

    def run(src: str):  # type: ignore[no-untyped-def]
        if "run_cases_json" not in src:
            return "test: fake"
        payload = src.split("run_cases_json(", 1)[1].rsplit(", 'webgpu'", 1)[0]
        results = conf.run_cases_json(eval(payload), "reference")
        return [mangle(r) for r in results]

    return run


def test_a_wrong_result_fails_and_names_the_case() -> None:
    import base64

    def spoil(r):  # type: ignore[no-untyped-def]
        if r["outputs"]:
            dtype, shape, data = r["outputs"][0]
            a = np.frombuffer(base64.b64decode(data), dtype=dtype).copy()
            if a.size:
                a[0] = a[0] + 1
            r["outputs"][0][2] = base64.b64encode(a.tobytes()).decode()
        return r

    report = conf.run_conformance("webgpu", ["relu"], runner=_fake_runner(spoil))
    assert not report.ok
    text = conf.format_report(report)
    assert "FAIL" in text and "relu(" in text
    data = report.to_json()
    assert data["ok"] is False and data["ops"][0]["op"] == "relu"
    assert json.loads(json.dumps(data)) == data


def test_known_deviations_are_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = conf.select_cases(["neg"])[0].id
    monkeypatch.setitem(conf.KNOWN_DEVIATIONS, ("webgpu", case_id), "pretend")
    report = conf.run_conformance("webgpu", ["neg"], runner=_fake_runner(lambda r: r))
    statuses = {c.id.split(" ", 1)[1]: c.status for c in report.ops[0].results}
    assert statuses[case_id] == "xpass"  # listed but passing: the table is out of date
    assert not report.ok


def test_subnormal_flush_and_cancellation_rules() -> None:
    tol = Tolerance(ulp=2)
    e = np.array([1.0, 3.0e-39])
    assert "subnormal" in conf._explained("div", None, None, np.array([1.0, 0.0], np.float32), e, "float32", tol)
    assert conf._explained("div", None, None, np.array([1.0, 0.5], np.float32), e, "float32", tol) == ""
    # a 3-term dot product whose terms cancel: 10 ULP off, within 6·u·Σ|terms|
    from webinfer.tools.conformance import case_graph

    graph = case_graph("matmul", [["float32", [1, 3]], ["float32", [3, 1]]], {})
    a = np.array([[1.0, -1.0, 0.001]], np.float32)
    b = np.array([[1.0], [1.0 - 2**-20], [1.0]], np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    got = (exact + 2e-9).astype(np.float32)
    why = conf._explained("matmul", graph, [a, b], got, exact, "float32", Tolerance(ulp=6))
    assert why.startswith("cancellation")
    far = (exact + 1e-5).astype(np.float32)
    assert conf._explained("matmul", graph, [a, b], far, exact, "float32", Tolerance(ulp=6)) == ""


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--backend", "reference", "--ops", "add,relu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["backend"] == "reference"
    assert [o["op"] for o in data["ops"]] == ["add", "relu"]
    for o in data["ops"]:
        assert {"max_ulp", "max_abs", "tolerance", "ok"} <= set(o)


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--backend", "reference", "--ops", "sqrt"]) == 0
    out = capsys.readouterr().out
    assert "sqrt" in out and "PASS" in out and "1 ULP" in out
