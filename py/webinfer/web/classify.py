"""The classify page's Python (runs inside Pyodide): load EfficientNet-Lite0 on a backend and classify pixels.

The page's JS fetches the model files (Cache API, progress bar) into Pyodide's file system, decodes the photo in
the browser (``createImageBitmap`` → canvas → RGBA bytes) and calls ``classifier`` below; each method returns a
JSON string. The preprocessing (resize, centre crop, normalize) is webinfer's pure-Python
``webinfer.models.preprocess.prepare``; the model runs on the chosen backend.
"""

from __future__ import annotations

import json
import time
from typing import Any

from webinfer.models.image_classifier import ImageClassifier
from webinfer.web.describe import device_summary


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


class Classifier:
    """State of the page: the classifier compiled for the chosen backend."""

    def __init__(self) -> None:
        self.clf: ImageClassifier | None = None
        self.backend: str | None = None
        self.runs = 0

    async def load_model(self, model_dir: str, backend: str) -> str:
        """Load the classifier from ``model_dir`` and compile it for ``backend``. Returns backend, device, timings."""
        self.close()
        t0 = time.perf_counter()
        clf = ImageClassifier.load(model_dir, backend=backend)
        t1 = time.perf_counter()
        self.clf, self.backend, self.runs = clf, backend, 0
        info = clf.info()
        return json.dumps({
            "backend": info["backend"], "device": device_summary(info), "deviceInfo": info["device"],
            "model": clf.manifest.get("model"), "labels": len(clf.labels),
            "timings": {"load_ms": round(clf.load_timings.get("load_ms", 0.0), 2),
                        "compile_ms": round(clf.load_timings["compile_ms"], 2), "total_ms": _ms(t1 - t0)},
        }, default=str)

    async def classify(self, pixels: Any, width: int, height: int, k: int = 5, name: str = "") -> str:
        """The top ``k`` classes of an RGBA image (bytes or a JS Uint8ClampedArray), with timings, backend, device."""
        assert self.clf is not None, "load_model first"
        data = pixels.to_bytes() if hasattr(pixels, "to_bytes") else bytes(pixels)  # JS typed array
        t0 = time.perf_counter()
        top = await self.clf.classify_async(data, int(width), int(height), 4, int(k))
        t1 = time.perf_counter()
        self.runs += 1
        info = self.clf.info()
        timings = {key: round(v, 2) for key, v in self.clf.timings.items()}
        return json.dumps({
            "image": {"name": name, "width": int(width), "height": int(height)},
            "top": [{"index": i, "label": label, "score": score} for i, label, score in top],
            "timings": {**timings, "total_ms": _ms(t1 - t0)}, "run": self.runs,
            "backend": info["backend"], "device": device_summary(info),
        }, default=str)

    def close(self) -> None:
        """Free the current session (before switching backend)."""
        if self.clf is not None:
            self.clf.close()
        self.clf = None


classifier = Classifier()
