"""ONNX's own node tests, run through the ONNX importer on a webinfer backend, counted per op.

The ``onnx`` wheel does not ship ``onnx/backend/test/data/node``; it ships the code that generates it
(``onnx.backend.test.case.node``: each module's ``export*`` functions build the model and compute the expected
outputs with numpy). We import only the modules of the ops the importer claims and take their cases in memory:
the same models, inputs and expected outputs as the data directory.

The host imports each case (``webinfer.importers.onnx.load``) and writes its graph in the graph format (JSON,
constants inline) with the inputs as bytes (:func:`prepare_case`); :func:`run_payload` loads, compiles and runs such
cases on a backend — on the host for ``reference``, in the page (Pyodide, many cases per call) for webgpu, webnn
and hybrid: it is pure Python; the host compares the outputs (:func:`judge`) as ONNX's backend test runner does
(``np.testing.assert_allclose`` with the case's rtol 1e-3 and atol 1e-7; integer and bool outputs exactly; NaN where
NaN; the shape exactly). The expected values are computed by numpy, mostly in float32, so their own rounding is far
above webinfer's float64 reference's: the registry's ULP tolerances would judge numpy's error, not ours.

Outcomes: ``pass``; ``refused`` (the importer says why before converting: an attribute, dtype or version it does
not handle); ``unsupported`` (the backend says up front it cannot run a node, and why: its ops table's reason);
``fail`` (wrong values); ``error`` (a webinfer error while converting or running); ``crash`` (anything else: always
a bug). A fail or error a backend is known to give is listed in :data:`EXPLAINED` with the reason (strict: a listed
case that passes is an ``xpass``); ``webinfer conformance --onnx`` and ``tests/tools/test_onnx_nodetests.py`` fail
on any non-pass without a reason.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: ONNX op -> module of onnx.backend.test.case.node holding its cases, where it is not the lowercase op name
MODULES = {"And": "and_", "Or": "or_", "Not": "not_", "Range": "rangeop", "BatchNormalization": "batch_normalization",
           "GreaterOrEqual": "greater_or_equal", "LessOrEqual": "less_or_equal", "ReduceLogSum": "reduce_log_sum",
           "ReduceLogSumExp": "reduce_log_sum_exp", "InstanceNormalization": "instance_normalization"}

_SKIP_OPS = ("Range", "Size")  # fold-only sources: their cases are covered as inputs of others (listed as such)

CHUNK = 40  # cases per page call (progress, and bounded page memory)

_BUGS = "tests/backends/webnn/test_webnn_known_bugs.py"
_CONSTANT_OUTPUT = ("webnn backend bug: an output no op computes (the importer folds it to a constant) goes to "
                    "MLGraphBuilder.build() as an output, which WebNN refuses ('is not an output operand'), instead "
                    f"of being computed or refused up front ({_BUGS})")
_ZERO_SIZE_INPUT = ("webnn backend bug: a zero-size graph input that no op reads is declared to "
                    "MLGraphBuilder.input(), which refuses it, instead of being left out or refused up front "
                    f"({_BUGS})")
_ZERO_SIZE_CONSTANT = ("webnn backend bug: an empty constant output goes to MLGraphBuilder.constant(), which refuses "
                       f"zero-size tensors, instead of an UnsupportedError up front ({_BUGS})")

#: (backend, case name) -> why that backend's result is a fail or an error. Strict: a listed case that passes is an
#: ``xpass`` (the table is out of date).
EXPLAINED: dict[tuple[str, str], str] = {
    **{("webnn", case): _CONSTANT_OUTPUT for case in (
        "test_constant", "test_constantofshape_float_ones", "test_constantofshape_int_zeros",
        "test_dropout_default_mask", "test_dropout_default_mask_ratio", "test_shape", "test_shape_example",
        "test_shape_start_1", "test_shape_end_1", "test_shape_start_negative_1", "test_shape_end_negative_1",
        "test_shape_start_1_end_negative_1", "test_shape_start_1_end_2", "test_shape_clip_start",
        "test_shape_clip_end")},
    **{("webnn", case): _ZERO_SIZE_INPUT for case in (  # CastLike's `like`; reductions of an empty set fold
        "test_castlike_FLOAT_to_FLOAT16", "test_castlike_FLOAT_to_FLOAT16_expanded", "test_castlike_FLOAT16_to_FLOAT",
        "test_castlike_FLOAT16_to_FLOAT_expanded", "test_reduce_log_sum_exp_empty_set", "test_reduce_max_empty_set",
        "test_reduce_max_empty_set_bool", "test_reduce_min_empty_set")},
    **{("webnn", case): _ZERO_SIZE_CONSTANT for case in (
        "test_constantofshape_int_shape_zero", "test_shape_start_greater_than_end")},
}

#: Outcomes that carry their own reason (the importer's or the backend's) and so need no EXPLAINED entry.
SELF_EXPLAINED = ("pass", "refused", "unsupported")

Runner = Callable[[str], Any]  # runs Python source in the page, returns its last expression's JSON value


@dataclass
class Result:
    """One node test case on one backend."""

    op: str
    case: str
    outcome: str  # pass | fail | refused | unsupported | error | crash | xpass
    detail: str = ""
    seconds: float = 0.0
    explained: str = ""  # EXPLAINED's reason, for a fail or error the backend is known to give

    @property
    def accounted(self) -> bool:
        """A pass, or a non-pass with its reason (the importer's, the backend's, or EXPLAINED's)."""
        return self.outcome in SELF_EXPLAINED or (self.outcome in ("fail", "error") and bool(self.explained))


@dataclass
class Prepared:
    """A case imported on the host: its graph JSON and inputs (what a backend runs) and what to compare with."""

    op: str
    case: str
    graph: dict[str, Any]
    feeds: list[dict[str, list[Any]]]  # per data set: input name -> [dtype, shape, base64 bytes]
    expected: list[list[tuple[str, Any]]]  # per data set: (output name, expected value)
    rtol: float
    atol: float
    frozen: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def payload(self) -> dict[str, Any]:
        """What :func:`run_payload` takes for this case (JSON-able)."""
        return {"id": self.case, "graph": self.graph, "feeds": self.feeds}


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


def _tensor_json(a: Any) -> list[Any]:
    import numpy as np

    a = a.astype(np.uint8) if a.dtype == np.bool_ else a  # (tobytes is C order; 0-d arrays stay 0-d)
    return [str(a.dtype), [int(d) for d in a.shape], base64.b64encode(a.tobytes()).decode()]


def prepare_case(op: str, case: Any) -> Prepared | Result:
    """Import one case on the host: a :class:`Prepared` case, or the importer's refusal or error as a Result."""
    from ..errors import WebinferError
    from ..format import to_json
    from ..importers.onnx import load
    from ..importers.onnx.importer import OnnxUnsupportedError

    t0 = time.perf_counter()
    model, frozen = freeze_const_inputs(upgrade_opset(case.model), case.data_sets[0][0])
    try:
        graph = load(model.SerializeToString())
        doc = to_json(graph)
    except OnnxUnsupportedError as e:
        return Result(op, case.name, "refused", "; ".join(u.reason for u in e.unsupported), time.perf_counter() - t0)
    except WebinferError as e:
        return Result(op, case.name, "error", f"import: {e}", time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - anything else from the importer is a bug, reported as such
        return Result(op, case.name, "crash", f"import: {type(e).__name__}: {e}", time.perf_counter() - t0)
    feeds = [{vi.name: _tensor_json(_array(arr)) for vi, arr in zip(case.model.graph.input, inputs)
              if vi.name in graph.inputs}  # (frozen inputs are constants now)
             for inputs, _ in case.data_sets]
    expected = [[(vi.name, want) for vi, want in zip(case.model.graph.output, outputs)]
                for _, outputs in case.data_sets]
    return Prepared(op, case.name, doc, feeds, expected, case.rtol, case.atol, frozen, time.perf_counter() - t0)


def run_payload(payload: Sequence[Mapping[str, Any]], backend: str,
                options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Load, compile and run each prepared case on ``backend``: its outputs per data set as [dtype, shape, base64].

    Pure Python (no numpy, no onnx): the page runs it for webgpu, webnn and hybrid.
    """
    import webinfer as wi
    from webinfer.errors import UnsupportedError, WebinferError
    from webinfer.format import from_json

    results = []
    for item in payload:
        t0 = time.perf_counter()
        res: dict[str, Any] = {"id": item["id"], "outputs": []}
        try:
            sess = wi.compile(from_json(item["graph"]), backend=backend, **dict(options or {}))
            try:
                for feeds in item["feeds"]:
                    out = sess.run({name: wi.Tensor(base64.b64decode(data), dtype=dtype, shape=shape)
                                    for name, (dtype, shape, data) in feeds.items()})
                    res["outputs"].append({name: [t.dtype, list(t.shape), base64.b64encode(t.tobytes()).decode()]
                                           for name, t in out.items()})
            finally:
                sess.close()
        except UnsupportedError as e:  # the backend says up front it cannot run a node, and why
            res["unsupported"] = e.reason
        except WebinferError as e:
            res["error"] = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - anything else is a bug, reported as such
            res["crash"] = f"{type(e).__name__}: {e}"
        res["ms"] = (time.perf_counter() - t0) * 1e3
        results.append(res)
    return results


def run_payload_json(payload: str, backend: str, options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """:func:`run_payload` with its payload as JSON text (what the host sends the page)."""
    return run_payload(json.loads(payload), backend, options)


def judge(prep: Prepared, got: Mapping[str, Any], backend: str) -> Result:
    """Compare one case's outputs from :func:`run_payload` with ONNX's expected values; then apply EXPLAINED."""
    import numpy as np

    seconds = prep.seconds + float(got.get("ms", 0.0)) / 1e3
    result = Result(prep.op, prep.case, "pass", f"given as constants: {', '.join(prep.frozen)}" if prep.frozen else "",
                    seconds)
    for outcome in ("unsupported", "crash", "error"):
        if got.get(outcome):
            result.outcome = outcome
            result.detail = got[outcome] if outcome == "unsupported" else f"run: {got[outcome]}"
            break
    else:
        outputs = got.get("outputs") or []
        for k, expected in enumerate(prep.expected):
            for name, want in expected:
                if k >= len(outputs) or name not in outputs[k]:
                    result.outcome, result.detail = "crash", f"run: no output {name!r} for data set {k}"
                    break
                dtype, shape, data = outputs[k][name]
                value = np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
                problem = _compare(value, want, prep.rtol, prep.atol)
                if problem:
                    result.outcome, result.detail = "fail", f"output {name!r} {problem}"
                    break
            if result.outcome != "pass":
                break
    return explain(result, backend)


def explain(result: Result, backend: str) -> Result:
    """Attach EXPLAINED's reason to a fail or error; a listed case that passed becomes an ``xpass``."""
    reason = EXPLAINED.get((backend, result.case))
    if reason is not None:
        if result.outcome == "pass":
            result.outcome, result.detail = "xpass", f"listed in EXPLAINED ({reason}) but passed"
        else:
            result.explained = reason
    return result


def run_case(op: str, case: Any, backend: str = "reference") -> Result:
    """Import and run one case on a host ``backend`` and compare every output."""
    prep = prepare_case(op, case)
    if isinstance(prep, Result):
        return explain(prep, backend)
    return judge(prep, run_payload([prep.payload()], backend)[0], backend)


@dataclass
class Report:
    """A node-test run: the backend, what ran it, every case's result."""

    backend: str
    device: str
    results: list[Result]
    seconds: float = 0.0

    @property
    def unaccounted(self) -> list[Result]:
        """Non-passes with no reason: failures of the run."""
        return [r for r in self.results if not r.accounted]

    @property
    def ok(self) -> bool:
        return not self.unaccounted

    def per_op(self) -> dict[str, Counter[str]]:
        """op -> outcome counts (an explained fail or error counts as ``explained``)."""
        counts: dict[str, Counter[str]] = {}
        for r in self.results:
            counts.setdefault(r.op, Counter())["explained" if r.explained else r.outcome] += 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        total = Counter("explained" if r.explained else r.outcome for r in self.results)
        return {"backend": self.backend, "device": self.device, "ok": self.ok, "seconds": round(self.seconds, 2),
                "summary": {"cases": len(self.results), **dict(sorted(total.items())),
                            "unaccounted": len(self.unaccounted)},
                "ops": {op: dict(sorted(c.items())) for op, c in self.per_op().items()},
                "results": [asdict(r) for r in self.results]}


def run(ops: Sequence[str] | None = None, backend: str = "reference", *, runner: Runner | None = None,
        progress: Callable[[str], None] | None = None, options: Mapping[str, Any] | None = None) -> list[Result]:
    """Every node test case of ``ops`` (default: every op the importer converts) on ``backend``; a browser
    backend needs ``runner`` (a page's ``run``), which gets many cases per call."""
    return run_report(ops, backend, runner=runner, progress=progress, options=options).results


def run_report(ops: Sequence[str] | None = None, backend: str = "reference", *, runner: Runner | None = None,
               progress: Callable[[str], None] | None = None,
               options: Mapping[str, Any] | None = None) -> Report:
    """:func:`run` as a :class:`Report` (with the device that ran it)."""
    from ..backends import BACKENDS, names
    from ..importers.onnx import supported_ops
    from .devices import page_device

    if backend not in BACKENDS:
        raise ValueError(f"ONNX node tests: unknown backend {backend!r}; choose one of {', '.join(names())}")
    browser = BACKENDS[backend].browser_only
    if browser and runner is None:
        raise ValueError(f"ONNX node tests: backend {backend!r} runs in the browser; give a page runner")
    t0 = time.perf_counter()
    ops = [op for op in supported_ops() if op not in _SKIP_OPS] if ops is None else list(ops)
    unknown = [op for op in ops if op not in supported_ops()]
    if unknown:
        raise ValueError(f"ONNX node tests: the importer does not convert {', '.join(unknown)}")
    slots: list[Result | Prepared] = []
    for op, cases in sorted(collect(ops).items()):
        for case in cases:
            prep = prepare_case(op, case)
            slots.append(explain(prep, backend) if isinstance(prep, Result) else prep)
    todo = [p for p in slots if isinstance(p, Prepared)]
    got: dict[str, dict[str, Any]] = {}
    if browser:
        assert runner is not None
        for start in range(0, len(todo), CHUNK):
            chunk = [p.payload() for p in todo[start:start + CHUNK]]
            if progress:
                progress(f"cases {start + 1}-{start + len(chunk)} of {len(todo)} on {backend}")
            src = (f"from webinfer.tools.onnx_nodetests import run_payload_json\n"
                   f"run_payload_json({json.dumps(chunk)!r}, {backend!r}, {dict(options or {})!r})")
            for r in runner(src):
                got[r["id"]] = r
        device = page_device(runner, backend)
    else:
        for r in run_payload([p.payload() for p in todo], backend, options):
            got[r["id"]] = r
        device = "host (numpy)"
    results = [s if isinstance(s, Result) else judge(s, got.get(s.case, {"crash": "no result"}), backend)
               for s in slots]
    return Report(backend, device, results, time.perf_counter() - t0)


def table(results: Sequence[Result]) -> str:
    """A markdown table: per op, cases and outcomes on one backend."""
    counts = Report("", "", list(results)).per_op()
    lines = ["| ONNX op | node tests | pass | refused (importer) | unsupported (backend) | explained | other |",
             "|---|---|---|---|---|---|---|"]
    for op, c in counts.items():
        other = sum(v for k, v in c.items() if k not in ("pass", "refused", "unsupported", "explained"))
        lines.append(f"| {op} | {sum(c.values())} | {c['pass']} | {c['refused']} | {c['unsupported']} | "
                     f"{c['explained']} | {other} |")
    return "\n".join(lines)


def format_report(report: Report, verbose: bool = False) -> str:
    """The per-op table, every non-pass without a reason (all non-passes with ``verbose``), and a summary."""
    lines = [f"ONNX node tests: backend {report.backend} on {report.device}", "", table(report.results), ""]
    for r in report.results:
        if not r.accounted or (verbose and r.outcome != "pass"):
            why = f" [explained: {r.explained}]" if r.explained else ""
            lines.append(f"{r.outcome:11} {r.op}/{r.case}: {r.detail[:300]}{why}")
    s = report.to_json()["summary"]
    lines.append(f"{s['cases']} cases: {s.get('pass', 0)} pass, {s.get('refused', 0)} refused by the importer, "
                 f"{s.get('unsupported', 0)} unsupported by the backend, {s.get('explained', 0)} known deviations, "
                 f"{s['unaccounted']} without a reason ({report.seconds:.1f} s)")
    return "\n".join(lines)


# ---- the README table: node tests per op, refused by the importer, and the passes on each backend -------------
START, END = "<!-- onnx-nodetests:start -->", "<!-- onnx-nodetests:end -->"


def embedded(text: str) -> str | None:
    """The node-test table currently between the markers in ``text`` (None without markers)."""
    from .optable import between

    return between(text, START, END)


def _cell(c: Mapping[str, int]) -> str:
    labels = (("unsupported", "unsupported", ""), ("explained", "known deviation", "s"), ("fail", "fail", "s"),
              ("error", "error", "s"), ("crash", "crash", "es"), ("xpass", "xpass", "es"))
    notes = [f"{c[k]} {label}{plural if c[k] > 1 else ''}" for k, label, plural in labels if c.get(k)]
    return " · ".join([str(c.get("pass", 0)), *notes])


def readme_table(reports: Sequence[Mapping[str, Any]]) -> str:
    """The README's table from :meth:`Report.to_json` documents (the first one gives the case and refusal counts)."""
    backends = [r["backend"] for r in reports]
    first = reports[0]["ops"]
    lines = ["| ONNX op | node tests | refused by the importer | " + " | ".join(backends) + " |",
             "|---|---|---|" + "---|" * len(backends)]
    totals: list[Counter[str]] = [Counter() for _ in reports]
    cases = refused = 0
    for op, c in first.items():
        n = sum(c.values())
        cases, refused = cases + n, refused + c.get("refused", 0)
        cells = []
        for total, rep in zip(totals, reports):
            oc = rep["ops"].get(op, {})
            total.update(oc)
            cells.append(_cell(oc) if oc else "—")
        lines.append(f"| {op} | {n} | {c.get('refused', 0)} | " + " | ".join(cells) + " |")
    lines.append(f"| **all** | **{cases}** | **{refused}** | " + " | ".join(f"**{_cell(t)}**" for t in totals) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m webinfer.tools.onnx_nodetests [--ops A,B] [--verbose]`` (reference backend), or
    ``... --write README.md REPORT.json ...`` (reports from ``webinfer conformance --onnx --json``)."""
    from .optable import write_between

    p = argparse.ArgumentParser(prog="python -m webinfer.tools.onnx_nodetests")
    p.add_argument("--ops", help="comma-separated ONNX op types (default: every op the importer converts)")
    p.add_argument("--verbose", action="store_true", help="also print the non-passes that have a reason")
    p.add_argument("--write", metavar="FILE", help="write the per-op table of REPORTS into FILE between its markers")
    p.add_argument("reports", nargs="*", metavar="REPORT.json", help="with --write: `conformance --onnx --json` output")
    args = p.parse_args(argv)
    if args.write:
        reports = []
        for path in args.reports:
            with open(path, encoding="utf-8") as f:
                reports.append(json.load(f))
        if not reports:
            p.error("--write needs at least one REPORT.json")
        changed = write_between(args.write, START, END, readme_table(reports), "the ONNX node-test table")
        print(f"{args.write}: {'updated' if changed else 'already current'}")
        return 0
    report = run_report(args.ops.split(",") if args.ops else None)
    print(format_report(report, args.verbose))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
