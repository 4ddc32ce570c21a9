"""Tiny random Llama models written as GGUF files with the ``gguf`` package (the reference writer and
quantizers), for fast tests of the GGUF reader, the llama graph and CausalLM against ``transformers``.

Every tensor type webinfer converts appears: Q8_0 (token embedding, ffn_down), Q4_1 (q, k, output, gate),
Q4_0 (v), F16 (ffn_up), F32 (norms).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY = {"vocab": 96, "hidden": 64, "heads": 4, "kv": 2, "layers": 2, "ffn": 128, "ctx": 256}


# the ChatML family (what SmolLM2's template renders, without its default system prompt)
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


#: A byte-level vocabulary for the tiny model: SmolLM2's first three special tokens (bos 1, eos 2), one token per
#: byte (GPT-2's byte characters) and one merge (" t"), so text prompts work (every text encodes).
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
BYTE_MERGES = ["\u0120 t"]


def byte_level_tokens() -> list[str]:
    """The tokens of :data:`SPECIAL_TOKENS`, the 256 byte characters and the merges' results."""
    from webinfer.models.bpe import BYTE_CHARS

    return SPECIAL_TOKENS + list(BYTE_CHARS) + [m.replace(" ", "") for m in BYTE_MERGES]


def write_tiny_gguf(path: str | Path, seed: int = 0, *, scale: float = 0.1, byte_level: bool = False,
                    **overrides: int) -> Path:
    """A random Llama GGUF at ``path`` (dims from TINY, overridable); returns the path. ``byte_level``: the vocabulary
    is :func:`byte_level_tokens` (259 tokens) instead of 96 placeholder tokens."""
    import gguf
    from gguf.quants import quantize

    cfg = {**TINY, **overrides}
    if byte_level:
        cfg["vocab"] = len(byte_level_tokens())
    T = gguf.GGMLQuantizationType
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    hidden, heads, kv, ffn, vocab = cfg["hidden"], cfg["heads"], cfg["kv"], cfg["ffn"], cfg["vocab"]
    w.add_block_count(cfg["layers"])
    w.add_context_length(cfg["ctx"])
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_rope_dimension_count(hidden // heads)
    w.add_tokenizer_model("gpt2")
    if byte_level:
        w.add_tokenizer_pre("smollm")
        w.add_token_list(byte_level_tokens())
        w.add_token_types([3] * len(SPECIAL_TOKENS) + [1] * (vocab - len(SPECIAL_TOKENS)))  # 3: control
        w.add_token_merges(BYTE_MERGES)
    else:
        w.add_token_list([f"<t{i}>" for i in range(vocab)])
        w.add_token_types([1] * vocab)
        w.add_token_merges([])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template(CHATML)

    def tensor(name: str, shape: tuple[int, ...], qtype: object, s: float = scale) -> None:
        a = (rng.standard_normal(shape) * s).astype(np.float32)
        if qtype == T.F32:
            w.add_tensor(name, a)
        elif qtype == T.F16:
            w.add_tensor(name, a.astype(np.float16))
        else:
            w.add_tensor(name, quantize(a, qtype), raw_dtype=qtype)

    hd = hidden // heads
    tensor("token_embd.weight", (vocab, hidden), T.Q8_0, 1.0)
    for i in range(cfg["layers"]):
        p = f"blk.{i}."
        tensor(p + "attn_norm.weight", (hidden,), T.F32, 1.0)
        tensor(p + "attn_q.weight", (heads * hd, hidden), T.Q4_1)
        tensor(p + "attn_k.weight", (kv * hd, hidden), T.Q4_1)
        tensor(p + "attn_v.weight", (kv * hd, hidden), T.Q4_0)
        tensor(p + "attn_output.weight", (hidden, heads * hd), T.Q4_1)
        tensor(p + "ffn_norm.weight", (hidden,), T.F32, 1.0)
        tensor(p + "ffn_gate.weight", (ffn, hidden), T.Q4_1)
        tensor(p + "ffn_up.weight", (ffn, hidden), T.F16)
        tensor(p + "ffn_down.weight", (hidden, ffn), T.Q8_0)
    tensor("output_norm.weight", (hidden,), T.F32, 1.0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Path(path)


class HFTokenizer:
    """A ``transformers`` tokenizer with the two methods CausalLM uses (until webinfer's BPE tokenizer is in)."""

    def __init__(self, tok: object) -> None:
        self.tok = tok

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    def decode(self, ids: list[int]) -> str:
        return str(self.tok.decode(ids))  # type: ignore[attr-defined]
