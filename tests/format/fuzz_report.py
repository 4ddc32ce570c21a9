"""Run the loader fuzzer and print its figures as JSON (for the README's Reliability table).

    .venv/bin/python tests/format/fuzz_report.py --cases 10000 [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fmt_fuzz  # noqa: E402
from fmt_fuzz import Case, Stats, cases, run_case  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    stats = Stats()

    @settings(max_examples=args.cases, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def one(case: Case) -> None:
        run_case(case, stats)  # count, never stop: the report says how many broke the contract

    if args.seed is not None:
        one = seed(args.seed)(one)
    tracemalloc.start()
    t0 = time.perf_counter()
    one()
    report = stats.report()
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    report["time_limit_s"] = fmt_fuzz.TIME_LIMIT_S
    report["memory_limit_bytes"] = fmt_fuzz.MEMORY_LIMIT_BYTES
    print(json.dumps(report, indent=2))
    ok = stats.other_exceptions == 0 and stats.internal_errors == 0 and stats.over_time_limit == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
