"""Real models through the ONNX importer: EfficientNet-Lite0 against onnxruntime and torch (top-5 on two photos),
and all-MiniLM-L6-v2 exported from torch against webinfer's hand-built BERT graph."""

from __future__ import annotations

import math

import numpy as np
import pytest

import webinfer as wi
from webinfer.models.preprocess import prepare
from webinfer.tools.project import WEB_DIR

IMAGES = WEB_DIR / "images"


def test_efficientnet_imports_to_a_small_graph(efficientnet_onnx):
    graph = wi.importers.onnx.load(efficientnet_onnx[0])
    ops = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    # every TF-"same" Pad is folded into its conv; BN is folded by the exporter; shape subgraphs are constants
    assert ops == {"conv2d": 49, "clamp": 33, "add": 9, "reduce_mean": 1, "reshape": 1, "gemm": 1}
    assert str(graph.inputs["pixels"]) == "float32[batch, 3, 224, 224]"
    assert graph.metadata["onnx"]["opset_import"] == {"ai.onnx": 17}


def test_efficientnet_matches_onnxruntime(efficientnet_onnx):
    ort = pytest.importorskip("onnxruntime")
    path = efficientnet_onnx[0]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})[0]
    got = wi.compile(wi.importers.onnx.load(path), backend="reference").run({"pixels": x})["logits"].numpy()
    # onnxruntime computes in float32 through 52 convolutions and a gemm; the reference in float64
    scale = float(np.abs(want).max())
    assert np.abs(got - want).max() <= 2e-5 * scale, np.abs(got - want).max()


def _pixels(name: str) -> tuple[bytes, int, int]:
    from PIL import Image

    im = Image.open(IMAGES / name).convert("RGBA")
    return im.tobytes(), im.size[0], im.size[1]


@pytest.mark.parametrize("image, expected", [("chelsea.jpg", {281, 282, 285}), ("coffee.jpg", {967, 504})])
def test_top5_equals_torch_on_photos(efficientnet_onnx, tmp_path, image, expected):
    import torch

    from webinfer.models import efficientnet
    from webinfer.models.image_classifier import ImageClassifier, save_classifier

    path, module = efficientnet_onnx
    save_classifier(tmp_path, wi.importers.onnx.load(path), efficientnet.class_names(), efficientnet.preprocessing())
    clf = ImageClassifier.load(tmp_path, backend="reference")
    pixels, w, h = _pixels(image)
    ours = clf.classify(pixels, w, h, k=5)
    x = np.frombuffer(prepare(pixels, w, h, 4, efficientnet.preprocessing()), np.float32).reshape(1, 3, 224, 224)
    with torch.no_grad():
        probs = torch.softmax(module(torch.from_numpy(x.copy())), -1)[0].numpy()
    theirs = np.argsort(-probs)[:5]
    assert [i for i, _, _ in ours] == theirs.tolist()
    for i, _, p in ours:
        assert abs(p - probs[i]) < 1e-4
    assert ours[0][0] in expected, ours
    assert not math.isnan(ours[0][2]) and ours[0][2] > 0.3


class _Encoder:
    """A traceable BERT sentence encoder (as tests/models/bert_torch_ref.py computes it) for the ONNX export."""

    @staticmethod
    def module(sd, cfg):  # type: ignore[no-untyped-def]
        import torch
        import torch.nn.functional as F

        s = {k.removeprefix("bert."): v for k, v in sd.items()}
        H, nh, L, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
        dh = H // nh

        class M(torch.nn.Module):
            def forward(self, ids, mask):  # type: ignore[no-untyped-def]
                B, S = ids.shape
                x = (s["embeddings.word_embeddings.weight"][ids] + s["embeddings.position_embeddings.weight"][:S][None]
                     + s["embeddings.token_type_embeddings.weight"][0])
                x = F.layer_norm(x, (H,), s["embeddings.LayerNorm.weight"], s["embeddings.LayerNorm.bias"], eps)
                ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min

                def lin(t, n):  # type: ignore[no-untyped-def]
                    return F.linear(t, s[n + ".weight"], s[n + ".bias"])

                for i in range(L):
                    p = f"encoder.layer.{i}."
                    q, k, v = (lin(x, p + f"attention.self.{n}").view(B, S, nh, dh).transpose(1, 2)
                               for n in ("query", "key", "value"))
                    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + ext, dim=-1)
                    ctx = (att @ v).transpose(1, 2).reshape(B, S, H)
                    ln = p + "attention.output.LayerNorm"
                    x = F.layer_norm(lin(ctx, p + "attention.output.dense") + x, (H,), s[ln + ".weight"],
                                     s[ln + ".bias"], eps)
                    x = F.layer_norm(lin(F.gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, (H,),
                                     s[p + "output.LayerNorm.weight"], s[p + "output.LayerNorm.bias"], eps)
                m = mask.unsqueeze(-1).to(x.dtype)
                pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
                return F.normalize(pooled, p=2, dim=1)

        return M()


def test_minilm_from_onnx_matches_the_hand_built_graph(minilm_dir, tmp_path):
    import json
    import warnings

    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from webinfer.models.minilm import build_minilm

    sd = load_file(str(minilm_dir / "model.safetensors"))
    cfg = json.loads((minilm_dir / "config.json").read_text())
    ids = np.array([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 7592, 2088, 999, 2017, 2024, 1037, 102]])
    mask = (ids != 0).astype(np.int64)
    path = tmp_path / "minilm.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Encoder.module(sd, cfg), (torch.from_numpy(ids), torch.from_numpy(mask)), str(path),
                          dynamo=False, opset_version=17, input_names=["input_ids", "attention_mask"],
                          output_names=["embeddings"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "embeddings": {0: "batch"}})
    graph = wi.importers.onnx.load(path)
    assert str(graph.inputs["input_ids"]) == "int64[batch, seq]"  # the dim_params stay symbolic
    other_ids = np.array([[101, 1045, 2066, 102, 0], [101, 2054, 1037, 2154, 102], [101, 7592, 102, 0, 0]])
    hand, _ = build_minilm()
    for batch in ((ids, mask), (other_ids, (other_ids != 0).astype(np.int64))):
        feeds = {"input_ids": batch[0], "attention_mask": batch[1]}
        got = wi.compile(graph, backend="reference").run(feeds)["embeddings"].numpy().astype(np.float64)
        want = wi.compile(hand, backend="reference").run(feeds)["embeddings"].numpy().astype(np.float64)
        cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
        assert cos.min() >= 0.99999, cos
