"""Time a transformer block on the WebGPU backend in headless Chromium, split into Python and GPU time.

    .venv/bin/python tests/backends/webgpu/bench_block.py --hidden 384 --seq 128 [--runs 10] [--json]

Per warm run: ``total`` (Python's wall time of ``sess.run``), ``python`` (total minus the executor's own
time: input checks, zero-copy staging, output tensors), ``encode`` (JS: write inputs, encode, submit),
``gpu`` (submit until the readback buffer is mapped) and ``readback`` (copy out of the mapped buffer).
Medians over the runs. On a machine without a GPU the adapter is SwiftShader (WebGPU on the CPU).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).parent

PAGE = """
import statistics, json
import webinfer as wi
exec(compile({src!r}, "models_src.py", "exec"))
sess = wi.compile(build_block({hidden}, {seq}, {heads}), backend="webgpu", tiling={tiling!r})
x = wi.Tensor(block_input({hidden}, {seq}), dtype="float32")  # as a user passes data: a tensor/array, not lists
for _ in range({warmup}):
    sess.run({{"x": x}})
runs = []
for _ in range({runs}):
    sess.run({{"x": x}})
    runs.append(dict(sess.stats["last_run"]))
info = sess.info()
prof = sess.profile({{"x": x}}, 3) if {profile} else []
sess.close()
med = {{k: statistics.median(r[k] for r in runs) for k in runs[0]}}
json.dumps({{"median_ms": med, "python_share": med["python_ms"] / med["total_ms"],
            "compile_ms": info["stats"]["compile_ms"], "device": info["device"]["name"],
            "nodes": info["nodes"], "dispatches": info["plan"]["dispatches"],
            "pipelines": info["plan"]["pipelines"], "fused_groups": info["plan"]["fused_groups"],
            "buffers": info["plan"]["buffers"], "peak_bytes": info["plan"]["peak_bytes"],
            "pool_bytes": info["plan"]["pool_bytes"], "unpooled_bytes": info["plan"]["unpooled_bytes"],
            "tiling": info["tiling"], "profile": prof}})
"""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the numbers."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tiling", choices=("auto", "workgroup", "register"), default="auto")
    p.add_argument("--profile", action="store_true", help="also time each dispatch alone (sess.profile)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from webinfer.tools.harness import Browser

    src = (HERE / "models_src.py").read_text()
    code = PAGE.format(src=src, hidden=args.hidden, seq=args.seq, heads=args.heads, warmup=args.warmup, runs=args.runs,
                       tiling=args.tiling, profile=args.profile)
    with Browser() as browser:
        page = browser.open_page()
        result = json.loads(page.run(code, timeout=1800).raise_for_error())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["median_ms"]
    print(f"transformer block hidden {args.hidden}, seq {args.seq}, heads {args.heads} on {result['device']} "
          f"({result['tiling']} tiling)")
    print(f"  {result['nodes']} nodes -> {result['dispatches']} dispatches ({result['fused_groups']} fused groups), "
          f"{result['pipelines']} pipelines, {result['buffers']} buffers, "
          f"{result['peak_bytes'] / 2**20:.1f} MiB in all; "
          f"activations {result['pool_bytes'] / 2**20:.2f} MiB pooled ({result['unpooled_bytes'] / 2**20:.2f} MiB "
          f"without reuse); compile {result['compile_ms']:.0f} ms")
    print(f"  warm run (median of {args.runs}): total {m['total_ms']:.2f} ms = python {m['python_ms']:.3f} ms "
          f"({100 * result['python_share']:.2f}%) + encode {m['encode_ms']:.3f} ms + gpu {m['gpu_ms']:.2f} ms "
          f"+ readback {m['readback_ms']:.3f} ms")
    for d in result["profile"]:
        print(f"  {d['ms']:9.2f} ms  {d['label']}  (grid {d['grid']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
