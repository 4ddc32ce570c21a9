"""SentenceEncoder on the reference backend: embeddings match torch, batching/padding/order, loading, errors."""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import threading

import numpy as np
import pytest

import webinfer as wi
from webinfer.errors import GraphError, InputError, WebinferError
from webinfer.models import SentenceEncoder

torch = pytest.importorskip("torch", reason="torch (CPU) is the reference: pip install torch==2.13.0")
from bert_torch_ref import cosines, pad_batch, sentence_embeddings  # noqa: E402 - needs torch (above)

TEXTS = [
    "Hello world",
    "How do I read a file line by line?",
    "ok",
    "Find the standard library function that parses command-line options.",
    "Café déjà vu — naïve façade! 東京は日本の首都です。",
    "   leading and trailing spaces   ",
    "Sort a list of dictionaries by a key, then group the result by another key, and count each group.",
    " ".join(["tokenizers split words into wordpieces"] * 18),  # ~126 tokens
]


@pytest.fixture(scope="module")
def reference(minilm_dir):
    """torch state dict, config and HF tokenizer of all-MiniLM-L6-v2."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer as HFTokenizer

    tok = HFTokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tok.no_padding()
    return load_file(str(minilm_dir / "model.safetensors")), json.loads((minilm_dir / "config.json").read_text()), tok


def torch_embed(reference, texts, max_length):
    sd, cfg, tok = reference
    tok.enable_truncation(max_length)
    ids, mask = pad_batch([e.ids for e in tok.encode_batch(texts)])
    return sentence_embeddings(sd, cfg, ids, mask)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, minilm_dir):
    """all-MiniLM-L6-v2 converted once (float32 and float16) for this module."""
    from webinfer.tools.convert import convert_model

    root = tmp_path_factory.mktemp("minilm")
    convert_model("minilm", root / "fp32")
    convert_model("minilm", root / "fp16", dtype="float16")
    return root


@pytest.fixture(scope="module")
def encoder(converted):
    return SentenceEncoder.load(converted / "fp32", backend="reference")


def test_embeddings_match_torch(encoder, reference):
    emb = encoder.encode(TEXTS, batch_size=4)
    assert isinstance(emb, wi.Tensor) and emb.dtype == "float32" and emb.shape == (len(TEXTS), 384)
    ours = emb.numpy()
    ref = torch_embed(reference, TEXTS, encoder.max_length)
    cos = cosines(ours, ref)
    assert cos.min() >= 0.9999, cos
    assert np.abs(ours - ref).max() < 1e-4
    assert encoder.info()["stats"]["batches"] >= 2


def test_rows_keep_their_order_and_do_not_depend_on_batching(encoder):
    texts = TEXTS[:4]
    together = encoder.encode(texts, batch_size=32).numpy()
    small = encoder.encode(texts, batch_size=3).numpy()
    alone = np.stack([encoder.encode(t).numpy()[0] for t in texts])
    assert np.abs(together - small).max() < 1e-6
    assert np.abs(together - alone).max() < 1e-6
    # a row is the embedding of its own text: no two texts collide
    sims = together @ together.T
    assert np.argmax(sims, axis=1).tolist() == list(range(len(texts)))


def test_batches_are_sorted_and_padded_to_their_longest(encoder):
    texts = ["a", "a much longer sentence than the first one, with many more tokens in it", "b c", "d"]
    lengths = [len(ids) for ids in encoder.tokenize(texts)]
    assert lengths[0] == lengths[3] == 3 and lengths[1] > lengths[2] == 4
    before = len(encoder.stats["shapes"])
    encoder.encode(texts, batch_size=2)
    # the two longest run together, padded to the longest; the two short ones need no padding at all
    assert encoder.stats["shapes"][before:] == [[2, lengths[1]], [2, 3]]


def test_pad_to_multiple_of(converted):
    enc = SentenceEncoder.load(converted / "fp32", backend="reference", pad_to_multiple_of=8)
    base = SentenceEncoder.load(converted / "fp32", backend="reference")
    texts = TEXTS[:3]
    np.testing.assert_allclose(enc.encode(texts).numpy(), base.encode(texts).numpy(), atol=1e-6)
    assert all(s[1] % 8 == 0 for s in enc.stats["shapes"])


def test_float16_weights_match_torch(converted, reference):
    enc = SentenceEncoder.load(converted / "fp16", backend="reference")
    assert enc.metadata["weights_dtype"] == "float16"
    texts = TEXTS[:5]
    cos = cosines(enc.encode(texts).numpy(), torch_embed(reference, texts, enc.max_length))
    assert cos.min() >= 0.9999, cos


def test_from_pretrained_minilm_equals_the_converted_model(encoder):
    direct = SentenceEncoder.from_pretrained_minilm(backend="reference")
    assert direct.max_length == encoder.max_length == 256
    texts = TEXTS[:3]
    np.testing.assert_array_equal(direct.encode(texts).numpy(), encoder.encode(texts).numpy())


def test_truncates_to_max_length(converted, reference):
    enc = SentenceEncoder.load(converted / "fp32", backend="reference", max_length=16)
    long = TEXTS[6]
    assert len(enc.tokenize([long])[0]) == 16
    cos = cosines(enc.encode([long]).numpy(), torch_embed(reference, [long], 16))
    assert cos.min() >= 0.9999


def test_info_names_backend_device_and_model(encoder):
    info = encoder.info()
    assert info["backend"] == "reference"
    assert info["device"]["type"] == "cpu"
    assert info["dimension"] == 384 and info["max_length"] == 256
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    json.dumps(info)  # JSON-able, for the demo and the bench


def test_embeddings_say_which_backend_computed_them(encoder):
    emb = encoder.encode(["where did this run"])
    assert (emb.backend, emb.device) == ("reference", "cpu")  # not "host": the rows are only gathered there
    assert encoder.encode([]).backend == "reference"


def test_edge_inputs(encoder):
    assert encoder.encode([]).shape == (0, 384)
    one = encoder.encode("just one string")
    assert one.shape == (1, 384)
    assert abs(float(np.linalg.norm(one.numpy()))) == pytest.approx(1.0, abs=1e-6)
    empty = encoder.encode([""]).numpy()  # [CLS] [SEP] only: still a unit vector
    assert np.linalg.norm(empty) == pytest.approx(1.0, abs=1e-6)


def test_encode_async(encoder):
    texts = TEXTS[:2]
    got = asyncio.run(encoder.encode_async(texts))
    np.testing.assert_array_equal(got.numpy(), encoder.encode(texts).numpy())


def test_load_from_a_url(converted):
    """The URL path (what the browser does with fetch) on the host with urllib and format.load_bytes."""
    handler = functools.partial(_QuietHandler, directory=str(converted))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/fp16"
        enc = SentenceEncoder.load(url, backend="reference")
        assert enc.metadata["loaded_from"] == url + "/"
        local = SentenceEncoder.load(converted / "fp16", backend="reference")
        np.testing.assert_array_equal(enc.encode(["hi there"]).numpy(), local.encode(["hi there"]).numpy())
        with pytest.raises(WebinferError, match="cannot fetch .*/nothing/encoder.json"):
            SentenceEncoder.load(url.replace("fp16", "nothing"), backend="reference")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_errors(encoder, converted, tmp_path):
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        encoder.encode(["a"], batch_size=0)
    with pytest.raises(InputError, match=r"texts\[1\] is a int"):
        encoder.encode(["a", 3])  # type: ignore[list-item]
    with pytest.raises(WebinferError, match="cannot read .*encoder.json.*no converted model there: `webinfer convert"):
        SentenceEncoder.load(tmp_path, backend="reference")
    (tmp_path / "encoder.json").write_text('{"format": "something-else"}')
    with pytest.raises(GraphError, match="not a sentence-encoder manifest"):
        SentenceEncoder.load(tmp_path, backend="reference")
    manifest = json.loads((converted / "fp32" / "encoder.json").read_text())
    (tmp_path / "encoder.json").write_text(json.dumps(dict(manifest, graph="../fp32/model.json")))
    with pytest.raises(GraphError, match="must name a file next to the manifest"):
        SentenceEncoder.load(tmp_path, backend="reference")
    with pytest.raises(InputError, match="max_length must be an integer >= 2"):
        SentenceEncoder.load(converted / "fp32", backend="reference", max_length=1)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 4])
    with pytest.raises(GraphError, match="no input 'input_ids'"):
        SentenceEncoder(g.build({"y": g.relu(x)}), encoder.tokenizer, backend="reference")
