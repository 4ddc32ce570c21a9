"""The layout pass on the real EfficientNet-Lite0 import: 49 NCHW convs planned in NHWC with one transpose (the input)
and one free reshape (after the global average pool); the rewritten graph gives the same logits on the reference
backend, and the WebNN plan for a context that prefers NHWC has that one transpose."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

import webinfer as wi
from webinfer.backends.layout import to_nhwc
from webinfer.backends.reference import evaluate

LIMITS = Path(__file__).parents[1] / "backends" / "webnn" / "limits_chromium153_cpu.json"


def test_efficientnet_layout_needs_at_most_two_layout_changes(efficientnet_onnx):
    graph = wi.importers.onnx.load(efficientnet_onnx[0]).specialize({"batch": 2})
    new, report = to_nhwc(graph)
    assert len(report.converted) == 49 and len(report.transposes) + len(report.reshapes) <= 2
    ops = Counter(n.op for n in new.nodes)
    assert ops["transpose"] == 1 and ops["conv2d"] == 49
    filters = Counter(n.attributes["filter_layout"] for n in new.nodes if n.op == "conv2d")
    assert filters == {"ohwi": 33, "ihwo": 16}  # 16 depthwise convs
    x = wi.Tensor(np.random.default_rng(0).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32))
    a, b = evaluate(graph, {"pixels": x})["logits"], evaluate(new, {"pixels": x})["logits"]
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-9)

    from webinfer.backends.webnn.limits import Limits
    from webinfer.backends.webnn.planner import plan_graph

    plan, _ = plan_graph(graph, Limits(json.loads(LIMITS.read_text())))
    assert plan.stats()["transposes"] == 1 and plan.layout and plan.layout["converted"] == 49
