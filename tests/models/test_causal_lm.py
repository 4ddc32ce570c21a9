"""CausalLM on the reference backend with a tiny random Llama GGUF, against ``transformers`` loading the same file
(de-quantized, float32): logits at every position, the KV cache across decode steps, bucket growth and padding,
greedy generation, seeded sampling, streaming, stop strings, compile counts, converted directories, bad input.
"""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llm_samples import TINY, write_tiny_gguf

from webinfer.errors import BackendError, InputError, WebinferError
from webinfer.models.causal_lm import CausalLM, bucket, buckets

PROMPT = [3, 5, 7, 11, 13, 17, 19]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", seed=0, scale=0.5)


@pytest.fixture(scope="module")
def hf(tiny: Path) -> Any:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    return transformers.AutoModelForCausalLM.from_pretrained(str(tiny.parent), gguf_file=tiny.name,
                                                             dtype=torch.float32)


class TokTokenizer:
    """Token i is the text "<ti>" (the tiny model's vocabulary): enough to test text, streaming and stops."""

    def encode(self, text: str) -> list[int]:
        return [int(m) for m in re.findall(r"<t(\d+)>", text)]

    def decode(self, ids: list[int]) -> str:
        return "".join(f"<t{i}>" for i in ids)


@pytest.fixture(scope="module")
def lm(tiny: Path) -> CausalLM:
    return CausalLM.load(tiny, backend="reference", tokenizer=TokTokenizer())


def hf_logits(hf: Any, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return hf(torch.tensor([ids])).logits[0].numpy().astype(np.float64)


def rel(got: np.ndarray, ref: np.ndarray) -> float:
    """max |Δ| / max |ref|: the logits' error relative to their scale."""
    return float(np.abs(np.asarray(got, np.float64) - ref).max() / np.abs(ref).max())


def test_logits_match_transformers_at_every_position(lm: CausalLM, hf: Any) -> None:
    got = lm.logits(PROMPT, all_positions=True)
    assert got.shape == (len(PROMPT), TINY["vocab"]) and got.backend == "reference"
    assert rel(got.numpy(), hf_logits(hf, PROMPT)) < 1e-5
    last = lm.logits(PROMPT)
    assert last.shape == (TINY["vocab"],)
    np.testing.assert_array_equal(last.numpy(), got.numpy()[-1])


def test_decode_steps_with_the_cache_match_a_full_forward(lm: CausalLM, hf: Any) -> None:
    """Sampled (not degenerate) tokens, 70 of them: the prompt's bucket (16) gives 64 slots, position 64 grows the
    cache to 128; every step's logits equal transformers' full forward over the same tokens."""
    grows = lm.stats["grows"]
    r = lm.generate(PROMPT, max_new_tokens=70, temperature=1.0, seed=7, keep_logits=True)
    assert len(r.ids) == 70 and r.finish_reason == "length" and r.logits is not None
    assert lm.stats["grows"] == grows + 1 and r.timings["capacity"] == 128
    ref = hf_logits(hf, PROMPT + r.ids[:-1])[len(PROMPT) - 1 :]
    got = np.array([np.asarray(row) for row in r.logits])
    assert got.shape == ref.shape
    assert rel(got, ref) < 1e-5


def test_greedy_generation_matches_transformers(lm: CausalLM, hf: Any) -> None:
    import torch

    out = hf.generate(torch.tensor([PROMPT]), max_new_tokens=12, do_sample=False, min_new_tokens=12,
                      pad_token_id=0)
    r = lm.generate(PROMPT, max_new_tokens=12)
    assert r.ids == out[0][len(PROMPT) :].tolist()
    assert r.backend == "reference" and r.device == "cpu"
    t = r.timings
    assert t["prompt_tokens"] == 7 and t["new_tokens"] == 12 and t["decode_tokens"] == 11
    assert len(t["steps_ms"]) == 12 and t["tokens_per_s"] > 0 and t["prefill_s"] > 0


def test_padding_the_prompt_changes_nothing(lm: CausalLM, hf: Any) -> None:
    """16 tokens fill their bucket exactly; 15 and 17 are padded (to 16 and 32)."""
    ids = [(7 * i + 3) % TINY["vocab"] for i in range(17)]
    for n in (15, 16, 17):
        assert rel(lm.logits(ids[:n]).numpy(), hf_logits(hf, ids[:n])[-1]) < 1e-5


def test_steady_decode_compiles_nothing(tiny: Path) -> None:
    lm = CausalLM.load(tiny, backend="reference")
    lm.generate(PROMPT, max_new_tokens=20)
    c = lm.info()["compiles"]
    assert c["shapes"] == [[16, 64, 1], [1, 64, 1]]  # (T, C, R): the prefill bucket and the decode step
    assert c["steps_since_last_compile"] == 18  # every decode step after the first reused its shapes
    lm.generate(PROMPT[:3], max_new_tokens=30)
    c = lm.info()["compiles"]
    assert c["step_shapes"] == 2 and c["grow_graphs"] == 0
    assert lm.stats["decode_runs"] == 19 + 29 and lm.stats["prefill_runs"] == 2


def test_sampling_is_seeded_and_reproducible(lm: CausalLM) -> None:
    a = lm.generate(PROMPT, max_new_tokens=15, temperature=1.2, top_k=20, top_p=0.9, seed=3)
    b = lm.generate(PROMPT, max_new_tokens=15, temperature=1.2, top_k=20, top_p=0.9, seed=3)
    c = lm.generate(PROMPT, max_new_tokens=15, temperature=1.2, top_k=20, top_p=0.9, seed=4)
    assert a.ids == b.ids and a.ids != c.ids
    greedy = lm.generate(PROMPT, max_new_tokens=15)
    assert lm.generate(PROMPT, max_new_tokens=15, temperature=5.0, top_k=1, seed=9).ids == greedy.ids


def test_text_streaming_and_stop_strings(lm: CausalLM) -> None:
    prompt = "".join(f"<t{i}>" for i in PROMPT)
    full = lm.generate(prompt, max_new_tokens=10)
    assert full.text == "".join(f"<t{i}>" for i in full.ids) and full.prompt_ids == PROMPT
    pieces = list(lm.stream(prompt, max_new_tokens=10))
    assert "".join(pieces) == full.text and len(pieces) > 1
    stop_at = f"<t{full.ids[3]}>"
    cut = full.text.index(stop_at)
    r = lm.generate(prompt, max_new_tokens=10, stop=[stop_at, "never"])
    assert r.finish_reason == "stop" and r.text == full.text[:cut] and len(r.ids) <= 4
    assert "".join(lm.stream(prompt, max_new_tokens=10, stop=stop_at)) == full.text[:cut]

    async def collect() -> list[str]:
        return [p async for p in lm.stream_async(prompt, max_new_tokens=10)]

    assert "".join(asyncio.run(collect())) == full.text
    assert asyncio.run(lm.generate_async(prompt, max_new_tokens=10)).ids == full.ids


def test_end_of_sequence_stops_generation(tiny: Path) -> None:
    lm = CausalLM.load(tiny, backend="reference", tokenizer=TokTokenizer())
    first = lm.generate(PROMPT, max_new_tokens=5).ids
    lm.eos_token_ids = {first[2]}
    r = lm.generate(PROMPT, max_new_tokens=5)
    assert r.finish_reason == "eos" and r.ids == first[:3] and r.text == TokTokenizer().decode(first[:2])


def test_generation_ends_at_the_context(tiny: Path) -> None:
    lm = CausalLM.load(tiny, backend="reference")
    ids = [3 + i % 90 for i in range(256)]
    r = lm.generate(ids[:250], max_new_tokens=20)  # context 256: 7 more tokens fit (the last needs no step)
    assert r.finish_reason == "context" and len(r.ids) == 7
    assert len(lm.generate(ids, max_new_tokens=3).ids) == 1  # the prompt fills the context


def test_bad_input_gets_clear_errors(lm: CausalLM, tiny: Path) -> None:
    cases: list[tuple[Any, dict[str, Any], str]] = [
        ([], {}, "the prompt is empty"),
        ("", {}, "the prompt is empty"),
        ("no tokens here", {}, "the prompt is empty"),
        ([5] * 257, {}, "the prompt has 257 tokens, more than the context of 256"),
        ([1, 96], {}, r"token ids\[1\] is 96; ids are integers in \[0, 96\)"),
        ([1, -1], {}, r"token ids\[1\] is -1"),
        ([1, 2.0], {}, r"token ids\[1\] is 2.0"),
        (PROMPT, {"temperature": math.nan}, "temperature must be finite and >= 0"),
        (PROMPT, {"temperature": math.inf}, "temperature must be finite and >= 0"),
        (PROMPT, {"temperature": -0.5}, "temperature must be finite and >= 0"),
        (PROMPT, {"temperature": "hot"}, "temperature must be a number"),
        (PROMPT, {"top_p": 0.0}, r"top_p must be a number in \(0, 1\]"),
        (PROMPT, {"top_p": 1.5}, r"top_p must be a number in \(0, 1\]"),
        (PROMPT, {"top_k": -1}, "top_k must be an integer >= 0"),
        (PROMPT, {"top_k": 2.5}, "top_k must be an integer >= 0"),
        (PROMPT, {"seed": "x"}, "seed must be an integer or None"),
        (PROMPT, {"max_new_tokens": 0}, "max_new_tokens must be an integer >= 1"),
        (PROMPT, {"stop": [""]}, "stop must be a non-empty string or a list of them"),
        (42, {}, "expected a prompt string or a list of token ids, got int"),
    ]
    for prompt, kwargs, message in cases:
        with pytest.raises(InputError, match=message):
            lm.generate(prompt, **kwargs)
        if "max_new_tokens" not in kwargs:
            with pytest.raises(InputError, match=message):
                lm.stream(prompt, **kwargs)  # checked when called, before the first piece
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        CausalLM.load(tiny, backend="tpu")
    unusable = CausalLM.load(tiny, backend="reference")  # the tiny GGUF's tokenizer has no pre-tokenizer, no merges
    assert "tokenizer.ggml.pre None is not supported" in unusable.metadata["tokenizer_error"]
    with pytest.raises(InputError, match="tokenizer cannot be used: tokenizer.ggml.pre .*: pass token ids"):
        unusable.generate("<t1>")
    with pytest.raises(InputError, match="chat: messages must be a non-empty list"):
        lm.chat([])
    with pytest.raises(InputError, match=r"chat: messages\[0\] must be a dict"):
        lm.chat([{"role": "user"}])
    with pytest.raises(WebinferError, match="CausalLM.load: cannot read .*llm.json.*webinfer convert --model gguf"):
        CausalLM.load(tiny.parent / "nothing")


def test_chat_applies_the_template(lm: CausalLM) -> None:
    prompt = lm.chat_prompt([{"role": "user", "content": "<t5>"}])
    assert prompt == "<|im_start|>user\n<t5><|im_end|>\n<|im_start|>assistant\n"
    template = lm.metadata["chat_template"]
    lm.metadata["chat_template"] = "{{ messages | tojson }}"  # not a template webinfer can render without jinja2
    try:
        with pytest.raises(InputError, match="chat: .*template"):
            lm.chat_prompt([{"role": "user", "content": "hi"}])
    finally:
        lm.metadata["chat_template"] = template
    assert lm.chat([{"role": "user", "content": "<t5>"}], max_new_tokens=3).prompt_ids == TokTokenizer().encode(prompt)


def test_converted_directory_loads_the_same_model(lm: CausalLM, tiny: Path, tmp_path: Path) -> None:
    from webinfer.tools.convert import convert_model

    summary = convert_model("gguf", tmp_path / "out", source=tiny, shard_bytes=20_000)
    files = summary["files"]
    assert len(files["weights"]) > 1 and all(f["bytes"] <= 20_000 + 16_384 for f in files["weights"])
    # 4-bit stays 4-bit: the converted weights are about the GGUF's tensor bytes (+ the RoPE tables)
    assert 0.9 < summary["weights_bytes_vs_gguf_tensors"] < 1.6
    other = CausalLM.load(tmp_path / "out", backend="reference", tokenizer=TokTokenizer())
    np.testing.assert_array_equal(other.logits(PROMPT, all_positions=True).numpy(),
                                  lm.logits(PROMPT, all_positions=True).numpy())
    assert other.generate(PROMPT, max_new_tokens=8).ids == lm.generate(PROMPT, max_new_tokens=8).ids
    assert other.metadata["eos_token_ids"] == [2] and other.metadata["capacity_buckets"][0] == 64
    info = other.info()
    assert info["backend"] == "reference" and info["context_length"] == 256


def test_buckets() -> None:
    assert buckets(8192, 64) == [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    assert buckets(300, 16) == [16, 32, 64, 128, 256, 300]
    assert bucket(65, buckets(300, 64)) == 128 and bucket(64, [64, 128]) == 64
    with pytest.raises(InputError):
        bucket(301, buckets(300, 64))


def test_a_converted_directory_that_lies_is_refused(tiny: Path, tmp_path: Path) -> None:
    import json

    from webinfer.errors import GraphError
    from webinfer.tools.convert import convert_model

    convert_model("gguf", tmp_path, source=tiny)
    manifest = json.loads((tmp_path / "llm.json").read_text())
    for key, value, message in (("num_layers", 3, "the graph's input 'past_key_2' is None"),
                                ("vocab_size", 97, r"the config needs \[R, 97\]"),
                                ("num_heads", "4", "num_heads = '4' is not valid"),
                                ("surprise", 1, r"unknown keys \['surprise'\]")):
        bad = {**manifest, "config": {**manifest["config"], key: value}}
        (tmp_path / "llm.json").write_text(json.dumps(bad))
        with pytest.raises(GraphError, match=message):
            CausalLM.load(tmp_path, backend="reference")
    (tmp_path / "llm.json").write_text(json.dumps({**manifest, "eos_token_ids": ["2"]}))
    with pytest.raises(GraphError, match="special tokens bos 1, eos \\['2'\\], pad 2 must be token ids"):
        CausalLM.load(tmp_path, backend="reference")
    with pytest.raises(InputError, match="is a GGUF at a URL"):
        CausalLM.load("https://example.org/model.gguf")
    (tmp_path / "llm.json").write_text(json.dumps({**manifest, "graph": "../model.json"}))
    with pytest.raises(GraphError, match="'graph' must name a file next to the manifest"):
        CausalLM.load(tmp_path, backend="reference")


def test_safe_end_holds_back_partial_characters_and_stop_prefixes() -> None:
    from webinfer.models.causal_lm import _safe_end

    assert _safe_end("abc", []) == 3
    assert _safe_end("ab\ufffd", []) == 2
    assert _safe_end("hello wor", ["world"]) == 6
    assert _safe_end("hello w", ["xyz", "wo"]) == 6
    assert _safe_end("hello", ["lo!"]) == 3


def test_long_prompts_run_in_chunks(tiny: Path, hf: Any, lm: CausalLM) -> None:
    """A prompt longer than prefill_chunk runs chunk by chunk through the cache (growing it as it goes): the
    logits are the same as one full forward, and generation continues as from an unchunked prefill."""
    chunked = CausalLM.load(tiny, backend="reference")
    chunked.prefill_chunk = 16
    ids = [(5 * i + 1) % TINY["vocab"] for i in range(70)]  # 16 + 16 + 16 + 16 + 6: the cache grows 64 -> 128
    assert rel(chunked.logits(ids, all_positions=True).numpy(), hf_logits(hf, ids)) < 1e-5
    assert chunked.generate(ids, max_new_tokens=10).ids == lm.generate(ids, max_new_tokens=10).ids
    shapes = chunked.info()["compiles"]["shapes"]
    assert [16, 64, 16] in shapes and [16, 128, 1] in shapes and chunked.stats["grows"] >= 2
