"""An independent BERT forward in plain torch (float32, as transformers' BertModel computes it), for tests.

Reads HF weight names (``embeddings.word_embeddings.weight`` ...); the additive mask uses
``torch.finfo(float32).min`` as transformers does, not webinfer's value, so the tests also show that
the choice of mask value does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def bert_last_hidden(sd: Mapping[str, torch.Tensor], cfg: Mapping[str, Any], ids: np.ndarray, mask: np.ndarray,
                     type_ids: np.ndarray | None = None) -> torch.Tensor:
    """The encoder's last hidden state [batch, seq, hidden] for int token ids and a 0/1 attention mask."""
    sd = {k.removeprefix("bert."): v for k, v in sd.items()}
    H, nh, L, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
    dh = H // nh
    ids_t = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    mask_t = torch.as_tensor(np.asarray(mask), dtype=torch.long)
    B, S = ids_t.shape
    tt = torch.zeros_like(ids_t) if type_ids is None else torch.as_tensor(np.asarray(type_ids), dtype=torch.long)
    x = (sd["embeddings.word_embeddings.weight"][ids_t] + sd["embeddings.position_embeddings.weight"][:S][None]
         + sd["embeddings.token_type_embeddings.weight"][tt])
    x = F.layer_norm(x, (H,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    ext = (1.0 - mask_t[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min

    def lin(t: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(t, sd[name + ".weight"], sd[name + ".bias"])

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(B, S, nh, dh).transpose(1, 2)

    for i in range(L):
        p = f"encoder.layer.{i}."
        q, k, v = (heads(lin(x, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + ext, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, S, H)
        x = F.layer_norm(lin(ctx, p + "attention.output.dense") + x, (H,),
                         sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"], eps)
        h = F.gelu(lin(x, p + "intermediate.dense"))
        x = F.layer_norm(lin(h, p + "output.dense") + x, (H,), sd[p + "output.LayerNorm.weight"],
                         sd[p + "output.LayerNorm.bias"], eps)
    return x


def mean_pool_normalize(hidden: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling (clamped count) followed by F.normalize."""
    m = torch.as_tensor(np.asarray(mask), dtype=hidden.dtype)[..., None]
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, p=2, dim=1).numpy()


def sentence_embeddings(sd: Mapping[str, torch.Tensor], cfg: Mapping[str, Any], ids: np.ndarray,
                        mask: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return mean_pool_normalize(bert_last_hidden(sd, cfg, ids, mask), mask)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity, computed in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def pad_batch(rows: list[list[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id rows to the longest: (ids, mask) int64 arrays."""
    seq = max(len(r) for r in rows)
    ids = np.full((len(rows), seq), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), seq), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


def random_bert(seed: int = 0, *, vocab: int = 40, hidden: int = 8, heads: int = 2, layers: int = 2, inter: int = 16,
                positions: int = 16, types: int = 2) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A tiny random BERT checkpoint (float32 numpy weights with HF names) and its config."""
    from webinfer.models.bert import expected_shapes

    cfg = {"vocab_size": vocab, "hidden_size": hidden, "num_attention_heads": heads, "num_hidden_layers": layers,
           "intermediate_size": inter, "max_position_embeddings": positions, "type_vocab_size": types,
           "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in expected_shapes(cfg).items():
        scale = 0.5 if "embeddings" in key else 1 / math.sqrt(shape[-1])
        w = rng.normal(0, scale, size=shape)
        if key.endswith("LayerNorm.weight"):
            w = 1 + 0.1 * w
        weights[key] = w.astype(np.float32)
    return weights, cfg
