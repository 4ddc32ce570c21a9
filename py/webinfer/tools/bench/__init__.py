"""``webinfer bench``: time models in headless Chromium, alone or against their peers, checked against the
host reference.

Modules (host unless said otherwise):

- ``cli``: the command; ``single``: one backend, one page; ``compare``: the interleaved comparison driver
  (model-agnostic: a ``ModelSpec`` gives inputs, reference, cases and pairs); ``encoder``: the BERT
  encoders as such a model, with webinfer and onnxruntime-web cases;
- ``page``: the in-page runners (Pyodide; no numpy) — ``ort_case.mjs``: the onnxruntime-web case (JS);
- ``models``: converting the bench models; ``inputs``: their token ids; ``ort``: the ONNX export, the
  ORT-optimized file and ORT-web's files; ``placement``: where ORT put every node, from its log;
- ``stats``: percentiles, the round order, ratios and spread, accuracy; ``machine``, ``report``.

Everything here imports without numpy or playwright (they load inside the functions that need them),
so the page can import ``webinfer.tools.bench.page``.
"""

from __future__ import annotations

from .errors import BenchError

__all__ = ["BenchError"]
