"""``webinfer conformance``: run every op's cases on a backend and compare with the float64 reference.

The cases are the registry's (:mod:`webinfer.ir.opcases`: random and edge inputs, broadcasting, empty
tensors, every dtype a case names). The host makes the inputs and the float64 reference outputs
(numpy); a browser backend runs the same cases inside Pyodide (the page gets the input bytes, builds
one graph per case, compiles it with the backend and returns the output bytes); the host compares
at the registry's tolerance (:func:`webinfer.ir.tolerance.compare`) and prints, per op, the largest
error in ULP and absolute terms, the tolerance and pass/fail. Generic over backends:
``--backend`` takes every backend ``webinfer.backends`` describes.

The tolerance table is the judge. Beyond it there are the known deviations of :mod:`webinfer.tools.deviations`,
each pinned to the elements it excuses (a case fails when any element out of tolerance is not one of them;
a listed deviation whose elements pass is an "xpass" and fails the run), and the one general rule
:data:`~webinfer.tools.deviations.SUBNORMAL_FLUSH`. A composite backend (hybrid) is judged with the
deviations of the backend that ran each case.

``--onnx`` runs ONNX's own node tests instead (:mod:`webinfer.tools.onnx_nodetests`): each case imported on the
host into the graph format, run on the backend (in the page, many cases per call), compared as ONNX's runner does.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..backends import BACKENDS, names
from .cmdline import Subparsers, add_browser_options, comma_list

if TYPE_CHECKING:
    from .deviations import Deviation

CHUNK = 48  # cases per page call (progress, and bounded page memory)

Runner = Callable[[str], Any]  # runs Python source in the page, returns its last expression's JSON value


# ---- building and running cases (pure Python: this half also runs inside Pyodide) -------------------------
def case_graph(op: str, inputs: Sequence[Sequence[Any] | None], attrs: dict[str, Any]) -> Any:
    """A graph applying ``op`` once to inputs ``in0, in1, ...``; outputs ``out0, out1, ...``."""
    from webinfer.ir.builder import GraphBuilder

    g = GraphBuilder()
    operands = [None if d is None else g.input(f"in{i}", d[0], list(d[1])) for i, d in enumerate(inputs)]
    outs = g.apply(op, operands, attrs, name=op)
    return g.build({f"out{i}": o for i, o in enumerate(outs)})


def run_cases(payload: list[dict[str, Any]], backend: str, device: str | None = None,
              options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run each case (graph from op/inputs/attrs, input bytes base64) on ``backend``; output bytes base64."""
    import webinfer as wi
    from webinfer.errors import UnsupportedError

    results = []
    options = {**(options or {}), **({"device": device} if device else {})}
    for case in payload:
        t0 = time.perf_counter()
        res: dict[str, Any] = {"id": case["id"], "outputs": [], "error": None}
        try:
            graph = case_graph(case["op"], case["inputs"], case["attrs"])
            feeds = {}
            for i, (desc, shape, data) in enumerate(zip(case["inputs"], case["shapes"], case["data"])):
                if desc is not None:
                    feeds[f"in{i}"] = wi.Tensor(base64.b64decode(data), dtype=desc[0], shape=shape)
            sess = wi.compile(graph, backend=backend, **options)
            try:
                out = sess.run(feeds)
            finally:
                sess.close()
            res["ran_on"] = sorted({t.backend for t in out.values() if t.backend})  # hybrid: the island's backend
            for k in range(len(graph.outputs)):
                t = out[f"out{k}"]
                res["outputs"].append([t.dtype, list(t.shape), base64.b64encode(t.tobytes()).decode()])
        except UnsupportedError as e:  # the backend says up front it cannot run this node: not a failure
            res["unsupported"] = e.reason
        except Exception as e:  # reported per case, with the exception type
            res["error"] = f"{type(e).__name__}: {e}"
        res["ms"] = (time.perf_counter() - t0) * 1e3
        results.append(res)
    return results


def run_cases_json(payload: str, backend: str, device: str | None = None,
                   options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``run_cases`` with its payload as JSON text (what the host sends the page)."""
    return run_cases(json.loads(payload), backend, device, options)


# ---- host side: inputs, reference, comparison ----------------------------------------------------------
@dataclass
class CaseResult:
    """One case's outcome."""

    id: str
    op: str
    status: str  # pass | fail | error | xfail | xpass | unsupported
    max_ulp: float = 0.0
    max_abs: float = 0.0
    tolerance: str = ""
    message: str = ""
    ms: float = 0.0
    deviations: list[str] = field(default_factory=list)  # the known deviations that excused elements


@dataclass
class OpReport:
    """All cases of one op."""

    op: str
    cases: int = 0
    passed: int = 0
    failed: int = 0
    xfail: int = 0
    unsupported: int = 0
    max_ulp: float = 0.0
    max_abs: float = 0.0
    tolerance: str = ""
    results: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass
class Report:
    """A conformance run: the backend, where it ran, and every op's report."""

    backend: str
    device: str
    ops: list[OpReport]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.ops)

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "device": self.device,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "summary": {"ops": len(self.ops), "ops_passed": sum(r.ok for r in self.ops),
                        "cases": sum(r.cases for r in self.ops), "cases_failed": sum(r.failed for r in self.ops),
                        "cases_known_deviations": sum(r.xfail for r in self.ops),
                        "cases_unsupported": sum(r.unsupported for r in self.ops)},
            "ops": [{**{k: v for k, v in asdict(r).items() if k != "results"}, "ok": r.ok,
                     "results": [asdict(c) for c in r.results]} for r in self.ops],
        }


def select_cases(ops: Iterable[str] | None = None) -> list[Any]:
    """The registry's runnable (valid, bindable) cases, for ``ops`` (all ops when None)."""
    from webinfer.errors import GraphError
    from webinfer.ir.opcases import CASES
    from webinfer.ir.registry import all_ops

    known = [s.name for s in all_ops()]
    wanted = list(ops) if ops else known
    unknown = [o for o in wanted if o not in known]
    if unknown:
        raise GraphError(f"conformance: unknown op {unknown[0]!r}; ops are {', '.join(known)}")
    return [c for c in CASES if c.op in wanted and c.runnable]


def _attrs_json(attrs: Any) -> Any:
    if isinstance(attrs, dict):
        return {k: _attrs_json(v) for k, v in attrs.items()}
    if isinstance(attrs, (list, tuple)):
        return [_attrs_json(v) for v in attrs]
    if isinstance(attrs, float) and math.isinf(attrs):
        return "inf" if attrs > 0 else "-inf"
    return attrs


def prepare(cases: Sequence[Any], seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Payload for the runner (inputs as bytes) and, per case id, (graph, reference outputs)."""
    from webinfer.backends.reference import evaluate
    from webinfer.ir.opcases import make_inputs
    from webinfer.tensor import Tensor

    payload: list[dict[str, Any]] = []
    expected: dict[str, tuple[Any, Any, Any]] = {}  # case id -> (graph or None, reference or error, input arrays)
    for n, case in enumerate(cases):
        cid = f"{n:03d} {case.id}"
        arrays = make_inputs(case, seed=seed + zlib.crc32(case.id.encode()))  # same data whatever --ops selects
        descs = [None if d is None else [d.dtype, list(d.shape)] for d in case.inputs]
        shapes = [None if d is None else [int(x) for x in d.shape] for d in case.static_inputs()]
        attrs = _attrs_json(dict(case.attrs))
        item = {"id": cid, "op": case.op, "inputs": descs, "shapes": shapes, "attrs": attrs,
                "data": [None if a is None else base64.b64encode(_input_bytes(a, d.dtype)).decode()
                         for a, d in zip(arrays, case.inputs)]}
        try:
            graph = case_graph(case.op, descs, attrs)
            if case.bind:
                graph = graph.specialize(dict(case.bind))
            feeds = {f"in{i}": Tensor(a, dtype=d.dtype) for i, (a, d) in enumerate(zip(arrays, case.inputs))
                     if a is not None and d is not None}
            ref = evaluate(graph, feeds)
        except Exception as e:
            expected[cid] = (None, f"{type(e).__name__}: {e}", arrays)
        else:
            expected[cid] = (graph, ref, arrays)
        payload.append(item)
    return payload, expected


def compare_case(
    cid: str, op: str, graph: Any, reference: dict[str, Any], got: dict[str, Any], backend: str,
    inputs: Sequence[Any] | None = None, deviations: Sequence[Deviation] | None = None,
) -> CaseResult:
    """Compare one case's outputs with the reference at the op's tolerance; known deviations excuse only the
    elements they select (``inputs``: the case's input arrays, which the selectors read)."""
    import numpy as np

    from webinfer.ir.tolerance import compare, node_tolerance

    from .deviations import SUBNORMAL_FLUSH, CaseData, flushed_subnormals, for_case

    node = graph.nodes[0]
    tol = node_tolerance(graph, node)
    res = CaseResult(cid, op, "pass", tolerance=str(tol), ms=float(got.get("ms", 0.0)))
    if got.get("unsupported"):
        res.status, res.message = "unsupported", got["unsupported"]
        return res
    devs = for_case(backend, got.get("ran_on") or [], graph, deviations)
    if got.get("error"):
        refusal = next((d for d in devs if d.error and d.error in got["error"]), None)
        if refusal is None:
            res.status, res.message = "error", got["error"]
        else:
            res.status, res.message = "xfail", f"known deviation: {refusal.reason} ({refusal.elements}: {got['error']})"
            res.deviations = [refusal.label]
        return res
    excused: dict[int, list[int]] = {}  # deviation index -> [elements it excused, elements it selects]
    flushed = 0
    for k, (dtype, shape, data) in enumerate(got["outputs"]):
        want = graph.operands[graph.outputs[f"out{k}"]]
        if dtype != want.dtype or tuple(shape) != tuple(want.shape):
            res.status, res.message = "fail", f"out{k}: got {dtype}{shape}, expected {want}"
            return res
        actual = np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        expected = np.asarray(reference[f"out{k}"])
        first = compare(actual, expected, tol, dtype, where=f"out{k}")
        forgiven = np.zeros(actual.shape, bool)
        for i, d in enumerate(devs):
            if d.select is None:
                continue
            marks = np.asarray(d.select(CaseData(graph, list(inputs or []), expected, k)), bool)
            if marks.any():
                hit = int((first.mask & marks).sum())
                count = excused.setdefault(i, [0, 0])
                count[0] += hit
                count[1] += int(marks.sum())
                forgiven |= marks
        flush = flushed_subnormals(actual, expected, dtype) & first.mask & ~forgiven
        flushed += int(flush.sum())
        judged = actual.copy()
        spared = forgiven | flush
        if spared.any():  # excused elements take the reference's value, so only the others are judged
            with np.errstate(all="ignore"):
                judged[spared] = expected[spared].astype(judged.dtype)
        c = compare(judged, expected, tol, dtype, where=f"out{k}")
        res.max_ulp, res.max_abs = max(res.max_ulp, c.max_ulp), max(res.max_abs, c.max_abs)
        if not c.ok and res.status == "pass":
            res.status, res.message = "fail", c.message
    used = {i: n for i, n in excused.items() if n[0]}
    idle = [devs[i] for i, n in excused.items() if not n[0]]
    res.deviations = [devs[i].label for i in used]
    if res.status == "fail":
        if used or flushed:
            res.message += " (besides the elements known deviations excuse)"
        return res
    if idle:
        d = idle[0]
        res.status = "xpass"
        res.message = f"listed as a known deviation ({d.label}: {d.reason}) but those elements passed"
    elif used or flushed:
        parts = [f"{devs[i].reason} ({n[0]} of {n[1]} selected values out of tolerance: {devs[i].elements})"
                 for i, n in used.items()]
        if flushed:
            parts.append(f"{SUBNORMAL_FLUSH} ({flushed} value{'s' if flushed > 1 else ''})")
        res.status, res.message = "xfail", "known deviation: " + "; ".join(parts)
    return res


def flushed_subnormals_only(actual: Any, expected: Any, dtype: str, tol: Any) -> bool:
    """Whether every element outside ``tol`` is a subnormal reference result returned as zero (SUBNORMAL_FLUSH)."""
    import numpy as np

    from webinfer.ir.tolerance import compare

    from .deviations import flushed_subnormals

    c = compare(np.asarray(actual), np.asarray(expected), tol, dtype)
    if c.ok or c.mask is None:
        return False
    return bool(np.all(flushed_subnormals(actual, expected, dtype)[c.mask]))


def run_conformance(
    backend: str,
    ops: Iterable[str] | None = None,
    *,
    runner: Runner | None = None,
    device: str | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    options: dict[str, Any] | None = None,
    deviations: Sequence[Deviation] | None = None,
) -> Report:
    """Run the cases of ``ops`` on ``backend``; a browser backend needs ``runner`` (a page's ``run``).

    ``options`` go to ``compile`` with every case (e.g. ``{"tiling": "workgroup"}`` for webgpu);
    ``deviations`` replaces the known-deviation list (tests).
    """
    if backend not in BACKENDS:
        raise ValueError(f"conformance: unknown backend {backend!r}; choose one of {', '.join(names())}")
    t0 = time.perf_counter()
    cases = select_cases(ops)
    payload, expected = prepare(cases, seed)
    got: dict[str, dict[str, Any]] = {}
    where = "host (numpy)"
    if BACKENDS[backend].browser_only:
        if runner is None:
            raise ValueError(f"conformance: backend {backend!r} runs in the browser; give a page runner")
        for start in range(0, len(payload), CHUNK):
            chunk = payload[start:start + CHUNK]
            if progress:
                progress(f"cases {start + 1}-{start + len(chunk)} of {len(payload)}")
            src = (f"from webinfer.tools.conformance import run_cases_json\n"
                   f"run_cases_json({json.dumps(chunk)!r}, {backend!r}, {device!r}, {options!r})")
            for r in runner(src):
                got[r["id"]] = r
        from .devices import page_device

        where = page_device(runner, backend)
    else:
        for r in run_cases(payload, backend, device, options):
            got[r["id"]] = r
    from .deviations import DEVIATIONS

    table = DEVIATIONS if deviations is None else list(deviations)
    reports: dict[str, OpReport] = {}
    seen: set[tuple[str, str]] = set()  # (deviation, op) that excused something
    for case, item in zip(cases, payload):
        rep = reports.setdefault(case.op, OpReport(case.op))
        graph, ref, arrays = expected[item["id"]]
        if graph is None:
            res = CaseResult(item["id"], case.op, "error", message=f"reference failed: {ref}")
        else:
            res = compare_case(item["id"], case.op, graph, ref, got.get(item["id"], {"error": "no result"}), backend,
                               arrays, table)
        seen.update((label, case.op) for label in res.deviations)
        _count(rep, res)
    for d in table:  # strict: a deviation listed for this backend and an op that ran must show up somewhere
        for op in d.ops:
            if d.backend == backend and op in reports and (d.label, op) not in seen:
                _count(reports[op], CaseResult(f"--- {d.elements}", op, "xpass", message=(
                    f"listed as a known deviation of {backend} ({d.elements}: {d.reason}) but no case of {op} "
                    "needed it")))
    order = [s for s in dict.fromkeys(c.op for c in cases)]
    return Report(backend, where, [reports[o] for o in order], time.perf_counter() - t0)


def _count(rep: OpReport, res: CaseResult) -> None:
    rep.results.append(res)
    rep.cases += 1
    rep.passed += res.status == "pass"
    rep.xfail += res.status == "xfail"
    rep.unsupported += res.status == "unsupported"
    rep.failed += res.status in ("fail", "error", "xpass")
    rep.max_ulp = max(rep.max_ulp, res.max_ulp)
    rep.max_abs = max(rep.max_abs, res.max_abs)
    if res.tolerance and (not rep.tolerance or len(res.tolerance) > len(rep.tolerance)):
        rep.tolerance = res.tolerance


def format_report(report: Report, verbose: bool = False) -> str:
    """A table: op, cases passed, max ULP, max abs error, tolerance, PASS/FAIL (and what failed)."""
    lines = [f"conformance: backend {report.backend} on {report.device}", ""]
    head = f"{'op':<22} {'cases':>7} {'max ULP':>10} {'max abs':>10}  {'tolerance':<26} result"
    lines += [head, "-" * len(head)]
    for r in report.ops:
        status = "PASS" if r.ok else "FAIL"
        if r.xfail:
            status += f" ({r.xfail} known deviation{'s' if r.xfail > 1 else ''})"
        if r.unsupported:
            status += f" ({r.unsupported} unsupported)"
        ulp = "inf" if math.isinf(r.max_ulp) else f"{r.max_ulp:g}"
        lines.append(f"{r.op:<22} {r.passed:>3}/{r.cases:<3} {ulp:>10} {r.max_abs:>10.3g}  "
                     f"{r.tolerance[:26]:<26} {status}")
        for c in r.results:
            if c.status != "pass" and (verbose or c.status in ("fail", "error", "xpass", "unsupported")):
                lines.append(f"    {c.status}: {c.id}: {c.message}")
    total = sum(r.cases for r in report.ops)
    failed = sum(r.failed for r in report.ops)
    unsupported = sum(r.unsupported for r in report.ops)
    lines += ["", f"{sum(r.ok for r in report.ops)}/{len(report.ops)} ops pass; {total - failed}/{total} cases "
                  f"({unsupported} of them unsupported by the backend, with the reason) ({report.seconds:.1f} s)"]
    return "\n".join(lines)


# ---- the command ----------------------------------------------------------------------------------------
def _command(args: argparse.Namespace) -> int:
    ops = comma_list(args.ops)

    def progress(msg: str) -> None:
        if not args.json:
            print(f"[conformance] {msg}", file=sys.stderr, flush=True)

    def go(runner: Runner | None) -> Any:
        if args.onnx:
            from .onnx_nodetests import run_report

            return run_report(ops, args.backend, runner=runner, progress=progress,
                              options={"device": args.device} if args.device else None)
        return run_conformance(args.backend, ops, runner=runner, device=args.device, seed=args.seed, progress=progress)

    try:
        if BACKENDS[args.backend].browser_only:
            from webinfer.tools.harness import Browser

            with Browser(browser_path=args.browser, profile=args.profile) as browser:
                page = browser.open_page()
                report = go(lambda src: page.run(src, timeout=args.timeout).raise_for_error())
        else:
            report = go(None)
    except Exception as e:
        print(f"webinfer conformance: {type(e).__name__}: {e}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    elif args.onnx:
        from .onnx_nodetests import format_report as format_onnx

        print(format_onnx(report, args.verbose))
    else:
        print(format_report(report, args.verbose))
    return 0 if report.ok else 1


def register(subparsers: Subparsers) -> None:
    """``webinfer conformance``: every op vs the float64 reference at the registry's tolerances."""
    p = subparsers.add_parser("conformance", help="check every op on a backend against the float64 reference "
                              "(--onnx: ONNX's node tests through the importer)")
    p.add_argument("--backend", choices=names(), default="webgpu")
    p.add_argument("--device", help="device option passed to compile (e.g. WebNN's cpu/gpu/npu)")
    p.add_argument("--ops", help="comma-separated op names (default: all); with --onnx, ONNX op types")
    p.add_argument("--onnx", action="store_true",
                   help="run ONNX's node tests (onnx.backend.test.case.node) of every op the ONNX importer converts "
                        "instead, compared as ONNX's runner does; counts per op")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", action="store_true", help="list every case that did not pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="per page call")
    add_browser_options(p)
    p.set_defaults(handler=_command)


def _input_bytes(array: Any, dtype: str) -> bytes:
    """An input's bytes as the page's Tensor reads them: numpy's, or packed two per byte for int4/uint4."""
    from webinfer.tensor import Tensor

    return Tensor(array, dtype=dtype).tobytes()
