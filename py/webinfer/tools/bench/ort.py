"""onnxruntime-web as a bench peer, host side: the ONNX files it runs and the files the page loads.

- The plain export: the same HF checkpoint ``webinfer bench`` converts, exported with
  ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic ``batch``/``seq``) as ``BertModel`` +
  mean pooling over the mask + L2 normalization — the function webinfer's graph computes. Cached as
  ``<bench root>/onnx/<model>.onnx``, exported again when the checkpoint or :data:`EXPORT_VERSION` changes.
- The ORT-optimized file: that export run once through the host's ``onnxruntime`` (CPU EP) at a graph
  optimization level with the shape fixed (``add_free_dimension_override_by_name``), saved with
  ``SessionOptions.optimized_model_filepath`` as ``<bench root>/onnx/<model>.<level>.b<B>s<S>.onnx``.
  ``extended`` brings in ORT's contrib fusions (``SkipLayerNormalization``, ``Gelu``, ``FusedMatMul``, com.microsoft
  domain) which not every onnxruntime-web EP runs; ``basic`` keeps standard ONNX ops. ``all`` is
  refused: ORT warns that it adds layout transforms for the machine that optimized it.
- The runtime: ``onnxruntime-web`` from ``node_modules`` (npm, a devDependency), its bundles and wasm
  copied into ``<bench root>/ort/`` and served by webinfer's server at ``/models/ort/`` (no CDN).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..project import project_root
from .compare import Case
from .errors import BenchError
from .inputs import token_ids
from .models import PreparedModel

EPS = ("webnn", "wasm", "webgpu")
OPSET = 17
EXPORT_VERSION = 1  # bump when export_onnx changes what it writes
LEVELS = ("basic", "extended")
#: The bundle each EP is benchmarked with: ``webgpu`` uses ``ort.webgpu.min.mjs`` (the
#: ``onnxruntime-web/webgpu`` export, ORT's native WebGPU EP); ``webnn`` and ``wasm`` use ``ort.min.mjs``
#: (the main export: the JSEP build, which carries the WebNN EP).
BUNDLES = {"webgpu": "ort.webgpu.min.mjs", "webnn": "ort.min.mjs", "wasm": "ort.min.mjs"}
WASM_FILES = {
    "ort.min.mjs": ("ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"),
    "ort.webgpu.min.mjs": ("ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"),
    "ort.all.min.mjs": ("ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"),
    "ort.wasm.min.mjs": ("ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
}
ORT_RUNTIMES = {
    "webnn": "WebNN EP, deviceType cpu (TFLite CPU)",
    "wasm": "wasm EP (ORT's own CPU kernels)",
    "webgpu": "WebGPU EP (here: SwiftShader, a CPU)",
}
#: The in-page case module (``page.JsRunner`` loads it from the installed package).
RUNNER = "js:webinfer.tools.bench/ort_case.mjs"


def ort_dist(root: Path | None = None) -> Path:
    """``node_modules/onnxruntime-web/dist``, or a BenchError saying how to install it."""
    dist = (root or project_root()) / "node_modules" / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        raise BenchError(f"onnxruntime-web is not installed ({dist} is missing): run `npm ci` (it is a devDependency)")
    return dist


def ort_version(dist: Path | None = None) -> str:
    """The installed onnxruntime-web version."""
    return str(json.loads(((dist or ort_dist()).parent / "package.json").read_text())["version"])


def _same_file(a: Path, b: Path) -> bool:
    return b.is_file() and a.stat().st_size == b.stat().st_size and a.stat().st_mtime_ns <= b.stat().st_mtime_ns


def stage_ort(bench_root: Path, bundle: str) -> str:
    """Copy ``bundle`` and its wasm under ``bench_root/ort``; returns their URL path on the server."""
    if bundle not in WASM_FILES:
        raise BenchError(f"ort: unknown bundle {bundle!r}; one of {', '.join(WASM_FILES)}")
    dist = ort_dist()
    out = bench_root / "ort"
    out.mkdir(parents=True, exist_ok=True)
    for src in [dist / bundle, *(dist / f for f in WASM_FILES[bundle])]:
        dst = out / src.name
        if not _same_file(src, dst):
            shutil.copy2(src, dst)  # a copy: the server refuses symlinks that leave its root
    return "/models/ort/"


def _stamped(out: Path, stamp: dict[str, Any]) -> bool:
    stamp_file = out.with_suffix(".json")
    return out.is_file() and stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp


def export_onnx(model: PreparedModel, log: Callable[[str], None] | None = None) -> Path:
    """``model``'s HF checkpoint as ONNX (cached): BertModel, mean pooling over the mask, L2 normalization."""
    out = model.root / "onnx" / f"{model.name}.onnx"
    weights = model.source / "model.safetensors"
    stamp = {"source": [weights.stat().st_size, weights.stat().st_mtime_ns], "exporter": EXPORT_VERSION,
             "opset": OPSET}
    if _stamped(out, stamp):
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
    with warnings.catch_warnings():  # the exporter and transformers warn about tracing; outputs are checked
        warnings.simplefilter("ignore")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()  # no load report for the pooler we leave out
        bert = BertModel.from_pretrained(str(model.source), add_pooling_layer=False, attn_implementation="eager")
        module = SentenceEmbedding(bert.eval())
        ids, mask = token_ids(2, 16, model.vocab_size)
        example = (torch.tensor(ids).reshape(2, 16), torch.tensor(mask).reshape(2, 16))
        dims = {0: "batch", 1: "seq"}
        with torch.no_grad():
            torch.onnx.export(
                module, example, str(tmp), input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                dynamic_axes={"input_ids": dims, "attention_mask": dims, "embeddings": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
    os.replace(tmp, out)
    out.with_suffix(".json").write_text(json.dumps(stamp) + "\n")
    return out


def optimize_onnx(plain: Path, level: str, dims: dict[str, int], log: Callable[[str], None] | None = None) -> Path:
    """``plain`` optimized offline by the host's onnxruntime at ``level`` for the fixed ``dims`` (cached)."""
    if level not in LEVELS:
        raise BenchError(f"ort: optimization level {level!r} is not one of {', '.join(LEVELS)} "
                         "('all' adds layout transforms for this machine's CPU, which ORT says not to ship)")
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise BenchError("ort: the ORT-optimized cases need the host's onnxruntime: "
                         "pip install -e '.[dev]' (it is in the dev extra)") from None
    shape = "".join(f"{k[0]}{v}" for k, v in dims.items())
    out = plain.with_name(f"{plain.stem}.{level}.{shape}.onnx")
    st = plain.stat()
    stamp = {"source": [plain.name, st.st_size, st.st_mtime_ns], "level": level, "dims": dims,
             "onnxruntime": onnxruntime.__version__}
    if _stamped(out, stamp):
        return out
    if log:
        log(f"optimizing {plain.name} with onnxruntime {onnxruntime.__version__} (level {level}, {dims}): {out.name}")
    opts = onnxruntime.SessionOptions()
    opts.graph_optimization_level = {
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }[level]
    for name, size in dims.items():
        opts.add_free_dimension_override_by_name(name, size)
    tmp = out.with_suffix(".tmp")
    opts.optimized_model_filepath = str(tmp)
    opts.log_severity_level = 3
    onnxruntime.InferenceSession(str(plain), opts, providers=["CPUExecutionProvider"])
    os.replace(tmp, out)
    out.with_suffix(".json").write_text(json.dumps(stamp) + "\n")
    return out


def make_case(ep: str, optimized: bool, plain: Path, root: Path, dims: dict[str, int], level: str,
              threads: int | None, gpu_runs: int | None, gpu_warmup: int | None,
              plain_text: str = "plain torch export") -> Case:
    """The ``ort-<ep>[-opt]`` case: onnxruntime-web on ``ep`` with ``plain`` (an .onnx file under ``root``, the
    directory served at ``/models/``) or its ORT-optimized twin (:func:`optimize_onnx`), shapes fixed to ``dims``."""
    from .placement import LOG_MARKERS

    shape = "".join(f"{k[0]}{v}" for k, v in dims.items())
    path = plain.with_name(f"{plain.stem}.{level}.{shape}.onnx") if optimized else plain
    bundle = BUNDLES[ep]
    slow = ep == "webgpu"
    graph = f"ORT-optimized ({level}, offline, fixed shape)" if optimized else plain_text
    return Case(
        label=f"ort-{ep}{'-opt' if optimized else ''}", runner=RUNNER,
        runtime=f"onnxruntime-web, {ORT_RUNTIMES[ep]}, {graph}",
        params={"bundle": "/models/ort/" + bundle, "wasmPaths": "/models/ort/", "threads": threads,
                "model": "/models/" + path.relative_to(root).as_posix(), "ep": ep, "deviceType": "cpu",
                "freeDimensions": dims, "graphOptimizationLevel": "all", "logMarkers": list(LOG_MARKERS)},
        runs=gpu_runs if slow else None, warmup=gpu_warmup if slow else None,
        facts={"ep": ep, "bundle": bundle, "optimized": optimized, "graph": graph,
               "level": level if optimized else None},
    )


def onnx_ops(path: Path) -> dict[str, int]:
    """How many nodes of each op (``domain:op`` outside the default domain) the ONNX file's main graph has."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        key = f"{node.domain}:{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


__all__ = [
    "BUNDLES", "EPS", "EXPORT_VERSION", "LEVELS", "OPSET", "ORT_RUNTIMES", "RUNNER", "WASM_FILES", "export_onnx",
    "make_case", "onnx_ops",
    "optimize_onnx", "ort_dist", "ort_version", "stage_ort",
]
