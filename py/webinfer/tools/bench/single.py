"""``webinfer bench`` (one backend): time a model on one backend in headless Chromium (or on the host), check
it against the reference.

    webinfer bench --model minilm --backend webgpu --batch 1 --seq 128 --runs 10 [--json]
    webinfer bench --model tiny --backend webnn --batch 2 --seq 16 --runs 3
    webinfer bench --model minilm --backend reference --batch 8 --seq 128 --runs 5

The model is converted once (``models.py``), served by the local server at ``/models/<model>/``, and run
in ONE Pyodide page through the bench page module (``page.py``, the same ``WebinferRunner`` that
``--compare`` uses). Measured, in milliseconds:

- ``page_load``: opening the page until ``import webinfer`` is done (Pyodide boot, micropip, install);
- ``weights_fetch`` (``fetch`` of the graph JSON and safetensors) and ``weights_load`` (parsing and
  validating them into a Graph);
- ``compile``: ``webinfer.compile(graph, backend, bindings={batch, seq})`` — plans, pipelines, MLGraph;
- ``first_run``, then ``warmup`` runs untimed, then ``runs`` timed runs: ``warm_median``, ``warm_p90``;
- ``python_overhead``: per warm run, the part of ``sess.run`` that is Python rather than the browser's
  work — the session's own figure when it reports one (WebGPU: ``stats["last_run"]["python_ms"]``), else
  the run's wall time minus the time Python spent blocked on JS promises (``ffi.blocked_seconds``);
- ``tokenize``: the pure-Python WordPiece tokenizer on ``batch`` texts padded to ``seq`` (not part of a run).

The same inputs go through the host's reference backend (numpy, float64), and the page's output is
compared with it: max abs difference and the lowest per-row cosine similarity. ``--backend reference``
times that host backend itself.
"""

from __future__ import annotations

import base64
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import backends
from .compare import Array, Case, PageDriver
from .encoder import DEVICES, compile_options
from .errors import BenchError
from .image import IMAGE_MODELS
from .inputs import input_bytes, sample_texts, token_lengths
from .machine import browser_info, loadavg, machine_info, wheel_info
from .models import MODELS, OUTPUT, prepare_model, reference_outputs
from .stats import compare, summarize

BACKENDS = tuple(backends.names())


@dataclass
class BenchSpec:
    """One benchmark cell: a model on a backend at one input shape."""

    model: str = "minilm"
    backend: str = "webgpu"
    batch: int = 1
    seq: int = 128
    runs: int = 10
    warmup: int = 1
    device: str | None = None
    profile: str = "swiftshader"
    browser: str | None = None
    place: dict[str, str] = field(default_factory=dict)
    timeout: float = 1800.0
    cache: Path | None = None
    kernels: bool = False

    def check(self) -> None:
        """Raise BenchError for values no backend can run."""
        if self.model not in MODELS + IMAGE_MODELS:
            raise BenchError(f"bench: unknown model {self.model!r}; choose one of {', '.join(MODELS + IMAGE_MODELS)}")
        if self.backend not in BACKENDS:
            raise BenchError(f"bench: unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        for name in ("batch", "seq", "runs"):
            if getattr(self, name) < 1:
                raise BenchError(f"bench: --{name} must be at least 1, got {getattr(self, name)}")
        if self.seq < 2 and not self.is_image:
            raise BenchError(f"bench: --seq must be at least 2 ([CLS] and [SEP]), got {self.seq}")
        if self.warmup < 0:
            raise BenchError(f"bench: --warmup must be 0 or more, got {self.warmup}")
        if self.device is not None and self.device not in DEVICES:
            raise BenchError(f"bench: --device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.backend == "webgpu" and self.device not in (None, "gpu"):
            raise BenchError(
                f"bench: webgpu runs on the browser's GPU adapter; --device {self.device} is for webnn and hybrid"
            )
        if self.backend == "reference" and self.device not in (None, "cpu"):
            raise BenchError(
                f"bench: the reference backend runs on the host CPU; --device {self.device} does not apply"
            )
        if self.place and self.backend != "hybrid":
            raise BenchError("bench: --place is for --backend hybrid")
        if self.kernels and self.backend != "webgpu":
            raise BenchError("bench: --kernels times WebGPU dispatches; it is for --backend webgpu")

    @property
    def is_image(self) -> bool:
        """An image classifier (EfficientNet-Lite0, the tiny conv net): no tokens, no seq."""
        return self.model in IMAGE_MODELS

    def compile_options(self) -> dict[str, Any]:
        """The ``webinfer.compile`` options for this cell (plans and graphs built for its shape at compile)."""
        opts = compile_options(self.backend, self.batch, self.seq, self.device, self.place)
        if self.is_image:
            opts["bindings"] = {"batch": self.batch}
        return opts

    def device_label(self) -> str:
        """The device this cell asks for, as the table shows it."""
        if self.backend == "reference":
            return "cpu (host)"
        if self.backend == "webgpu":
            return "gpu"
        if self.backend == "webnn":
            return self.device or "cpu"
        return self.device or "webgpu device"


def open_browser(spec: BenchSpec, root: Path) -> Any:
    """A started harness Browser whose server has ``root`` at /models/."""
    from ..harness import Browser
    from ..project import Roots

    return Browser(browser_path=spec.browser, profile=spec.profile, roots=Roots.discover(models=root)).start()


@dataclass
class Cell:
    """What one bench cell runs, whatever the model: the graph, its inputs, the output read, the reference."""

    graph_path: Path  # model.json on the host
    url: str  # its directory on the local server
    inputs: dict[str, Array]
    output: str
    reference: Any
    head: dict[str, Any]  # model facts for the result
    tokenizer: tuple[str, list[str], int] | None = None  # (URL, texts, max length) to time the tokenizer


def make_cell(spec: BenchSpec, log: Callable[[str], None] | None = None) -> tuple[Cell, Path]:
    """The cell for ``spec`` and the bench root to serve at /models/ (the model converted there once)."""
    if spec.is_image:
        from .image import OUTPUT as IMAGE_OUTPUT
        from .image import ImageSpec

        ims = ImageSpec(spec.model, spec.batch, spec.cache, log=log)
        desc = ims.describe()
        head = {"title": desc["title"], "model_layers": None, "model_hidden": None, "seq": None, "tokens": None,
                "image": desc["image"], "rows": desc["rows"]}
        return Cell(ims.prepared.build / "model.json", ims.prepared.url, ims.inputs(), IMAGE_OUTPUT,
                    ims.reference()[IMAGE_OUTPUT], head), ims.root
    model = prepare_model(spec.model, spec.cache, log)
    data = input_bytes(spec.batch, spec.seq, model.vocab_size)
    inputs = {k: Array("int64", (spec.batch, spec.seq), v) for k, v in data.items()}
    head = {"model_layers": model.layers, "model_hidden": model.hidden, "seq": spec.seq,
            "tokens": sum(token_lengths(spec.batch, spec.seq))}
    return Cell(model.build / "model.json", model.url, inputs, OUTPUT,
                reference_outputs(model, data, spec.batch, spec.seq), head,
                (model.url + "tokenizer.json", sample_texts(spec.batch, spec.seq), spec.seq)), model.root


def _result_head(spec: BenchSpec, cell: Cell) -> dict[str, Any]:
    return {
        "tool": "webinfer bench",
        "format_version": 1,
        "model": spec.model,
        "model_layers": cell.head["model_layers"],
        "model_hidden": cell.head["model_hidden"],
        "backend": spec.backend,
        "device": spec.device_label(),
        "profile": spec.profile if spec.backend != "reference" else None,
        "batch": spec.batch,
        "seq": cell.head["seq"],
        "tokens": cell.head["tokens"],
        "runs": spec.runs,
        "warmup": spec.warmup,
        "compile_options": spec.compile_options() if spec.backend != "reference" else {},
        **{k: v for k, v in cell.head.items() if k in ("title", "image", "rows")},
    }


def bench_in_browser(spec: BenchSpec, cell: Cell, browser: Any) -> dict[str, Any]:
    """Open one page in ``browser`` (serving the bench root at /models/), run the cell, return the raw result."""
    from ..harness import PageError

    t0 = time.perf_counter()
    page = browser.open_page(timeout=min(spec.timeout, 300.0))
    try:
        page_load_ms = (time.perf_counter() - t0) * 1e3
        driver = PageDriver(page, spec.timeout)
        driver.set_inputs(cell.inputs)
        raw: dict[str, Any] = {"timings_ms": {"page_load": page_load_ms, "tokenize": None},
                               "boot_s": dict(page.timings)}
        if cell.tokenizer is not None:
            url, texts, seq = cell.tokenizer
            try:
                raw["timings_ms"]["tokenize"] = driver.call(f"await _wb.time_tokenizer({url!r}, {texts!r}, {seq})")
            except PageError as e:  # a side figure: say why it is missing, time the model anyway
                raw["tokenize_error"] = e.traceback.strip().splitlines()[-1] if e.traceback else str(e)
        case = Case(label=spec.backend, runner="webinfer", runtime=f"webinfer on {spec.backend}",
                    params={"graph": cell.url + "model.json", "backend": spec.backend,
                            "options": spec.compile_options(), "outputs": [cell.output]})
        setup = driver.setup(case)
        raw["timings_ms"].update({k: v for k, v in setup["timings_ms"].items() if k != "shared"})
        raw["first"] = setup["first"]
        raw["weights_bytes"] = setup["weights_bytes"]
        raw["runs"] = driver.timed(case.label, spec.runs, spec.warmup)
        if spec.kernels:  # each dispatch of the plan alone, median of 3 (WebGPUSession.profile)
            raw["kernels"] = driver.extra(case.label, "profile", repeats=3)
        info = driver.extra(case.label, "info")
        raw["device"] = info.pop("device", None)
        raw["island_plans"] = info.pop("island_plans", None)
        raw["info"] = info
        out = driver.outputs(case.label)[cell.output]
        raw["output"] = base64.b64encode(out.data).decode()
        raw["output_shape"] = list(out.shape)
        driver.close(case.label)
    finally:
        page.close()
    return raw


def bench_on_host(spec: BenchSpec, cell: Cell) -> dict[str, Any]:
    """Time the reference backend (numpy, float64) on the host the same way the page times a backend."""
    from ... import compile as compile_graph
    from ... import load
    from ...backends.reference import evaluate
    from ...models.tokenizer import Tokenizer
    from ...tensor import Tensor

    times: dict[str, Any] = {"page_load": None, "tokenize": None}
    t0 = time.perf_counter()
    graph = load(str(cell.graph_path))
    times["weights_fetch"] = None
    times["weights_load"] = (time.perf_counter() - t0) * 1e3
    if cell.tokenizer is not None:
        _, texts, seq = cell.tokenizer
        tok = Tokenizer.from_file(cell.graph_path.with_name("tokenizer.json"))
        t0 = time.perf_counter()
        tok.encode_batch(texts, max_length=seq, truncation=True, padding="max_length")
        times["tokenize"] = (time.perf_counter() - t0) * 1e3
    feeds = {k: Tensor(a.data, dtype=a.dtype, shape=list(a.shape)) for k, a in cell.inputs.items()}
    t0 = time.perf_counter()
    sess = compile_graph(graph, "reference")
    times["compile"] = (time.perf_counter() - t0) * 1e3

    def once() -> tuple[Any, dict[str, float]]:
        t1 = time.perf_counter()
        out = sess.run(feeds)
        return out, {"ms": (time.perf_counter() - t1) * 1e3}

    out, first = once()
    for _ in range(spec.warmup):
        once()
    runs = []
    for _ in range(spec.runs):
        out, rec = once()
        runs.append(rec)
    info = sess.info()
    # the same graph with numpy computing in float32: what plain numpy on this host does (the oracle is float64)
    fixed = graph.specialize(spec.compile_options()["bindings"] if spec.is_image else
                             {"batch": spec.batch, "seq": spec.seq})
    float32 = []
    for _ in range(spec.runs):
        t1 = time.perf_counter()
        evaluate(fixed, feeds, float64=False)
        float32.append((time.perf_counter() - t1) * 1e3)
    times["first_run"] = first["ms"]
    return {
        "host_float32_ms": {k: round(v, 3) for k, v in summarize(float32).items()},
        "timings_ms": times,
        "first": first,
        "runs": runs,
        "weights_bytes": cell.graph_path.with_name("model.safetensors").stat().st_size,
        "device": info["device"],
        "info": {"backend": "reference", "nodes": info["nodes"]},
        "output": base64.b64encode(out[cell.output].tobytes()).decode(),
        "output_shape": list(out[cell.output].shape),
    }


def _median_of(runs: Sequence[Mapping[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def finish_result(spec: BenchSpec, raw: Mapping[str, Any], reference: Any, head: dict[str, Any]) -> dict[str, Any]:
    """The bench JSON (see :func:`run_bench`) from a page's (or the host's) raw result."""
    runs = list(raw["runs"])
    walls = [r["ms"] for r in runs]
    stats = summarize(walls)
    times = dict(raw["timings_ms"])
    times.update(first_run=raw["first"]["ms"], warm_median=stats["median"], warm_p90=stats["p90"],
                 warm_min=stats["min"], warm_mean=stats["mean"])
    result = dict(head)
    python = _median_of(runs, "python_ms")
    if python is not None:
        source = "session stats: last_run.python_ms (wall minus the JS executor's own time)"
    elif spec.backend == "reference":
        source = "not applicable (the whole run is Python + numpy)"
    else:
        python = statistics.median(r["ms"] - r["js_wait_ms"] for r in runs)
        source = ("run wall time minus time blocked on JS promises (ffi.blocked_seconds); synchronous JS calls "
                  "(writeTensor, dispatch, encode) count as overhead")
    times["python_overhead"] = python
    order = ("page_load", "weights_fetch", "weights_load", "tokenize", "compile", "first_run", "warm_median",
             "warm_p90", "warm_min", "warm_mean", "python_overhead")
    result["timings_ms"] = {k: (round(times[k], 3) if isinstance(times.get(k), float) else times.get(k))
                            for k in order}
    result["python_overhead_source"] = source
    result["runs_ms"] = [round(w, 3) for w in walls]
    parts = ("encode_ms", "gpu_ms", "readback_ms", "executor_ms", "js_wait_ms")
    breakdown: dict[str, Any] = {k: _median_of(runs, k) for k in parts}
    islands = [r["island_ms"] for r in runs if r.get("island_ms")]
    if islands:
        breakdown["island_ms"] = [statistics.median(col) for col in zip(*islands)]
    result["breakdown_ms"] = {k: v for k, v in breakdown.items() if v is not None}
    info = dict(raw.get("info") or {})
    plan = info.get("plan") or {}
    island_plans = [p for p in raw.get("island_plans") or [] if p]
    peak = plan.get("peak_bytes") if plan else (sum(p.get("peak_bytes", 0) for p in island_plans) or None)
    gpu = info.get("gpu") or {}
    result["memory"] = {
        "weights_bytes": raw.get("weights_bytes"),
        "peak_gpu_bytes": peak,
        "gpu_live_bytes": gpu.get("bytes") if isinstance(gpu, dict) else None,
    }
    result["accuracy"] = {
        "reference": "webinfer reference backend (numpy, float64) on the host, same inputs",
        **compare(base64.b64decode(raw["output"]), reference, spec.batch),
    }
    if spec.is_image:
        import numpy as np

        from .image import top_k

        got = top_k(np.frombuffer(base64.b64decode(raw["output"]), "<f4").reshape(spec.batch, -1))
        want = top_k(reference)
        result["accuracy"]["top5"] = {"rows": len(want), "same_order": sum(a == b for a, b in zip(got, want)),
                                      "got": got, "reference": want}
    result["device_info"] = raw.get("device")
    result["info"] = info
    for key in ("host_float32_ms", "tokenize_error", "boot_s"):
        if raw.get(key):
            result[key] = raw[key]
    if raw.get("kernels"):
        result["kernels"] = kernel_summary(raw["kernels"])
    return result


def kernel_kind(label: str) -> str:
    """A dispatch label without node numbers: ``matmul_3+add_5+gelu_0`` -> ``matmul+add+gelu``."""
    return "+".join(re.sub(r"_\d+$", "", part) for part in str(label).split("+"))


def kernel_summary(dispatches: Sequence[Mapping[str, Any]], top: int = 12) -> dict[str, Any]:
    """WebGPU dispatch times (each run alone) grouped by kernel kind, slowest first, and the slowest dispatches."""
    total = sum(float(d["ms"]) for d in dispatches) or 1.0
    kinds: dict[str, dict[str, Any]] = {}
    for d in dispatches:
        kind = str(d.get("kind") or kernel_kind(d["label"]))  # the planner's kind: kernel (variant) + fused ops
        k = kinds.setdefault(kind, {"kind": kind, "ms": 0.0, "count": 0})
        k["ms"] += float(d["ms"])
        k["count"] += 1
    by_kind = sorted(kinds.values(), key=lambda k: -k["ms"])
    for k in by_kind:
        k["ms"] = round(k["ms"], 3)
        k["share"] = round(k["ms"] / total, 4)
    slowest = sorted(dispatches, key=lambda d: -float(d["ms"]))[:top]
    return {
        "sum_ms": round(total, 3),
        "dispatches": len(dispatches),
        "by_kind": by_kind,
        "slowest": [{"label": d["label"], "ms": round(float(d["ms"]), 3), "grid": d.get("grid")} for d in slowest],
    }


def run_bench(spec: BenchSpec, browser: Any = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one bench cell; returns the bench JSON.

    Keys: model, backend, device, profile, batch, seq, tokens, runs, warmup, machine, browser;
    ``timings_ms`` {page_load, weights_fetch, weights_load, tokenize, compile, first_run, warm_median,
    warm_p90, warm_min, warm_mean, python_overhead}; ``runs_ms``; ``breakdown_ms``; ``memory``
    {weights_bytes, peak_gpu_bytes, gpu_live_bytes}; ``accuracy`` {max_abs_diff, min_cosine, finite,
    rows}. ``browser`` (a started harness Browser serving the bench root) is reused when given.
    """
    spec.check()
    load_start = loadavg()
    cell, root = make_cell(spec, log)
    head = _result_head(spec, cell)
    if spec.backend == "reference":
        raw = bench_on_host(spec, cell)
        head["browser"] = None
    else:
        own = browser is None
        if own:
            browser = open_browser(spec, root)
        try:
            head["webinfer_wheel"] = wheel_info()
            raw = bench_in_browser(spec, cell, browser)
            head["browser"] = browser_info(browser, spec.profile)
        finally:
            if own:
                browser.close()
    result = finish_result(spec, raw, cell.reference, head)
    result["machine"] = machine_info(load_start)
    return result


__all__ = ["BACKENDS", "BenchSpec", "Cell", "bench_in_browser", "bench_on_host", "finish_result", "kernel_kind",
           "kernel_summary", "make_cell", "open_browser", "run_bench"]
