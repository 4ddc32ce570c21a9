"""Conformance cases for every registered op: valid applications with their expected outputs, and
must-raise ones with the fragments their error message must contain.

pytest runs them against the shape rules and the reference kernels (vs torch); backends run the valid
ones against the reference (``webinfer conformance``). A registered op without at least one valid and
one must-raise case fails the tests, so a new op is tested by being registered *and* given cases here.

Operands are written ``"f32[2, 3]"`` (dims are ints or names); ``data`` says how to fill an input
(``make_inputs`` turns that into numpy arrays; the rest of this module needs no numpy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .operand import OperandDesc, fmt_shape

SHORT = {"f32": "float32", "f16": "float16", "i32": "int32", "u32": "uint32", "i64": "int64", "u64": "uint64",
         "i8": "int8", "u8": "uint8", "i4": "int4", "u4": "uint4"}
NAN, INF = math.nan, math.inf
EDGE = (NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-30, 3.0e38, 88.0)  # edge values for float inputs

# how to fill an input: ("normal", scale) | ("uniform", lo, hi) | ("int", lo, hi) | ("choice", values)
# | ("values", flat values, tiled over the shape)
Data = tuple

# Ops whose results are sums of many rounded terms. Their float inputs are drawn positive by default (as
# WPT's webnn data is), so no sum cancels: float32 summation in any order then stays within the
# registry's ULP tolerance (K terms, error <= K·u·Σ|terms| = K·u·|result| <= K ULP). Cases that want mixed
# signs use MIXED, mostly positive, and tests/ir/test_case_data.py checks that their data still keeps
# Σ|terms| within the factor the tolerance allows (2 for matmul's 2K ULP).
ACCUMULATING = ("matmul", "gemm", "conv2d", "average_pool2d", "batch_normalization", "reduce_sum", "reduce_mean",
                "softmax", "layer_normalization")
POSITIVE: tuple = ("uniform", 0.25, 2.0)
NEGATIVE: tuple = ("uniform", -2.0, -0.25)
MIXED: tuple = ("uniform", -0.25, 2.0)


def T(text: str) -> OperandDesc:
    """``"f32[batch, 384]"`` -> OperandDesc("float32", ("batch", 384))."""
    m = re.fullmatch(r"\s*(\w+)\[(.*)\]\s*", text)
    if not m:
        raise ValueError(f"bad operand text {text!r}")
    dims = tuple(int(d) if re.fullmatch(r"-?\d+", d) else d for d in (p.strip() for p in m.group(2).split(",")) if d)
    return OperandDesc(SHORT.get(m.group(1), m.group(1)), dims)


@dataclass(frozen=True)
class OpCase:
    """One application of an op: valid (``outputs`` set) or must-raise (``error`` fragments set)."""

    op: str
    inputs: tuple[OperandDesc | None, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[OperandDesc, ...] = ()
    error: tuple[str, ...] = ()
    data: Mapping[int, Data] = field(default_factory=dict)
    bind: Mapping[str, int] = field(default_factory=dict)  # sizes for symbolic dims when the case is run
    note: str = ""

    @property
    def valid(self) -> bool:
        return not self.error

    @property
    def runnable(self) -> bool:
        """Valid, and static (or with every symbolic dim bound)."""
        if not self.valid:
            return False
        dims = [d for i in self.inputs if i is not None for d in i.shape]
        return all(isinstance(d, int) or d in self.bind for d in dims)

    @property
    def id(self) -> str:
        ins = ",".join("-" if i is None else f"{i.dtype}{fmt_shape(i.shape)}".replace(" ", "") for i in self.inputs)
        attrs = ",".join(f"{k}={_short(v)}" for k, v in self.attrs.items())
        tag = f"[{self.note}]" if self.note else ""
        return f"{self.op}({ins}{';' + attrs if attrs else ''}){tag}"

    def static_inputs(self) -> list[OperandDesc | None]:
        """Input descriptors with ``bind`` applied."""
        return [None if i is None else i.bind(self.bind) for i in self.inputs]


def _short(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def _descs(items: Sequence[str | None]) -> tuple[OperandDesc | None, ...]:
    return tuple(None if i is None else T(i) for i in items)


CASES: list[OpCase] = []


def ok(op: str, inputs: Sequence[str | None], outputs: str | Sequence[str], *, data: Mapping[int, Data] | None = None,
       bind: Mapping[str, int] | None = None, note: str = "", **attrs: Any) -> None:
    """Register a valid case of ``op`` producing ``outputs``."""
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    CASES.append(OpCase(op, _descs(inputs), attrs, tuple(T(o) for o in outs), (), dict(data or {}), dict(bind or {}),
                        note))


def bad(op: str, inputs: Sequence[str | None], *fragments: str, note: str = "", **attrs: Any) -> None:
    """Register a must-raise case: the GraphError must name ``op`` and contain every fragment."""
    CASES.append(OpCase(op, _descs(inputs), attrs, (), tuple(fragments), note=note))


def cases_for(op: str) -> list[OpCase]:
    return [c for c in CASES if c.op == op]


# ---- elementwise binary -------------------------------------------------------------------------------
BINARY = ("add", "sub", "mul", "div", "max", "min", "pow")
COMPARE = ("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal")

for _op in BINARY + COMPARE:
    _out = "u8" if _op in COMPARE else "f32"
    _cmp_data = {0: ("choice", (-1.0, 0.0, 1.0, 2.0)), 1: ("choice", (-1.0, 0.0, 1.0, 2.0))} if _op in COMPARE else {}
    ok(_op, ["f32[2, 3]", "f32[2, 3]"], f"{_out}[2, 3]", data=_cmp_data)
    ok(_op, ["f32[2, 1, 4]", "f32[3, 1]"], f"{_out}[2, 3, 4]", note="broadcast")
    ok(_op, ["f32[]", "f32[5]"], f"{_out}[5]", note="scalar")
    ok(_op, ["f32[0, 3]", "f32[1, 3]"], f"{_out}[0, 3]", note="empty")
    ok(_op, ["f16[4]", "f16[4]"], f"{'u8' if _op in COMPARE else 'f16'}[4]")
    ok(_op, ["f32[12, 1]", "f32[1, 12]"], f"{_out}[12, 12]", data={0: ("values", EDGE), 1: ("values", EDGE)},
       note="edge")
    ok(_op, ["f32[batch, 384]", "f32[384]"], f"{_out}[batch, 384]", bind={"batch": 2})
    ok(_op, ["f32[batch, 1]", "f32[1, 5]"], f"{_out}[batch, 5]", bind={"batch": 3})
    bad(_op, ["f32[2, 3]", "f32[4]"], "shapes cannot be broadcast", "a is [2, 3]", "b is [4]")
    bad(_op, ["f32[2]", "i32[2]"], "input 'b' has dtype int32", "'a' has float32")
    bad(_op, ["u64[2]", "u64[2]"], "input 'a' has dtype uint64")

_SMALL_INTS = {0: ("int", -20, 20), 1: ("choice", (-3, -2, -1, 0, 1, 2, 5))}
for _op in ("add", "sub", "mul", "max", "min", "div"):
    ok(_op, ["i32[3, 4]", "i32[4]"], "i32[3, 4]", data=_SMALL_INTS)
    ok(_op, ["i8[6]", "i8[6]"], "i8[6]",
       data={0: ("values", (-128, 127, -7, 7, 100, -100)), 1: ("values", (1, -1, 2, -2, 3, 3))})
    ok(_op, ["u8[5]", "u8[5]"], "u8[5]", data={0: ("values", (0, 255, 7, 200, 3)), 1: ("values", (1, 2, 0, 3, 7))})
for _op in COMPARE:
    ok(_op, ["i64[3, 4]", "i64[4]"], "u8[3, 4]", data={0: ("int", -2, 2), 1: ("int", -2, 2)})
ok("pow", ["f32[3, 4]", "f32[4]"], "f32[3, 4]", data={0: ("uniform", 0.1, 3.0)}, note="positive base")
ok("pow", ["i32[7]", "i32[7]"], "i32[7]",
   data={0: ("values", (2, 1, -1, -1, 0, 3, -2)), 1: ("values", (-1, -3, -3, -2, -1, 2, 3))})
ok("div", ["i64[6]", "i64[6]"], "i64[6]",
   data={0: ("values", (7, -7, 7, -7, 0, 5)), 1: ("values", (2, 2, -2, -2, 3, 0))}, note="truncation")

# ---- compare family extras, logical_not, where ------------------------------------------------------
ok("logical_not", ["u8[3, 4]"], "u8[3, 4]", data={0: ("choice", (0, 1, 2, 255))})
ok("logical_not", ["u8[0]"], "u8[0]")
ok("logical_not", ["u8[batch]"], "u8[batch]", bind={"batch": 2})
bad("logical_not", ["f32[3]"], "input 'a' has dtype float32", "expected one of uint8")
ok("where", ["u8[2, 1]", "f32[3]", "f32[2, 3]"], "f32[2, 3]", data={0: ("choice", (0, 1, 7))})
ok("where", ["u8[4]", "i32[4]", "i32[]"], "i32[4]", data={0: ("choice", (0, 1))})
ok("where", ["u8[12]", "f32[12]", "f32[12]"], "f32[12]", data={0: ("choice", (0, 1)), 1: ("values", EDGE)}, note="edge")
ok("where", ["u8[0, 2]", "f32[1, 2]", "f32[2]"], "f32[0, 2]")
ok("where", ["u8[batch, 1]", "f16[4]", "f16[1]"], "f16[batch, 4]", bind={"batch": 2})
bad("where", ["f32[2]", "f32[2]", "f32[2]"], "input 'condition' has dtype float32")
bad("where", ["u8[2]", "f32[3]", "f32[3]"], "shapes cannot be broadcast", "condition is [2]", "true_value is [3]")
bad("where", ["u8[2]", "f32[2]", "i32[2]"], "input 'false_value' has dtype int32", "'true_value' has float32")

# ---- unary ----------------------------------------------------------------------------------------
FLOAT_UNARY = ("exp", "log", "sqrt", "reciprocal", "erf", "tanh", "sigmoid", "floor", "ceil", "sin", "cos", "gelu")
SIGNED_UNARY = ("abs", "neg", "relu")
for _op in FLOAT_UNARY + SIGNED_UNARY + ("identity",):
    _pos = {0: ("uniform", 0.01, 10.0)} if _op in ("log", "sqrt") else {}
    ok(_op, ["f32[2, 3]"], "f32[2, 3]", data=_pos)
    ok(_op, ["f32[24]"], "f32[24]", data={0: ("values", EDGE + tuple(-v for v in EDGE))}, note="edge")
    ok(_op, ["f16[5]"], "f16[5]", data=_pos)
    ok(_op, ["f32[0, 4]"], "f32[0, 4]")
    ok(_op, ["f32[batch, 4]"], "f32[batch, 4]", bind={"batch": 3}, data=_pos)
    if _op in FLOAT_UNARY:
        bad(_op, ["i32[3]"], "input 'input' has dtype int32", "expected one of float32, float16")
for _op in SIGNED_UNARY:
    ok(_op, ["i32[6]"], "i32[6]", data={0: ("values", (-5, 0, 5, -2147483648, 2147483647, -1))})
    ok(_op, ["i8[4]"], "i8[4]", data={0: ("values", (-128, 127, -3, 0))})
    bad(_op, ["u8[3]"], "input 'input' has dtype uint8")
ok("identity", ["u8[3]"], "u8[3]")
ok("identity", ["i64[2, 2]"], "i64[2, 2]")
bad("identity", ["u64[3]"], "input 'input' has dtype uint64")
ok("sigmoid", ["f32[8]"], "f32[8]", data={0: ("values", (-100.0, -30.0, -10.0, 0.0, 10.0, 30.0, 100.0, 800.0))},
   note="saturation")
ok("gelu", ["f32[3, 50]"], "f32[3, 50]", data={0: ("uniform", -6.0, 6.0)})
ok("erf", ["f32[3, 50]"], "f32[3, 50]", data={0: ("uniform", -4.0, 4.0)})

ok("clamp", ["f32[3, 4]"], "f32[3, 4]", min_value=-0.5, max_value=0.5)
ok("clamp", ["f32[24]"], "f32[24]", data={0: ("values", EDGE + tuple(-v for v in EDGE))}, min_value=0.0, note="edge")
ok("clamp", ["f32[6]"], "f32[6]", max_value=6.0, note="relu6-ish")
ok("clamp", ["i32[8]"], "i32[8]", data={0: ("int", -10, 10)}, min_value=-2.5, max_value=3.5)
ok("clamp", ["u8[5]"], "u8[5]", data={0: ("values", (0, 1, 100, 200, 255))}, min_value=-10.0, max_value=150.0)
ok("clamp", ["f16[batch]"], "f16[batch]", bind={"batch": 4}, min_value=1.0, max_value=1.0)
bad("clamp", ["f32[3]"], "min_value 2.0 is greater than max_value 1.0", min_value=2.0, max_value=1.0)
bad("clamp", ["f32[3]"], "attribute 'min_value' must be a number", min_value="low")

_CAST_EDGE = (NAN, INF, -INF, 0.0, -0.0, 0.7, -0.7, 1.5, -1.5, 2.5, 127.9, 128.0, -128.9, -129.0, 255.9, 256.0,
              3e9, -3e9, 1e20, -1e20)
for _to in ("int32", "uint32", "int8", "uint8", "int64"):
    ok("cast", ["f32[20]"], f"{_to}[20]", data={0: ("values", _CAST_EDGE)}, data_type=_to, note="saturate")
ok("cast", ["f32[2, 3]"], "i32[2, 3]", data={0: ("normal", 50.0)}, data_type="int32")
ok("cast", ["f32[2, 3]"], "f16[2, 3]", data={0: ("normal", 1000.0)}, data_type="float16")
ok("cast", ["f32[4]"], "f16[4]", data={0: ("values", (70000.0, -70000.0, 65504.0, 1e-8))}, data_type="float16",
   note="f16 overflow")
ok("cast", ["f16[5]"], "f32[5]", data_type="float32")
ok("cast", ["i64[6]"], "i32[6]", data={0: ("values", (0, -1, 2**31, -(2**31) - 1, 2**40 + 5, 7))}, data_type="int32",
   note="wrap")
ok("cast", ["i32[5]"], "u8[5]", data={0: ("values", (-1, 256, 255, 0, 1000))}, data_type="uint8", note="wrap")
ok("cast", ["u8[4]"], "f32[4]", data={0: ("values", (0, 1, 128, 255))}, data_type="float32")
ok("cast", ["i32[3]"], "f32[3]", data={0: ("values", (16777217, -16777217, 3))}, data_type="float32", note="rounding")
ok("cast", ["f32[0]"], "i8[0]", data_type="int8")
ok("cast", ["f32[batch]"], "i32[batch]", bind={"batch": 2}, data_type="int32")
bad("cast", ["f32[3]"], "attribute 'data_type' is 'float64'", "expected one of", data_type="float64")
bad("cast", ["f32[3]"], "attribute 'data_type' is required")
bad("cast", ["u64[3]"], "input 'input' has dtype uint64", data_type="int32")

# ---- linalg -----------------------------------------------------------------------------------------
ok("matmul", ["f32[2, 3]", "f32[3, 4]"], "f32[2, 4]")
ok("matmul", ["f32[5, 2, 3]", "f32[3, 4]"], "f32[5, 2, 4]", note="batched")
ok("matmul", ["f32[2, 1, 2, 3]", "f32[3, 3, 4]"], "f32[2, 3, 2, 4]", note="broadcast")
ok("matmul", ["f32[1, 4, 6]", "f32[2, 6, 1]"], "f32[2, 4, 1]", note="size-1")
ok("matmul", ["f32[2, 0]", "f32[0, 3]"], "f32[2, 3]", note="K=0")
ok("matmul", ["f32[0, 3]", "f32[3, 2]"], "f32[0, 2]", note="M=0")
ok("matmul", ["f16[3, 8]", "f16[8, 2]"], "f16[3, 2]")
ok("matmul", ["i32[2, 3]", "i32[3, 2]"], "i32[2, 2]", data={0: ("int", -5, 5), 1: ("int", -5, 5)})
ok("matmul", ["f32[batch, 384]", "f32[384, 16]"], "f32[batch, 16]", bind={"batch": 2})
ok("matmul", ["f32[batch, seq, 8]", "f32[batch, 8, seq]"], "f32[batch, seq, seq]", bind={"batch": 2, "seq": 3})
for _k in (16, 64):  # mixed signs, mostly positive: tests/ir/test_case_data.py checks Σ|terms| ≤ 2·|result|
    ok("matmul", [f"f32[3, {_k}]", f"f32[{_k}, 5]"], "f32[3, 5]", data={0: MIXED, 1: MIXED}, note="mixed sign")
bad("matmul", ["f32[2, 3]", "f32[4, 5]"], "inner dimensions differ: a is [2, 3], b is [4, 5]")
bad("matmul", ["f32[3]", "f32[3, 4]"], "input 'a' must have rank >= 2", "[3]")  # as WebNN: no 1-D promotion
bad("matmul", ["f32[2, 3]", "f32[3]"], "input 'b' must have rank >= 2", "[3]")
bad("matmul", ["f32[2, 2, 3]", "f32[3, 3, 4]"], "batch dimensions cannot be broadcast", "a is [2, 2, 3]",
    "b is [3, 3, 4]")
bad("matmul", ["f32[2, 3]", "f16[3, 4]"], "input 'b' has dtype float16")
bad("matmul", ["i8[2, 3]", "i8[3, 4]"], "input 'a' has dtype int8")

ok("gemm", ["f32[2, 3]", "f32[3, 4]"], "f32[2, 4]")
ok("gemm", ["f32[3, 2]", "f32[3, 4]"], "f32[2, 4]", a_transpose=True)
ok("gemm", ["f32[2, 3]", "f32[4, 3]"], "f32[2, 4]", b_transpose=True)
ok("gemm", ["f32[3, 2]", "f32[4, 3]", "f32[4]"], "f32[2, 4]", a_transpose=True, b_transpose=True, alpha=0.5, beta=2.0)
ok("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[2, 1]"], "f32[2, 4]", data={2: NEGATIVE}, alpha=-1.5, note="c column")
ok("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[]"], "f32[2, 4]", beta=0.25, note="c scalar")
ok("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[2, 4]"], "f32[2, 4]")
ok("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[4]"], "f32[2, 4]", data={2: ("values", (INF, NAN, 1.0, 2.0))}, beta=0.0,
   note="beta=0 ignores c")
ok("gemm", ["f16[4, 5]", "f16[5, 3]"], "f16[4, 3]")
ok("gemm", ["f32[batch, 8]", "f32[8, 4]", "f32[4]"], "f32[batch, 4]", bind={"batch": 3})
bad("gemm", ["f32[2, 3]", "f32[4, 5]"], "inner dimensions differ", "a is [2, 3]", "b is [4, 5]")
bad("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[3]"], "input 'c' is [3]", "does not broadcast to the output [2, 4]")
bad("gemm", ["f32[2, 3]", "f32[3, 4]", "f32[2, 2, 4]"], "input 'c' is [2, 2, 4]")
bad("gemm", ["f32[1, 2, 3]", "f32[3, 4]"], "input 'a' must have rank 2", "[1, 2, 3]")
bad("gemm", ["i32[2, 3]", "i32[3, 4]"], "input 'a' has dtype int32")

# ---- normalization ----------------------------------------------------------------------------------
ok("softmax", ["f32[2, 5]"], "f32[2, 5]")
ok("softmax", ["f32[3, 4, 5]"], "f32[3, 4, 5]", axis=1)
ok("softmax", ["f32[3, 4, 5]"], "f32[3, 4, 5]", axis=0)
ok("softmax", ["f32[4, 3]"], "f32[4, 3]", axis=-2, data={0: ("normal", 30.0)}, note="large")
ok("softmax", ["f32[4, 3]"], "f32[4, 3]",
   data={0: ("values", (0.0, 1.0, -INF, -INF, 2.0, 3.0, INF, 0.0, 1.0, NAN, 1.0, 2.0))}, note="edge")
ok("softmax", ["f32[1]"], "f32[1]")
ok("softmax", ["f32[0, 3]"], "f32[0, 3]")
ok("softmax", ["f16[2, 6]"], "f16[2, 6]")
ok("softmax", ["f32[batch, 6]"], "f32[batch, 6]", bind={"batch": 2})
bad("softmax", ["f32[2, 3]"], "axis 2 is out of range for rank 2", axis=2)
bad("softmax", ["f32[]"], "input must have rank >= 1")
bad("softmax", ["i32[2, 3]"], "input 'input' has dtype int32")

ok("layer_normalization", ["f32[2, 3, 4]"], "f32[2, 3, 4]")
ok("layer_normalization", ["f32[2, 3, 4]", "f32[4]", "f32[4]"], "f32[2, 3, 4]", axes=[2], epsilon=1e-3)
ok("layer_normalization", ["f32[2, 3, 4]", "f32[3, 4]", "f32[3, 4]"], "f32[2, 3, 4]", axes=[1, 2])
ok("layer_normalization", ["f32[2, 3, 4]", "f32[4, 2]", "f32[4, 2]"], "f32[2, 3, 4]", axes=[2, 0], note="unsorted axes")
ok("layer_normalization", ["f32[3, 5]", "f32[3]"], "f32[3, 5]", axes=[0], note="axis 0")
ok("layer_normalization", ["f32[2, 3, 4]", None, "f32[3]"], "f32[2, 3, 4]", axes=[-2], note="bias only")
ok("layer_normalization", ["f32[2, 3]", None, "f32[]"], "f32[2, 3]", axes=[], note="empty axes")
ok("layer_normalization", ["f32[4]"], "f32[4]", note="rank 1: default axes are []")
ok("layer_normalization", ["f32[2, 8]"], "f32[2, 8]", data={0: ("normal", 1000.0)}, epsilon=0.0)
ok("layer_normalization", ["f16[2, 6]", "f16[6]", "f16[6]"], "f16[2, 6]", axes=[1])
ok("layer_normalization", ["f32[batch, 16]", "f32[16]", "f32[16]"], "f32[batch, 16]", bind={"batch": 3}, axes=[1])
bad("layer_normalization", ["f32[2, 3, 4]", "f32[3]"], "input 'scale' is [3], expected [4]", "axes [2]", axes=[2])
bad("layer_normalization", ["f32[2, 3, 4]", "f32[3, 4]"], "input 'scale' is [3, 4], expected [4, 3]", axes=[2, 1])
bad("layer_normalization", ["f32[2, 3]", None, "f16[3]"], "input 'bias' has dtype float16")
bad("layer_normalization", ["f32[2, 3]"], "axes contains 2, out of range for rank 2", axes=[2])
bad("layer_normalization", ["f32[2, 3]"], "axes contains axis 1 twice", axes=[1, -1])
bad("layer_normalization", ["f32[2, 3]"], "epsilon must be >= 0", epsilon=-1.0)

ok("batch_normalization", ["f32[2, 3, 4, 4]", "f32[3]", "f32[3]", "f32[3]", "f32[3]"], "f32[2, 3, 4, 4]",
   data={2: ("uniform", 0.1, 2.0)})
ok("batch_normalization", ["f32[2, 4, 4, 3]", "f32[3]", "f32[3]"], "f32[2, 4, 4, 3]", data={2: ("uniform", 0.1, 2.0)},
   axis=-1, epsilon=1e-3, note="nhwc")
ok("batch_normalization", ["f32[5, 3]", "f32[3]", "f32[3]", None, "f32[3]"], "f32[5, 3]",
   data={2: ("uniform", 0.1, 2.0)})
ok("batch_normalization", ["f32[6]", "f32[6]", "f32[6]", "f32[6]"], "f32[6]", data={2: ("uniform", 0.1, 2.0)}, axis=0)
ok("batch_normalization", ["f32[0, 2, 3]", "f32[2]", "f32[2]"], "f32[0, 2, 3]", data={2: ("uniform", 0.1, 2.0)})
ok("batch_normalization", ["f16[2, 3, 2]", "f16[3]", "f16[3]", "f16[3]", "f16[3]"], "f16[2, 3, 2]",
   data={2: ("uniform", 0.1, 2.0)})
ok("batch_normalization", ["f32[batch, 3, 5]", "f32[3]", "f32[3]"], "f32[batch, 3, 5]", bind={"batch": 2},
   data={2: ("uniform", 0.1, 2.0)})
bad("batch_normalization", ["f32[2, 3, 4]", "f32[4]", "f32[3]"], "input 'mean' is [4], expected [3]", "axis 1")
bad("batch_normalization", ["f32[2, 3]", "f32[3]", "f32[3, 1]"], "input 'variance' is [3, 1]")
bad("batch_normalization", ["f32[2, 3]", "f32[3]", "f32[3]"], "axis 2 is out of range for rank 2", axis=2)
bad("batch_normalization", ["f32[2, 3]", "f32[3]", "f32[3]", "f16[3]"], "input 'scale' has dtype float16")
bad("batch_normalization", ["f32[2, 3]", "f32[3]"], "takes inputs (input, mean, variance, scale?, bias?); 2 given")
bad("batch_normalization", ["f32[]", "f32[1]", "f32[1]"], "axis 0 is out of range for rank 0", axis=0)

ok("rms_normalization", ["f32[2, 3, 8]"], "f32[2, 3, 8]", data={0: ("normal", 2.0)})
ok("rms_normalization", ["f32[2, 3, 8]", "f32[8]"], "f32[2, 3, 8]", data={0: ("normal", 2.0), 1: ("normal", 1.0)},
   epsilon=1e-6)
ok("rms_normalization", ["f32[2, 3, 4]", "f32[3, 4]"], "f32[2, 3, 4]", axes=[1, 2])
ok("rms_normalization", ["f32[2, 3, 4]", "f32[4, 2]"], "f32[2, 3, 4]", axes=[2, 0], note="unsorted axes")
ok("rms_normalization", ["f32[3, 5]", "f32[3]"], "f32[3, 5]", axes=[0], note="axis 0")
ok("rms_normalization", ["f32[2, 3]"], "f32[2, 3]", axes=[], note="empty axes")
ok("rms_normalization", ["f32[6]", "f32[6]"], "f32[6]")
ok("rms_normalization", ["f32[2, 8]"], "f32[2, 8]", data={0: ("normal", 1000.0)}, epsilon=0.0, note="large")
ok("rms_normalization", ["f32[2, 8]"], "f32[2, 8]", data={0: ("normal", 1e-4)}, epsilon=1e-5, note="eps dominates")
ok("rms_normalization", ["f32[0, 4]", "f32[4]"], "f32[0, 4]")
ok("rms_normalization", ["f16[2, 6]", "f16[6]"], "f16[2, 6]")
ok("rms_normalization", ["f32[seq, 16]", "f32[16]"], "f32[seq, 16]", bind={"seq": 3})
bad("rms_normalization", ["f32[2, 3, 4]", "f32[3]"], "input 'scale' is [3], expected [4]", "axes [2]")
bad("rms_normalization", ["f32[2, 3, 4]", "f32[3, 4]"], "input 'scale' is [3, 4], expected [4, 3]", axes=[2, 1])
bad("rms_normalization", ["f32[2, 3]", "f16[3]"], "input 'scale' has dtype float16")
bad("rms_normalization", ["f32[2, 3]"], "axes contains 2, out of range for rank 2", axes=[2])
bad("rms_normalization", ["f32[2, 3]"], "epsilon must be >= 0", epsilon=-1.0)
bad("rms_normalization", ["f32[]"], "input must have rank >= 1")
bad("rms_normalization", ["i32[2, 3]"], "input 'input' has dtype int32")

# ---- reductions -------------------------------------------------------------------------------------
REDUCE = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")
for _op in REDUCE:
    ok(_op, ["f32[2, 3, 4]"], "f32[]")
    ok(_op, ["f32[2, 3, 4]"], "f32[2, 4]", axes=[1])
    ok(_op, ["f32[2, 3, 4]"], "f32[2, 1, 1]", axes=[-1, 1], keep_dimensions=True)
    ok(_op, ["f32[2, 3, 4]"], "f32[3]", axes=[2, 0])
    ok(_op, ["f32[2, 3]"], "f32[2, 3]", axes=[], note="no axes")
    ok(_op, ["f32[3, 12]"], "f32[3]", axes=[1], data={0: ("values", EDGE)}, note="edge")
    ok(_op, ["f16[4, 5]"], "f16[4]", axes=[1])
    ok(_op, ["i32[3, 4]"], "i32[3]", axes=[1], data={0: ("int", -50, 50)})
    ok(_op, ["u8[2, 6]"], "u8[1, 6]", axes=[0], keep_dimensions=True, data={0: ("int", 0, 100)})
    ok(_op, ["f32[0, 3]"], "f32[0]", axes=[1], note="empty, other axis")
    ok(_op, ["f32[batch, 384]"], "f32[batch]", axes=[1], bind={"batch": 2})
    bad(_op, ["f32[2, 3]"], "axes contains 2, out of range for rank 2", axes=[2])
    bad(_op, ["f32[2, 3]"], "axes contains axis 0 twice", axes=[0, -2])
    bad(_op, ["f32[2, 3]"], "attribute 'keep_dimensions' must be true or false", keep_dimensions=1)
for _op in ("reduce_sum", "reduce_mean"):
    ok(_op, ["f32[0, 3]"], "f32[3]", axes=[0], note="empty axis")
ok("reduce_mean", ["i32[2, 3]"], "i32[2]", axes=[1], data={0: ("values", (-1, -1, -2, 1, 1, 2))}, note="truncation")
ok("reduce_sum", ["f32[40, 30]"], "f32[40]", axes=[1], data={0: ("uniform", 0.0, 1.0)})
for _op in ("reduce_max", "reduce_min"):
    bad(_op, ["f32[0, 3]"], "cannot reduce an empty axis of [0, 3]", axes=[0])

# ---- shape --------------------------------------------------------------------------------------------
ok("reshape", ["f32[2, 3]"], "f32[3, 2]", new_shape=[3, 2])
ok("reshape", ["f32[2, 3, 4]"], "f32[6, 4]", new_shape=[-1, 4])
ok("reshape", ["f32[1]"], "f32[]", new_shape=[])
ok("reshape", ["f32[]"], "f32[1, 1]", new_shape=[1, 1])
ok("reshape", ["f32[0, 3]"], "f32[3, 0]", new_shape=[3, 0])
ok("reshape", ["i64[4]"], "i64[2, 2]", new_shape=[2, -1])
ok("reshape", ["f32[batch, 4, 8]"], "f32[batch, 32]", new_shape=["batch", -1], bind={"batch": 2})
ok("reshape", ["f32[batch, 384]"], "f32[batch, 12, 32]", new_shape=["batch", 12, 32], bind={"batch": 2})
bad("reshape", ["f32[2, 3]"], "cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)", new_shape=[4, 2])
bad("reshape", ["f32[2, 3]"], "cannot reshape [2, 3] (6 elements) into [-1, 4]", new_shape=[-1, 4])
bad("reshape", ["f32[2, 3]"], "has more than one -1", new_shape=[-1, -1])
bad("reshape", ["f32[batch, 4]"], "cannot reshape [batch, 4] (4 elements) into [batch, 5]", new_shape=["batch", 5])
bad("reshape", ["f32[batch, 4]"], "-1 needs the same named dims", new_shape=[-1, 2, 2])
bad("reshape", ["f32[2]"], "dimension -2 is out of range", new_shape=[-2, -1])

ok("transpose", ["f32[2, 3, 4]"], "f32[4, 3, 2]")
ok("transpose", ["f32[2, 3, 4]"], "f32[2, 4, 3]", permutation=[0, 2, 1])
ok("transpose", ["i8[2, 0]"], "i8[0, 2]", permutation=[1, 0])
ok("transpose", ["f32[]"], "f32[]", permutation=[])
ok("transpose", ["f32[batch, seq, 8]"], "f32[seq, batch, 8]", permutation=[1, 0, 2], bind={"batch": 2, "seq": 3})
bad("transpose", ["f32[2, 3]"], "permutation [0, 0] is not a permutation of 0..1 for [2, 3]", permutation=[0, 0])
bad("transpose", ["f32[2, 3]"], "permutation [0, 1, 2] is not a permutation", permutation=[0, 1, 2])

ok("concat", ["f32[2, 3]", "f32[4, 3]"], "f32[6, 3]", axis=0)
ok("concat", ["f32[2, 3]", "f32[2, 1]", "f32[2, 0]"], "f32[2, 4]", axis=-1)
ok("concat", ["i32[5]"], "i32[5]", axis=0, note="one input")
ok("concat", ["f16[batch, 2]", "f16[batch, 3]"], "f16[batch, 5]", axis=1, bind={"batch": 2})
bad("concat", ["f32[2, 3]", "f32[2, 4]"], "input 1 is [2, 4], input 0 is [2, 3]", "all dims but axis 0", axis=0)
bad("concat", ["f32[2, 3]", "f32[3]"], "input 1 is [3], input 0 is [2, 3]", axis=0)
bad("concat", ["f32[2]", "i32[2]"], "input inputs[1] has dtype int32", axis=0)
bad("concat", ["f32[2]", "f32[2]"], "axis 1 is out of range for rank 1", axis=1)
bad("concat", ["f32[batch, 2]", "f32[3, 2]"], "cannot concatenate along symbolic dim", axis=0)
bad("concat", ["f32[]", "f32[]"], "inputs must have rank >= 1", axis=0)

ok("slice", ["f32[5, 6]"], "f32[2, 3]", starts=[1, 2], sizes=[2, 3])
ok("slice", ["f32[10, 7]"], "f32[3, 2]", starts=[1, 0], sizes=[7, 4], strides=[3, 2])
ok("slice", ["i32[4]"], "i32[0]", starts=[2], sizes=[0])
ok("slice", ["f32[3]"], "f32[3]", starts=[0], sizes=[3], strides=[1])
ok("slice", ["f32[6, batch]"], "f32[2, 1]", starts=[1, 0], sizes=[4, 1], strides=[2, 1], bind={"batch": 2})
bad("slice", ["f32[5, 6]"], "axis 1: start 4 + size 3 exceeds the dim 6 of [5, 6]", starts=[0, 4], sizes=[1, 3])
bad("slice", ["f32[5, 6]"], "starts, sizes and strides need 2 entries for [5, 6]", starts=[0], sizes=[1])
bad("slice", ["f32[5]"], "axis 0: start 0, size 1 and stride 0", starts=[0], sizes=[1], strides=[0])

ok("split", ["f32[6, 2]"], ["f32[2, 2]", "f32[2, 2]", "f32[2, 2]"], splits=3)
ok("split", ["f32[2, 5]"], ["f32[2, 1]", "f32[2, 4]"], splits=[1, 4], axis=1)
ok("split", ["i32[3]"], ["i32[0]", "i32[3]"], splits=[0, 3], axis=-1)
ok("split", ["f32[batch, 4]"], ["f32[batch, 2]", "f32[batch, 2]"], splits=2, axis=1, bind={"batch": 3})
bad("split", ["f32[5]"], "dim 5 of axis 0 does not divide into 2 equal parts", splits=2)
bad("split", ["f32[5]"], "splits [1, 2] sum to 3, but axis 0 has 5", splits=[1, 2])
bad("split", ["f32[batch]"], "cannot split the symbolic dim 'batch'", splits=2)
bad("split", ["f32[4]"], "axis 1 is out of range for rank 1", splits=2, axis=1)

ok("expand", ["f32[3, 1]"], "f32[2, 3, 4]", new_shape=[2, 3, 4])
ok("expand", ["f32[]"], "f32[2, 2]", new_shape=[2, 2])
ok("expand", ["i32[4]"], "i32[4]", new_shape=[4])
ok("expand", ["f32[1, 3]"], "f32[0, 3]", new_shape=[0, 3])
ok("expand", ["f32[batch, 1]"], "f32[batch, 5]", new_shape=["batch", 5], bind={"batch": 2})
bad("expand", ["f32[3, 4]"], "input [3, 4] does not broadcast to new_shape [1, 4]", new_shape=[1, 4])
bad("expand", ["f32[3, 4]"], "input [3, 4] does not broadcast to new_shape [4]", new_shape=[4])
bad("expand", ["f32[3]"], "new_shape may not contain -1", new_shape=[-1, 3])

ok("gather", ["f32[4, 3]", "i32[2]"], "f32[2, 3]", data={1: ("int", -4, 3)})
ok("gather", ["f32[3, 5, 2]", "i64[2, 2]"], "f32[3, 2, 2, 2]", data={1: ("values", (0, 4, -1, -5))}, axis=1)
ok("gather", ["f32[3, 5]", "u32[4]"], "f32[3, 4]", data={1: ("values", (0, 4, 2, 1))}, axis=-1)
ok("gather", ["i32[5]", "i64[]"], "i32[]", data={1: ("values", (-2,))}, note="scalar index")
ok("gather", ["f32[4, 2]", "i32[6]"], "f32[6, 2]", data={1: ("values", (-100, -5, -4, 3, 4, 100))}, note="clamp")
ok("gather", ["f32[4, 2]", "i32[0]"], "f32[0, 2]")
ok("gather", ["f32[vocab, 8]", "i32[batch, seq]"], "f32[batch, seq, 8]", data={1: ("int", 0, 9)},
   bind={"vocab": 10, "batch": 2, "seq": 3})
bad("gather", ["f32[4, 3]", "f32[2]"], "input 'indices' has dtype float32", "expected one of int32, uint32, int64")
bad("gather", ["f32[4, 3]", "i32[2]"], "axis 2 is out of range for rank 2", axis=2)
bad("gather", ["f32[]", "i32[2]"], "input must have rank >= 1")
bad("gather", ["f32[0, 3]", "i32[2]"], "cannot gather from the empty axis 0 of [0, 3]")

ok("pad", ["f32[2, 3]"], "f32[3, 6]", beginning_padding=[1, 2], ending_padding=[0, 1])
ok("pad", ["f32[2, 3]"], "f32[4, 5]", beginning_padding=[1, 1], ending_padding=[1, 1], value=-2.5)
ok("pad", ["f32[3, 4]"], "f32[5, 9]", beginning_padding=[1, 3], ending_padding=[1, 2], mode="edge")
ok("pad", ["f32[3, 4]"], "f32[7, 7]", beginning_padding=[2, 3], ending_padding=[2, 0], mode="reflection")
ok("pad", ["f32[2, 3, 4]"], "f32[2, 5, 6]", beginning_padding=[0, 1, 1], ending_padding=[0, 1, 1], mode="reflection")
ok("pad", ["i32[2, 2]"], "i32[3, 3]", beginning_padding=[1, 0], ending_padding=[0, 1], value=7.0)
ok("pad", ["f32[0, 2]"], "f32[2, 2]", beginning_padding=[1, 0], ending_padding=[1, 0], value=3.0)
ok("pad", ["f32[batch, 3]"], "f32[batch, 5]", beginning_padding=[0, 1], ending_padding=[0, 1], mode="edge",
   bind={"batch": 2})
bad("pad", ["f32[2, 3]"], "axis 0: reflection padding 2/0 must be smaller than the dim 2", beginning_padding=[2, 0],
    ending_padding=[0, 0], mode="reflection")
bad("pad", ["f32[2, 3]"], "beginning_padding and ending_padding need 2 entries for [2, 3]", beginning_padding=[1],
    ending_padding=[1, 1])
bad("pad", ["f32[2, 3]"], "padding must be >= 0", beginning_padding=[-1, 0], ending_padding=[0, 0])
bad("pad", ["i32[2]"], "value 0.5 cannot be represented in the input dtype int32", beginning_padding=[1],
    ending_padding=[0], value=0.5)
bad("pad", ["f32[2]"], "attribute 'mode' is 'wrap'", beginning_padding=[1], ending_padding=[0], mode="wrap")
bad("pad", ["f32[batch]"], "cannot pad the symbolic dim 'batch'", beginning_padding=[1], ending_padding=[0])

# KV-cache shaped: write T rows per head at positions (distinct indices: duplicates are unspecified)
_KV_IDX = ("values", (0, 5, 0, 6, 1, 5, 1, 6, 2, 5, 2, 6))
ok("scatter_nd", ["f32[3, 8, 4]", "i32[3, 2, 2]", "f32[3, 2, 4]"], "f32[3, 8, 4]", data={1: _KV_IDX})
ok("scatter_nd", ["f32[3, C, 4]", "i32[3, T, 2]", "f32[3, T, 4]"], "f32[3, C, 4]", data={1: _KV_IDX},
   bind={"C": 8, "T": 2})
ok("scatter_nd", ["f32[5, 3]", "i32[2, 1]", "f32[2, 3]"], "f32[5, 3]", data={1: ("values", (4, 1))}, note="rows")
ok("scatter_nd", ["i32[4, 3]", "i64[3, 2]", "i32[3]"], "i32[4, 3]", data={1: ("values", (0, 0, 3, 2, 1, 1))},
   note="elements")
ok("scatter_nd", ["f32[4, 2]", "i32[3, 1]", "f32[3, 2]"], "f32[4, 2]", data={1: ("values", (-4, 9, 1))},
   note="negative+clamp")
ok("scatter_nd", ["f16[2, 3]", "u32[1, 2]", "f16[1]"], "f16[2, 3]", data={1: ("values", (1, 2))})
ok("scatter_nd", ["f32[4, 2]", "i32[0, 1]", "f32[0, 2]"], "f32[4, 2]", note="no updates")
ok("scatter_nd", ["u8[2, 2, 2]", "i32[1, 3]", "u8[1]"], "u8[2, 2, 2]", data={1: ("values", (1, 0, 1))})
bad("scatter_nd", ["f32[3, 8, 4]", "i32[3, 2, 2]", "f32[3, 2, 5]"], "updates is [3, 2, 5]", "need [3, 2, 4]")
bad("scatter_nd", ["f32[3, 8]", "i32[2, 3]", "f32[2]"], "the last dim of indices [2, 3] is 3",
    "it must be a size in [1, 2]")
bad("scatter_nd", ["f32[3, 8]", "i32[]", "f32[3, 8]"], "indices must have rank >= 1")
bad("scatter_nd", ["f32[3, 8]", "f32[2, 1]", "f32[2, 8]"], "input 'indices' has dtype float32")
bad("scatter_nd", ["f32[3, 8]", "i32[2, 1]", "f16[2, 8]"], "input 'updates' has dtype float16", "'input' has float32")
bad("scatter_nd", ["f32[0, 2]", "i32[1, 1]", "f32[1, 2]"], "cannot scatter into the empty axis 0 of [0, 2]")

# ---- quantization -------------------------------------------------------------------------------------
# Q4_1 (uint4 q, per-block scale d and min m; w = d·q + m) and Q8_0 (int8 q, scale d), blocks of 32 along rows.
# Scales and biases are drawn positive so d·q and m never cancel (the 2 ULP tolerance assumes they don't).
_SCALE = ("uniform", 0.01, 0.2)
_BIAS = ("uniform", 0.05, 1.0)
ok("dequantize_linear", ["u4[3, 64]", "f32[3, 2]", None, "f32[3, 2]"], "f32[3, 64]", data={1: _SCALE, 3: _BIAS},
   note="q4_1")
ok("dequantize_linear", ["u4[3, 64]", "f16[3, 2]", None, "f16[3, 2]"], "f16[3, 64]", data={1: _SCALE, 3: _BIAS},
   note="q4_1 f16")
ok("dequantize_linear", ["i8[4, 64]", "f32[4, 2]"], "f32[4, 64]", data={0: ("int", -128, 127), 1: _SCALE},
   note="q8_0")
ok("dequantize_linear", ["i8[4, 64]", "f16[4, 2]"], "f16[4, 64]", data={0: ("int", -128, 127), 1: _SCALE},
   note="q8_0 f16")
ok("dequantize_linear", ["u4[4, 64]", "f32[4, 2]", "u4[4, 2]"], "f32[4, 64]", data={1: _SCALE}, note="zero point")
ok("dequantize_linear", ["i4[2, 8]", "f32[2, 1]", "i4[2, 1]"], "f32[2, 8]", data={1: _SCALE}, note="int4")
ok("dequantize_linear", ["u4[3, 5]", "f32[3, 1]"], "f32[3, 5]", data={1: _SCALE}, note="odd count")
ok("dequantize_linear", ["u8[5]", "f32[]", "u8[]"], "f32[5]", data={0: ("int", 0, 255), 1: _SCALE, 2: ("int", 0, 255)},
   note="per tensor")
ok("dequantize_linear", ["i32[6]", "f32[6]"], "f32[6]", data={0: ("int", -1000, 1000), 1: _SCALE})
ok("dequantize_linear", ["u8[2, 6, 4]", "f32[3, 1]", "u8[3, 1]"], "f32[2, 6, 4]", data={1: _SCALE},
   note="trailing-aligned blocks")
ok("dequantize_linear", ["u4[rows, 32]", "f32[rows, 1]", None, "f32[rows, 1]"], "f32[rows, 32]",
   data={1: _SCALE, 3: _BIAS}, bind={"rows": 3})
ok("dequantize_linear", ["u4[0, 32]", "f32[0, 1]"], "f32[0, 32]")
bad("dequantize_linear", ["u4[3, 64]", "f32[3, 3]"], "its dim 3 at axis 1 does not divide the input dim 64")
bad("dequantize_linear", ["u4[3, 64]", "f32[2, 3, 2]"], "input 'scale' is [2, 3, 2], of higher rank")
bad("dequantize_linear", ["u4[3, 64]", "f32[3, 2]", "i4[3, 2]"], "input 'zero_point' has dtype int4",
    "'input' has uint4")
bad("dequantize_linear", ["u4[3, 64]", "f32[3, 2]", "u4[3, 1]"], "input 'zero_point' is [3, 1]",
    "the scale's shape [3, 2]")
bad("dequantize_linear", ["u4[3, 64]", "f32[3, 2]", None, "f16[3, 2]"], "input 'bias' has dtype float16")
bad("dequantize_linear", ["u4[3, 64]", "f32[3, 2]", None, "f32[3]"], "input 'bias' is [3]")
bad("dequantize_linear", ["f32[3, 64]", "f32[3, 2]"], "input 'input' has dtype float32")
bad("dequantize_linear", ["i8[3, 64]", "i32[3, 2]"], "input 'scale' has dtype int32")

# ---- vision -------------------------------------------------------------------------------------------
ok("conv2d", ["f32[1, 2, 5, 5]", "f32[3, 2, 3, 3]"], "f32[1, 3, 3, 3]")
ok("conv2d", ["f32[2, 3, 7, 6]", "f32[4, 3, 3, 2]", "f32[4]"], "f32[2, 4, 3, 4]", padding=[1, 0, 2, 1], strides=[2, 2])
ok("conv2d", ["f32[1, 2, 9, 9]", "f32[2, 2, 3, 3]"], "f32[1, 2, 5, 3]", dilations=[2, 3], padding=[0, 0, 0, 0])
ok("conv2d", ["f32[1, 4, 6, 6]", "f32[6, 2, 3, 3]", "f32[6]"], "f32[1, 6, 4, 4]", groups=2)
ok("conv2d", ["f32[2, 3, 5, 5]", "f32[6, 1, 3, 3]"], "f32[2, 6, 5, 5]", groups=3, padding=[1, 1, 1, 1],
   note="depthwise x2")
ok("conv2d", ["f32[1, 5, 6, 3]", "f32[3, 3, 3, 4]"], "f32[1, 3, 4, 4]", input_layout="nhwc", filter_layout="hwio")
ok("conv2d", ["f32[2, 6, 6, 4]", "f32[6, 3, 3, 2]"], "f32[2, 3, 3, 6]", input_layout="nhwc", filter_layout="ohwi",
   groups=2, strides=[2, 2], padding=[1, 0, 1, 0])
ok("conv2d", ["f32[1, 7, 7, 4]", "f32[1, 3, 3, 4]", "f32[4]"], "f32[1, 4, 4, 4]", input_layout="nhwc",
   filter_layout="ihwo", groups=4, strides=[2, 2], padding=[1, 1, 1, 1], note="depthwise")
ok("conv2d", ["f32[1, 4, 5, 5]", "f32[2, 2, 2, 8]"], "f32[1, 8, 5, 5]", filter_layout="hwio", groups=2,
   padding=[0, 1, 1, 0], dilations=[1, 1])
ok("conv2d", ["f32[1, 3, 4, 4]", "f32[3, 4, 4, 5]"], "f32[1, 5, 1, 1]", filter_layout="ihwo")
ok("conv2d", ["f32[1, 2, 4, 4]", "f32[3, 2, 1, 1]"], "f32[1, 3, 4, 4]", note="1x1")
ok("conv2d", ["f32[2, 9, 3, 5]", "f32[5, 9, 1, 1]", "f32[5]"], "f32[2, 5, 3, 5]", note="1x1 batch 2")
ok("conv2d", ["f32[2, 3, 5, 9]", "f32[5, 1, 1, 9]", "f32[5]"], "f32[2, 3, 5, 5]", input_layout="nhwc",
   filter_layout="ohwi", note="1x1 nhwc")
ok("conv2d", ["f32[1, 6, 10, 10]", "f32[6, 1, 3, 3]", "f32[6]"], "f32[1, 6, 10, 10]", groups=6,
   padding=[1, 1, 1, 1], note="depthwise 3x3")
ok("conv2d", ["f32[2, 4, 9, 9]", "f32[4, 1, 5, 5]"], "f32[2, 4, 4, 4]", groups=4, strides=[2, 2],
   padding=[1, 2, 1, 2], note="depthwise 5x5 stride 2")
ok("conv2d", ["f16[1, 2, 4, 4]", "f16[2, 2, 3, 3]"], "f16[1, 2, 2, 2]")
ok("conv2d", ["f32[0, 2, 4, 4]", "f32[2, 2, 3, 3]"], "f32[0, 2, 2, 2]", note="empty batch")
ok("conv2d", ["f32[batch, 2, 4, 4]", "f32[3, 2, 3, 3]"], "f32[batch, 3, 2, 2]", bind={"batch": 2})
ok("conv2d", ["f32[1, 3, 5, 5]", "f32[2, 3, 3, 3]", "f32[2]"], "f32[1, 2, 3, 3]", data={0: MIXED, 1: MIXED},
   note="mixed sign")
bad("conv2d", ["f32[1, 3, 5, 5]", "f32[4, 2, 3, 3]"], "filter [4, 2, 3, 3] (oihw) takes 2 input channels per group",
    "input has 3 channels")
bad("conv2d", ["f32[1, 4, 5, 5]", "f32[3, 2, 3, 3]"], "groups 2 must divide input channels 4 and output channels 3",
    groups=2)
bad("conv2d", ["f32[1, 2, 2, 2]", "f32[1, 2, 3, 3]"],
    "height: the window (3 with dilation) is larger than the padded input (2)")
bad("conv2d", ["f32[1, 2, 5, 5]", "f32[3, 2, 3, 3]", "f32[2]"], "bias must be [3]", "got [2]")
bad("conv2d", ["f32[2, 5, 5]", "f32[3, 2, 3, 3]"], "input must have rank 4 (nchw), got [2, 5, 5]")
bad("conv2d", ["f32[1, 2, 5, 5]", "f32[3, 2, 3, 3]"], "attribute 'filter_layout' is 'iohw'", filter_layout="iohw")
bad("conv2d", ["f32[1, 2, 5, 5]", "f32[3, 2, 3, 3]"], "padding needs 4 values", padding=[1, 1])
bad("conv2d", ["f32[1, 2, 5, 5]", "f32[3, 2, 3, 3]"], "strides and dilations", strides=[0, 1])
bad("conv2d", ["f32[1, 2, 5, 5]", "f16[3, 2, 3, 3]"], "input 'filter' has dtype float16")

for _op in ("average_pool2d", "max_pool2d"):
    ok(_op, ["f32[1, 2, 5, 5]"], "f32[1, 2, 4, 4]", window_dimensions=[2, 2])
    ok(_op, ["f32[2, 3, 7, 6]"], "f32[2, 3, 3, 3]", window_dimensions=[3, 2], strides=[2, 2])
    ok(_op, ["f32[1, 2, 5, 5]"], "f32[1, 2, 5, 5]", window_dimensions=[3, 3], padding=[1, 1, 1, 1])
    ok(_op, ["f32[1, 2, 6, 7]"], "f32[1, 2, 5, 4]", window_dimensions=[3, 3], padding=[1, 0, 0, 2], strides=[1, 2],
       note="asymmetric padding")
    ok(_op, ["f32[1, 2, 9, 9]"], "f32[1, 2, 5, 7]", window_dimensions=[3, 2], dilations=[2, 2])
    ok(_op, ["f32[1, 2, 6, 6]"], "f32[1, 2, 3, 3]", window_dimensions=[3, 3], strides=[2, 2],
       rounding_type="ceil", note="ceil")
    ok(_op, ["f32[1, 1, 7, 7]"], "f32[1, 1, 4, 3]", window_dimensions=[2, 3], strides=[2, 3], padding=[1, 0, 1, 0],
       rounding_type="ceil", note="ceil+padding")
    ok(_op, ["f32[1, 1, 7, 7]"], "f32[1, 1, 4, 3]", window_dimensions=[2, 3], strides=[2, 3], padding=[1, 0, 1, 0],
       output_sizes=[4, 3], note="output_sizes")  # the ceil sizes (WebNN: outputSizes)
    ok(_op, ["f32[1, 6, 6, 2]"], "f32[1, 2, 2, 2]", window_dimensions=[3, 3], strides=[2, 2], layout="nhwc",
       rounding_type="ceil", output_sizes=[2, 2], note="output_sizes over rounding_type")
    ok(_op, ["f32[2, 3, 4, 5]"], "f32[2, 3, 1, 1]", note="global")
    ok(_op, ["f32[1, 6, 6, 3]"], "f32[1, 3, 3, 3]", window_dimensions=[2, 2], strides=[2, 2], layout="nhwc")
    ok(_op, ["f32[2, 5, 4, 3]"], "f32[2, 1, 1, 3]", layout="nhwc", note="global nhwc")
    ok(_op, ["f32[1, 2, 4, 4]"], "f32[1, 2, 2, 2]", window_dimensions=[2, 2], strides=[2, 2],
       data={0: ("values", (NAN, 1.0, INF, -INF, 2.0, 3.0, -1.0, 0.0))}, note="edge")
    ok(_op, ["f16[1, 2, 4, 4]"], "f16[1, 2, 3, 3]", window_dimensions=[2, 2])
    ok(_op, ["f32[batch, 2, 4, 4]"], "f32[batch, 2, 2, 2]", window_dimensions=[2, 2], strides=[2, 2], bind={"batch": 2})
    bad(_op, ["f32[1, 2, 2, 2]"], "height: the window (3 with dilation) is larger than the padded input (2)",
        window_dimensions=[3, 1])
    bad(_op, ["f32[1, 1, 6, 6]"], "output_sizes must be [2, 2] (floor) or [3, 3] (ceil) [height, width], got [2, 3]",
        window_dimensions=[3, 3], strides=[2, 2], output_sizes=[2, 3])  # one size each way: as WebNN, refused
    bad(_op, ["f32[1, 1, 4, 4]"], "output_sizes must be [1, 1] [height, width], got [3]", output_sizes=[3])
    bad(_op, ["f32[1, 1, 7, 7]"], "unknown attribute 'output_shape_rounding' (renamed 'rounding_type'",
        output_shape_rounding="ceil")
    bad(_op, ["f32[2, 3, 4]"], "input must have rank 4 (nchw), got [2, 3, 4]")
    bad(_op, ["f32[1, 2, 4, 4]"], "window_dimensions needs 2 values >= 1", window_dimensions=[2])
    bad(_op, ["f32[1, 2, 4, 4]"], "attribute 'layout' is 'chwn'", layout="chwn")
    bad(_op, ["i32[1, 2, 4, 4]"], "input 'input' has dtype int32")
    bad(_op, ["f32[1, 2, h, 4]"], "input height must be static")


# ---- inputs for running a case ----------------------------------------------------------------------------
def default_data(dtype: str, op: str, index: int) -> Data:
    """How an input is filled when its case says nothing: normal floats (positive ones for accumulating ops,
    and a negative mean for batch_normalization, so that x - mean and the + bias never cancel), small integers."""
    if dtype in ("float32", "float16"):
        if op == "batch_normalization" and index == 1:
            return NEGATIVE
        return POSITIVE if op in ACCUMULATING else ("normal", 2.0)
    if dtype in ("int4", "uint4"):  # the whole 4-bit range
        return ("int", 0, 15) if dtype == "uint4" else ("int", -8, 7)
    return ("int", 0, 9) if dtype.startswith("uint") else ("int", -9, 9)


def make_inputs(case: OpCase, seed: int = 0) -> list[Any]:
    """numpy arrays for a runnable case's inputs (None for absent optional ones). Needs numpy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays: list[Any] = []
    for idx, desc in enumerate(case.static_inputs()):
        if desc is None:
            arrays.append(None)
            continue
        shape = tuple(int(d) for d in desc.shape)  # type: ignore[arg-type]
        spec = case.data.get(idx) or default_data(desc.dtype, case.op, idx)
        kind = spec[0]
        n = math.prod(shape)
        flat: Any
        if kind == "normal":
            flat = rng.normal(0.0, spec[1], n)
        elif kind == "uniform":
            flat = rng.uniform(spec[1], spec[2], n)
        elif kind == "int":
            flat = rng.integers(spec[1], spec[2], n, endpoint=True)
        elif kind == "choice":
            flat = rng.choice(np.asarray(spec[1]), n)
        elif kind == "values":
            vals = np.asarray(spec[1], dtype=np.float64 if desc.dtype.startswith("float") else object)
            flat = np.resize(vals, n) if n else vals[:0]
        else:
            raise ValueError(f"{case.id}: unknown data kind {kind!r}")
        with np.errstate(over="ignore", invalid="ignore"):
            if desc.dtype.startswith("float"):
                arr = np.asarray(flat, dtype=np.float64).astype(desc.dtype)
            else:  # int4/uint4 come as int8/uint8 arrays (numpy has no 4-bit type; Tensor packs them)
                np_dtype = {"int4": "int8", "uint4": "uint8"}.get(desc.dtype, desc.dtype)
                arr = np.asarray([int(v) for v in flat], dtype=np.int64).astype(np_dtype)
        arrays.append(arr.reshape(shape))
    return arrays


__all__ = ["ACCUMULATING", "CASES", "EDGE", "MIXED", "NEGATIVE", "OpCase", "POSITIVE", "T", "bad", "cases_for",
           "make_inputs", "ok"]
