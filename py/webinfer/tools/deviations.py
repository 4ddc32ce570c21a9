"""Known deviations from the float64 reference, each pinned to the elements it excuses (``webinfer conformance``).

The registry's tolerance table is the judge. A :class:`Deviation` names a backend, the ops, *which elements*
it excuses ("NaN inputs": the output elements that depend on a NaN input element) and why. An element out
of tolerance that no listed deviation selects fails the case, however many others are excused; a listed
deviation whose elements all pass is an "xpass" (the list is out of date). A composite backend (hybrid)
inherits the deviations of the backend that ran the node. Beyond the list there is one general rule,
:data:`SUBNORMAL_FLUSH`. Host-side only (numpy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

INTS = ("int32", "uint32", "int64", "int8", "uint8")

#: A float result the reference gives as a subnormal may come back as zero: WGSL (and WebNN's CPU kernels)
#: may flush subnormals to zero. It covers exactly those elements (actual ±0, reference nonzero and below
#: the smallest normal). Sums are judged by the table alone: the case data (webinfer.ir.opcases) is drawn so
#: that no sum cancels beyond what the table allows.
SUBNORMAL_FLUSH = "subnormal results flush to zero (WGSL, and WebNN's CPU kernels, may flush subnormals)"
MIN_NORMAL = {"float32": 2.0**-126, "float16": 2.0**-14}


@dataclass(frozen=True)
class CaseData:
    """What a selector sees: the case's graph, its input arrays (node input order), one output's reference."""

    graph: Any
    inputs: Sequence[np.ndarray | None]
    expected: np.ndarray
    output: int = 0


Select = Callable[[CaseData], np.ndarray]  # -> bool mask over the output


@dataclass(frozen=True)
class Deviation:
    """A backend's known deviation on ``ops``: the output elements ``select`` marks may differ, because ``reason``.

    ``error`` instead marks a refusal: the run raised an error containing that text (nothing came back to
    compare). ``out_dtypes`` limits it to nodes with those output dtypes.
    """

    backend: str
    ops: tuple[str, ...]
    elements: str
    reason: str
    select: Select | None = None
    error: str | None = None
    out_dtypes: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return f"{self.backend}: {self.elements}"

    def applies(self, backend: str, graph: Any) -> bool:
        node = graph.nodes[0]
        if self.backend != backend or node.op not in self.ops:
            return False
        return self.out_dtypes is None or all(graph.operands[o].dtype in self.out_dtypes for o in node.outputs)


# ---- selectors -------------------------------------------------------------------------------------------
def inputs_where(pred: Callable[[np.ndarray], np.ndarray]) -> Select:
    """The output elements that depend on a float input element where ``pred`` holds."""

    def select(c: CaseData) -> np.ndarray:
        with np.errstate(all="ignore"):
            marks = [None if x is None or x.dtype.kind != "f" else np.asarray(pred(x.astype(np.float64)), bool)
                     for x in c.inputs]
        return depends_on(c, marks)

    return select


def results_where(pred: Callable[[np.ndarray], np.ndarray]) -> Select:
    """The output elements whose reference value satisfies ``pred``."""

    def select(c: CaseData) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(pred(np.asarray(c.expected, np.float64)), bool)

    return select


def pairs_where(pred: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Select:
    """For binary elementwise ops: the output elements whose (broadcast) input pair satisfies ``pred``."""

    def select(c: CaseData) -> np.ndarray:
        a, b = (np.broadcast_to(np.asarray(x, np.float64), c.expected.shape) for x in c.inputs[:2])
        with np.errstate(all="ignore"):
            return np.asarray(pred(a, b), bool)

    return select


ELEMENTWISE_FAMILIES = ("unary", "binary", "compare")


def depends_on(c: CaseData, marks: Sequence[np.ndarray | None]) -> np.ndarray:
    """The output elements that depend on a marked input element.

    Elementwise ops: the marks, broadcast. Others: a NaN placed at each marked element (1 elsewhere) is run
    through the reference; the outputs it turns NaN (and 1s alone do not) depend on it.
    """
    from webinfer.backends.reference import evaluate
    from webinfer.ir.registry import get_op
    from webinfer.tensor import Tensor

    shape = c.expected.shape
    if not any(m is not None and m.any() for m in marks):
        return np.zeros(shape, bool)
    node = c.graph.nodes[0]
    if get_op(node.op).family in ELEMENTWISE_FAMILIES:
        out = np.zeros(shape, bool)
        for m in marks:
            if m is not None:
                out |= np.broadcast_to(m, shape)
        return out
    ones, tainted = {}, {}
    for i, (x, m) in enumerate(zip(c.inputs, marks)):
        if x is None:
            continue
        ones[f"in{i}"] = Tensor(np.ones_like(x) if m is not None else x)
        tainted[f"in{i}"] = Tensor(np.where(m, np.nan, 1).astype(x.dtype) if m is not None else x)
    key = f"out{c.output}"
    base, hit = evaluate(c.graph, ones)[key], evaluate(c.graph, tainted)[key]
    if np.asarray(hit).dtype.kind != "f":  # an integer output cannot carry the NaN: every element may depend on it
        return np.ones(shape, bool)
    return np.isnan(hit) & ~np.isnan(base)


def _nan(x: np.ndarray) -> np.ndarray:
    return np.isnan(x)


# ---- the list --------------------------------------------------------------------------------------------
_TFLITE_NAN = ("Chromium's WebNN (TFLite/XNNPack) max/min ignore NaN (they return the other operand); "
               "the reference propagates it")

DEVIATIONS: list[Deviation] = [
    Deviation("webgpu", ("sin", "cos"), "huge arguments (|x| > 1e5)",
              "WGSL bounds sin/cos error only on [-π, π]; arguments are reduced with a 3-part 2π (exact to "
              "|x| ≈ 1e5), not Payne–Hanek", inputs_where(lambda x: np.abs(x) > 1e5)),
    Deviation("webgpu", ("pow",), "float pairs with |b·log2|a|| > 64",
              "WGSL's exp2/log2 are float32 accurate, so pow's error grows with |b·log2|a||",
              pairs_where(lambda a, b: np.abs(b * np.log2(np.abs(a))) > 64), out_dtypes=("float32", "float16")),
    Deviation("webgpu", ("cast",), "int64 inputs outside the int32 range (refused)",
              "int64 data is held as int32 (WGSL has no 64-bit integers): values outside the int32 range are "
              "refused with an InputError naming the input, never wrapped", error="does not fit int32"),
    # Chromium 153's WebNN runs on TFLite (XNNPack) on the CPU: its fast math differs from IEEE at NaN/inf edges.
    Deviation("webnn", ("max", "min", "reduce_max", "reduce_min", "max_pool2d"), "NaN inputs", _TFLITE_NAN,
              inputs_where(_nan)),
    Deviation("webnn", ("average_pool2d",), "windows holding inf or NaN",
              "TFLite averages windows holding inf and -inf (or NaN) to -inf; the reference gives NaN",
              inputs_where(lambda x: ~np.isfinite(x))),
    Deviation("webnn", ("exp",), "NaN inputs", "TFLite's exp (XNNPack polynomial) maps NaN to 0", inputs_where(_nan)),
    Deviation("webnn", ("log",), "NaN, negative and huge (> 2.4e38, +inf) inputs",
              "TFLite's log gives 88.4–88.8 instead of NaN for NaN and negative inputs, and saturates at 88.376 "
              "from ~2.4e38 up (+inf included)", inputs_where(lambda x: np.isnan(x) | (x < 0) | (x > 2.4e38))),
    Deviation("webnn", ("sin", "cos"), "huge arguments (|x| > 1e5)",
              "TFLite's sin/cos give NaN at |x| = 3e38 (no argument reduction that far)",
              inputs_where(lambda x: np.abs(x) > 1e5)),
    Deviation("webnn", ("softmax",), "nonzero results below 1e-15",
              "TFLite's softmax (XNNPack's exp) is up to ~30 ULP off on results near 1e-21 (table: 3N+3)",
              results_where(lambda e: (e != 0) & (np.abs(e) < 1e-15)), out_dtypes=("float32",)),
    Deviation("webnn", ("cast",), "NaN inputs (cast to an integer type)",
              "TFLite casts NaN to the type's maximum; the reference gives 0 (the IR leaves NaN and out-of-range "
              "casts undefined)", inputs_where(_nan), out_dtypes=INTS),
]


def for_case(backend: str, ran_on: Sequence[str], graph: Any,
             deviations: Sequence[Deviation] | None = None) -> list[Deviation]:
    """The deviations that apply to this case: ``backend``'s own, and those of the backends that ran it."""
    table = DEVIATIONS if deviations is None else deviations
    names = [backend, *[b for b in ran_on if b != backend]]
    return [d for d in table if any(d.applies(b, graph) for b in names)]


def flushed_subnormals(actual: np.ndarray, expected: np.ndarray, dtype: str) -> np.ndarray:
    """The elements :data:`SUBNORMAL_FLUSH` covers: reference a nonzero subnormal, actual ±0."""
    if dtype not in MIN_NORMAL:
        return np.zeros(np.shape(actual), bool)
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return (a == 0) & (e != 0) & (np.abs(e) < MIN_NORMAL[dtype])


__all__ = ["CaseData", "DEVIATIONS", "Deviation", "INTS", "MIN_NORMAL", "SUBNORMAL_FLUSH", "depends_on", "for_case",
           "flushed_subnormals", "inputs_where", "pairs_where", "results_where"]
