"""build_bert: the MiniLM graph against an independent torch BERT, padding invariance, fp16 weights, errors."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import webinfer as wi
from webinfer.errors import GraphError, InputError, WeightsError
from webinfer.models.bert import MASK_VALUE, build_bert, expected_shapes

torch = pytest.importorskip("torch", reason="torch (CPU) is the reference: pip install torch==2.13.0")
from bert_torch_ref import (  # noqa: E402 - needs torch, imported (or skipped) just above
    bert_last_hidden,
    cosines,
    pad_batch,
    random_bert,
    sentence_embeddings,
)

SENTENCES = [
    "Hello world",
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "Python's standard library has a module for nearly everything: json, re, pathlib, itertools.",
    "ok",
    "Transformers compute attention over every pair of tokens in the sequence, which is quadratic.",
    "Café déjà vu — naïve façade!",
    "How do I parse a date string into a datetime object?",
]
LONG = " ".join(["the browser runs neural networks with webgpu and webnn from python"] * 20)  # > 128 tokens


@pytest.fixture(scope="module")
def minilm():
    """(weights as numpy, config, HF tokenizer, torch state dict) of all-MiniLM-L6-v2 from its pip package."""
    from webinfer.models import minilm_path
    from webinfer.models.minilm import ModelFilesNotFound

    try:
        path = minilm_path()
    except ModelFilesNotFound as e:
        pytest.skip(str(e))
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer as HFTokenizer

    weights = load_file(str(path / "model.safetensors"))
    config = json.loads((path / "config.json").read_text())
    tok = HFTokenizer.from_file(str(path / "tokenizer.json"))
    tok.no_padding()
    sd = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
    return weights, config, tok, sd, path


@pytest.fixture(scope="module")
def minilm_session(minilm):
    weights, config, *_ = minilm
    return wi.compile(build_bert(weights, config), backend="reference")


def _ids(tok, texts, max_length=128):
    tok.enable_truncation(max_length)
    return [e.ids for e in tok.encode_batch(texts)]


def _run(sess, ids, mask, out="embeddings"):
    return sess.run({"input_ids": ids, "attention_mask": mask})[out].numpy()


def test_graph_interface(minilm):
    weights, config, *_ = minilm
    g = build_bert(weights, config)
    assert {k: str(v) for k, v in g.inputs.items()} == {
        "input_ids": "int64[batch, seq]", "attention_mask": "int64[batch, seq]"}
    assert list(g.outputs) == ["embeddings"]
    assert str(g.operands[g.outputs["embeddings"]]) == "float32[batch, 384]"
    registered = {s.name for s in wi.all_ops()}
    assert {n.op for n in g.nodes} <= registered
    assert sum(n.op == "matmul" for n in g.nodes) == 6 * 6 + 1  # qkv, q@k, p@v, out, ffn in, ffn out; pooling
    assert sum(n.op == "softmax" for n in g.nodes) == 6
    assert all(c.desc.dtype == "float32" for c in g.constants.values())
    # 22.7M parameters; the pooler is not used and the token-type table is folded into the positions
    assert sum(c.desc.size for c in g.constants.values() if c.desc.rank) == 22_564_608
    spec = g.specialize({"batch": 2, "seq": 7})
    assert str(spec.operands[spec.outputs["embeddings"]]) == "float32[2, 384]"


def test_minilm_matches_torch_on_a_padded_batch(minilm, minilm_session):
    _, config, tok, sd, _ = minilm
    ids, mask = pad_batch(_ids(tok, SENTENCES))
    assert mask.sum(1).min() < ids.shape[1]  # the batch really is padded
    ours = _run(minilm_session, ids, mask)
    ref = sentence_embeddings(sd, config, ids, mask)
    cos = cosines(ours, ref)
    assert cos.min() >= 0.9999, cos
    assert np.abs(ours - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    # sentences are not all the same: the check can fail
    assert cosines(ours[:1], ours[1:2])[0] < 0.9


def test_minilm_matches_torch_at_128_tokens(minilm, minilm_session):
    _, config, tok, sd, _ = minilm
    rows = _ids(tok, [LONG, "a short one"], max_length=128)
    assert len(rows[0]) == 128
    ids, mask = pad_batch(rows)
    cos = cosines(_run(minilm_session, ids, mask), sentence_embeddings(sd, config, ids, mask))
    assert cos.min() >= 0.9999, cos


def test_padding_does_not_change_an_embedding(minilm, minilm_session):
    _, _, tok, _, _ = minilm
    text = SENTENCES[1]
    (row,) = _ids(tok, [text])
    alone = _run(minilm_session, *pad_batch([row]))[0]
    longer = _ids(tok, [SENTENCES[3]])[0]
    ids, mask = pad_batch([longer, row, row])
    ids2 = np.concatenate([ids, np.zeros((3, 9), np.int64)], axis=1)  # extra padding columns
    mask2 = np.concatenate([mask, np.zeros((3, 9), np.int64)], axis=1)
    batched = _run(minilm_session, ids2, mask2)
    assert np.abs(batched[1] - alone).max() < 1e-6
    assert np.abs(batched[2] - alone).max() < 1e-6
    # padding ids other than 0 are masked out just the same
    ids3 = np.where(mask2 == 1, ids2, 1037)
    assert np.abs(_run(minilm_session, ids3, mask2)[1] - alone).max() < 1e-6


def test_reference_agrees_with_transformers_bertmodel(minilm):
    """The plain-torch reference the tests use is transformers' BertModel, numerically."""
    transformers = pytest.importorskip("transformers")
    _, config, tok, sd, path = minilm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.BertModel.from_pretrained(str(path), add_pooling_layer=False).eval()
    ids, mask = pad_batch(_ids(tok, SENTENCES[:4]))
    with torch.no_grad():
        hf = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
        ours = bert_last_hidden(sd, config, ids, mask)
    m = torch.from_numpy(mask).bool()
    assert torch.allclose(hf[m], ours[m], atol=1e-4)


@pytest.mark.parametrize("pooling,normalize", [("mean", True), ("mean", False), ("cls", True), ("none", False)])
def test_tiny_random_bert_matches_torch(pooling, normalize):
    weights, cfg = random_bert(1)
    ids, mask = pad_batch([[1, 5, 9, 2], [1, 7, 2], [3] * 11])
    g = build_bert(weights, cfg, pooling=pooling, normalize=normalize)
    out = "last_hidden_state" if pooling == "none" else "embeddings"
    ours = _run(wi.compile(g, "reference"), ids, mask, out)
    with torch.no_grad():
        hidden = bert_last_hidden({k: torch.from_numpy(v) for k, v in weights.items()}, cfg, ids, mask)
        m = torch.from_numpy(mask).to(hidden.dtype)[..., None]
        ref = {"none": hidden, "cls": hidden[:, 0], "mean": (hidden * m).sum(1) / m.sum(1)}[pooling]
        if normalize:
            ref = torch.nn.functional.normalize(ref, dim=-1)
    ref = ref.numpy()
    if pooling == "none":
        ours, ref = ours[mask == 1], ref[mask == 1]  # padding rows are not defined by either
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=1e-4)


def test_token_type_input():
    weights, cfg = random_bert(2)
    ids, mask = pad_batch([[1, 5, 9, 2], [1, 7, 2]])
    base = _run(wi.compile(build_bert(weights, cfg), "reference"), ids, mask)
    g = build_bert(weights, cfg, token_type_input=True)
    assert list(g.inputs) == ["input_ids", "attention_mask", "token_type_ids"]
    sess = wi.compile(g, "reference")
    zeros = sess.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})["embeddings"]
    np.testing.assert_allclose(zeros.numpy(), base, atol=1e-6)
    ones = sess.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.ones_like(ids)})["embeddings"]
    assert np.abs(ones.numpy() - base).max() > 1e-3
    with torch.no_grad():
        sd = {k: torch.from_numpy(v) for k, v in weights.items()}
        hidden = bert_last_hidden(sd, cfg, ids, mask, np.ones_like(ids))
        ref = torch.nn.functional.normalize((hidden * torch.from_numpy(mask)[..., None]).sum(1), dim=-1)
    np.testing.assert_allclose(ones.numpy(), ref.numpy(), atol=2e-5)


def test_weight_forms_give_the_same_graph():
    from webinfer.format.safetensors import load_file, to_bytes

    weights, cfg = random_bert(3)
    ids, mask = pad_batch([[1, 5, 9, 2]])
    ref = _run(wi.compile(build_bert(weights, cfg), "reference"), ids, mask)
    as_bytes = {k: v.tobytes() for k, v in weights.items()}
    as_tensors = {"bert." + k: wi.Tensor(v) for k, v in weights.items()}
    from_file = load_file(to_bytes({k: ("float32", v.shape, v.tobytes()) for k, v in weights.items()}), "w.safetensors")
    half = {k: v.astype(np.float16) for k, v in weights.items()}
    for form in (as_bytes, as_tensors, from_file):
        np.testing.assert_array_equal(_run(wi.compile(build_bert(form, cfg), "reference"), ids, mask), ref)
    got = _run(wi.compile(build_bert(half, cfg), "reference"), ids, mask)
    assert cosines(got, ref)[0] > 0.999


def test_float16_weights(minilm, minilm_session):
    weights, config, tok, sd, _ = minilm
    g = build_bert(weights, config, weights_dtype="float16")
    big = [c for c in g.constants.values() if c.desc.rank]
    assert all(c.desc.dtype == "float16" for c in big)
    assert sum(c.desc.byte_length for c in big) == 2 * 22_564_608
    # the word table is gathered in float16, then only the gathered rows are cast
    gather = next(n for n in g.nodes if n.op == "gather")
    assert g.constants[gather.inputs[0]].desc.dtype == "float16"
    assert str(g.operands[g.outputs["embeddings"]]) == "float32[batch, 384]"
    ids, mask = pad_batch(_ids(tok, SENTENCES[:4]))
    ours = _run(wi.compile(g, "reference"), ids, mask)
    cos = cosines(ours, sentence_embeddings(sd, config, ids, mask))
    assert cos.min() >= 0.9999, cos


def test_mask_value_is_safe_in_float16():
    assert -65504 < MASK_VALUE <= -1e4
    assert math.exp(MASK_VALUE) == 0.0


def test_errors_name_what_is_wrong():
    weights, cfg = random_bert(4)
    missing = dict(weights)
    del missing["encoder.layer.1.output.dense.bias"]
    with pytest.raises(WeightsError, match=r"'encoder\.layer\.1\.output\.dense\.bias' is missing"):
        build_bert(missing, cfg)
    wrong = dict(weights, **{"embeddings.LayerNorm.weight": np.ones(9, np.float32)})
    with pytest.raises(WeightsError,
                       match=r"'embeddings\.LayerNorm\.weight' has shape \[9\], the config implies \[8\]"):
        build_bert(wrong, cfg)
    ints = dict(weights, **{"embeddings.LayerNorm.bias": np.ones(8, np.int32)})
    with pytest.raises(WeightsError, match="has dtype int32; float32 or float16 expected"):
        build_bert(ints, cfg)
    short = dict(weights, **{"embeddings.LayerNorm.bias": b"\0" * 12})
    with pytest.raises(WeightsError, match="12 raw bytes given, float32 \\[8\\] needs 32"):
        build_bert(short, cfg)
    with pytest.raises(GraphError, match="hidden_act 'relu' is not supported"):
        build_bert(weights, dict(cfg, hidden_act="relu"))
    with pytest.raises(GraphError, match="'num_hidden_layers' is missing"):
        build_bert(weights, {k: v for k, v in cfg.items() if k != "num_hidden_layers"})
    with pytest.raises(GraphError, match="not divisible"):
        build_bert(weights, dict(cfg, num_attention_heads=3))
    with pytest.raises(GraphError, match="pooling 'max' is not one of"):
        build_bert(weights, cfg, pooling="max")
    with pytest.raises(GraphError, match="weights_dtype 'int8'"):
        build_bert(weights, cfg, weights_dtype="int8")
    big = dict(weights, **{"embeddings.LayerNorm.bias": np.full(8, 1e6, np.float32)})
    with pytest.raises(WeightsError, match="does not fit float16"):
        build_bert(big, cfg, weights_dtype="float16")


def test_sequence_longer_than_the_positions_is_an_error():
    weights, cfg = random_bert(5)  # 16 positions
    sess = wi.compile(build_bert(weights, cfg), "reference")
    ids = np.ones((1, 17), np.int64)
    with pytest.raises((GraphError, InputError), match="seq=17.*slice|slice.*17 exceeds the dim 16"):
        sess.run({"input_ids": ids, "attention_mask": ids})


def test_expected_shapes_cover_the_checkpoint(minilm):
    weights, config, *_ = minilm
    shapes = expected_shapes(config)
    unused = set(weights) - set(shapes)
    assert unused == {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}
    assert all(tuple(weights[k].shape) == s for k, s in shapes.items())


NO_NUMPY_SCRIPT = r"""
import array, random, sys
sys.modules["numpy"] = None  # as in Pyodide here: no numpy
import webinfer as wi
from webinfer.format import load_bytes, to_bytes
from webinfer.models import SentenceEncoder, build_bert
from webinfer.models.bert import expected_shapes
cfg = {"vocab_size": 30, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1,
       "intermediate_size": 16, "max_position_embeddings": 16}
rnd = random.Random(0)
weights = {k: array.array("f", [rnd.gauss(0, 0.5) for _ in range(__import__("math").prod(s))]).tobytes()
           for k, s in expected_shapes(cfg).items()}
for dtype in ("float32", "float16"):
    g = build_bert(weights, cfg, weights_dtype=dtype)
    doc, files = to_bytes(g)
    g2 = load_bytes(doc, weights=files)
    assert str(g2.operands[g2.outputs["embeddings"]]) == "float32[batch, 8]", g2
    assert {c.desc.dtype for c in g2.constants.values() if c.desc.rank} == {dtype}
assert "numpy" not in sys.modules or sys.modules["numpy"] is None
print("ok")
"""


def test_builds_and_round_trips_without_numpy():
    """The browser has no numpy: build_bert (float32 and float16 storage) and the format work without it."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", NO_NUMPY_SCRIPT], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
