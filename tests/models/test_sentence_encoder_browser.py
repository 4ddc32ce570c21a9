"""SentenceEncoder inside Pyodide: the same code as on the host, on the browser backends, no numpy.

A tiny random BERT (hidden 8, MiniLM's real tokenizer) is converted on the host, its files written
into Pyodide's file system, loaded with ``SentenceEncoder.load`` / ``load_async`` (through a patched
``ffi.fetch_bytes``, so the URL path runs too), and its embeddings compared with the host's reference.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from webinfer.models import SentenceEncoder

TEXTS = ["Hello world", "a longer sentence, so that the batch is padded", "ok"]
CFG = {"vocab_size": 30522, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2,
       "intermediate_size": 16, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
       "hidden_act": "gelu"}


@pytest.fixture(scope="module")
def tiny(make_tiny_encoder):
    """The tiny encoder's files (name -> bytes) and the host reference embeddings of TEXTS."""
    out = make_tiny_encoder(CFG, seed=11)
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    ref = SentenceEncoder.load(out, backend="reference").encode(TEXTS).numpy()
    return files, ref


@pytest.fixture(scope="module")
def page(browser_py, tiny):
    files, _ = tiny
    blob = {name: base64.b64encode(data).decode() for name, data in files.items()}
    browser_py.run(f"""
        import base64, os, sys
        FILES = {{k: base64.b64decode(v) for k, v in {json.dumps(blob)}.items()}}
        os.makedirs("/tmp/tiny", exist_ok=True)
        for name, data in FILES.items():
            with open("/tmp/tiny/" + name, "wb") as f:
                f.write(data)
        from webinfer import ffi
        from webinfer.models import SentenceEncoder
        TEXTS = {json.dumps(TEXTS)}
        "numpy" in sys.modules
    """)
    return browser_py


def test_fetch_bytes_in_the_page(page):
    """ffi.fetch_bytes (what load_async uses for URLs) against the harness server."""
    got = page.run("""
        data = await ffi.fetch_bytes("/webinfer-config.json")
        try:
            await ffi.fetch_bytes("/no-such-file.json")
            missing = "no error"
        except ffi.FFIError as e:
            missing = str(e)
        [len(data) > 0, missing]
    """)
    assert got[0] is True
    assert "HTTP 404" in got[1]


@pytest.mark.parametrize("backend", ["webgpu", "webnn", "hybrid"])
def test_encode_in_the_browser_matches_the_host(page, tiny, backend):
    _, ref = tiny
    got = page.run(f"""
        enc = SentenceEncoder.load("/tmp/tiny", backend={backend!r})
        emb = enc.encode(TEXTS, batch_size=2)
        info = enc.info()
        enc.close()
        [emb.shape, emb.tolist(), info["backend"], "numpy" in sys.modules]
    """, timeout=300)
    shape, rows, name, has_numpy = got
    assert shape == [len(TEXTS), 8] and name == backend
    assert has_numpy is False  # the page has no numpy: this ran on bytes and lists only
    ours = np.array(rows)
    cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.9999, cos


@pytest.mark.parametrize("how", ["load_async", "load"])
def test_load_from_a_url(page, tiny, how):
    """A URL: the files come through ffi.fetch_bytes (patched to serve them from memory).

    ``load`` blocks on the same coroutine through JSPI (``ffi.run_sync``); ``load_async`` awaits it.
    """
    _, ref = tiny
    call = {"load_async": "await SentenceEncoder.load_async", "load": "SentenceEncoder.load"}[how]
    got = page.run(f"""
        asked = []
        real_fetch = ffi.fetch_bytes
        async def fake_fetch(url):
            asked.append(url)
            return FILES[url.rsplit("/", 1)[1]]
        ffi.fetch_bytes = fake_fetch
        try:
            enc = {call}("https://models.example/tiny", backend="webnn")
        finally:
            ffi.fetch_bytes = real_fetch
        emb = await enc.encode_async(TEXTS)
        enc.close()
        [sorted(asked), emb.tolist(), enc.metadata["loaded_from"]]
    """, timeout=300)
    asked, rows, loaded_from = got
    assert asked == sorted(f"https://models.example/tiny/{n}"
                           for n in ("encoder.json", "model.json", "model.safetensors", "tokenizer.json"))
    assert loaded_from == "https://models.example/tiny/"
    ours = np.array(rows)
    assert ((ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)).min() >= 0.9999


def test_a_url_without_a_model_says_what_to_do(page):
    """A 404 on the manifest (the REPL's MODEL_URL under plain `webinfer serve`): a webinfer error, with the fix."""
    got = page.run("""
        import webinfer as wi
        try:
            await SentenceEncoder.load_async("/models/none/", backend="webnn")
            err = None
        except wi.WebinferError as e:
            err = [type(e).__name__, str(e)]
        err
    """)
    assert got is not None and got[0] == "WebinferError"
    assert "cannot fetch" in got[1] and "/models/none/encoder.json: HTTP 404" in got[1]
    assert "webinfer convert -o models/minilm" in got[1]
