"""Hypothesis fuzzing of the graph loader (issue 8 item 1): mutated graph JSON and safetensors files must
only ever raise webinfer's own errors, each case within 1 s and bounded memory.

Quick profile by default; ``WEBINFER_FUZZ=long`` (or ``-m slow`` for the marked test) runs 10,000 cases.
``python tests/format/fuzz_report.py --cases N`` prints the figures as JSON.
"""

from __future__ import annotations

import os
import tracemalloc

import fmt_fuzz
import pytest
from fmt_fuzz import STATS, Case, Stats, cases, run_case
from hypothesis import HealthCheck, given, settings

QUICK_CASES = 200
LONG_CASES = int(os.environ.get("WEBINFER_FUZZ_CASES", "10000"))
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]


def _fuzz(n: int, *, derandomize: bool) -> Stats:
    fmt_fuzz.STATS = stats = Stats()

    @settings(max_examples=n, deadline=None, database=None, derandomize=derandomize, suppress_health_check=HEALTH)
    @given(cases())
    def one(case: Case) -> None:
        problem = run_case(case, stats)
        assert problem is None, f"{case.kind} case broke the loader contract: {problem}"

    tracemalloc.start()
    try:
        one()
    finally:
        tracemalloc.stop()
    print(stats.report())
    return stats


def _check(stats: Stats, n: int) -> None:
    assert stats.cases >= n
    assert stats.other_exceptions == 0 and stats.internal_errors == 0, stats.failures
    assert stats.over_time_limit == 0
    assert stats.max_peak_bytes <= fmt_fuzz.MEMORY_LIMIT_BYTES
    assert stats.accepted > 0 and stats.graph_errors > 0 and stats.weights_errors > 0  # the mix is real


def test_fuzz_quick() -> None:
    if os.environ.get("WEBINFER_FUZZ") == "long":
        pytest.skip("the long profile runs instead")
    _check(_fuzz(QUICK_CASES, derandomize=True), QUICK_CASES)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WEBINFER_FUZZ") != "long", reason="set WEBINFER_FUZZ=long for the long profile")
def test_fuzz_long() -> None:
    _check(_fuzz(LONG_CASES, derandomize=False), LONG_CASES)


def test_run_case_counts_foreign_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner itself can fail: a KeyError out of the loader is counted and reported, not hidden."""
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("x")

    monkeypatch.setattr(fmt_fuzz, "load_bytes", boom)
    stats = Stats()
    tracemalloc.start()
    try:
        problem = run_case(Case("test", b"{}", None), stats)
    finally:
        tracemalloc.stop()
    assert problem is not None and "KeyError" in problem
    assert stats.other_exceptions == 1 and stats.cases == 1


__all__ = ["STATS"]
