"""``webinfer bench --compare``: webinfer and its peers in one page, timed in interleaved rounds.

The driver is model-agnostic. A :class:`ModelSpec` supplies the inputs, the host reference, the
cases and the pairs to compare; a :class:`Case` is (label, runner, parameters, output check): the
runner is the in-page code that sets the case up and runs it (``page.py``: ``webinfer``, a JS case
module, or any Python class). The driver then:

1. opens one Pyodide page and hands it the inputs once;
2. sets every case up (load, compile / create a session, a first run) and checks its output against
   the reference — a case whose output is wrong is reported and never timed, so it cannot win;
3. runs ``rounds`` rounds, each timing ``runs`` warm runs of every case (after ``warmup`` untimed ones),
   in an order that alternates (A B C, C B A, A B C, ...) so drift on a shared machine cancels;
4. checks every output again, closes the cases, and reports per case the median of each round, and per
   pair (peer, base) the ratio peer ÷ base of every round, with their median, min–max and quartiles.

Adding a model: write a ModelSpec (see ``encoder.py`` for the BERT encoders) — ``inputs()``,
``reference()``, ``cases()``, ``pairs()``, and ``check()`` if cosine / max abs diff is not the right test
(an LLM would compare token ids). A peer runtime that is JS (wllama, another ORT build) is a JS module
with ``setup/timed/outputs/close`` (see ``ort_case.mjs``) named by the case's runner ``js:<package>/<file>``
or ``js:/models/<path>``; one that is Python is ``python:<module>:<Class>``. The driver needs no change.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BenchError
from .machine import browser_info, loadavg, machine_info, wheel_info
from .stats import compare, interleave, round_ratios, spread

Log = Callable[[str], None]


@dataclass(frozen=True)
class Array:
    """One input or output: dtype name (``int64``, ``float32``, ...), shape and little-endian bytes."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    def to_json(self) -> dict[str, Any]:
        """``{dtype, shape, data: base64}``, as the page takes it."""
        return {"dtype": self.dtype, "shape": list(self.shape), "data": base64.b64encode(self.data).decode()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Array:
        """The inverse of :meth:`to_json`."""
        return cls(str(value["dtype"]), tuple(int(d) for d in value["shape"]), base64.b64decode(value["data"]))


@dataclass(frozen=True)
class Case:
    """One thing to time: ``label`` (unique), the page ``runner`` that makes and runs it, its ``params``
    (JSON), what really runs it (``runtime``, for people), and optional per-case ``runs``/``warmup``."""

    label: str
    runner: str
    params: Mapping[str, Any]
    runtime: str
    runs: int | None = None
    warmup: int | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)  # anything the report should carry (files, levels)


@dataclass(frozen=True)
class Pair:
    """Compare ``peer`` with ``base`` (ratio peer ÷ base per round: > 1 means base is faster); ``what`` says
    what the ratio isolates (the graph, the runtime, the converter)."""

    peer: str
    base: str
    what: str


class ModelSpec:
    """What the driver needs from a model. Subclasses fill ``name`` and ``root`` and the methods below."""

    name: str = ""
    #: Directory the local server serves at ``/models/`` (the files the cases fetch).
    root: Path = Path()
    #: Output tolerance for the default :meth:`check`: lowest per-row cosine, highest max abs difference.
    min_cosine: float = 0.9999
    max_abs_diff: float = 1e-4

    def describe(self) -> dict[str, Any]:
        """JSON facts about the model and shape for the report."""
        return {"name": self.name}

    def inputs(self) -> dict[str, Array]:
        """The inputs every case gets."""
        raise NotImplementedError

    def reference(self) -> dict[str, Any]:
        """The host reference's outputs by name (arrays of float64, or anything :meth:`check` understands)."""
        raise NotImplementedError

    def cases(self) -> list[Case]:
        """Every case this model can run (the CLI's ``--cases`` picks some)."""
        raise NotImplementedError

    def prepare(self, cases: list[Case]) -> None:
        """Write the files the selected ``cases`` need under :attr:`root` (before the page opens)."""

    def pairs(self) -> list[Pair]:
        """The comparisons to report; those whose cases are not both timed are left out."""
        return []

    def check(self, case: Case, outputs: Mapping[str, Array]) -> dict[str, Any]:
        """How close ``outputs`` are to the reference: per output max abs diff and min row cosine; ``ok``."""
        reference = self.reference()
        result: dict[str, Any] = {"ok": True, "outputs": {}}
        for name, ref in reference.items():
            got = outputs.get(name)
            if got is None:
                result["ok"] = False
                result["outputs"][name] = {"missing": True}
                continue
            if got.dtype != "float32":
                result["ok"] = False
                result["outputs"][name] = {"dtype": got.dtype, "error": "expected float32"}
                continue
            rows = got.shape[0] if got.shape else 1
            acc = compare(got.data, ref, rows)
            acc["ok"] = bool(acc["finite"] and acc["min_cosine"] >= self.min_cosine
                             and acc["max_abs_diff"] <= self.max_abs_diff)
            result["outputs"][name] = acc
            result["ok"] = result["ok"] and acc["ok"]
        result["max_abs_diff"] = max((o.get("max_abs_diff", math.inf) for o in result["outputs"].values()),
                                     default=math.inf)
        result["min_cosine"] = min((o.get("min_cosine", -math.inf) for o in result["outputs"].values()),
                                   default=-math.inf)
        result["tolerance"] = {"min_cosine": self.min_cosine, "max_abs_diff": self.max_abs_diff}
        return result

    def finish_case(self, case: Case, report: dict[str, Any]) -> None:
        """Add model-specific facts to a case's report after setup (e.g. parsed placement logs)."""

    def summarize(self, result: dict[str, Any]) -> None:
        """Add model-specific summaries to the finished comparison (e.g. an LLM's tokens/s from the run records)."""


@dataclass
class CompareOptions:
    """How to time: rounds, runs per round, warm-up per round, which cases, and the browser."""

    rounds: int = 10
    runs: int = 5
    warmup: int = 1
    cases: list[str] | None = None  # labels; None: all of the spec's cases
    pairs: list[Pair] = field(default_factory=list)  # extra pairs beyond the spec's
    timeout: float = 1800.0  # seconds for any one page call (a setup, one case's turn in a round)
    browser: str | None = None
    profile: str = "swiftshader"


def select_cases(spec: ModelSpec, wanted: Sequence[str] | None) -> list[Case]:
    """The spec's cases named in ``wanted`` (in that order), or all; an unknown label is a BenchError."""
    cases = spec.cases()
    if not wanted:
        return cases
    by_label = {c.label: c for c in cases}
    unknown = [w for w in wanted if w not in by_label]
    if unknown:
        raise BenchError(f"bench: unknown case {unknown[0]!r} for {spec.name}; cases: {', '.join(by_label)}")
    return [by_label[w] for w in wanted]


class PageDriver:
    """The host's handle on the bench page: each method is one short call to ``webinfer.tools.bench.page``."""

    def __init__(self, page: Any, timeout: float) -> None:
        self.page = page
        self.timeout = timeout

    def call(self, expression: str) -> Any:
        """Evaluate ``expression`` (which may await) with the page module as ``_wb``; its JSON answer, decoded."""
        source = f"import webinfer.tools.bench.page as _wb\n{expression}"
        value = self.page.run(source, filename="<bench>", timeout=self.timeout).raise_for_error()
        return json.loads(value) if isinstance(value, str) else value

    def set_inputs(self, inputs: Mapping[str, Array]) -> None:
        """Hand the inputs to the page once."""
        self.call(f"_wb.set_inputs({json.dumps({k: a.to_json() for k, a in inputs.items()})!r})")

    def setup(self, case: Case) -> dict[str, Any]:
        """Set ``case`` up in the page (and run it once)."""
        result: dict[str, Any] = self.call(
            f"await _wb.setup({case.label!r}, {case.runner!r}, {json.dumps(dict(case.params))!r})")
        return result

    def timed(self, label: str, runs: int, warmup: int) -> list[dict[str, Any]]:
        """``runs`` timed runs of ``label`` after ``warmup`` untimed ones."""
        result: list[dict[str, Any]] = self.call(f"await _wb.timed({label!r}, {runs}, {warmup})")
        return result

    def outputs(self, label: str) -> dict[str, Array]:
        """The last run's outputs of ``label``."""
        return {k: Array.from_json(v) for k, v in self.call(f"await _wb.outputs({label!r})").items()}

    def extra(self, label: str, method: str, **kwargs: Any) -> Any:
        """A runner's extra method (``profile``, ``info``)."""
        return self.call(f"await _wb.call({label!r}, {method!r}, {json.dumps(kwargs)!r})")

    def close(self, label: str) -> None:
        """Close ``label`` in the page."""
        self.call(f"await _wb.close({label!r})")


def _round_value(records: Sequence[Mapping[str, Any]]) -> float:
    """A case's value in one round: the median of its timed runs."""
    return statistics.median(float(r["ms"]) for r in records)


def run_compare(spec: ModelSpec, options: CompareOptions, browser: Any = None, log: Log | None = None,
                ) -> dict[str, Any]:
    """Set every case up in one page, time them in interleaved rounds, check them; the comparison JSON.

    ``browser`` (a started harness Browser whose server has ``spec.root`` at /models/) is reused when given.
    """
    say = log or (lambda _msg: None)
    cases = select_cases(spec, options.cases)
    order = interleave([c.label for c in cases], options.rounds)
    load_start = loadavg()
    spec.prepare(cases)
    inputs = spec.inputs()
    spec.reference()  # computed before the page opens: the host's numpy does not run beside the rounds
    own = browser is None
    if own:
        from ..harness import Browser
        from ..project import Roots

        browser = Browser(browser_path=options.browser, profile=options.profile,
                          roots=Roots.discover(models=spec.root)).start()
    reports: dict[str, dict[str, Any]] = {}
    try:
        t0 = time.perf_counter()
        page = browser.open_page(timeout=min(options.timeout, 300.0))
        page_load_ms = (time.perf_counter() - t0) * 1e3
        driver = PageDriver(page, options.timeout)
        try:
            driver.set_inputs(inputs)
            for case in cases:
                reports[case.label] = _set_up(spec, driver, case, say)
            live = {c.label: c for c in cases if reports[c.label].get("timed")}
            _rounds(driver, live, order, options, reports, say)
            for case in live.values():
                final = spec.check(case, driver.outputs(case.label))
                reports[case.label]["accuracy_after"] = final
                if not final["ok"]:
                    reports[case.label]["error"] = "the output after the rounds differs from the reference"
            _close(driver, cases, reports)
        finally:
            page.close()
        head_browser = browser_info(browser, options.profile)
    finally:
        if own:
            browser.close()
    result = build_result(spec, options, cases, order, reports, inputs, page_load_ms, head_browser, load_start)
    spec.summarize(result)
    return result


def _rounds(driver: PageDriver, live: dict[str, Case], order: list[list[str]], options: CompareOptions,
            reports: dict[str, dict[str, Any]], say: Log) -> None:
    """Time the ``live`` cases round by round in ``order``; a case that fails in the page leaves the rounds."""
    from ..harness import PageError

    for r, labels in enumerate(order):
        done = []
        for label in labels:
            case = live.get(label)
            if case is None:
                continue
            warmup = options.warmup if case.warmup is None else case.warmup
            try:
                records = driver.timed(label, case.runs or options.runs, warmup)
            except PageError as e:
                reports[label].update(error=f"failed in round {r + 1}: {_last_line(e)}", traceback=e.traceback)
                del live[label]
                say(f"{label}: {reports[label]['error']}")
                continue
            reports[label]["rounds"].append({"round": r, "warmup": warmup, "runs": records})
            done.append(f"{label} {_round_value(records):,.1f}")
        say(f"round {r + 1}/{len(order)}: {', '.join(done)} (ms, median of the round)")


def _close(driver: PageDriver, cases: Sequence[Case], reports: dict[str, dict[str, Any]]) -> None:
    from ..harness import PageError

    for case in cases:
        try:
            driver.close(case.label)
        except PageError as e:
            reports[case.label].setdefault("close_error", _last_line(e))


def _set_up(spec: ModelSpec, driver: PageDriver, case: Case, say: Log) -> dict[str, Any]:
    """Set one case up and check its first output; the case's report (``timed`` says whether to time it)."""
    from ..harness import PageError

    report: dict[str, Any] = {"runner": case.runner, "runtime": case.runtime, "params": _public(case.params),
                              "facts": dict(case.facts), "rounds": [], "timed": False}
    say(f"setting up {case.label}: {case.runtime}")
    try:
        report["setup"] = driver.setup(case)
        spec.finish_case(case, report)
        report["accuracy"] = spec.check(case, driver.outputs(case.label))
    except PageError as e:
        report["error"] = f"set-up failed in the page: {_last_line(e)}"
        report["traceback"] = e.traceback
        say(f"{case.label}: {report['error']}")
        return report
    if not report["accuracy"]["ok"]:
        report["error"] = "wrong output: differs from the reference beyond tolerance; not timed"
        say(f"{case.label}: {report['error']} ({_acc_text(report['accuracy'])})")
        return report
    report["timed"] = True
    setup_t = report["setup"].get("timings_ms", {})
    say(f"{case.label}: ready (first run {setup_t.get('first_run', 0):,.1f} ms; {_acc_text(report['accuracy'])})"
        + (f"; placement: {report['placement']['summary']}" if report.get("placement") else ""))
    return report


def _last_line(e: Any) -> str:
    text = (getattr(e, "traceback", "") or str(e)).strip()
    return text.splitlines()[-1] if text else type(e).__name__


def _acc_text(acc: Mapping[str, Any]) -> str:
    return f"max |Δ| {acc.get('max_abs_diff', math.nan):.1e}, min cosine {acc.get('min_cosine', math.nan):.7f}"


def _public(params: Mapping[str, Any]) -> dict[str, Any]:
    """Case parameters for the report, without bulky values."""
    return {k: v for k, v in params.items() if k not in ("logMarkers",)}


def build_result(spec: ModelSpec, options: CompareOptions, cases: Sequence[Case], order: list[list[str]],
                 reports: dict[str, dict[str, Any]], inputs: Mapping[str, Array], page_load_ms: float,
                 browser: Mapping[str, Any] | None, load_start: tuple[float, ...]) -> dict[str, Any]:
    """The comparison JSON from the per-case reports (every raw run time included)."""
    medians: dict[str, list[float | None]] = {}
    for case in cases:
        rep = reports[case.label]
        by_round: dict[int, float] = {rd["round"]: _round_value(rd["runs"]) for rd in rep["rounds"]}
        medians[case.label] = [by_round.get(r) for r in range(len(order))]
        all_runs = [float(x["ms"]) for rd in rep["rounds"] for x in rd["runs"]]
        rep["round_medians_ms"] = [None if v is None else round(v, 3) for v in medians[case.label]]
        rep["summary_ms"] = _rounded(spread([v for v in medians[case.label] if v is not None])) if all_runs else None
        rep["all_runs_ms"] = _rounded(spread(all_runs)) if all_runs else None
        rep["ok"] = bool(rep.get("timed") and "error" not in rep)
    ratios = []
    for pair in [*spec.pairs(), *options.pairs]:
        peer, base = _series(pair.peer, medians, reports), _series(pair.base, medians, reports)
        if peer is None or base is None:
            continue
        (peer_rounds, peer_why, peer_who), (base_rounds, base_why, base_who) = peer, base
        per_round = round_ratios(peer_rounds, base_rounds) if not (peer_why or base_why) else []
        values = [v for v in per_round if v is not None]
        entry: dict[str, Any] = {"peer": pair.peer, "base": pair.base, "what": pair.what,
                                 "per_round": [None if v is None else round(v, 4) for v in per_round]}
        if pair.peer.startswith(BEST) or pair.base.startswith(BEST):
            entry["fastest"] = {"peer": peer_who, "base": base_who}
        if values:
            entry.update(_rounded(spread(values), 4))
        else:
            entry["missing"] = "; ".join(w for w in (peer_why, base_why) if w) or "no rounds"
        ratios.append(entry)
    return {
        "tool": "webinfer bench --compare",
        "format_version": 1,
        "model": spec.describe(),
        "inputs": {k: {"dtype": a.dtype, "shape": list(a.shape)} for k, a in inputs.items()},
        "method": {
            "rounds": options.rounds, "runs_per_round": options.runs, "warmup_per_round": options.warmup,
            "order": order,
            "round_value": "median of the round's timed runs",
            "ratio": "peer ÷ base of the same round's values (> 1: base is faster)",
            "timing": "in the page: time.perf_counter around sess.run (webinfer), performance.now around "
                      "session.run + reading the outputs (JS cases); the host's round trips never count",
        },
        "cases": {c.label: reports[c.label] for c in cases},
        "ratios": ratios,
        "page_load_ms": round(page_load_ms, 1),
        "browser": browser,
        "webinfer_wheel": wheel_info(),
        "machine": machine_info(load_start),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


#: A pair side ``best:<glob>`` stands for the fastest timed case whose label matches ``<glob>``, round by round.
BEST = "best:"


def _series(side: str, medians: Mapping[str, list[float | None]], reports: Mapping[str, Mapping[str, Any]],
            ) -> tuple[list[float | None], str, list[str | None]] | None:
    """Per-round values of a pair side (a case label, or ``best:<glob>``), why it has none, and which case gave
    each round's value; None when no case of this comparison matches it."""
    import fnmatch

    if not side.startswith(BEST):
        if side not in medians:
            return None
        why = "" if reports[side]["ok"] else f"{side}: {reports[side].get('error', 'not timed')}"
        return medians[side], why, [side] * len(medians[side])
    labels = [k for k in medians if fnmatch.fnmatchcase(k, side[len(BEST):])]
    if not labels:
        return None
    ok = [k for k in labels if reports[k]["ok"]]
    if not ok:
        return [], f"{side}: no case of {', '.join(labels)} was timed", []
    rounds = len(medians[ok[0]])
    values: list[float | None] = []
    who: list[str | None] = []
    for r in range(rounds):
        timed = [(medians[k][r], k) for k in ok if medians[k][r] is not None]
        best = min(timed) if timed else (None, None)
        values.append(best[0])
        who.append(best[1])
    return values, "", who


def _rounded(stats: Mapping[str, float], digits: int = 3) -> dict[str, Any]:
    return {k: (v if k == "n" else round(v, digits)) for k, v in stats.items()}


__all__ = ["Array", "Case", "CompareOptions", "ModelSpec", "PageDriver", "Pair", "build_result", "run_compare",
           "select_cases"]
