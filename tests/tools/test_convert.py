"""``webinfer convert``: the files it writes, float16 storage, a generic HF BERT directory, and its errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import webinfer as wi
from webinfer.models import SentenceEncoder
from webinfer.tools.cli import main


def _convert(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["convert", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_convert(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "convert" in capsys.readouterr().out


def test_convert_minilm_float32_and_float16(tmp_path, capsys, minilm_dir):
    code, out, err = _convert(capsys, "--model", "minilm", "-o", str(tmp_path / "fp32"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert summary["outputs"] == {"embeddings": "float32[batch, 384]"}
    assert summary["inputs"] == {"input_ids": "int64[batch, seq]", "attention_mask": "int64[batch, seq]"}
    for name in ("encoder.json", "model.json", "model.safetensors", "tokenizer.json"):
        assert (tmp_path / "fp32" / name).is_file()
    assert (tmp_path / "fp32" / "tokenizer.json").read_bytes() == (minilm_dir / "tokenizer.json").read_bytes()
    manifest = json.loads((tmp_path / "fp32" / "encoder.json").read_text())
    assert manifest["format"] == "webinfer-sentence-encoder" and manifest["max_length"] == 256
    assert manifest["dimension"] == 384 and manifest["weights_dtype"] == "float32"

    graph = wi.load(tmp_path / "fp32" / "model.json")  # the format's loader validates it all
    assert {c.desc.dtype for c in graph.constants.values() if c.desc.rank} == {"float32"}

    code, out, err = _convert(capsys, "-o", str(tmp_path / "fp16"), "--dtype", "float16")
    assert code == 0, err
    assert "float16 weights, compute float32" in out
    half = wi.load(tmp_path / "fp16" / "model.json")
    assert {c.desc.dtype for c in half.constants.values() if c.desc.rank} == {"float16"}
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    size16 = (tmp_path / "fp16" / "model.safetensors").stat().st_size
    assert 0.49 < size16 / size32 < 0.51

    texts = ["converting models", "a float16 copy of the weights"]
    a = SentenceEncoder.load(tmp_path / "fp32", backend="reference").encode(texts).numpy()
    b = SentenceEncoder.load(tmp_path / "fp16", backend="reference").encode(texts).numpy()
    assert (a * b).sum(1).min() >= 0.9999  # unit vectors: the dot product is the cosine


def test_convert_a_generic_bert_directory(tmp_path, capsys, minilm_dir):
    """--model bert --source DIR: a tiny random BERT (with MiniLM's tokenizer) converts to the graph build_bert
    makes."""
    from safetensors.numpy import save_file

    from webinfer.models.bert import build_bert, expected_shapes

    cfg = {"vocab_size": 30522, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1,
           "intermediate_size": 16, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
           "hidden_act": "gelu"}
    rng = np.random.default_rng(7)
    weights = {k: rng.normal(0, 0.5, size=s).astype(np.float32) for k, s in expected_shapes(cfg).items()}
    src = tmp_path / "tiny-bert"
    src.mkdir()
    save_file({"bert." + k: v for k, v in weights.items()}, str(src / "model.safetensors"))
    (src / "config.json").write_text(json.dumps(cfg))
    shutil.copy(minilm_dir / "tokenizer.json", src / "tokenizer.json")
    code, out, err = _convert(capsys, "--model", "bert", "--source", str(src), "-o", str(tmp_path / "out"),
                              "--max-length", "32", "--json")
    assert code == 0, err
    assert json.loads(out)["max_length"] == 32
    enc = SentenceEncoder.load(tmp_path / "out", backend="reference")
    assert enc.dimension == 8 and enc.max_length == 32 and enc.metadata["model"] == "tiny-bert"
    texts = ["a tiny model", "with random weights and a real tokenizer"]
    rows = enc.tokenize(texts)
    seq = max(len(r) for r in rows)
    ids = np.array([r + [0] * (seq - len(r)) for r in rows], dtype=np.int64)
    mask = (np.arange(seq)[None, :] < np.array([len(r) for r in rows])[:, None]).astype(np.int64)
    direct = wi.compile(build_bert(weights, cfg), "reference").run({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_array_equal(enc.encode(texts).numpy(), direct["embeddings"].numpy())


def test_convert_errors(tmp_path, capsys, minilm_dir):
    code, _, err = _convert(capsys, "--model", "bert", "-o", str(tmp_path / "x"))
    assert code == 1 and "--model bert needs --source DIR" in err
    code, _, err = _convert(capsys, "--source", str(tmp_path / "missing"), "-o", str(tmp_path / "x"))
    assert code == 1 and "does not exist" in err
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "config.json").write_text("{}")
    code, _, err = _convert(capsys, "--source", str(tmp_path / "partial"), "-o", str(tmp_path / "x"))
    assert code == 1 and "lacks tokenizer.json, model.safetensors" in err
    with pytest.raises(SystemExit) as exc:
        main(["convert", "-o", str(tmp_path / "x"), "--dtype", "int8"])
    assert exc.value.code == 2
    assert "invalid choice: 'int8'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", "-o", str(tmp_path / "x"), "--max-length", "1"])
    assert "too small" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing half-written on failure


def test_convert_gguf(tmp_path, capsys):
    import sys
    from pathlib import Path

    pytest.importorskip("gguf")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from llm_samples import write_tiny_gguf

    from webinfer.models import CausalLM

    src = write_tiny_gguf(tmp_path / "tiny.gguf", seed=4)
    code, out, err = _convert(capsys, "--model", "gguf", "--source", str(src), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "weights stay low-bit" in out and "x the GGUF's" in out
    for name in ("llm.json", "model.json", "tokenizer.json"):
        assert (tmp_path / "out" / name).is_file()
    manifest = json.loads((tmp_path / "out" / "llm.json").read_text())
    assert manifest["format"] == "webinfer-causal-lm" and manifest["config"]["num_layers"] == 2
    graph = wi.load(tmp_path / "out" / "model.json")
    assert {"uint4", "int4", "int8", "float16", "float32"} <= {c.desc.dtype for c in graph.constants.values()}
    ids = [3, 4, 5]
    a = CausalLM.load(tmp_path / "out", backend="reference").logits(ids).numpy()
    b = CausalLM.load(src, backend="reference").logits(ids).numpy()
    np.testing.assert_array_equal(a, b)

    code, out, err = _convert(capsys, "--model", "gguf", "--source", str(tmp_path / "missing.gguf"), "-o",
                              str(tmp_path / "x"))
    assert code == 1 and "missing.gguf" in err
    (tmp_path / "bad.gguf").write_bytes(b"GGUF\x09\x00\x00\x00")
    code, out, err = _convert(capsys, "--model", "gguf", "--source", str(tmp_path / "bad.gguf"), "-o",
                              str(tmp_path / "x"), "--json")
    assert code == 1 and "GGUF version 9 is not supported" in err
