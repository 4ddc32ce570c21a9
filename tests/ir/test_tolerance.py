"""The comparison helper: ULP distance in the output dtype, absolute tolerance, NaN/inf, integers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import webinfer as wi
from webinfer.ir.registry import Tolerance
from webinfer.ir.tolerance import assert_close, compare, node_tolerance, op_tolerance, ulp_distance


def next_up(x: float, dtype: str, n: int = 1) -> float:
    v = np.array(x, dtype=dtype)
    for _ in range(n):
        v = np.nextafter(v, np.array(np.inf, dtype=dtype))
    return float(v)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_ulp_distance(dtype: str) -> None:
    assert ulp_distance(1.0, next_up(1.0, dtype, 3), dtype) == 3
    assert ulp_distance(-0.0, 0.0, dtype) == 0
    smallest = next_up(0.0, dtype)
    assert ulp_distance(-smallest, smallest, dtype) == 2  # across zero
    assert ulp_distance(np.nan, np.nan, dtype) == 0
    assert ulp_distance(np.nan, 1.0, dtype) == math.inf
    assert ulp_distance(np.inf, np.inf, dtype) == 0
    big = float(np.finfo(dtype).max)
    assert ulp_distance(np.inf, big, dtype) == 1
    assert ulp_distance(np.inf, 1e300, dtype) == 0  # the reference rounds to inf in the output dtype
    d = ulp_distance(np.array([[1.0, 2.0]]), np.array([[1.0, next_up(2.0, dtype)]]), dtype)
    assert d.shape == (1, 2) and list(d[0]) == [0, 1]


def test_ulp_or_abs() -> None:
    exp = np.array([1.0, 2.0, 1e-9])
    got = np.array([next_up(1.0, "float32", 2), 2.0, 5e-4], np.float32)
    assert compare(got, exp, Tolerance(ulp=2), "float32").bad == 1  # 1e-9 vs 5e-4: far in ULP
    assert compare(got, exp, Tolerance(ulp=2, abs=1e-3), "float32").ok
    assert compare(got, exp, Tolerance(abs=1e-3), "float32").ok  # abs alone covers all three
    assert compare(got, exp, Tolerance(abs=1e-4), "float32").bad == 1


def test_abs_only_and_exact() -> None:
    exp = np.array([0.5, -0.25])
    assert compare(np.array([0.5 + 1e-4, -0.25], np.float32), exp, Tolerance(abs=1 / 1024), "float32").ok
    assert not compare(np.array([0.5 + 1e-2, -0.25], np.float32), exp, Tolerance(abs=1 / 1024), "float32").ok
    assert compare(np.array([0.5, -0.25], np.float32), exp, Tolerance(ulp=0), "float32").ok
    # rounding the float64 reference is free even at 0 ULP
    assert compare(np.array([0.1], np.float32), np.array([0.1]), Tolerance(ulp=0), "float32").ok


def test_nan_and_inf() -> None:
    t = Tolerance(ulp=1, abs=1.0)
    specials = [np.nan, np.inf, -np.inf]
    assert compare(np.array(specials, np.float32), np.array(specials), t, "float32").ok
    c = compare(np.array([np.nan, 1.0], np.float32), np.array([1.0, np.nan]), t, "float32")
    assert c.bad == 2 and "got nan, expected 1.0" in c.message
    assert not compare(np.array([np.inf], np.float32), np.array([1e30]), t, "float32").ok


def test_integers_are_exact() -> None:
    a = np.array([2**62 + 1, -5], np.int64)
    assert compare(a, a.copy(), Tolerance(ulp=100), "int64").ok
    c = compare(a, np.array([2**62, -5], np.int64), Tolerance(ulp=100), "int64")
    assert not c.ok and "(exact)" in c.message and str(2**62 + 1) in c.message
    assert compare(np.array([1, 0], np.uint8), np.array([1.0, 0.0]), Tolerance(ulp=0), "uint8").ok


def test_messages_and_shapes() -> None:
    c = compare(np.zeros((2, 3), np.float32), np.zeros((3, 2)), Tolerance(ulp=0), "float32", where="out")
    assert not c.ok and c.message == "out: shape [2, 3] differs from the reference's [3, 2]"
    got = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    with pytest.raises(AssertionError,
                       match=r"matmul: 1 of 4 float32 values out of tolerance \(4 ULP\); worst at \[1, 0\]"):
        assert_close(got, np.array([[1.0, 2.0], [3.5, 4.0]]), Tolerance(ulp=4), "float32", where="matmul")
    assert compare(np.zeros((0,), np.float32), np.zeros((0,)), Tolerance(ulp=0), "float32").ok


def test_tolerances_from_the_registry() -> None:
    a, b = wi.OperandDesc("float32", (2, 7)), wi.OperandDesc("float32", (7, 3))
    assert op_tolerance("matmul", [a, b]) == Tolerance(ulp=14)
    assert op_tolerance("softmax", [a], {"axis": 1}) == Tolerance(ulp=24)
    assert op_tolerance("gemm", [a, b], {"alpha": 2.0}) == Tolerance(ulp=15)
    assert op_tolerance("exp", [wi.OperandDesc("float16", (2,))]) == Tolerance(ulp=1)
    assert op_tolerance("erf", [a]) == Tolerance(abs=1 / 1024)
    assert op_tolerance("add", [wi.OperandDesc("int32", (2,))] * 2) == Tolerance(ulp=0)
    assert op_tolerance("cast", [a], {"data_type": "float16"}) == Tolerance(ulp=1)
    assert op_tolerance("reduce_mean", [wi.OperandDesc("float32", (4, 5))], {"axes": [1]}) == Tolerance(ulp=7)
    f = wi.OperandDesc("float32", (8, 4, 3, 3))
    x = wi.OperandDesc("float32", (1, 4, 9, 9))
    assert op_tolerance("conv2d", [x, f]) == Tolerance(ulp=2 * 3 * 3 * 4)
    g = wi.GraphBuilder()
    xi = g.input("x", "float32", ["batch", 5])
    graph = g.build({"y": g.softmax(xi, axis=1)})
    assert node_tolerance(graph, graph.nodes[0]) == Tolerance(ulp=18)
    with pytest.raises(wi.GraphError, match="symbolic here; specialize the graph first"):
        op_tolerance("softmax", [wi.OperandDesc("float32", (2, "n"))], {"axis": 1})
