"""BERT encoders (all-MiniLM-L6-v2 and kin) as webinfer graphs, built with GraphBuilder from HF weights.

``build_bert(weights, config)`` turns a HF ``BertModel`` checkpoint (the tensors of its
``model.safetensors`` and its ``config.json``) into one graph: embeddings, the encoder layers, then
mean pooling over the attention mask and L2 normalization, so the graph's output *is* the sentence
embedding. Pure Python (no numpy needed), so it runs in Pyodide too.

Graph contract (``pooling="mean"``): inputs ``input_ids`` and ``attention_mask``, int64
``[batch, seq]`` (``token_type_ids`` too when ``token_type_input=True``; otherwise every token has
type 0); output ``embeddings`` float32 ``[batch, hidden]``. ``batch`` and ``seq`` are symbolic;
``seq`` may be at most ``max_position_embeddings`` (512).

Rewrites made while building (same function, fewer ops at run time):
- linear weights are stored transposed (``[in, out]``) so every projection is ``matmul`` + ``add``;
- query, key and value are one ``[hidden, 3*hidden]`` projection, the query part pre-scaled by
  ``1/sqrt(head_dim)``;
- the token-type-0 embedding row is folded into the position table (when there is no type input);
- positions are ``slice(position_table, sizes=["seq", hidden])``, so users pass no position ids;
- with ``normalize=True`` mean pooling skips the division by the token count (L2 normalization
  removes any per-row scale).

``weights_dtype="float16"`` stores every weight as float16 with a ``cast`` to float32 in the graph
(after the ``gather`` for the embedding tables), so files are half the size and compute stays float32.
"""

from __future__ import annotations

import array
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import GraphError, WeightsError
from ..ir.builder import GraphBuilder, Operand
from ..ir.graph import Graph
from ..tensor import Tensor

# Added to the attention scores of padding keys: exp() of it is 0 in float32 and float16, and it
# stays finite in float16 (no inf - inf = NaN when a backend computes in half precision).
MASK_VALUE = -10000.0
POOLINGS = ("mean", "cls", "none")
WEIGHT_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class BertConfig:
    """The parts of a HF BERT ``config.json`` the graph depends on."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> BertConfig:
        """Read and check a HF config dict; unsupported variants are a GraphError saying which key."""
        if not isinstance(config, Mapping):
            raise GraphError(f"bert config: expected a dict (config.json), got {type(config).__name__}")
        act = config.get("hidden_act", "gelu")
        if act != "gelu":
            raise GraphError(f"bert config: hidden_act {act!r} is not supported (only 'gelu', the erf form)")
        pos = config.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise GraphError(f"bert config: position_embedding_type {pos!r} is not supported (only 'absolute')")
        if config.get("is_decoder") or config.get("add_cross_attention"):
            raise GraphError("bert config: decoder / cross-attention models are not supported")
        values: dict[str, Any] = {}
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
            if key not in config:
                raise GraphError(f"bert config: {key!r} is missing")
            values[key] = config[key]
        for key in ("max_position_embeddings", "type_vocab_size", "layer_norm_eps"):
            if key in config:
                values[key] = config[key]
        for key, v in values.items():
            if key == "layer_norm_eps":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                    raise GraphError(f"bert config: layer_norm_eps must be a number in [0, 1), got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1 << 20:
                raise GraphError(f"bert config: {key} must be a positive integer, got {v!r}")
        cfg = cls(**values)
        if cfg.hidden_size % cfg.num_attention_heads:
            raise GraphError(
                f"bert config: hidden_size {cfg.hidden_size} is not divisible by "
                f"num_attention_heads {cfg.num_attention_heads}"
            )
        return cfg


def build_bert(
    weights: Mapping[str, Any],
    config: Mapping[str, Any] | BertConfig,
    *,
    pooling: str = "mean",
    normalize: bool = True,
    weights_dtype: str = "float32",
    token_type_input: bool = False,
) -> Graph:
    """Build the sentence-embedding graph of a HF BERT checkpoint (see the module docstring).

    ``weights`` maps HF tensor names (with or without the ``bert.`` prefix) to Tensors, numpy arrays,
    ``(dtype, shape, bytes)`` tuples or raw little-endian float32 bytes; float32 and float16 sources are
    accepted. Only the tensors used are read, so a lazy mapping over a file reads no more than needed. ``pooling`` is
    ``"mean"`` (over the attention mask), ``"cls"`` (the first token) or ``"none"`` (output
    ``last_hidden_state`` ``[batch, seq, hidden]``, never normalized).
    """
    cfg = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
    if pooling not in POOLINGS:
        raise GraphError(f"build_bert: pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
    if weights_dtype not in WEIGHT_DTYPES:
        raise GraphError(f"build_bert: weights_dtype {weights_dtype!r} is not one of {', '.join(WEIGHT_DTYPES)}")
    w = _Weights(weights, cfg)
    b = _Builder(GraphBuilder(), weights_dtype)
    g = b.g
    H, heads, dh = cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim

    input_ids = g.input("input_ids", "int64", ["batch", "seq"])
    attention_mask = g.input("attention_mask", "int64", ["batch", "seq"])

    # -- embeddings -----------------------------------------------------------------------------------
    word = b.table("embeddings.word", w.get("embeddings.word_embeddings.weight"), [cfg.vocab_size, H])
    position_table = w.get("embeddings.position_embeddings.weight")
    type_table = w.get("embeddings.token_type_embeddings.weight")
    x = b.lookup(word, input_ids)
    if token_type_input:
        token_type_ids = g.input("token_type_ids", "int64", ["batch", "seq"])
        types = b.table("embeddings.token_type", type_table, [cfg.type_vocab_size, H])
        x = g.add(x, b.lookup(types, token_type_ids))
        positions = position_table
    else:
        positions = _add_row(position_table, type_table[:H], cfg.max_position_embeddings, H)
    pos = b.weight("embeddings.position", positions, [cfg.max_position_embeddings, H])
    x = g.add(x, g.slice(pos, starts=[0, 0], sizes=["seq", H]))
    x = b.layer_norm(x, w, "embeddings.LayerNorm", "embeddings.norm", cfg)

    # additive mask [batch, 1, 1, seq]: 0 for tokens, MASK_VALUE for padding (computed once, all layers)
    mask = g.cast(attention_mask, data_type="float32")
    additive = g.mul(g.sub(mask, g.constant(1.0)), g.constant(-MASK_VALUE))
    additive = g.reshape(additive, new_shape=["batch", 1, 1, "seq"])

    scale = 1.0 / math.sqrt(dh)
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        n = f"layer{i}."
        # -- self-attention: one fused QKV projection, heads split with reshape/transpose/split ----------
        q_w = _scaled(w.get(p + "attention.self.query.weight"), scale)
        q_b = _scaled(w.get(p + "attention.self.query.bias"), scale)
        kv_w = w.get(p + "attention.self.key.weight") + w.get(p + "attention.self.value.weight")
        qkv_w = _transpose(q_w + kv_w, 3 * H, H)
        qkv_b = q_b + w.get(p + "attention.self.key.bias") + w.get(p + "attention.self.value.bias")
        qkv = g.add(g.matmul(x, b.weight(n + "attention.qkv.weight", qkv_w, [H, 3 * H])),
                    b.weight(n + "attention.qkv.bias", qkv_b, [3 * H]))
        qkv = g.transpose(g.reshape(qkv, new_shape=["batch", "seq", 3 * heads, dh]), permutation=[0, 2, 1, 3])
        q, k, v = g.split(qkv, 3, axis=1)  # each [batch, heads, seq, head_dim]
        scores = g.add(g.matmul(q, g.transpose(k, permutation=[0, 1, 3, 2])), additive)
        context = g.matmul(g.softmax(scores, axis=3), v)
        context = g.reshape(g.transpose(context, permutation=[0, 2, 1, 3]), new_shape=["batch", "seq", H])
        attn = b.linear(context, w, p + "attention.output.dense", n + "attention.output", H, H)
        x = b.layer_norm(g.add(attn, x), w, p + "attention.output.LayerNorm", n + "attention.norm", cfg)
        # -- feed-forward ---------------------------------------------------------------------------------
        h = g.gelu(b.linear(x, w, p + "intermediate.dense", n + "ffn.in", H, cfg.intermediate_size))
        out = b.linear(h, w, p + "output.dense", n + "ffn.out", cfg.intermediate_size, H)
        x = b.layer_norm(g.add(out, x), w, p + "output.LayerNorm", n + "ffn.norm", cfg)

    # -- pooling and normalization ----------------------------------------------------------------------
    if pooling == "none":
        return g.build({"last_hidden_state": x})
    if pooling == "cls":
        y = g.gather(x, g.constant(0, dtype="int32"), axis=1)
    else:
        # masked sum over seq as one batched matmul: [batch, 1, seq] @ [batch, seq, H]
        y = g.reshape(g.matmul(g.reshape(mask, new_shape=["batch", 1, "seq"]), x), new_shape=["batch", H])
        if not normalize:
            count = g.max(g.reduce_sum(mask, axes=[1], keep_dimensions=True), g.constant(1e-9))
            y = g.div(y, count)
    if normalize:
        norm = g.sqrt(g.reduce_sum(g.mul(y, y), axes=[1], keep_dimensions=True))
        y = g.div(y, g.max(norm, g.constant(1e-12)))
    return g.build({"embeddings": y})


class _Builder:
    """GraphBuilder helpers that name weights and store them as float32 or float16 (+ cast)."""

    def __init__(self, g: GraphBuilder, weights_dtype: str) -> None:
        self.g = g
        self.fp16 = weights_dtype == "float16"

    def _const(self, name: str, values: array.array, shape: list[int]) -> Operand:
        if self.fp16:
            return self.g.constant(_to_float16(values, name), dtype="float16", shape=shape, name=name)
        return self.g.constant(values.tobytes(), dtype="float32", shape=shape, name=name)

    def weight(self, name: str, values: array.array, shape: list[int]) -> Operand:
        """A float32 operand holding ``values`` (a cast from the float16 constant when storing float16)."""
        c = self._const(name, values, shape)
        return self.g.cast(c, data_type="float32") if self.fp16 else c

    def table(self, name: str, values: array.array, shape: list[int]) -> Operand:
        """An embedding table in its stored dtype (``lookup`` casts the gathered rows, not the table)."""
        return self._const(name, values, shape)

    def lookup(self, table: Operand, ids: Operand) -> Operand:
        rows = self.g.gather(table, ids, axis=0)
        return self.g.cast(rows, data_type="float32") if self.fp16 else rows

    def linear(self, x: Operand, w: _Weights, key: str, name: str, n_in: int, n_out: int) -> Operand:
        """x @ W^T + b with a HF ``[out, in]`` weight stored transposed as ``[in, out]``."""
        weight = self.weight(name + ".weight", _transpose(w.get(key + ".weight"), n_out, n_in), [n_in, n_out])
        return self.g.add(self.g.matmul(x, weight), self.weight(name + ".bias", w.get(key + ".bias"), [n_out]))

    def layer_norm(self, x: Operand, w: _Weights, key: str, name: str, cfg: BertConfig) -> Operand:
        H = cfg.hidden_size
        scale = self.weight(name + ".scale", w.get(key + ".weight"), [H])
        bias = self.weight(name + ".bias", w.get(key + ".bias"), [H])
        return self.g.layer_normalization(x, scale, bias, axes=[x.rank - 1], epsilon=float(cfg.layer_norm_eps))


class _Weights:
    """The checkpoint's tensors by HF name, checked against the shapes the config implies."""

    def __init__(self, weights: Mapping[str, Any], cfg: BertConfig) -> None:
        if not isinstance(weights, Mapping):
            raise WeightsError(f"build_bert: weights must be a dict of name -> tensor, got {type(weights).__name__}")
        self._src = weights  # read lazily: a mapping over a safetensors file reads only what is used
        self.shapes = expected_shapes(cfg)

    def get(self, key: str) -> array.array:
        """The tensor ``key`` (or ``bert.<key>``) as a flat float32 ``array.array`` the caller may change."""
        shape = self.shapes[key]
        for name in (key, "bert." + key):
            if name in self._src:
                return _as_float32(self._src[name], name, shape)
        raise WeightsError(f"bert weights: tensor {key!r} is missing (expected float32 {list(shape)})")


def expected_shapes(config: Mapping[str, Any] | BertConfig) -> dict[str, tuple[int, ...]]:
    """HF tensor name -> shape for every weight ``build_bert`` reads."""
    cfg = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
    H, inter = cfg.hidden_size, cfg.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, H),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, H),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            shapes[f"{p}attention.self.{part}.weight"] = (H, H)
            shapes[f"{p}attention.self.{part}.bias"] = (H,)
        shapes[p + "attention.output.dense.weight"] = (H, H)
        shapes[p + "attention.output.dense.bias"] = (H,)
        shapes[p + "intermediate.dense.weight"] = (inter, H)
        shapes[p + "intermediate.dense.bias"] = (inter,)
        shapes[p + "output.dense.weight"] = (H, inter)
        shapes[p + "output.dense.bias"] = (H,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}{norm}.weight"] = (H,)
            shapes[f"{p}{norm}.bias"] = (H,)
    return shapes


# -- pure-Python float32 helpers (array.array('f'); numpy only speeds up float16 packing) --------------


def _as_float32(value: Any, key: str, shape: tuple[int, ...]) -> array.array:
    where = f"bert weights: tensor {key!r}"
    n = math.prod(shape)
    raw = isinstance(value, (bytes, bytearray)) or isinstance(value, memoryview) and value.format in ("B", "b", "c")
    if raw:  # untyped bytes: little-endian float32 of the expected shape
        data, dtype = memoryview(value).cast("B"), "float32"
        if data.nbytes != 4 * n:
            raise WeightsError(f"{where}: {data.nbytes} raw bytes given, float32 {list(shape)} needs {4 * n}")
    elif isinstance(value, tuple) and len(value) == 3:  # (dtype, shape, bytes), as webinfer.format reads them
        dtype, got, data = value[0], tuple(value[1]), memoryview(value[2]).cast("B")
        if got != tuple(shape):
            raise WeightsError(f"{where} has shape {list(got)}, the config implies {list(shape)}")
        if dtype in ("float32", "float16") and data.nbytes != n * (4 if dtype == "float32" else 2):
            raise WeightsError(f"{where}: {data.nbytes} bytes do not hold {dtype} {list(shape)}")
    else:
        try:
            t = value if isinstance(value, Tensor) else Tensor(value)
        except Exception as e:  # noqa: BLE001 - any conversion failure becomes one clear error
            raise WeightsError(f"{where}: cannot read it as a tensor: {e}") from None
        data, dtype = memoryview(t.tobytes()), t.dtype
        if tuple(t.shape) != tuple(shape):
            raise WeightsError(f"{where} has shape {list(t.shape)}, the config implies {list(shape)}")
    out = array.array("f")
    if dtype == "float32":
        out.frombytes(data)
    elif dtype == "float16":
        out.extend(struct.unpack(f"<{n}e", data))
    else:
        raise WeightsError(f"{where} has dtype {dtype}; float32 or float16 expected")
    return out


def _transpose(a: array.array, rows: int, cols: int) -> array.array:
    """A row-major ``[rows, cols]`` float32 matrix as ``[cols, rows]``."""
    out = array.array("f", bytes(4 * rows * cols))
    for c in range(cols):
        out[c * rows : (c + 1) * rows] = a[c::cols]
    return out


def _scaled(a: array.array, s: float) -> array.array:
    return array.array("f", [v * s for v in a])


def _add_row(table: array.array, row: array.array, rows: int, cols: int) -> array.array:
    """``table[r, :] + row`` for every row r of a ``[rows, cols]`` table."""
    out = array.array("f")
    for r in range(rows):
        out.extend([a + b for a, b in zip(table[r * cols : (r + 1) * cols], row)])
    return out


def _to_float16(values: array.array, name: str) -> bytes:
    """float32 values as float16 bytes; values beyond float16's range are an error, not inf."""
    np = _numpy()
    if np is not None:
        src = np.frombuffer(values.tobytes(), dtype="<f4")
        big = np.abs(src) > 65504
        if big.any():
            raise WeightsError(f"weight {name!r}: {float(src[big][0])!r} does not fit float16")
        return src.astype("<f2").tobytes()
    out = bytearray()
    step = 1 << 16
    for i in range(0, len(values), step):
        chunk = values[i : i + step]
        try:
            out += struct.pack(f"<{len(chunk)}e", *chunk)
        except (OverflowError, struct.error):
            bad = next(v for v in chunk if abs(v) > 65504)
            raise WeightsError(f"weight {name!r}: {bad!r} does not fit float16") from None
    return bytes(out)


def _numpy() -> Any | None:
    try:
        import numpy

        return numpy
    except ImportError:
        return None


__all__ = ["MASK_VALUE", "POOLINGS", "WEIGHT_DTYPES", "BertConfig", "build_bert", "expected_shapes"]
