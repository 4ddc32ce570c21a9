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


def test_subnormal_flush_is_the_only_rule_beyond_the_table() -> None:
    tol = Tolerance(ulp=2)
    e = np.array([1.0, 3.0e-39])
    assert conf.flushed_subnormals_only(np.array([1.0, 0.0], np.float32), e, "float32", tol)
    assert not conf.flushed_subnormals_only(np.array([1.0, 0.5], np.float32), e, "float32", tol)
    assert not conf.flushed_subnormals_only(np.array([1.0, 3.0e-39], np.float32), e, "float32", tol)  # passes anyway
    # a sum whose terms cancel gets no excuse any more: 10 ULP off a 6 ULP table fails
    exact = np.array([1e-3], np.float64)
    off = np.nextafter(np.float32(1e-3), np.float32(1), dtype=np.float32)
    for _ in range(9):
        off = np.nextafter(off, np.float32(1), dtype=np.float32)
    assert not conf.flushed_subnormals_only(np.array([off]), exact, "float32", Tolerance(ulp=6))
    assert not hasattr(conf, "ACCUMULATING") and not hasattr(conf, "_explained")


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
