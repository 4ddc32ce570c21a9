"""The ``webinfer bench`` command: one backend (``single.py``), ``--compare`` (``compare.py`` with the
encoder model of ``encoder.py``), or ``--report`` of saved comparisons."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import WebinferError
from ..cmdline import EXIT_FAILED, EXIT_USAGE, Subparsers, add_browser_options, comma_list, harness_errors
from .compare import CompareOptions, ModelSpec, Pair
from .encoder import DEVICES
from .image import IMAGE_MODELS
from .llm import LLM_MODELS
from .models import MODELS
from .ort import LEVELS
from .report import format_compare, format_result, markdown
from .single import BACKENDS, BenchSpec

SINGLE_ONLY = ("backend", "device", "kernels")


def parse_place(text: str) -> tuple[str, str]:
    """``--place OP_OR_NODE=webnn|webgpu`` as a (name, backend) pair."""
    name, sep, where = text.partition("=")
    if not sep or where not in ("webnn", "webgpu") or not name:
        raise argparse.ArgumentTypeError(f"--place takes OP_OR_NODE=webnn|webgpu, got {text!r}")
    return name, where


def parse_pair(text: str) -> Pair:
    """``--pair PEER/BASE`` as a Pair."""
    peer, sep, base = text.partition("/")
    if not sep or not peer or not base:
        raise argparse.ArgumentTypeError(f"--pair takes PEER/BASE (two case labels), got {text!r}")
    return Pair(peer, base, "asked for with --pair")


def spec_from_args(args: argparse.Namespace) -> BenchSpec:
    """A BenchSpec from parsed ``webinfer bench`` arguments."""
    return BenchSpec(model=args.model, backend=args.backend or "webgpu", batch=args.batch, seq=args.seq,
                     runs=10 if args.runs is None else args.runs, warmup=1 if args.warmup is None else args.warmup,
                     device=args.device, profile=args.profile, browser=args.browser, place=dict(args.place or []),
                     timeout=args.timeout, cache=args.cache, kernels=args.kernels)


def _log(msg: str) -> None:
    print(f"webinfer bench: {msg}", file=sys.stderr, flush=True)


def _single(args: argparse.Namespace) -> dict[str, Any]:
    from .single import run_bench

    return run_bench(spec_from_args(args), log=_log)


def _encoder(args: argparse.Namespace) -> ModelSpec:
    from .encoder import EncoderSpec

    return EncoderSpec(args.model, args.batch, args.seq, args.cache, ort_level=args.ort_level,
                       ort_threads=args.ort_threads, gpu_runs=args.gpu_runs, gpu_warmup=args.gpu_warmup,
                       place=dict(args.place or []), log=_log)


def _image(args: argparse.Namespace) -> ModelSpec:
    from .image import ImageSpec

    return ImageSpec(args.model, args.batch, args.cache, ort_level=args.ort_level, ort_threads=args.ort_threads,
                     gpu_runs=args.gpu_runs, gpu_warmup=args.gpu_warmup, place=dict(args.place or []), log=_log)


def _llm(args: argparse.Namespace) -> ModelSpec:
    from .llm import LLMSpec

    return LLMSpec(args.model, prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens, cache=args.cache,
                   gguf=args.gguf, threads=args.wllama_threads, log=_log)


#: ``--compare`` models: name -> the ModelSpec for the parsed arguments. A new model is one entry here.
COMPARE_MODELS: dict[str, Callable[[argparse.Namespace], ModelSpec]] = {
    **{name: _encoder for name in MODELS}, **{name: _image for name in IMAGE_MODELS},
    **{name: _llm for name in LLM_MODELS}}
#: Rounds of ``--compare`` when ``--rounds`` is not given: a generation of 128 tokens is long, so fewer for LLMs.
DEFAULT_ROUNDS = 10
LLM_ROUNDS = 5


def _compare(args: argparse.Namespace) -> dict[str, Any]:
    from .compare import run_compare

    given = [f"--{name}" for name in SINGLE_ONLY if getattr(args, name)]
    if given:
        raise WebinferError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for one backend; "
                            "with --compare pick cases with --cases (e.g. webinfer-webnn,ort-webnn)")
    llm = args.model in LLM_MODELS
    if not llm and (args.gguf or args.wllama_threads is not None):
        raise WebinferError(f"bench: --gguf and --wllama-threads are for --model {'/'.join(LLM_MODELS)}")
    spec = COMPARE_MODELS[args.model](args)
    rounds = args.rounds if args.rounds is not None else LLM_ROUNDS if llm else DEFAULT_ROUNDS
    options = CompareOptions(rounds=rounds, runs=5 if args.runs is None else args.runs,
                             warmup=1 if args.warmup is None else args.warmup, cases=comma_list(args.cases),
                             pairs=list(args.pair or []), timeout=args.timeout, browser=args.browser,
                             profile=args.profile)
    if options.runs < 1 or options.warmup < 0:
        raise WebinferError("bench: --runs must be at least 1 and --warmup 0 or more")
    result = run_compare(spec, options, log=_log)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        _log(f"wrote {args.out}")
    return result


def _report(args: argparse.Namespace) -> int:
    results = [json.loads(Path(f).read_text()) for f in args.report]
    if args.markdown:
        print(markdown(results))
    else:
        print("\n\n".join(format_compare(r) for r in results))
    return 0


def _handler(args: argparse.Namespace) -> int:
    from ..harness import HarnessError, PageError

    if args.report:
        try:
            return _report(args)
        except (OSError, ValueError, KeyError) as e:
            print(f"webinfer bench: --report: {e}", file=sys.stderr)
            return EXIT_USAGE

    def bench() -> int:
        try:
            compared = args.compare or args.model in LLM_MODELS  # an LLM is always benched against wllama
            result = _compare(args) if compared else _single(args)
        except HarnessError:
            raise  # a timeout is an OSError too: harness_errors maps it
        except PageError as e:
            print(f"webinfer bench: the benchmark failed in the page:\n{e.traceback.rstrip()}", file=sys.stderr)
            return EXIT_FAILED
        except (WebinferError, OSError) as e:
            print(f"webinfer bench: {e}", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(format_compare(result) if compared else format_result(result))
            if result.get("rates"):
                from .llm import format_rates

                print(format_rates(result))
        return 0

    return harness_errors("webinfer bench", bench)


def register(subparsers: Subparsers) -> None:
    """``webinfer bench``: time a model on a backend (or webinfer against its peers) in headless Chromium."""
    parser = subparsers.add_parser(
        "bench",
        help="time a model (MiniLM) on a backend in headless Chromium, or against onnxruntime-web (--compare)",
        description="One backend: convert the model once (cached), open one Pyodide page, time page load, weight "
        "fetch + load, compile, first run, warm median/p90 and Python overhead per run; report peak GPU bytes and "
        "the max abs diff and min cosine vs the host reference backend on the same deterministic token ids. "
        "--compare: set every case (webinfer backends, onnxruntime-web EPs on the plain and the ORT-optimized "
        "ONNX) up in one page, time them in interleaved rounds (A B, B A, ...), report per-round ratios with "
        "median and spread and where ORT placed every node; every output is checked against the reference.",
    )
    parser.add_argument("--model", choices=list(dict.fromkeys([*MODELS, *COMPARE_MODELS])), default="minilm",
                        help="minilm (all-MiniLM-L6-v2), block (its first layer only), "
                        "tiny (2-layer hidden-32 random BERT), efficientnet-lite0 (ImageNet, 224×224 photos), "
                        "convnet-tiny (a 32×32 random conv net for tests), smollm2 (SmolLM2-135M Q4_1 GGUF: "
                        "prefill and decode tokens/s per backend against wllama on the same file)")
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default webgpu); reference runs on the host")
    parser.add_argument("--batch", type=int, default=1, metavar="N")
    parser.add_argument("--seq", type=int, default=128, metavar="S",
                        help="tokens per row (padded), default 128 (BERT models)")
    parser.add_argument("--runs", type=int, metavar="R",
                        help="timed warm runs (default 10); with --compare: per case and round (default 5)")
    parser.add_argument("--warmup", type=int, metavar="W",
                        help="untimed runs after the first (default 1); with --compare: per case and round")
    parser.add_argument("--device", choices=DEVICES,
                        help="webnn: deviceType (default cpu); hybrid: WebNN context options instead of the GPU device")
    parser.add_argument("--place", type=parse_place, action="append", metavar="OP=BACKEND",
                        help="hybrid: put an op type or node on webnn/webgpu (repeatable), e.g. gelu=webgpu")
    parser.add_argument("--kernels", action="store_true",
                        help="webgpu: also time every dispatch alone and report the slowest kernel kinds")
    cmp = parser.add_argument_group("comparison (--compare)")
    cmp.add_argument("--compare", action="store_true",
                     help="webinfer vs onnxruntime-web in one page, interleaved rounds, per-round ratios")
    cmp.add_argument("--cases", metavar="A,B",
                     help="case labels (default: all): webinfer-{webnn,webgpu,hybrid}, ort-{webnn,wasm,webgpu}[-opt]")
    cmp.add_argument("--rounds", type=int, metavar="K",
                     help=f"interleaved rounds (default {DEFAULT_ROUNDS}; {LLM_ROUNDS} for {', '.join(LLM_MODELS)})")
    cmp.add_argument("--pair", type=parse_pair, action="append", metavar="PEER/BASE",
                     help="also report this ratio (repeatable)")
    cmp.add_argument("--ort-level", choices=LEVELS, default="extended",
                     help="graph optimization level of the ORT-optimized file (default extended)")
    cmp.add_argument("--ort-threads", type=int, metavar="N", help="ORT wasm threads (default: all cores; 0: ORT's)")
    cmp.add_argument("--gpu-runs", type=int, default=1, metavar="R",
                     help="timed runs per round for WebGPU cases (SwiftShader is slow; default 1)")
    cmp.add_argument("--gpu-warmup", type=int, default=0, metavar="W", help="warm-up per round for WebGPU cases")
    llm = parser.add_argument_group(f"language models (--model {'/'.join(LLM_MODELS)}: always against wllama)")
    llm.add_argument("--prompt-tokens", type=int, default=128, metavar="N",
                     help="prompt length in tokens (default 128)")
    llm.add_argument("--new-tokens", type=int, default=128, metavar="N",
                     help="greedy tokens to generate per run (default 128; fewer when the model ends its text)")
    llm.add_argument("--gguf", type=Path, metavar="FILE",
                     help="another Llama GGUF file (default: the packaged SmolLM2)")
    llm.add_argument("--wllama-threads", type=int, metavar="N",
                     help="wllama's threads (default: navigator.hardwareConcurrency, as ORT's wasm cases)")
    cmp.add_argument("--out", type=Path, metavar="FILE", help="write the comparison JSON here too")
    cmp.add_argument("--report", nargs="+", metavar="FILE", help="print saved comparisons; runs nothing")
    cmp.add_argument("--markdown", action="store_true", help="with --report: Markdown tables for the README")
    add_browser_options(parser)
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="seconds the page may take for one call: load + compile + all runs, or with "
                        "--compare one case's set-up or turn in a round (default 1800)")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        help="bench root: converted models, served at /models/ (default ~/.cache/webinfer/bench)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_handler)


__all__ = ["parse_pair", "parse_place", "register", "spec_from_args"]
