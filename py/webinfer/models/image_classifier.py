"""ImageClassifier: a converted image model (graph + weights + class names + preprocessing), same API on the host
and in the page.

    clf = ImageClassifier.load("out/efficientnet-lite0", backend="reference")
    clf.classify(rgba_bytes, width, height, k=5)   # [(class index, name, probability), ...]

The directory holds ``classifier.json`` (manifest: labels, preprocessing, input/output names), ``model.json`` +
``model.safetensors`` (the graph) and ``model.onnx`` (the ONNX file it was imported from, so onnxruntime-web can run
the very same model).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError, WebinferError
from ..ir.graph import Graph
from ..tensor import Tensor
from .preprocess import prepare

MANIFEST = "classifier.json"
FORMAT = "webinfer-image-classifier"


def save_classifier(out_dir: str | os.PathLike[str], graph: Graph, labels: Sequence[str],
                    preprocessing: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Write the manifest and the graph (JSON + safetensors) into ``out_dir``; returns role -> path."""
    from ..format import save

    os.makedirs(out_dir, exist_ok=True)
    paths = {"graph": os.path.join(out_dir, "model.json"), "weights": os.path.join(out_dir, "model.safetensors"),
             "manifest": os.path.join(out_dir, MANIFEST)}
    save(graph, paths["graph"], weights=paths["weights"])
    (inp,), (out,) = graph.inputs, graph.outputs
    manifest = {"format": FORMAT, "version": 1, "graph": "model.json", "input": inp, "output": out,
                "labels": list(labels), "preprocessing": dict(preprocessing), **dict(metadata or {})}
    with open(paths["manifest"], "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return paths


class ImageClassifier:
    """Classifies RGB(A) pixels with a converted model on any backend."""

    def __init__(self, graph: Graph, manifest: Mapping[str, Any], backend: str = "auto", **options: Any) -> None:
        from .. import compile

        self.graph = graph
        self.manifest = dict(manifest)
        self.labels: list[str] = list(manifest["labels"])
        self.preprocessing: dict[str, Any] = dict(manifest["preprocessing"])
        self.input, self.output = manifest["input"], manifest["output"]
        self.session = compile(graph, backend=backend, **options)

    @classmethod
    def load(cls, path: str | os.PathLike[str], backend: str = "auto", **options: Any) -> ImageClassifier:
        """Load a directory written by ``webinfer convert --model efficientnet-lite0`` (a path on the host)."""
        from ..format import load

        with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("format") != FORMAT:
            raise WebinferError(f"{path}: {MANIFEST} is not a {FORMAT} manifest")
        return cls(load(os.path.join(path, manifest["graph"])), manifest, backend, **options)

    def logits(self, pixels: bytes | bytearray | memoryview, width: int, height: int, channels: int = 4) -> list[float]:
        """The model's raw scores for one image (RGBA or RGB bytes, row-major)."""
        data = prepare(pixels, width, height, channels, self.preprocessing)
        crop = int(self.preprocessing["crop"])
        shape = [1, crop, crop, 3] if self.preprocessing.get("layout") == "nhwc" else [1, 3, crop, crop]
        out = self.session.run({self.input: Tensor(data, dtype="float32", shape=shape)})[self.output]
        values = out.tolist()[0]
        if len(values) != len(self.labels):
            raise InputError(f"the model gives {len(values)} scores for {len(self.labels)} labels")
        return values  # type: ignore[no-any-return]

    def classify(self, pixels: bytes | bytearray | memoryview, width: int, height: int, channels: int = 4,
                 k: int = 5) -> list[tuple[int, str, float]]:
        """The top ``k`` classes as (index, name, softmax probability), most likely first."""
        scores = self.logits(pixels, width, height, channels)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [(i, self.labels[i], exps[i] / total) for i in order]

    def info(self) -> dict[str, Any]:
        return self.session.info()

    def close(self) -> None:
        self.session.close()


__all__ = ["FORMAT", "MANIFEST", "ImageClassifier", "save_classifier"]
