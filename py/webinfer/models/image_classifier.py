"""ImageClassifier: a converted image model (graph + weights + class names + preprocessing), same API on the host
and in the page.

    clf = ImageClassifier.load("out/efficientnet-lite0", backend="reference")
    clf.classify(rgba_bytes, width, height, k=5)   # [(class index, name, probability), ...]
    await clf.classify_async(rgba_bytes, width, height)   # in the page, without JSPI
    clf.timings                                    # the last call's preprocess_ms and run_ms

The directory holds ``classifier.json`` (manifest: labels, preprocessing, input/output names), ``model.json`` +
``model.safetensors`` (the graph) and ``model.onnx`` (the ONNX file it was imported from, so onnxruntime-web can run
the very same model).
"""

from __future__ import annotations

import json
import math
import os
import time
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

        # one image a call: symbolic dims (the batch) bind to 1, so the backend plans everything at compile
        self.graph = graph.specialize({s: 1 for s in graph.symbols}) if graph.symbols else graph
        self.manifest = dict(manifest)
        self.labels: list[str] = list(manifest["labels"])
        self.preprocessing: dict[str, Any] = dict(manifest["preprocessing"])
        self.input, self.output = manifest["input"], manifest["output"]
        t0 = time.perf_counter()
        self.session = compile(self.graph, backend=backend, **options)
        self.load_timings: dict[str, float] = {"compile_ms": (time.perf_counter() - t0) * 1e3}
        self.timings: dict[str, float] = {}  # the last classify/logits call: preprocess_ms, run_ms

    @classmethod
    def load(cls, path: str | os.PathLike[str], backend: str = "auto", **options: Any) -> ImageClassifier:
        """Load a directory written by ``webinfer convert --model efficientnet-lite0`` (a path on the host)."""
        from ..format import load

        t0 = time.perf_counter()
        with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("format") != FORMAT:
            raise WebinferError(f"{path}: {MANIFEST} is not a {FORMAT} manifest")
        graph = load(os.path.join(path, manifest["graph"]))
        load_ms = (time.perf_counter() - t0) * 1e3
        clf = cls(graph, manifest, backend, **options)
        clf.load_timings["load_ms"] = load_ms
        return clf

    def _feeds(self, pixels: bytes | bytearray | memoryview, width: int, height: int,
               channels: int) -> dict[str, Tensor]:
        t0 = time.perf_counter()
        data = prepare(pixels, width, height, channels, self.preprocessing)
        crop = int(self.preprocessing["crop"])
        shape = [1, crop, crop, 3] if self.preprocessing.get("layout") == "nhwc" else [1, 3, crop, crop]
        self.timings = {"preprocess_ms": (time.perf_counter() - t0) * 1e3}
        return {self.input: Tensor(data, dtype="float32", shape=shape)}

    def _scores(self, out: Tensor, t1: float) -> list[float]:
        self.timings["run_ms"] = (time.perf_counter() - t1) * 1e3
        values = out.tolist()[0]
        if len(values) != len(self.labels):
            raise InputError(f"the model gives {len(values)} scores for {len(self.labels)} labels")
        return values  # type: ignore[no-any-return]

    def logits(self, pixels: bytes | bytearray | memoryview, width: int, height: int, channels: int = 4) -> list[float]:
        """The model's raw scores for one image (RGBA or RGB bytes, row-major)."""
        feeds = self._feeds(pixels, width, height, channels)
        t1 = time.perf_counter()
        return self._scores(self.session.run(feeds)[self.output], t1)

    async def logits_async(self, pixels: bytes | bytearray | memoryview, width: int, height: int,
                           channels: int = 4) -> list[float]:
        """``logits`` for the browser's event loop (``Session.run_async``: no JSPI needed)."""
        feeds = self._feeds(pixels, width, height, channels)
        t1 = time.perf_counter()
        return self._scores((await self.session.run_async(feeds))[self.output], t1)

    def top(self, scores: list[float], k: int = 5) -> list[tuple[int, str, float]]:
        """The ``k`` largest of ``scores`` as (index, name, softmax probability), most likely first."""
        peak = max(scores)
        exps = [math.exp(s - peak) for s in scores]
        total = sum(exps)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [(i, self.labels[i], exps[i] / total) for i in order]

    def classify(self, pixels: bytes | bytearray | memoryview, width: int, height: int, channels: int = 4,
                 k: int = 5) -> list[tuple[int, str, float]]:
        """The top ``k`` classes as (index, name, softmax probability), most likely first."""
        return self.top(self.logits(pixels, width, height, channels), k)

    async def classify_async(self, pixels: bytes | bytearray | memoryview, width: int, height: int, channels: int = 4,
                             k: int = 5) -> list[tuple[int, str, float]]:
        """``classify`` for the browser's event loop."""
        return self.top(await self.logits_async(pixels, width, height, channels), k)

    def info(self) -> dict[str, Any]:
        """The session's ``info()``: backend, device, placement."""
        return self.session.info()

    def close(self) -> None:
        """Free the session's device buffers."""
        self.session.close()


__all__ = ["FORMAT", "MANIFEST", "ImageClassifier", "save_classifier"]
