"""Fuzzing the GGUF import (issue 14): hostile files — truncated, lying counts, lengths, sizes and offsets, wrong
types, flipped bytes — must only ever raise webinfer's own errors, each within the time and memory limits.

Every field of the layout set to each hostile value, and every truncation of the header, run in the quick
profile; then hypothesis mutations (quick: 100 cases; ``WEBINFER_FUZZ=long``: 5,000). ``python
tests/importers/test_gguf_fuzz.py [N]`` prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc

import pytest

pytest.importorskip("gguf")

import gguf_fuzz  # noqa: E402
from gguf_fuzz import Case, Stats, base, cases, hand_made, import_all, run_case  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

QUICK_CASES = 100
LONG_CASES = int(os.environ.get("WEBINFER_FUZZ_CASES", "5000"))
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]


def test_the_base_file_imports() -> None:
    data, fields = base()
    assert import_all(data) > 0
    kinds = {f.kind for f in fields}
    assert {"count", "length", "type", "dim", "offset", "value", "rank"} <= kinds


def test_every_field_and_truncation() -> None:
    data, _ = base()
    stats = Stats()
    tracemalloc.start()
    try:
        for kind, variant in hand_made(data):
            problem = run_case(Case(kind, variant), stats)
            assert problem is None, f"{kind}: {problem}"
    finally:
        tracemalloc.stop()
    print(json.dumps(stats.report()))
    assert stats.errors and stats.cases > 400


def _fuzz(n: int, derandomize: bool) -> Stats:
    stats = Stats()

    @settings(max_examples=n, deadline=None, database=None, derandomize=derandomize, suppress_health_check=HEALTH)
    @given(cases())
    def one(case: Case) -> None:
        problem = run_case(case, stats)
        assert problem is None, f"{case.kind} case broke the import contract: {problem}"

    tracemalloc.start()
    try:
        one()
    finally:
        tracemalloc.stop()
    print(json.dumps(stats.report()))
    return stats


def test_fuzz_quick() -> None:
    if os.environ.get("WEBINFER_FUZZ") == "long":
        pytest.skip("the long profile runs instead")
    stats = _fuzz(QUICK_CASES, derandomize=True)
    assert stats.cases >= QUICK_CASES and stats.other_exceptions == 0 and stats.errors


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WEBINFER_FUZZ") != "long", reason="set WEBINFER_FUZZ=long for the long profile")
def test_fuzz_long() -> None:
    stats = _fuzz(LONG_CASES, derandomize=False)
    assert stats.cases >= LONG_CASES and stats.other_exceptions == 0


if __name__ == "__main__":  # pragma: no cover - a report for the README
    gguf_fuzz.TIME_LIMIT_S = float("inf")
    s = _fuzz(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, derandomize=False)
    print(json.dumps(s.report(), indent=2))
