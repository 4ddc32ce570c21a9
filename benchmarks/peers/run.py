"""webinfer vs onnxruntime-web, side by side: same model, inputs, browser, page setup and timing.

    .venv/bin/python benchmarks/peers/run.py --model minilm --batch 1 8 --seq 128 --runs 10 --webgpu-runs 3 \\
        --out benchmarks/results/minilm-seq128.json

For each batch it runs: the host reference (numpy), webinfer's ``webgpu``, ``webnn`` and ``hybrid``
backends (``webinfer bench``, one Pyodide page per cell) and onnxruntime-web's ``webgpu``, ``webnn``
(deviceType cpu) and ``wasm`` execution providers (``ort_bench.py``, one tab per cell), all in one
headless Chromium; then prints a Markdown table with the ratio ORT time / webinfer time (> 1: webinfer
is faster). Every cell's full JSON goes to ``--out`` as it finishes (``--resume`` keeps finished cells).

A cell that fails, or that would take longer than ``--cell-timeout`` (estimated from a smaller batch
of the same backend, or hit while running), is reported as not run, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ort_bench
from webinfer.tools import bench

OURS = ("webgpu", "webnn", "hybrid")
THEIRS = ("webgpu", "webnn", "wasm")
#: Table rows: (label, webinfer backend or None for "fastest of ours", ORT EP)
PAIRS = (
    ("WebGPU", "webgpu", "ort-webgpu"),
    ("WebNN (cpu)", "webnn", "ort-webnn"),
    ("hybrid vs ORT WebNN", "hybrid", "ort-webnn"),
    ("ORT wasm vs fastest webinfer", None, "ort-wasm"),
)


def cell_key(kind: str, batch: int, seq: int) -> str:
    """The name of one cell in the results file: ``webgpu@1x128``, ``ort-wasm@8x128``, ``reference@1x128``."""
    return f"{kind}@{batch}x{seq}"


def estimate_s(results: dict[str, Any], kind: str, batch: int, seq: int, runs: int, warmup: int) -> float | None:
    """Seconds a cell should take, scaled from the largest smaller batch of the same kind (None: no basis)."""
    done = [r for r in results.values() if isinstance(r, dict) and r.get("kind") == kind and r.get("seq") == seq
            and r.get("batch", batch) < batch and "timings_ms" in r]
    if not done:
        return None
    base = max(done, key=lambda r: r["batch"])
    t = base["timings_ms"]
    scale = batch / base["batch"]
    warm = t.get("warm_median") or 0
    per_run = warm * scale
    first = max(0.0, (t.get("first_run") or warm) - warm) + per_run  # first-run extras (shader builds) do not scale
    return ((t.get("compile") or 0) + first + per_run * (runs + warmup)) / 1000


def run_cells(args: argparse.Namespace, results: dict[str, Any], save: Callable[[], None]) -> None:
    """Run every requested cell not already in ``results``; store each result (or why not) as it ends."""
    log = lambda m: print(f"[peers] {m}", file=sys.stderr, flush=True)
    model = bench.prepare_model(args.model, args.cache, log)
    if args.ort:
        ort_bench.export_onnx(model, log)
    browser = bench.open_browser(bench.BenchSpec(browser=args.browser, profile=args.profile), model.root)
    try:
        for batch in args.batch:
            kinds = (["reference"] if args.reference else []) + list(args.webinfer) + [f"ort-{e}" for e in args.ort]
            for kind in kinds:
                key = cell_key(kind, batch, args.seq)
                if args.only and key not in args.only:
                    continue
                if key in results and "error" not in results[key] and "skipped" not in results[key]:
                    log(f"{key}: kept from {args.out}")
                    continue
                gpu = kind in ("webgpu", "ort-webgpu") or (kind == "hybrid" and args.place)
                runs = args.webgpu_runs if gpu else args.runs
                warmup = args.webgpu_warmup if gpu else args.warmup
                est = estimate_s(results, kind, batch, args.seq, runs, warmup)
                if est is not None and est > args.cell_timeout and not args.no_estimate:
                    results[key] = {"kind": kind, "batch": batch, "seq": args.seq, "skipped":
                                    f"not run: estimated {est:.0f} s from the smaller batch, over the "
                                    f"{args.cell_timeout:.0f} s limit per cell"}
                    log(f"{key}: {results[key]['skipped']}")
                    save()
                    continue
                log(f"{key}: running ({runs} timed run(s) after {warmup} warm-up; estimate "
                    f"{'?' if est is None else f'{est:.0f} s'})")
                t0 = time.perf_counter()
                try:
                    results[key] = run_one(kind, batch, runs, warmup, args, browser)
                except Exception as e:  # noqa: BLE001 - one failed cell is reported, the table goes on
                    results[key] = {"error": f"{type(e).__name__}: {e}".strip()[:2000]}
                    traceback.print_exc()
                results[key].update(kind=kind, batch=batch, seq=args.seq, cell_s=round(time.perf_counter() - t0, 1))
                log(f"{key}: {summary(results[key])}")
                save()
    finally:
        browser.close()


def run_one(kind: str, batch: int, runs: int, warmup: int, args: argparse.Namespace, browser: Any) -> dict[str, Any]:
    """One cell's result JSON."""
    if kind.startswith("ort-"):
        peer = ort_bench.OrtSpec(model=args.model, ep=kind[4:], batch=batch, seq=args.seq, runs=runs, warmup=warmup,
                                 threads=args.ort_threads, timeout=args.cell_timeout, cache=args.cache)
        return ort_bench.run_ort(peer, browser)
    place = dict(args.place or []) if kind == "hybrid" else {}
    spec = bench.BenchSpec(model=args.model, backend=kind, batch=batch, seq=args.seq, runs=runs, warmup=warmup,
                           place=place, timeout=args.cell_timeout, cache=args.cache, profile=args.profile)
    return bench.run_bench(spec, browser=None if kind == "reference" else browser)


def summary(r: dict[str, Any]) -> str:
    """One line for the log."""
    if "timings_ms" not in r:
        return r.get("skipped") or r.get("error", "?")
    t = r["timings_ms"]
    return (f"median {bench.fmt_ms(t['warm_median'])}, p90 {bench.fmt_ms(t['warm_p90'])}, "
            f"max |Δ| {r['accuracy']['max_abs_diff']:.1e}")


# -- the table --------------------------------------------------------------------------------------------


def _time(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    if "timings_ms" not in r:
        if "skipped" in r or "Timeout" in r.get("error", ""):
            return "not run"
        return "failed"
    t = r["timings_ms"]
    return f"{bench.fmt_ms(t['warm_median'])} ({bench.fmt_ms(t['warm_p90'])}) ×{len(r['runs_ms'])}"


def _median(r: dict[str, Any] | None) -> float | None:
    return r["timings_ms"]["warm_median"] if r and "timings_ms" in r else None


def _diff(r: dict[str, Any] | None) -> str:
    return f"{r['accuracy']['max_abs_diff']:.0e}" if r and "accuracy" in r else "—"


def markdown_table(results: dict[str, Any], batches: Iterable[int], seq: int) -> str:
    """The side-by-side table (Markdown), one block of rows per batch."""
    lines = [
        ("| batch × seq | backend | webinfer: median (p90) ×runs | onnxruntime-web: median (p90) ×runs "
         "| ORT ÷ webinfer | max abs diff vs reference (webinfer / ORT) |"),
        "|---|---|---|---|---|---|",
    ]
    for batch in batches:

        def get(kind: str, batch: int = batch) -> dict[str, Any] | None:
            return results.get(cell_key(kind, batch, seq))

        for label, ours_kind, theirs_kind in PAIRS:
            theirs = get(theirs_kind)
            if ours_kind is None:  # the fastest of webinfer's browser backends at this batch
                timed = [(m, k, get(k)) for k in OURS if (m := _median(get(k))) is not None]
                _, ours_kind, ours = min(timed, key=lambda t: t[0]) if timed else (0.0, None, None)
                label = f"ORT wasm vs webinfer {ours_kind}" if ours_kind else label
            else:
                ours = get(ours_kind)
            if ours is None and theirs is None:
                continue
            a, b = _median(ours), _median(theirs)
            ratio = f"{b / a:.2f}" if a and b else "—"
            lines.append(f"| {batch} × {seq} | {label} | {_time(ours)} | {_time(theirs)} | {ratio} | "
                         f"{_diff(ours)} / {_diff(theirs)} |")
    return "\n".join(lines)


def details_table(results: dict[str, Any]) -> str:
    """Every cell's other figures (Markdown): page load, fetch, compile, first run, Python, GPU bytes, diff."""
    lines = [
        ("| cell | page load | weights fetch | weights load | compile / session create | first run | warm median "
         "| warm p90 | Python per run | peak GPU bytes | max abs diff | min cosine |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        if not isinstance(r, dict) or key.startswith("_"):
            continue
        if "timings_ms" not in r:
            lines.append(f"| {key} | {r.get('skipped') or 'failed: ' + r.get('error', '?')[:120]} |" + " |" * 10)
            continue
        t, m, a = r["timings_ms"], r["memory"], r["accuracy"]
        peak = f"{m['peak_gpu_bytes'] / (1 << 20):.1f} MiB" if m.get("peak_gpu_bytes") else "—"
        lines.append(
            f"| {key} | {bench.fmt_ms(t.get('page_load'))} | {bench.fmt_ms(t.get('weights_fetch'))} "
            f"| {bench.fmt_ms(t.get('weights_load'))} | {bench.fmt_ms(t.get('compile'))} | {bench.fmt_ms(t.get('first_run'))} "
            f"| {bench.fmt_ms(t.get('warm_median'))} | {bench.fmt_ms(t.get('warm_p90'))} "
            f"| {bench.fmt_ms(t.get('python_overhead'))} | {peak} | {a['max_abs_diff']:.1e} | {a['min_cosine']:.7f} |"
        )
    return "\n".join(lines)


def _csv(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [x for x in text.split(",") if x]
        bad = [x for x in items if x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r} is not one of {', '.join(choices)}")
        return items

    return parse


def main(argv: list[str] | None = None) -> int:
    """Run the cells, save their JSON, print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=bench.MODELS, default="minilm")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--runs", type=int, default=10, help="timed runs per cell (CPU-backed cells)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--webgpu-runs", type=int, default=3, help="timed runs for WebGPU cells (SwiftShader is slow)")
    p.add_argument("--webgpu-warmup", type=int, default=0, help="warm-up runs for WebGPU cells (after the first run)")
    p.add_argument("--webinfer", type=_csv(OURS), default=list(OURS), help="webinfer backends, comma-separated")
    p.add_argument("--ort", type=_csv(THEIRS), default=list(THEIRS), help="onnxruntime-web EPs, comma-separated")
    p.add_argument("--no-reference", dest="reference", action="store_false", help="skip the host numpy reference")
    p.add_argument("--place", type=bench.parse_place, action="append", metavar="OP=BACKEND", help="hybrid placement")
    p.add_argument("--ort-threads", type=int, help="ORT wasm threads (default: all cores; 0: ORT's default)")
    p.add_argument("--cell-timeout", type=float, default=600.0, metavar="S", help="per cell (default 600)")
    p.add_argument("--browser", metavar="PATH")
    p.add_argument("--profile", choices=bench.PROFILES, default="swiftshader")
    p.add_argument("--cache", type=Path, metavar="DIR", help="bench root (default ~/.cache/webinfer/bench)")
    p.add_argument("--only", type=lambda t: t.split(","), metavar="CELLS",
                   help="run only these cells, e.g. ort-webgpu@8x128,webgpu@8x128 (the table shows all of --out)")
    p.add_argument("--no-estimate", action="store_true", help="run cells even when estimated over --cell-timeout")
    p.add_argument("--out", type=Path, help="results JSON (written after every cell)")
    p.add_argument("--resume", action="store_true", help="keep the finished cells already in --out")
    p.add_argument("--table-only", action="store_true", help="print the tables of --out, run nothing")
    args = p.parse_args(argv)

    results: dict[str, Any] = {}
    if (args.resume or args.table_only) and args.out and args.out.is_file():
        results = json.loads(args.out.read_text())
    results["_run"] = {"command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
                       "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}

    def save() -> None:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n")

    if not args.table_only:
        run_cells(args, results, save)
    print(markdown_table(results, args.batch, args.seq))
    print()
    print(details_table(results))
    loads = [r["machine"]["loadavg_start"][0] for r in results.values()
             if isinstance(r, dict) and r.get("machine", {}).get("loadavg_start")]
    if loads:
        print(f"\nload average (1 min) at the start of the cells: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
