"""Check a result against the float64 reference at the registry's tolerance (pytest and ``webinfer conformance``).

One rule, as WPT's webnn conformance tests apply it: a float value passes when it equals the reference
rounded to the output dtype, or is within ``ulp`` ULP of it (distance between the two values' positions
in the ordered list of that dtype's floats), or within ``abs`` of the float64 reference. NaN matches NaN
only; integers compare exactly. Needs numpy (host only); the IR itself does not import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import GraphError
from .graph import Graph, Node
from .registry import Tolerance, get_op

_INT_VIEW = {"float32": "int32", "float16": "int16"}


def node_tolerance(graph: Graph, node: Node) -> Tolerance:
    """The tolerance of ``node``'s outputs, from its op's rule and its (static) input shapes."""
    spec = get_op(node.op)
    descs = [None if i is None else graph.operands[i] for i in node.inputs]
    return spec.tolerance(spec.call(descs, node.attributes, node.name))


def op_tolerance(op: str, inputs: list[Any], attrs: dict[str, Any] | None = None) -> Tolerance:
    """The tolerance of one application of ``op`` to operand descriptors ``inputs``."""
    spec = get_op(op)
    return spec.tolerance(spec.call(inputs, attrs or {}))


def ulp_distance(actual: Any, expected: Any, dtype: str) -> Any:
    """Elementwise ULP distance in ``dtype`` between ``actual`` and ``expected`` rounded to ``dtype``.

    float64 array; 0 where both are NaN, inf where exactly one is. -0 and +0 are 0 ULP apart.
    """
    np = _np()
    if dtype not in _INT_VIEW:
        raise GraphError(f"ulp_distance: {dtype} is not a float dtype ({', '.join(_INT_VIEW)})")
    with np.errstate(all="ignore"):
        a = np.asarray(actual, dtype=np.float64).astype(dtype)
        e = np.asarray(expected, dtype=np.float64).astype(dtype)
    dist = np.asarray(np.abs(_ordered(a, dtype) - _ordered(e, dtype)), dtype=np.float64)
    a_nan, e_nan = np.isnan(a), np.isnan(e)
    dist[a_nan & e_nan] = 0.0
    dist[a_nan ^ e_nan] = np.inf
    return dist


def _ordered(x: Any, dtype: str) -> Any:
    """Map floats to integers whose order and spacing follow the floats' (sign-magnitude to two's complement)."""
    np = _np()
    bits = np.array(x, order="C").view(_INT_VIEW[dtype]).astype(np.int64)  # (keeps 0-d arrays 0-d)
    magnitude = bits & (2 ** (8 * np.dtype(dtype).itemsize - 1) - 1)
    return np.where(bits < 0, -magnitude, magnitude)


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one result with its reference."""

    ok: bool
    count: int  # elements compared
    bad: int  # elements out of tolerance
    max_ulp: float  # largest ULP distance (0 for integers)
    max_abs: float  # largest absolute difference (NaN-free)
    message: str  # empty when ok
    mask: Any = None  # bool array: the elements out of tolerance (None when the shapes differ)

    def __bool__(self) -> bool:
        return self.ok


def compare(actual: Any, expected: Any, tolerance: Tolerance, dtype: str, *, where: str = "result") -> Comparison:
    """Compare ``actual`` (values of ``dtype``) with the float64 ``expected`` at ``tolerance``."""
    np = _np()
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        msg = f"{where}: shape {list(a.shape)} differs from the reference's {list(e.shape)}"
        return Comparison(False, 0, max(a.size, e.size), float("inf"), float("inf"), msg)
    if a.size == 0:
        return Comparison(True, 0, 0, 0.0, 0.0, "", np.zeros(a.shape, bool))
    if dtype not in _INT_VIEW:  # integers (and uint8 booleans) must match exactly
        if a.dtype.kind in "iu" and e.dtype.kind in "iu":  # compare as integers: float64 would round int64
            bad_mask = a.astype(object) != e.astype(object) if max(a.itemsize, e.itemsize) == 8 else a != e
        else:
            ai, ei = a.astype(np.float64), e.astype(np.float64)
            bad_mask = ~((ai == ei) | (np.isnan(ai) & np.isnan(ei)))
        with np.errstate(all="ignore"):
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        return _result(np.asarray(bad_mask, dtype=bool), np.zeros_like(diff), diff, a, e, tolerance, where, dtype)
    a64 = a.astype(np.float64)
    with np.errstate(all="ignore"):
        e_rounded = e.astype(np.float64).astype(dtype).astype(np.float64)
        diff = np.abs(a64 - e.astype(np.float64))
    dist = ulp_distance(a64, e, dtype)
    ok_mask = (a64 == e_rounded) | (dist == 0)
    if tolerance.ulp is not None:
        ok_mask |= dist <= tolerance.ulp
    if tolerance.abs is not None:
        ok_mask |= diff <= tolerance.abs
    return _result(~ok_mask, dist, diff, a, e, tolerance, where, dtype)


def _result(bad_mask: Any, dist: Any, diff: Any, a: Any, e: Any, tol: Tolerance, where: str, dtype: str) -> Comparison:
    np = _np()
    bad = int(bad_mask.sum())
    finite_diff = diff[np.isfinite(diff)]
    max_ulp = float(dist.max()) if dist.size else 0.0
    max_abs = float(finite_diff.max()) if finite_diff.size else 0.0
    if not bad:
        return Comparison(True, int(a.size), 0, max_ulp, max_abs, "", bad_mask)
    # the worst offender: largest ULP distance, then largest abs difference
    score = np.where(bad_mask, np.where(np.isfinite(dist), dist, np.inf), -1.0)
    idx = np.unravel_index(int(np.argmax(score)), a.shape)
    loc = list(int(i) for i in idx)
    d = dist[idx]
    dtxt = f"{d:g} ULP, " if dtype in _INT_VIEW else ""
    rule = str(tol) if dtype in _INT_VIEW else "exact"
    msg = (
        f"{where}: {bad} of {a.size} {dtype} values out of tolerance ({rule}); worst at {loc}: "
        f"got {a[idx].item()!r}, expected {e[idx].item()!r} ({dtxt}abs {float(diff[idx]):g})"
    )
    return Comparison(False, int(a.size), bad, max_ulp, max_abs, msg, bad_mask)


def assert_close(actual: Any, expected: Any, tolerance: Tolerance, dtype: str, *, where: str = "result") -> Comparison:
    """``compare``, raising AssertionError with its message when out of tolerance."""
    c = compare(actual, expected, tolerance, dtype, where=where)
    if not c.ok:
        raise AssertionError(c.message)
    return c


def _np() -> Any:
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - the host always has numpy
        raise ImportError("webinfer.ir.tolerance needs numpy (host-side comparisons only)") from e
    return numpy


__all__ = ["Comparison", "assert_close", "compare", "node_tolerance", "op_tolerance", "ulp_distance"]
