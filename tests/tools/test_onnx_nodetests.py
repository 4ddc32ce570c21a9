"""ONNX's node tests for every op the importer converts, on the reference backend: every case passes or is refused
with a reason (a dtype, attribute or version the importer declines before converting); nothing fails or crashes."""

from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("onnx")

from webinfer.importers.onnx import supported_ops  # noqa: E402
from webinfer.tools import onnx_nodetests  # noqa: E402


@pytest.fixture(scope="module")
def results():
    return onnx_nodetests.run(backend="reference")


def test_no_case_fails_or_crashes(results):
    bad = [f"{r.outcome} {r.case}: {r.detail}" for r in results
           if r.outcome not in ("pass", "refused") and r.case not in onnx_nodetests.EXPLAINED]
    assert not bad, "\n".join(bad)


def test_every_claimed_op_passes_some_case(results):
    passed = Counter(r.op for r in results if r.outcome == "pass")
    missing = [op for op in supported_ops() if op not in onnx_nodetests._SKIP_OPS and not passed[op]]
    assert not missing, missing


def test_refusals_say_why(results):
    for r in results:
        if r.outcome == "refused":
            assert r.detail and any(w in r.detail for w in ("support", "only", "opset")), r


def test_table_counts(results):
    table = onnx_nodetests.table(results)
    assert "| Conv |" in table and "| LayerNormalization |" in table
