"""``webinfer conformance`` on the host: the reference backend, the comparison and deviation rules, the CLI."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from webinfer.errors import GraphError
from webinfer.ir.registry import Tolerance
from webinfer.tools import conformance as conf
from webinfer.tools.cli import main
from webinfer.tools.deviations import Deviation, inputs_where


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


def _fake_runner(mangle, ran_on=None):  # type: ignore[no-untyped-def]
    """A page runner that runs the cases on the reference backend, then lets a test spoil the outputs
    (``ran_on``: the backend the outputs claim, as hybrid's islands report it)."""

    def run(src: str):  # type: ignore[no-untyped-def]
        if "run_cases_json" not in src:
            return "test: fake"
        call = ast.parse(src).body[-1].value  # type: ignore[attr-defined]
        results = conf.run_cases_json(ast.literal_eval(call.args[0]), "reference")
        for r in results:
            if ran_on is not None:
                r["ran_on"] = [ran_on]
        return [mangle(r) for r in results]

    return run


def _spoil(where):  # type: ignore[no-untyped-def]
    """A mangler setting out0's elements at flat indices ``where(case id, array)`` to 12345 (8-bit: 123)."""
    import base64

    def spoil(r):  # type: ignore[no-untyped-def]
        if r["outputs"]:
            dtype, shape, data = r["outputs"][0]
            a = np.frombuffer(base64.b64decode(data), dtype=dtype).copy()
            for i in where(r["id"], a):
                a[i] = 123 if a.dtype.itemsize == 1 else 12345
            r["outputs"][0][2] = base64.b64encode(a.tobytes()).decode()
        return r

    return spoil


def test_a_wrong_result_fails_and_names_the_case() -> None:
    report = conf.run_conformance("webgpu", ["relu"], runner=_fake_runner(_spoil(lambda _, a: [0] if a.size else [])))
    assert not report.ok
    text = conf.format_report(report)
    assert "FAIL" in text and "relu(" in text
    data = report.to_json()
    assert data["ok"] is False and data["ops"][0]["op"] == "relu"
    assert json.loads(json.dumps(data)) == data


NAN_EXP = Deviation("webgpu", ("exp",), "NaN inputs", "pretend", inputs_where(np.isnan))


def _statuses(report):  # type: ignore[no-untyped-def]
    return {c.id.split(" ", 1)[1]: c for r in report.ops for c in r.results}


def _edge(op: str) -> str:
    return next(c.id for c in conf.select_cases([op]) if c.note == "edge")


def _nan_at(case_id: str, a):  # type: ignore[no-untyped-def]
    """Flat indices of the edge case's NaN inputs (unary: the output's elements at the same places)."""
    return [i for i in range(a.size) if np.isnan(a[i])] if "[edge]" in case_id else []


def test_a_deviation_excuses_only_the_elements_it_selects() -> None:
    report = conf.run_conformance("webgpu", ["exp"], runner=_fake_runner(_spoil(_nan_at)), deviations=[NAN_EXP])
    edge = _statuses(report)[_edge("exp")]
    assert report.ok and edge.status == "xfail", conf.format_report(report)
    assert "pretend (2 of 2 selected values out of tolerance: NaN inputs)" in edge.message
    assert edge.deviations == ["webgpu: NaN inputs"]

    def also_one_more(case_id, a):  # type: ignore[no-untyped-def]
        return _nan_at(case_id, a) + ([1] if "[edge]" in case_id else [])  # element 1 (+inf) is not a NaN input

    report = conf.run_conformance("webgpu", ["exp"], runner=_fake_runner(_spoil(also_one_more)), deviations=[NAN_EXP])
    edge = _statuses(report)[_edge("exp")]
    assert not report.ok and edge.status == "fail"
    assert "out0: 1 of 24 float32 values out of tolerance" in edge.message and "worst at [1]" in edge.message


def test_known_deviations_are_strict() -> None:
    report = conf.run_conformance("webgpu", ["exp"], runner=_fake_runner(lambda r: r), deviations=[NAN_EXP])
    edge = _statuses(report)[_edge("exp")]
    assert edge.status == "xpass" and "but those elements passed" in edge.message  # listed, but nothing to excuse
    assert not report.ok
    never = Deviation("webgpu", ("relu",), "NaN inputs", "pretend", inputs_where(lambda x: x > 1e30))
    report = conf.run_conformance("webgpu", ["relu"], runner=_fake_runner(lambda r: r), deviations=[never])
    assert not report.ok and "no case of relu needed it" in conf.format_report(report)


def test_hybrid_is_judged_with_the_deviations_of_the_backend_that_ran_the_case() -> None:
    as_webnn = Deviation("webnn", ("exp",), "NaN inputs", "pretend", inputs_where(np.isnan))
    report = conf.run_conformance("hybrid", ["exp"], runner=_fake_runner(_spoil(_nan_at), ran_on="webnn"),
                                  deviations=[as_webnn])
    assert report.ok and _statuses(report)[_edge("exp")].status == "xfail", conf.format_report(report)
    report = conf.run_conformance("hybrid", ["exp"], runner=_fake_runner(_spoil(_nan_at), ran_on="webgpu"),
                                  deviations=[as_webnn])
    assert not report.ok  # the case ran on webgpu: webnn's deviation does not excuse it


def test_elements_of_a_reduction_depend_on_the_whole_window() -> None:
    from webinfer.tools.deviations import CaseData, depends_on

    graph = conf.case_graph("max_pool2d", [["float32", [1, 1, 4, 4]]], {"window_dimensions": [2, 2],
                                                                        "strides": [2, 2]})
    x = np.zeros((1, 1, 4, 4), np.float32)
    mark = np.zeros(x.shape, bool)
    mark[0, 0, 3, 0] = True
    got = depends_on(CaseData(graph, [x], np.zeros((1, 1, 2, 2))), [mark])
    assert got.tolist() == [[[[False, False], [True, False]]]]
    graph = conf.case_graph("add", [["float32", [2, 1]], ["float32", [3]]], {})
    got = depends_on(CaseData(graph, [np.zeros((2, 1)), np.zeros(3)], np.zeros((2, 3))),
                     [np.array([[True], [False]]), None])
    assert got.tolist() == [[True, True, True], [False, False, False]]


def test_a_refusal_is_a_known_deviation_only_for_its_error() -> None:
    refuse = Deviation("webgpu", ("neg",), "values out of range (refused)", "pretend", error="does not fit")

    def fail(r):  # type: ignore[no-untyped-def]
        r["outputs"], r["error"] = [], "InputError: input 'in0': 7 does not fit int32"
        return r

    report = conf.run_conformance("webgpu", ["neg"], runner=_fake_runner(fail), deviations=[refuse])
    assert report.ok and all(c.status == "xfail" for c in report.ops[0].results)
    report = conf.run_conformance("webgpu", ["abs"], runner=_fake_runner(fail), deviations=[refuse])
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
