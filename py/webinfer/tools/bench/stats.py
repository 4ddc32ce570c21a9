"""Numbers from timings: percentiles, the interleaved round order, per-round ratios and their spread,
and how close an output is to the reference.

Everything but :func:`compare` is pure Python (the same code can run in the page).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from .errors import BenchError


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default method)."""
    if not values:
        raise BenchError("bench: no timed runs")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, p90, min and mean of run times."""
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "mean": statistics.fmean(values),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and the interquartile range (p25, p75) of ``values``, and how many there are."""
    return {
        "median": statistics.median(values) if values else math.nan,
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
        "p25": percentile(values, 25) if values else math.nan,
        "p75": percentile(values, 75) if values else math.nan,
        "n": len(values),
    }


def interleave(labels: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of every round: forward in even rounds, reversed in odd ones (A B, B A, A B, ...).

    Alternating cancels a linear drift (the machine warming up, another job starting) between the
    cases: each case runs first as often as last.
    """
    if rounds < 1:
        raise BenchError(f"bench: --rounds must be at least 1, got {rounds}")
    if len(set(labels)) != len(labels):
        raise BenchError(f"bench: case labels repeat: {', '.join(labels)}")
    forward = list(labels)
    return [forward if r % 2 == 0 else forward[::-1] for r in range(rounds)]


def round_ratios(peer: Sequence[float | None], base: Sequence[float | None]) -> list[float | None]:
    """Per round, ``peer / base`` (each a round's median time); None where either is missing or zero."""
    if len(peer) != len(base):
        raise BenchError(f"bench: {len(peer)} rounds of the peer against {len(base)} of the base")
    return [p / b if p is not None and b else None for p, b in zip(peer, base)]


def compare(got: bytes, reference: Any, rows: int) -> dict[str, Any]:
    """Max abs difference and lowest per-row cosine between float32 ``got`` and the reference array."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).reshape(rows, -1)
    out = np.frombuffer(got, dtype="<f4").astype(np.float64)
    if out.size != ref.size:
        raise BenchError(f"bench: the output has {out.size} values, the reference {ref.size}")
    out = out.reshape(ref.shape)
    dot = (out * ref).sum(axis=1)
    norms = np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1)
    cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1), 0.0)
    return {
        "max_abs_diff": float(np.abs(out - ref).max()),
        "min_cosine": float(cosine.min()),
        "finite": bool(np.isfinite(out).all()),
        "rows": rows,
    }


__all__ = ["compare", "interleave", "percentile", "round_ratios", "spread", "summarize"]
