"""The layout pass (``webinfer.backends.layout``): NCHW conv/pool regions planned in NHWC once.

Every rewrite is checked on the reference backend (float64): the rewritten graph gives the original's outputs.
The counts say where layouts change: one transpose at the input of a conv region, a free reshape after a global
pool, none per layer.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.layout import TO_NHWC, permute_bytes, resolve, to_nhwc, wants_nhwc
from webinfer.backends.reference import evaluate
from webinfer.errors import BackendError

HERE = Path(__file__).parent
NS: dict[str, Any] = {}
exec(compile((HERE / "convnet_src.py").read_text(), "convnet_src.py", "exec"), NS)
build_convnet, pixels = NS["build_convnet"], NS["pixels"]


def _same_outputs(a: wi.Graph, b: wi.Graph, feeds: dict[str, np.ndarray]) -> None:
    ta = {k: wi.Tensor(v) for k, v in feeds.items()}
    ra, rb = evaluate(a, ta), evaluate(b, ta)
    assert set(ra) == set(rb)
    for k in ra:
        np.testing.assert_allclose(np.asarray(rb[k]), np.asarray(ra[k]), rtol=1e-12, atol=1e-12)


def _ops(g: wi.Graph) -> Counter[str]:
    return Counter(n.op for n in g.nodes)


def test_conv_net_needs_one_transpose_and_one_free_reshape() -> None:
    g = build_convnet(batch=2)
    new, report = to_nhwc(g)
    assert _ops(new)["transpose"] == 1 and report.transposes == ["pixels/to_nhwc"]
    (reshape,) = report.reshapes  # after the global pool [N, 1, 1, C]: the same bytes in both layouts
    producer = new.producer()
    back = next(n for n in new.nodes if n.name == reshape)
    assert back.op == "reshape" and producer[back.inputs[0]].op == "reduce_mean"
    convs = [n for n in new.nodes if n.op == "conv2d"]
    assert len(convs) == 8 and all(n.attributes["input_layout"] == "nhwc" for n in convs)
    layouts = Counter(n.attributes["filter_layout"] for n in convs)
    assert layouts == {"ohwi": 6, "ihwo": 2}  # the two depthwise convs take ihwo, as TFLite wants
    pools = [n for n in new.nodes if n.op.endswith("pool2d")]
    assert len(pools) == 2 and all(n.attributes["layout"] == "nhwc" for n in pools)
    assert len(report.converted) == 10 and report.as_dict()["transposes"] == 1
    assert sorted(report.followed) == sorted(n.name for n in g.nodes if n.op in ("clamp", "add", "reduce_mean"))
    # node names and graph outputs are kept; every output has its declared shape
    assert {n.name for n in g.nodes} <= {n.name for n in new.nodes}
    assert new.outputs.keys() == g.outputs.keys()
    assert new.operands[new.outputs["logits"]] == g.operands[g.outputs["logits"]]
    _same_outputs(g, new, {"pixels": np.frombuffer(pixels(2), np.float32).reshape(2, 3, 16, 16)})


def test_symbolic_batch_is_kept() -> None:
    g = build_convnet()
    new, _ = to_nhwc(g)
    assert new.inputs["pixels"].shape == ("batch", 3, 16, 16)
    x = np.frombuffer(pixels(3), np.float32).reshape(3, 3, 16, 16)
    _same_outputs(g.specialize({"batch": 3}), new.specialize({"batch": 3}), {"pixels": x})


def test_one_by_one_filters_share_the_original_bytes_and_others_are_re_laid() -> None:
    g = build_convnet(batch=1)
    new, report = to_nhwc(g)
    by_name = {n.name: n for n in new.nodes}
    for node in g.nodes:
        if node.op != "conv2d":
            continue
        f = g.constants[node.inputs[1]]
        relaid = new.constants[by_name[node.name].inputs[1]]
        w = np.frombuffer(f.data(), np.float32).reshape(f.desc.shape)
        want = np.transpose(w, (1, 2, 3, 0) if by_name[node.name].attributes["filter_layout"] == "ihwo"
                            else (0, 2, 3, 1))
        assert relaid.desc.shape == want.shape
        assert np.frombuffer(relaid.data(), np.float32).tobytes() == np.ascontiguousarray(want).tobytes()
        if f.desc.shape[2:] == (1, 1):
            assert relaid.data().obj is f.data().obj  # no copy for 1×1 kernels
    assert len(report.relaid) == 8


@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
@pytest.mark.parametrize(("shape", "perm"), [((2, 3, 4, 5), (0, 2, 3, 1)), ((2, 3, 4, 5), (3, 0, 1, 2)),
                                            ((7, 1, 3, 3), (1, 2, 3, 0)), ((5,), (0,)), ((3, 0, 2), (2, 0, 1)),
                                            ((1, 1, 1, 4), (0, 2, 3, 1))])
def test_permute_bytes_matches_numpy(shape: tuple[int, ...], perm: tuple[int, ...], itemsize: int) -> None:
    a = np.arange(int(np.prod(shape)), dtype={1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[itemsize])
    a = a.reshape(shape)
    assert permute_bytes(a.tobytes(), shape, perm, itemsize) == np.ascontiguousarray(a.transpose(perm)).tobytes()


def _conv_then(build: Any, input_shape: tuple[int, ...] = (2, 4, 6, 6)) -> wi.Graph:
    """A conv2d (NCHW), then whatever ``build(g, y)`` adds; outputs what it returns."""
    rng = np.random.default_rng(0)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", list(input_shape))
    c = input_shape[1]
    y = g.conv2d(x, g.constant(rng.standard_normal((c, c, 3, 3)).astype(np.float32)), padding=[1, 1, 1, 1],
                 name="conv")
    return g.build(build(g, y, rng))


def _check(graph: wi.Graph, transposes: int, reshapes: int = 0) -> wi.Graph:
    new, report = to_nhwc(graph)
    assert (len(report.transposes), len(report.reshapes)) == (transposes, reshapes), report.summary()
    x = np.random.default_rng(1).standard_normal(tuple(graph.inputs["x"].shape)).astype(np.float32)
    _same_outputs(graph, new, {"x": x})
    return new


def test_a_conv_output_is_transposed_back_once_for_every_consumer_that_needs_nchw() -> None:
    # softmax over channels has no NHWC rule: it takes NCHW; the graph output takes NCHW too — one transpose back
    graph = _conv_then(lambda g, y, rng: {"y": y, "s": g.softmax(y, axis=1), "r": g.relu(y)})
    new = _check(graph, transposes=3)  # x in, y back (shared by softmax and the output), relu's output back
    backs = Counter(n.inputs[0] for n in new.nodes if n.op == "transpose")
    assert max(backs.values()) == 1  # each value crosses back once, however many consumers need it


def test_elementwise_follow_with_constants_re_laid() -> None:
    def build(g: Any, y: Any, rng: Any) -> Any:
        bias = g.constant(rng.standard_normal((4, 1, 1)).astype(np.float32))  # [C, 1, 1] -> [1, 1, 1, C]
        full = g.constant(rng.standard_normal((1, 4, 6, 6)).astype(np.float32))  # a real transpose
        z = g.mul(g.add(y, bias), full)
        z = g.where(g.greater(z, g.constant(np.float32(0.5))), z, g.neg(z))
        return {"z": g.reduce_sum(g.clamp(z, min_value=-1.0, max_value=1.0), axes=[2, 3], keep_dimensions=False)}

    new = _check(_conv_then(build), transposes=1)
    assert _ops(new)["transpose"] == 1  # only the input: the sum over H, W gives [N, C] in either layout


def test_rank_2_activation_operand_falls_back_to_nchw() -> None:
    def build(g: Any, y: Any, rng: Any) -> Any:
        other = g.reshape(g.reduce_mean(y, axes=[0, 1], keep_dimensions=False), [6, 6])  # an activation, rank 2
        return {"z": g.add(g.relu(y), other)}

    new = _check(_conv_then(build), transposes=2)  # x in; relu's output back for the add, which stays NCHW
    add = next(n for n in new.nodes if n.op == "add")
    assert not any("@nhwc" in str(i) for i in add.inputs)


@pytest.mark.parametrize(("axes", "keep", "transposes", "reshapes"),
                         [([2, 3], True, 1, 1), ([1], False, 1, 0), ([2], False, 2, 0), (None, False, 1, 0),
                          ([1, 2, 3], True, 1, 1)])
def test_reductions_remap_axes(axes: list[int] | None, keep: bool, transposes: int, reshapes: int) -> None:
    graph = _conv_then(lambda g, y, rng: {"m": g.reduce_max(y, axes=axes, keep_dimensions=keep)})
    _check(graph, transposes=transposes, reshapes=reshapes)


def test_batch_norm_concat_and_pad_follow() -> None:
    def build(g: Any, y: Any, rng: Any) -> Any:
        def vec() -> Any:
            return g.constant(rng.uniform(0.5, 1.5, 4).astype(np.float32))

        bn = g.batch_normalization(y, vec(), vec(), vec(), vec(), axis=1)
        cat = g.concat([bn, y], axis=1)
        padded = g.pad(cat, [0, 1, 2, 0], [0, 0, 1, 3], value=0.25)
        return {"p": g.max_pool2d(padded, window_dimensions=[2, 2], strides=[2, 2])}

    new = _check(_conv_then(build), transposes=2)  # in, and the pooled output back
    bn = next(n for n in new.nodes if n.op == "batch_normalization")
    assert bn.attributes["axis"] == 3
    assert next(n for n in new.nodes if n.op == "concat").attributes["axis"] == 3
    pad = next(n for n in new.nodes if n.op == "pad")
    assert pad.attributes["beginning_padding"] == (0, 2, 0, 1)


def test_nhwc_convs_and_graphs_without_convs_are_left_alone() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1, 5, 5, 2])
    y = g.conv2d(x, g.constant(np.ones((3, 1, 1, 2), np.float32)), input_layout="nhwc", filter_layout="ohwi")
    graph = g.build({"y": g.relu(y)})
    assert not wants_nhwc(graph)
    same, report = to_nhwc(graph)
    assert same is graph and not report.converted


def test_a_lone_conv_is_planned_as_it_is() -> None:
    from webinfer.backends.layout import plan_nhwc

    graph = _conv_then(lambda g, y, rng: {"y": y})
    same, report = plan_nhwc(graph)
    assert same is graph and not report.applied and report.saves == 0
    assert "no fewer than the browser's own" in report.summary() and report.as_dict()["applied"] is False
    new, report = plan_nhwc(build_convnet(batch=1))
    assert report.applied and report.saves == 2 * 10 - 1


def test_dynamic_filter_keeps_its_layout() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1, 2, 5, 5])
    f = g.input("f", "float32", [3, 2, 3, 3])
    graph = g.build({"y": g.conv2d(x, f)})
    new, report = to_nhwc(graph)
    conv = next(n for n in new.nodes if n.op == "conv2d")
    assert conv.attributes["filter_layout"] == "oihw" and not report.relaid
    rng = np.random.default_rng(2)
    feeds = {"x": rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
             "f": rng.standard_normal((3, 2, 3, 3)).astype(np.float32)}
    _same_outputs(graph, new, feeds)


def test_layout_option_values() -> None:
    assert resolve("auto", "nhwc") == "nhwc" and resolve("auto", "nchw") == "keep" and resolve(None, None) == "keep"
    assert resolve("nhwc", None) == "nhwc" and resolve("keep", "nhwc") == "keep"
    with pytest.raises(BackendError, match="layout must be one of auto, keep, nhwc"):
        resolve("NHWC", "nhwc")
    assert TO_NHWC == (0, 2, 3, 1)


# -- the WebNN planner runs the pass when the context prefers NHWC ------------------------------------------

LIMITS = json.loads((HERE / "webnn" / "limits_chromium153_cpu.json").read_text())


def test_webnn_plan_has_one_transpose_for_the_conv_net() -> None:
    from webinfer.backends.webnn.limits import Limits
    from webinfer.backends.webnn.planner import plan_graph

    graph = build_convnet(batch=2)
    plan, _ = plan_graph(graph, Limits(LIMITS))
    stats = plan.stats()
    assert stats["transposes"] == 1 and stats["calls_by_op"]["conv2d"] == 8
    assert plan.layout is not None and plan.layout["transposes"] == 1 and plan.layout["converted"] == 10
    convs = [op for op in plan.ops if op["op"] == "conv2d"]
    assert all(op["options"]["inputLayout"] == "nhwc" for op in convs)
    assert {op["options"]["filterLayout"] for op in convs} == {"ohwi", "ihwo"}
    # re-laid 1×1 filters keep their weights-file reference; the others are new constants (bytes made once)
    assert all(k in plan.graph_constants for k in (c.key for c in plan.constants if c.key))

    kept, _ = plan_graph(graph, Limits(LIMITS), layout="keep")
    assert kept.stats()["transposes"] == 0 and kept.layout is None
    assert all(op["options"]["inputLayout"] == "nchw" for op in kept.ops if op["op"] == "conv2d")
    no_pref = {k: v for k, v in LIMITS.items() if k != "preferredInputLayout"}
    assert plan_graph(graph, Limits(no_pref))[0].layout is None  # auto: only when the context says nhwc
