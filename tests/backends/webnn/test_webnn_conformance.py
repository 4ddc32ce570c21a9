"""``webinfer conformance --backend webnn``: every op vs the float64 reference; what the context cannot run
is listed as unsupported, with the context's reason, and does not fail the run."""

from __future__ import annotations

import pytest
from webnn_cases import PENDING

from webinfer.tools.conformance import (
    OpReport,
    Report,
    compare_case,
    format_report,
    run_conformance,
)
from webinfer.tools.pytest_plugin import BrowserPy


def test_unsupported_is_reported_not_failed() -> None:
    res = compare_case("000 pow(int32[7],int32[7])", "pow", _pow_graph(), {},
                       {"unsupported": "pow(int32) is wrong here"}, "webnn")
    assert res.status == "unsupported" and res.message == "pow(int32) is wrong here"
    rep = OpReport("pow", cases=1, unsupported=1, results=[res])
    report = Report("webnn", "cpu", [rep])
    assert report.ok and report.to_json()["summary"]["cases_unsupported"] == 1
    text = format_report(report)
    assert "PASS (1 unsupported)" in text
    assert "unsupported: 000 pow(int32[7],int32[7]): pow(int32) is wrong here" in text


def _pow_graph():  # type: ignore[no-untyped-def]
    from webinfer.tools.conformance import case_graph

    return case_graph("pow", [("int32", [7]), ("int32", [7])], {})


@pytest.mark.browser
def test_conformance_every_op_on_webnn_cpu(browser_py: BrowserPy) -> None:
    report = run_conformance("webnn", runner=browser_py.run, device="cpu")
    assert report.ok, format_report(report)
    assert len(report.ops) >= 52
    by_op = {r.op: r for r in report.ops}
    # every op runs at least one case on this context, but those without a lowering yet (all unsupported, by name)
    idle = [r.op for r in report.ops if not r.passed + r.xfail]
    assert sorted(idle) == sorted(PENDING), idle
    for op in idle:
        assert all(c.status == "unsupported" and op in c.message for c in by_op[op].results), by_op[op].results[0]
    reasons = [c.message for r in report.ops for c in r.results if c.status == "unsupported"]
    assert reasons and all(reasons)
    assert any("matmul a is int32; this context takes float32, float16" in m for m in reasons)
    assert any("WebNN has no zero-size tensors" in m for m in reasons)
    pow_int = [c for c in by_op["pow"].results if "int32" in c.id]
    assert pow_int and pow_int[0].status == "unsupported" and "computes wrong values here" in pow_int[0].message
    # sqrt: this TFLite's float32 sqrt is off (2 ULP in places, 1.5x above 8.5e37, NaN at +inf); the context
    # probe finds it and the lowering refines it, so every element passes the 1-ULP table with nothing excused
    assert all(c.status in ("pass", "unsupported") for c in by_op["sqrt"].results), format_report(report)
    div_int = [c for c in by_op["div"].results if "div(int32" in c.id]
    assert div_int and div_int[0].status == "pass"  # x / 0 = 0 made explicit around TFLite's int div
