"""SentenceEncoder inputs (issue 8 item 5): empty lists, huge texts, things that are not strings.

A tiny random BERT (hidden 8, MiniLM's real tokenizer, max_length 64) runs on the host (reference) and in
the page (webgpu, webnn): ``encode([])`` is an empty ``[0, dim]`` float32 tensor without running the
model, a 1 MB text is truncated to ``max_length`` tokens (its embedding is that of its first words) in
bounded time, and every non-string item or non-list argument is an ``InputError`` naming it.
(The real all-MiniLM-L6-v2 gives ``[0, 384]``: tests/models/test_sentence_encoder.py::test_edge_inputs.)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from webinfer.models import SentenceEncoder
from webinfer.tools.pytest_plugin import BrowserPy

CFG = {"vocab_size": 30522, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1,
       "intermediate_size": 16, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
       "hidden_act": "gelu"}

CASES = r'''
import time
from webinfer.errors import InputError

def encoder_cases(enc):
    def outcome(call):
        try:
            value = call()
        except InputError as e:
            return ["InputError", str(e)]
        except BaseException as e:  # anything else is a defect
            return ["NOT-INPUTERROR " + type(e).__name__, str(e)]
        return ["ok", value]
    r = {"dimension": enc.dimension, "max_length": enc.max_length}
    runs_before = enc.session.stats["runs"]
    empty = enc.encode([])
    r["empty"] = [list(empty.shape), empty.dtype, len(empty.tobytes()), enc.session.stats["runs"] - runs_before]
    huge = "the quick brown fox jumps over the lazy dog " * 23000  # ~1 MB
    t0 = time.perf_counter()
    ids = enc.tokenize([huge])[0]
    both = enc.encode([huge, "short one"])
    r["huge_seconds"] = time.perf_counter() - t0
    r["huge_tokens"] = len(ids)
    head = " ".join(huge.split()[: enc.max_length])  # more words than fit: the same tokens after truncation
    r["huge_vs_head"] = max(abs(a - b) for a, b in zip(both.tolist()[0], enc.encode([head]).tolist()[0]))
    r["huge_shape"] = list(both.shape)
    for name, texts in {"int item": ["a", 3], "None item": ["a", None], "bytes item": [b"abc"],
                        "nested list": [["a"]], "None": None, "number": 42}.items():
        r[name] = outcome(lambda: enc.encode(texts))
    r["generator"] = outcome(lambda: list(enc.encode(t for t in ["a", "b"]).shape))
    return r
'''


@pytest.fixture(scope="module")
def tiny_files(make_tiny_encoder: Callable[[dict[str, Any], int], Path]) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in make_tiny_encoder(CFG, seed=5).iterdir()}


def _host(tiny_files: dict[str, bytes], tmp_path: Path) -> dict[str, Any]:
    for name, data in tiny_files.items():
        (tmp_path / name).write_bytes(data)
    namespace: dict[str, Any] = {}
    exec(compile(CASES, "<encoder cases>", "exec"), namespace)
    with SentenceEncoder.load(tmp_path, backend="reference") as enc:
        return json.loads(json.dumps(namespace["encoder_cases"](enc)))


def _page(browser_py: BrowserPy, tiny_files: dict[str, bytes], backend: str) -> dict[str, Any]:
    blob = {name: base64.b64encode(data).decode() for name, data in tiny_files.items()}
    browser_py.run(f"""
        import base64, os
        os.makedirs("/tmp/tiny-rel", exist_ok=True)
        for name, data in {json.dumps(blob)}.items():
            with open("/tmp/tiny-rel/" + name, "wb") as f:
                f.write(base64.b64decode(data))
        from webinfer.models import SentenceEncoder
    """)
    browser_py.run(CASES)
    return browser_py.run(f"""
        enc = SentenceEncoder.load("/tmp/tiny-rel", backend={backend!r})
        result = encoder_cases(enc)
        enc.close()
        result
    """, timeout=600)


@pytest.mark.parametrize("backend", ["reference", pytest.param("webgpu", marks=pytest.mark.browser),
                                     pytest.param("webnn", marks=pytest.mark.browser)])
def test_encoder_inputs(request: pytest.FixtureRequest, tiny_files: dict[str, bytes], tmp_path: Path,
                        backend: str) -> None:
    if backend == "reference":
        r = _host(tiny_files, tmp_path)
    else:
        r = _page(request.getfixturevalue("browser_py"), tiny_files, backend)
    dim = r["dimension"]
    assert dim == CFG["hidden_size"] and r["max_length"] == 64
    assert r["empty"] == [[0, dim], "float32", 0, 0]  # no model run for no texts
    assert r["huge_tokens"] == r["max_length"]
    assert r["huge_shape"] == [2, dim] and r["huge_vs_head"] < 1e-5  # batched and padded vs alone
    assert r["huge_seconds"] < 30
    for case, index, kind in (("int item", 1, "int"), ("None item", 1, "NoneType"), ("bytes item", 0, "bytes"),
                              ("nested list", 0, "list")):
        assert r[case] == ["InputError", f"encode: texts[{index}] is a {kind}, expected str"], case
    assert r["None"] == ["InputError", "encode: texts must be a string or a list of strings, got NoneType"]
    assert r["number"] == ["InputError", "encode: texts must be a string or a list of strings, got int"]
    assert r["generator"] == ["ok", [2, dim]]
