"""Deterministic inputs for the BERT encoders the bench runs: token ids with a realistic padding mask.

The first row fills ``seq``; later rows shrink evenly to about half of it, as a length-sorted batch of
sentences pads. The same ids go to every runtime and to the host reference. Pure Python (the page has no numpy).
"""

from __future__ import annotations

import array
import sys
from collections.abc import Sequence

from .errors import BenchError

#: BERT (uncased) special token ids, shared by the bench models (they use MiniLM's vocabulary).
CLS_ID, SEP_ID, PAD_ID = 101, 102, 0
FIRST_WORD_ID = 1996  # past [unused*] and single characters: ordinary word pieces


def token_lengths(batch: int, seq: int) -> list[int]:
    """Tokens per row (with [CLS] and [SEP]): the first row fills ``seq``, the last about half of it."""
    if batch == 1:
        return [seq]
    low = max(2, seq // 2)
    return [seq - (seq - low) * i // (batch - 1) for i in range(batch)]


def token_ids(batch: int, seq: int, vocab_size: int = 30522) -> tuple[list[int], list[int]]:
    """Deterministic ``input_ids`` and ``attention_mask`` (flat, row-major ``[batch, seq]``)."""
    if vocab_size <= FIRST_WORD_ID:
        raise BenchError(f"bench: vocab_size {vocab_size} is too small for the token generator (> {FIRST_WORD_ID})")
    ids: list[int] = []
    mask: list[int] = []
    state = 12345
    span = vocab_size - FIRST_WORD_ID
    for length in token_lengths(batch, seq):
        row = [CLS_ID]
        for _ in range(length - 2):
            state = (state * 1103515245 + 12345) % (1 << 31)  # a fixed LCG: same ids on every machine
            row.append(FIRST_WORD_ID + state % span)
        row.append(SEP_ID)
        ids += row + [PAD_ID] * (seq - length)
        mask += [1] * length + [0] * (seq - length)
    return ids, mask


def int64_bytes(values: Sequence[int]) -> bytes:
    """Little-endian int64 bytes of ``values``."""
    out = array.array("q", values)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def input_bytes(batch: int, seq: int, vocab_size: int = 30522) -> dict[str, bytes]:
    """The benchmark inputs as int64 bytes by graph input name."""
    ids, mask = token_ids(batch, seq, vocab_size)
    return {"input_ids": int64_bytes(ids), "attention_mask": int64_bytes(mask)}


SAMPLE_WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards", "quietly",
    "judge", "boxing", "matches", "in", "the", "old", "library,", "reading", "about", "neural", "networks,",
    "browsers", "and", "tokenizers",
)


def sample_texts(batch: int, seq: int) -> list[str]:
    """``batch`` English texts of roughly ``seq`` words, for timing the tokenizer."""
    words = SAMPLE_WORDS
    return [" ".join(words[(i + j) % len(words)] for j in range(n)) for i, n in enumerate(token_lengths(batch, seq))]


__all__ = [
    "CLS_ID", "FIRST_WORD_ID", "PAD_ID", "SEP_ID", "input_bytes", "int64_bytes", "sample_texts", "token_ids",
    "token_lengths",
]
