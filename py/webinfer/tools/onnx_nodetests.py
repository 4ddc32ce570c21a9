"""ONNX's own node tests, run through the ONNX importer on a webinfer backend, counted per op.

The ``onnx`` wheel does not ship ``onnx/backend/test/data/node``; it ships the code that generates it
(``onnx.backend.test.case.node``: each module's ``export*`` functions build the model and compute the expected
outputs with numpy). We import only the modules of the ops the importer claims and take their cases in memory:
the same models, inputs and expected outputs as the data directory.

Each case is imported (``webinfer.importers.onnx.load``), run, and compared as ONNX's backend test runner compares
(``np.testing.assert_allclose`` with the case's rtol 1e-3 and atol 1e-7; integer and bool outputs exactly; NaN
where NaN; the shape exactly). The expected values are computed by numpy, mostly in float32, so their own
rounding is far above webinfer's float64 reference's: the registry's ULP tolerances would judge numpy's error,
not ours. Outcomes: ``pass``, ``fail`` (wrong values), ``refused`` (the importer says why before converting:
an attribute, dtype or version it does not handle), ``error`` (the importer or backend raised a webinfer error
while converting or running), ``crash`` (anything else: always a bug). :data:`EXPLAINED` gives the reason of every
expected non-pass; ``tests/tools/test_onnx_nodetests.py`` fails on any non-pass not listed there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .cmdline import Subparsers

#: ONNX op -> module of onnx.backend.test.case.node holding its cases, where it is not the lowercase op name
MODULES = {"And": "and_", "Or": "or_", "Not": "not_", "Range": "rangeop", "BatchNormalization": "batch_normalization",
           "GreaterOrEqual": "greater_or_equal", "LessOrEqual": "less_or_equal", "ReduceLogSum": "reduce_log_sum",
           "ReduceLogSumExp": "reduce_log_sum_exp", "InstanceNormalization": "instance_normalization"}

_SKIP_OPS = ("Range", "Size")  # fold-only sources: their cases are covered as inputs of others (listed as such)

#: case name -> why it does not pass (refused/error outcomes the importer gives on purpose, with the reason)
EXPLAINED: dict[str, str] = {}


@dataclass
class Result:
    """One node test case on one backend."""

    op: str
    case: str
    outcome: str  # pass | fail | refused | error | crash
    detail: str = ""
    seconds: float = 0.0


def _module_name(op: str) -> str:
    return MODULES.get(op, op.lower())


def collect(ops: Iterable[str]) -> dict[str, list[Any]]:
    """op -> its ONNX node test cases (TestCase objects: model, data_sets), expanded-function variants included."""
    import warnings

    import numpy as np

    node = importlib.import_module("onnx.backend.test.case.node")
    wanted = set(ops)
    found: dict[str, list[Any]] = {op: [] for op in wanted}
    base_op: dict[str, str] = {}
    for name in sorted(wanted):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                importlib.import_module(f"onnx.backend.test.case.node.{_module_name(name)}")
            except ModuleNotFoundError:
                continue
    for case in node._NodeTestCases:
        nodes = list(case.model.graph.node)
        if "_expanded" not in case.name and len(nodes) == 1:
            base_op[case.name] = nodes[0].op_type
    for case in node._NodeTestCases:
        op = base_op.get(case.name.split("_expanded")[0])
        if op is not None and op in wanted:
            found[op].append(case)
    return found


def _array(value: Any) -> Any:
    """A case's input or output as numpy (some cases give TensorProtos, e.g. float16 ones)."""
    import numpy as np
    import onnx

    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    return np.asarray(value)


def _compare(got: Any, want: Any, rtol: float, atol: float) -> str | None:
    import numpy as np

    want = _array(want)
    got = np.asarray(got)
    if want.dtype == np.bool_:
        want = want.astype(np.uint8)
    if tuple(got.shape) != tuple(want.shape):
        return f"shape {list(got.shape)}, expected {list(want.shape)}"
    if want.dtype.kind in "iub":
        if not np.array_equal(got.astype(np.int64), want.astype(np.int64)):
            bad = np.argwhere(got.astype(np.int64) != want.astype(np.int64))[0]
            return f"at {bad.tolist()}: {got[tuple(bad)]} != {want[tuple(bad)]}"
        return None
    g, w = got.astype(np.float64), want.astype(np.float64)
    ok = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True) | ((g == w) & np.isinf(w))
    if not ok.all():
        idx = tuple(np.argwhere(~ok)[0])
        return f"at {list(idx)}: {g[idx]!r} vs expected {w[idx]!r} (rtol {rtol:g}, atol {atol:g})"
    return None


def upgrade_opset(model: Any) -> Any:
    """A case written for an opset below 13 as an opset-13 model when every node's op is the same there (cases are
    generated at the version that introduced the op's definition, e.g. Not at opset 1)."""
    import onnx

    from ..importers.onnx.model import MIN_OPSET

    old = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), MIN_OPSET)
    if old >= MIN_OPSET:
        return model
    for n in model.graph.node:
        try:
            then, now = onnx.defs.get_schema(n.op_type, old), onnx.defs.get_schema(n.op_type, MIN_OPSET)
            if then.since_version != now.since_version:
                return model
        except Exception:  # noqa: BLE001 - not defined at one of them: leave it to the importer to refuse
            return model
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = MIN_OPSET
    return m


def freeze_const_inputs(model: Any, inputs: Sequence[Any]) -> tuple[Any, list[str]]:
    """The model with each graph input that feeds a must-be-constant input of its node (a shape, axes, pads; see
    ``Converter.const_inputs``) turned into an initializer holding the case's value, as an exporter writes them.
    webinfer has no run-time Reshape-by-tensor: those inputs must be known when the graph is built."""
    import onnx

    from ..importers.onnx.ops import CONVERTERS

    const_names = set()
    for node in model.graph.node:
        conv = CONVERTERS.get(node.op_type)
        for i in conv.const_inputs if conv else ():
            if i < len(node.input) and node.input[i]:
                const_names.add(node.input[i])
    frozen = []
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = []
    for vi, arr in zip(model.graph.input, inputs):
        if vi.name in const_names and not isinstance(arr, list):
            t = arr if isinstance(arr, onnx.TensorProto) else onnx.numpy_helper.from_array(arr, vi.name)
            m.graph.initializer.append(t)
            frozen.append(vi.name)
        else:
            keep.append(vi)
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return m, frozen


def run_case(op: str, case: Any, backend: str = "reference") -> Result:
    """Import and run one case on the host ``backend`` and compare every output."""
    import numpy as np

    from .. import compile as wi_compile
    from ..errors import WebinferError
    from ..importers.onnx import load
    from ..importers.onnx.importer import OnnxUnsupportedError

    t0 = time.perf_counter()
    model, frozen = freeze_const_inputs(upgrade_opset(case.model), case.data_sets[0][0])
    try:
        graph = load(model.SerializeToString())
    except OnnxUnsupportedError as e:
        return Result(op, case.name, "refused", "; ".join(u.reason for u in e.unsupported), time.perf_counter() - t0)
    except WebinferError as e:
        return Result(op, case.name, "error", f"import: {e}", time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - anything else from the importer is a bug, reported as such
        return Result(op, case.name, "crash", f"import: {type(e).__name__}: {e}", time.perf_counter() - t0)
    outputs_vi = list(case.model.graph.output)
    try:
        for inputs, outputs in case.data_sets:
            feeds = {}
            for vi, arr in zip(case.model.graph.input, inputs):  # (frozen inputs are constants now)
                if vi.name in graph.inputs:
                    a = _array(arr)
                    feeds[vi.name] = a.astype(np.uint8) if a.dtype == np.bool_ else a
            sess = wi_compile(graph, backend=backend)
            got = sess.run(feeds)
            sess.close()
            for vi, want in zip(outputs_vi, outputs):
                problem = _compare(got[vi.name].numpy(), want, case.rtol, case.atol)
                if problem:
                    return Result(op, case.name, "fail", f"output {vi.name!r} {problem}", time.perf_counter() - t0)
    except WebinferError as e:
        return Result(op, case.name, "error", f"run: {e}", time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001
        return Result(op, case.name, "crash", f"run: {type(e).__name__}: {e}", time.perf_counter() - t0)
    detail = f"given as constants: {', '.join(frozen)}" if frozen else ""
    return Result(op, case.name, "pass", detail, time.perf_counter() - t0)


def run(ops: Sequence[str] | None = None, backend: str = "reference") -> list[Result]:
    """Every node test case of ``ops`` (default: every op the importer converts) on ``backend``."""
    from ..importers.onnx import supported_ops

    ops = [op for op in (ops or supported_ops()) if op not in _SKIP_OPS] if ops is None else list(ops)
    results = []
    for op, cases in sorted(collect(ops).items()):
        for case in cases:
            results.append(run_case(op, case, backend))
    return results


def table(results: Sequence[Result]) -> str:
    """A markdown table: per op, cases and outcomes."""
    by_op: dict[str, Counter[str]] = {}
    for r in results:
        by_op.setdefault(r.op, Counter())[r.outcome] += 1
    lines = ["| ONNX op | node tests | pass (reference) | refused | other |", "|---|---|---|---|---|"]
    for op, c in sorted(by_op.items()):
        other = sum(v for k, v in c.items() if k not in ("pass", "refused"))
        lines.append(f"| {op} | {sum(c.values())} | {c['pass']} | {c['refused']} | {other} |")
    return "\n".join(lines)


def _handler(args: argparse.Namespace) -> int:
    ops = args.ops.split(",") if args.ops else None
    results = run(ops, backend="reference")
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=1))
    else:
        print(table(results))
        for r in results:
            if r.outcome != "pass" and (args.verbose or r.case not in EXPLAINED):
                print(f"{r.outcome:8} {r.case}: {r.detail[:300]}")
    unexplained = [r for r in results if r.outcome != "pass" and r.case not in EXPLAINED]
    return 1 if unexplained else 0


def register(subparsers: Subparsers) -> None:
    """``webinfer onnx-tests``: ONNX's node tests through the importer, counted per op."""
    p = subparsers.add_parser("onnx-tests", help="run ONNX's node tests through the ONNX importer (reference backend)")
    p.add_argument("--ops", help="comma-separated ONNX op types (default: every op the importer converts)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true", help="also print the explained non-passes")
    p.set_defaults(handler=_handler)


if __name__ == "__main__":
    sys.exit(_handler(argparse.Namespace(ops=None, json=False, verbose=True)))
