"""onnxruntime-web on the same model, inputs, browser and page as ``webinfer bench``.

    .venv/bin/python benchmarks/peers/ort_bench.py --model minilm --ep webnn --batch 8 --seq 128 --runs 10 [--json]

- The model: the same HF checkpoint ``webinfer bench`` converts (``webinfer.tools.bench.prepare_model``),
  exported on the host with ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic ``batch``/``seq``)
  as ``BertModel`` + mean pooling over the mask + L2 normalization — the outputs of webinfer's graph.
  Cached as ``<bench root>/onnx/<model>.onnx``, re-exported when the checkpoint or this file changes.
- The runtime: ``onnxruntime-web`` from ``node_modules`` (npm, a devDependency), its bundles and wasm
  copied once into ``<bench root>/ort/`` and served by webinfer's own server at ``/models/ort/``
  (``ort.env.wasm.wasmPaths`` points there: no CDN).
- The page: a tab of the harness page (same server, same COOP/COEP headers, same Chromium flags),
  without Pyodide. ``ort_page.mjs`` imports the bundle, creates the session with
  ``freeDimensionOverrides`` for the cell's shape, and times ``session.run`` + reading the output on the
  CPU, first run, warm-ups, timed runs — as the webinfer page does.
- The check: the output is compared with webinfer's host reference backend (numpy, float64) on the
  same token ids, so both sides are known to compute the same function.

Bundles: ``webgpu`` uses ``ort.webgpu.min.mjs`` (the ``onnxruntime-web/webgpu`` export: ORT's native
WebGPU EP); ``webnn`` and ``wasm`` use ``ort.min.mjs`` (the package's main export: the JSEP build, which
carries the WebNN EP). ``--bundle`` overrides (e.g. ``ort.min.mjs`` for the JSEP WebGPU EP).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webinfer.tools import bench
from webinfer.tools.bench import BenchError, PreparedModel

HERE = Path(__file__).resolve().parent
EPS = ("webgpu", "webnn", "wasm")
OPSET = 17
EXPORT_VERSION = 1  # bump when export_onnx changes what it writes
#: The bundle each EP is benchmarked with (see the module docstring) and the wasm files each needs.
BUNDLES = {"webgpu": "ort.webgpu.min.mjs", "webnn": "ort.min.mjs", "wasm": "ort.min.mjs"}
WASM_FILES = {
    "ort.min.mjs": ("ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"),
    "ort.webgpu.min.mjs": ("ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"),
    "ort.all.min.mjs": ("ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"),
    "ort.wasm.min.mjs": ("ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
}
PAGE_MODULE = "ort_page.mjs"


def project_root() -> Path:
    """The checkout (``node_modules`` lives there)."""
    return HERE.parent.parent


def ort_dist(root: Path | None = None) -> Path:
    """``node_modules/onnxruntime-web/dist``, or a BenchError saying how to install it."""
    dist = (root or project_root()) / "node_modules" / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        raise BenchError(f"onnxruntime-web is not installed ({dist} is missing): run `npm ci` (it is a devDependency)")
    return dist


def ort_version(dist: Path) -> str:
    """The installed onnxruntime-web version."""
    return str(json.loads((dist.parent / "package.json").read_text())["version"])


def _same_file(a: Path, b: Path) -> bool:
    return b.is_file() and a.stat().st_size == b.stat().st_size and a.stat().st_mtime_ns <= b.stat().st_mtime_ns


def stage_ort(bench_root: Path, bundle: str) -> str:
    """Copy ``bundle``, its wasm and ``ort_page.mjs`` under ``bench_root/ort``; returns their URL path."""
    if bundle not in WASM_FILES:
        raise BenchError(f"ort: unknown bundle {bundle!r}; one of {', '.join(WASM_FILES)}")
    dist = ort_dist()
    out = bench_root / "ort"
    out.mkdir(parents=True, exist_ok=True)
    for src in [dist / bundle, *(dist / f for f in WASM_FILES[bundle]), HERE / PAGE_MODULE]:
        dst = out / src.name
        if not _same_file(src, dst):
            shutil.copy2(src, dst)  # a copy: the server refuses symlinks that leave its root
    return "/models/ort/"


# -- the ONNX model ----------------------------------------------------------------------------------------


def export_onnx(model: PreparedModel, log: Callable[[str], None] | None = None) -> Path:
    """``model``'s HF checkpoint as ONNX (cached): BertModel, mean pooling over the mask, L2 normalization."""
    out = model.root / "onnx" / f"{model.name}.onnx"
    stamp_file = out.with_suffix(".json")
    weights = model.source / "model.safetensors"
    stamp = {
        "source": [weights.stat().st_size, weights.stat().st_mtime_ns],
        "exporter": EXPORT_VERSION,
        "opset": OPSET,
    }
    if out.is_file() and stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        return out
    if log:
        log(f"exporting {model.name} to ONNX with torch (once): {out}")
    import torch
    from transformers import BertModel

    class SentenceEmbedding(torch.nn.Module):  # type: ignore[misc]
        """BertModel, then mean pooling over the attention mask and L2 normalization (webinfer's outputs)."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():  # the exporter and transformers warn about tracing; the graph is checked in the page
        warnings.simplefilter("ignore")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()  # no load report for the pooler we leave out
        bert = BertModel.from_pretrained(str(model.source), add_pooling_layer=False, attn_implementation="eager")
        module = SentenceEmbedding(bert.eval())
        ids, mask = bench.token_ids(2, 16, model.vocab_size)
        example = (torch.tensor(ids).reshape(2, 16), torch.tensor(mask).reshape(2, 16))
        dims = {0: "batch", 1: "seq"}
        with torch.no_grad():
            torch.onnx.export(
                module, example, str(tmp), input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                dynamic_axes={"input_ids": dims, "attention_mask": dims, "embeddings": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
    os.replace(tmp, out)
    stamp_file.write_text(json.dumps(stamp) + "\n")
    return out


# -- running ---------------------------------------------------------------------------------------------


@dataclass
class OrtSpec:
    """One onnxruntime-web cell: a model on an execution provider at one input shape."""

    model: str = "minilm"
    ep: str = "wasm"
    batch: int = 1
    seq: int = 128
    runs: int = 10
    warmup: int = 1
    device: str = "cpu"  # the WebNN EP's deviceType
    threads: int | None = None  # wasm threads; None: every core the page sees, 0: ORT's default
    bundle: str | None = None
    timeout: float = 1800.0
    browser: str | None = None
    profile: str = "swiftshader"
    cache: Path | None = None

    def check(self) -> None:
        """Raise BenchError for a cell that cannot run."""
        if self.ep not in EPS:
            raise BenchError(f"ort: unknown execution provider {self.ep!r}; choose one of {', '.join(EPS)}")
        bench.BenchSpec(model=self.model, backend="reference", batch=self.batch, seq=self.seq, runs=self.runs,
                        warmup=self.warmup).check()

    @property
    def bundle_file(self) -> str:
        return self.bundle or BUNDLES[self.ep]


JS_CALL = "async ([url, params]) => (await import(url)).benchOrt(params)"


def evaluate_with_timeout(page: Any, expression: str, arg: Any, timeout: float) -> Any:
    """``page.evaluate`` bounded by ``timeout`` seconds (Playwright's evaluate has no limit of its own).

    On timeout the tab is closed (which ends the evaluate) and a HarnessTimeout is raised.
    """
    from webinfer.tools.harness import HarnessTimeout

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(page.evaluate, expression, arg)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        page.close()
        raise HarnessTimeout(f"onnxruntime-web did not finish within {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def run_ort(spec: OrtSpec, browser: Any = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one onnxruntime-web cell; returns JSON shaped like ``webinfer bench``'s (``tool``: onnxruntime-web)."""
    spec.check()
    load_start = bench.loadavg()
    model = bench.prepare_model(spec.model, spec.cache, log)
    onnx_path = export_onnx(model, log)
    base = stage_ort(model.root, spec.bundle_file)
    inputs = bench.input_bytes(spec.batch, spec.seq, model.vocab_size)
    reference = bench.reference_outputs(model, inputs, spec.batch, spec.seq)
    params = {
        "bundle": base + spec.bundle_file,
        "wasmPaths": base,
        "threads": spec.threads,
        "modelUrl": "/models/" + onnx_path.relative_to(model.root).as_posix(),
        "ep": spec.ep,
        "deviceType": spec.device,
        "batch": spec.batch,
        "seq": spec.seq,
        "inputs": {k: base64.b64encode(v).decode() for k, v in inputs.items()},
        "output": bench.OUTPUT,
        "runs": spec.runs,
        "warmup": spec.warmup,
    }
    own = browser is None
    if own:
        browser = bench.open_browser(bench.BenchSpec(browser=spec.browser, profile=spec.profile), model.root)
    try:
        t0 = time.perf_counter()
        page = browser.open_blank()
        open_ms = (time.perf_counter() - t0) * 1e3
        try:
            raw = evaluate_with_timeout(page, JS_CALL, [base + PAGE_MODULE, params], spec.timeout)
        finally:
            page.close()
        browser_info = {"version": browser.version, "path": str(browser.path), "profile": spec.profile}
    finally:
        if own:
            browser.close()
    return finish_ort(spec, model, onnx_path, raw, reference, open_ms, browser_info, load_start)


def finish_ort(spec: OrtSpec, model: PreparedModel, onnx_path: Path, raw: Mapping[str, Any], reference: Any,
               open_ms: float, browser_info: dict[str, Any], load_start: tuple[float, ...]) -> dict[str, Any]:
    """The result JSON from the page's raw timings."""
    t = raw["timings"]
    runs = [float(x) for x in raw["runs"]]
    stats = bench.summarize(runs)
    timings = {
        "page_load": open_ms + t["import"],  # open the tab + import the ORT bundle
        "weights_fetch": t["fetch"],
        "weights_load": None,
        "tokenize": None,
        "compile": t["create"],  # InferenceSession.create: parse, optimize, partition, build the EP's graph
        "first_run": t["first"],
        "warm_median": stats["median"],
        "warm_p90": stats["p90"],
        "warm_min": stats["min"],
        "warm_mean": stats["mean"],
        "python_overhead": None,
    }
    dist = ort_dist()
    return {
        "tool": "onnxruntime-web",
        "format_version": 1,
        "ort_version": ort_version(dist),
        "model": spec.model,
        "model_layers": model.layers,
        "model_hidden": model.hidden,
        "backend": f"ort-{spec.ep}",
        "ep": spec.ep,
        "device": spec.device if spec.ep == "webnn" else ("gpu" if spec.ep == "webgpu" else "cpu"),
        "bundle": spec.bundle_file,
        "env": raw.get("env"),
        "batch": spec.batch,
        "seq": spec.seq,
        "tokens": sum(bench.token_lengths(spec.batch, spec.seq)),
        "runs": spec.runs,
        "warmup": spec.warmup,
        "browser": browser_info,
        "timings_ms": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timings.items()},
        "runs_ms": [round(x, 3) for x in runs],
        "memory": {"weights_bytes": onnx_path.stat().st_size, "peak_gpu_bytes": None, "gpu_live_bytes": None},
        "accuracy": {
            "reference": "webinfer reference backend (numpy, float64) on the host, same inputs",
            **bench.compare(base64.b64decode(raw["output"]), reference, spec.batch),
        },
        "machine": bench.machine_info(load_start),
    }


def format_ort(r: Mapping[str, Any]) -> str:
    """A short human summary of one ORT cell."""
    t = r["timings_ms"]
    a = r["accuracy"]
    env = r.get("env") or {}
    return "\n".join([
        (f"onnxruntime-web {r['ort_version']} ({r['bundle']}, {env.get('numThreads')} wasm thread(s)): {r['model']} on "
         f"{r['ep']} [{r['device']}], batch {r['batch']} × seq {r['seq']}, {r['runs']} run(s) after {r['warmup']} warm-up"),
        (f"  page + import {bench.fmt_ms(t['page_load'])}, fetch {bench.fmt_ms(t['weights_fetch'])}, "
         f"session create {bench.fmt_ms(t['compile'])}, first run {bench.fmt_ms(t['first_run'])}"),
        f"  warm median {bench.fmt_ms(t['warm_median'])}, p90 {bench.fmt_ms(t['warm_p90'])}",
        f"  accuracy: max |Δ| {a['max_abs_diff']:.2e}, min cosine {a['min_cosine']:.7f} vs the host reference",
    ])


def main(argv: list[str] | None = None) -> int:
    """Run one onnxruntime-web cell from the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=bench.MODELS, default="minilm")
    p.add_argument("--ep", choices=EPS, default="wasm")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", choices=bench.DEVICES, default="cpu", help="the WebNN EP's deviceType")
    p.add_argument("--threads", type=int, help="wasm threads (default: all cores; 0: ORT's default)")
    p.add_argument("--bundle", choices=sorted(WASM_FILES), help="ORT bundle (default per EP, see the docstring)")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--browser", metavar="PATH")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    spec = OrtSpec(model=args.model, ep=args.ep, batch=args.batch, seq=args.seq, runs=args.runs, warmup=args.warmup,
                   device=args.device, threads=args.threads, bundle=args.bundle, timeout=args.timeout,
                   browser=args.browser)
    result = run_ort(spec, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2) if args.json else format_ort(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
