"""The lowering table: covers the registry, names real MLGraphBuilder methods, records the right calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from webnn_cases import CASES, PENDING, base_op

import webinfer as wi
from webinfer.backends.webnn.limits import Limits
from webinfer.backends.webnn.lowering import LOWERINGS, NodeDescs, camel, supports
from webinfer.backends.webnn.planner import check_graph, plan_graph
from webinfer.ir.graph import Node

HERE = Path(__file__).parent
LIMITS = json.loads((HERE / "limits_chromium153_cpu.json").read_text())
BUILDER_METHODS = set(json.loads((HERE / "mlgraphbuilder_methods_chromium153.json").read_text()))


@pytest.fixture(scope="module")
def limits() -> Limits:
    return Limits(LIMITS)


def test_every_op_has_a_lowering_or_is_pending() -> None:
    from webinfer.ir import all_ops

    assert {s.name for s in all_ops()} - set(LOWERINGS) == set(PENDING)


def test_rms_normalization_runs_its_decomposition(limits: Limits) -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [3, 8])
    graph = g.build({"y": g.rms_normalization(x, g.constant(np.ones(8, np.float32)), epsilon=1e-5)})
    support = check_graph(graph, limits)[graph.nodes[0].name]
    assert support.ok and (support.how or "").startswith("decomposed:") and "reduceMean" in (support.how or "")
    assert "WebNN has no RMS normalization" in (support.note or "") or "rmsNormalization" in (support.note or "")
    plan, _ = plan_graph(graph, limits)
    assert "reduceMean" in [o["op"] for o in plan.ops]


def _dq_graph(q_dtype: str, scale_shape: list[int], *, zero_point: bool = False, bias: bool = False,
              constant: bool = True):  # type: ignore[no-untyped-def]
    g = wi.GraphBuilder()
    if constant:
        q = g.constant(np.zeros(8 * 64 // (2 if "4" in q_dtype else 1), np.uint8).tobytes(), dtype=q_dtype,
                       shape=[8, 64])
    else:
        q = g.input("q", q_dtype, [8, 64])
    scale = g.input("scale", "float32", scale_shape)
    zp = g.input("zp", q_dtype, scale_shape) if zero_point else None
    b = g.input("bias", "float32", scale_shape) if bias else None
    return g.build({"w": g.dequantize_linear(q, scale, zp, b)})


def test_dequantize_linear_splits_blocks_and_holds_uint4_as_int4(limits: Limits) -> None:
    plan, report = plan_graph(_dq_graph("uint4", [8, 2], bias=True), limits)
    assert all(s.ok and s.how == "dequantizeLinear" for s in report.values()), report
    ops = [o["op"] for o in plan.ops]
    assert ops == ["reshape", "reshape", "reshape", "reshape", "dequantizeLinear", "add", "reshape"], ops
    dq = plan.ops[ops.index("dequantizeLinear")]
    shapes = {c.id: c for c in plan.constants}
    q_const = shapes[plan.ops[0]["args"][0]["$"]]  # the packed weights, re-biased in JS where they are used
    assert q_const.desc.dtype == "int4" and q_const.transform == "uint4-int4" and q_const.key is not None
    zp = next(c for c in plan.constants if c.name.endswith("/zero_point"))
    assert zp.desc.dtype == "int4" and zp.data == bytes([0x88]) * 8  # -8 in every nibble: (u - 8) + 8 = u
    assert plan.ops[0]["args"][1] == [8, 2, 32] and dq["outs"]
    assert "uint4 held as int4" in next(iter(plan.narrowed.values()))


def test_dequantize_linear_per_axis_and_int8_graph_inputs(limits: Limits) -> None:
    plan, _ = plan_graph(_dq_graph("int8", [8, 1], constant=False), limits)
    # per-axis: broadcasting alone, no reshape; an identity after (TFLite cannot build dequantizeLinear -> transpose)
    assert [o["op"] for o in plan.ops] == ["dequantizeLinear", "identity"]
    assert len(plan.ops[0]["args"]) == 3  # Chromium 153 wants a zero point: a zero of the input's dtype
    plan, _ = plan_graph(_dq_graph("uint4", [8, 2], zero_point=True, constant=False), limits)
    assert plan.convert == {"q": "uint4-int4", "zp": "uint4-int4"}  # re-biased when the session writes them


def test_scatter_nd_normalizes_shared_indices_once(limits: Limits) -> None:
    g = wi.GraphBuilder()
    k, v = g.input("k", "float32", [3, 16, 4]), g.input("v", "float32", [3, 16, 4])
    idx = g.input("idx", "int32", [3, 2, 2])
    upd = g.input("upd", "float32", [3, 2, 4])
    plan, report = plan_graph(g.build({"k2": g.scatter_nd(k, idx, upd), "v2": g.scatter_nd(v, idx, upd)}), limits)
    ops = [o["op"] for o in plan.ops]
    assert ops.count("scatterND") == 2 and ops.count("where") == 1 and ops.count("min") == 1, ops
    assert all(s.how == "scatterND" for s in report.values())


@pytest.mark.parametrize("op", sorted(op for op, entry in LOWERINGS.items() if not entry.decompose_only))
def test_lowering_names_a_real_webnn_op_and_roles(op: str) -> None:
    lowering = LOWERINGS[op]
    assert lowering.webnn in BUILDER_METHODS, f"{op}: MLGraphBuilder has no {lowering.webnn}"
    entry = LIMITS[lowering.webnn]
    for role in (*lowering.roles, lowering.out_role):
        assert role in entry, f"{op}: opSupportLimits().{lowering.webnn} has no role {role!r}"


def test_camel_names() -> None:
    assert camel("greater_or_equal") == "greaterOrEqual"
    assert camel("average_pool2d") == "averagePool2d"
    assert camel("add") == "add"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_case_plans_with_direct_ops(case: str, limits: Limits) -> None:
    graph, _ = CASES[case]()
    plan, report = plan_graph(graph, limits)
    op = base_op(case)
    assert all(s.ok for s in report.values()), report
    calls = [o["op"] for o in plan.ops if o["node"] in report]
    assert calls[0] == LOWERINGS[op].webnn
    assert len(calls) == 1 or case.startswith(("average_pool2d_", "dequantize_linear_"))  # (workarounds; a small net)
    for record in plan.ops:
        assert record["op"] in BUILDER_METHODS
    json.dumps(plan.to_dict())  # plain data all the way down


def test_recorded_arguments_and_options(limits: Limits) -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3, 4])
    s = g.constant(np.ones(4, np.float32))
    y = g.layer_normalization(x, s, axes=[-1], epsilon=1e-3)
    z = g.reduce_sum(y, keep_dimensions=True)
    c = g.clamp(z, min_value=0.0)
    plan, _ = plan_graph(g.build({"c": c}), limits)
    ln, rs, cl = plan.ops
    assert ln["op"] == "layerNormalization" and ln["options"] == {"scale": {"$": 1}, "axes": [2], "epsilon": 1e-3}
    assert "bias" not in ln["options"]  # absent optional inputs are left out, not sent as null
    assert rs["options"] == {"axes": [0, 1, 2], "keepDimensions": True}
    assert cl["options"] == {"minValue": 0.0, "maxValue": {"$num": "Infinity"}}


def test_reshape_resolves_minus_one_and_split_is_multi(limits: Limits) -> None:
    plan, _ = plan_graph(CASES["reshape"]()[0], limits)
    assert plan.ops[0]["args"][1] == [6, 4]
    plan, _ = plan_graph(CASES["split"]()[0], limits)
    assert plan.ops[0]["multi"] and len(plan.ops[0]["outs"]) == 2


def test_int_matmul_is_unsupported_with_reason(limits: Limits) -> None:
    node = Node("matmul", ("a", "b"), ("y",), {}, "mm")
    d = wi.OperandDesc("int32", (2, 2))
    reason = supports(node, NodeDescs([d, d], [d]), limits)
    assert reason == "matmul a is int32; this context takes float32, float16"


def test_zero_size_tensors_are_unsupported(limits: Limits) -> None:
    node = Node("relu", ("x",), ("y",), {}, "r")
    d = wi.OperandDesc("float32", (0, 3))
    assert "zero-size" in (supports(node, NodeDescs([d], [d]), limits) or "")


def test_layout_note_for_non_preferred_layout(limits: Limits) -> None:
    graph, _ = CASES["conv2d"]()
    _, report = plan_graph(graph, limits)
    (support,) = report.values()
    assert support.ok and support.note and "prefers nhwc" in support.note
    graph, _ = CASES["conv2d_depthwise_nhwc"]()
    _, report = plan_graph(graph, limits)
    assert next(iter(report.values())).note is None


def test_edge_pad_falls_back_where_the_context_refuses_it() -> None:
    graph, _ = CASES["pad_edge"]()
    plan, _ = plan_graph(graph, Limits(LIMITS))
    assert [o["op"] for o in plan.ops] == ["pad"]  # not probed: the direct op
    refusing = Limits(LIMITS, features={"pad.edge": "NotSupportedError: not in tflite"})
    plan, report = plan_graph(graph, refusing)
    assert "pad" not in [o["op"] for o in plan.ops]
    assert {"slice", "expand", "concat"} <= {o["op"] for o in plan.ops}
    assert "not in tflite" in (next(iter(report.values())).note or "")
    plan, _ = plan_graph(CASES["pad_reflection"]()[0], refusing)
    assert [o["op"] for o in plan.ops] == ["pad"]


def test_ceil_pools_pin_output_sizes_and_average_only_real_cells(limits: Limits) -> None:
    plan, _ = plan_graph(CASES["max_pool2d"]()[0], limits)
    assert plan.ops[0]["options"]["outputSizes"] == [3, 3] and plan.ops[0]["options"]["roundingType"] == "ceil"
    plan, _ = plan_graph(CASES["average_pool2d_ceil"]()[0], limits)
    assert [o["op"] for o in plan.ops] == ["averagePool2d", "averagePool2d", "div"]
    ones = next(c for c in plan.constants if c.data is not None)
    assert ones.desc.shape == (1, 1, 5, 5)
    plan, _ = plan_graph(CASES["average_pool2d_padded"]()[0], limits)  # explicit padding: corrected too
    assert [o["op"] for o in plan.ops] == ["averagePool2d", "averagePool2d", "div"]
    plan, _ = plan_graph(CASES["average_pool2d"]()[0], limits)  # no padding, no overhang: the op alone
    assert [o["op"] for o in plan.ops] == ["averagePool2d"]


def test_probed_features_make_nodes_unsupported(limits: Limits) -> None:
    wrong = "div(int32) computes wrong values here: div([7], [2]) gave [0], not [3]"
    probed = Limits(LIMITS, features={"div.int32": wrong, "maxPool2d.dilations": "NotSupportedError: no dilations"})
    int_div = Node("div", ("a", "b"), ("y",), {}, "d")
    d32 = wi.OperandDesc("int32", (3,))
    assert supports(int_div, NodeDescs([d32, d32], [d32]), probed) == wrong
    f32 = wi.OperandDesc("float32", (3,))
    assert supports(int_div, NodeDescs([f32, f32], [f32]), probed) is None
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1, 1, 9, 9])
    graph = g.build({"y": g.max_pool2d(x, window_dimensions=[2, 2], dilations=[2, 2], name="mp")})
    from webinfer.backends.webnn.planner import check_graph

    reason = check_graph(graph, probed)["mp"].reason
    assert reason == "maxPool2d with dilations [2, 2]: NotSupportedError: no dilations"
    assert check_graph(CASES["max_pool2d"]()[0], probed)["max_pool2d_0"].ok


def test_integer_division_by_zero_is_made_explicit(limits: Limits) -> None:
    plan, _ = plan_graph(CASES["div"]()[0], limits)
    assert [o["op"] for o in plan.ops] == ["div"]  # float: the op alone
    g = wi.GraphBuilder()
    a, b = g.input("a", "int32", [3]), g.input("b", "int32", [3])
    plan, _ = plan_graph(g.build({"q": g.div(a, b)}), limits)
    assert [o["op"] for o in plan.ops] == ["equal", "where", "div", "where"]


def _replay(plan, feeds, sqrt):  # type: ignore[no-untyped-def]
    """Run a recorded plan of elementwise calls with numpy float32 (``sqrt``: the context's sqrt to mimic)."""
    env = {op.id: feeds[name] for name, op in plan.inputs}
    for c in plan.constants:
        env[c.id] = np.frombuffer(c.data, c.desc.dtype).reshape(c.desc.shape)
    fns = {"greater": lambda a, b: (a > b).astype(np.uint8), "equal": lambda a, b: (a == b).astype(np.uint8),
           "where": lambda c, t, f: np.where(c != 0, t, f).astype(np.float32), "mul": np.multiply, "add": np.add,
           "div": np.divide, "sqrt": sqrt}
    with np.errstate(all="ignore"):
        for rec in plan.ops:
            args = [env[a["$"]] for a in rec["args"]]
            env[rec["outs"][0]] = np.asarray(fns[rec["op"]](*args))
    return {name: env[op.id] for name, op in plan.outputs}


def _tflite_sqrt(x):  # type: ignore[no-untyped-def]
    """sqrt as this Chromium's TFLite computes it: up to 2 ULP off, ~1.5x too large above 8.5e37, NaN at +inf."""
    with np.errstate(invalid="ignore"):
        y = np.sqrt(x.astype(np.float64)).astype(np.float32)
    rng = np.random.default_rng(0)
    off = (y.view(np.int32) + rng.integers(-2, 3, y.shape).astype(np.int32)).view(np.float32)
    y = np.where(np.isfinite(y) & (y > 0), off, y)
    y = np.where(x > 8.5e37, y * np.float32(1.5), y)
    return np.where(x == np.inf, np.float32(np.nan), y).astype(np.float32)


def test_sqrt_is_refined_where_the_context_probe_found_it_inaccurate() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4096])
    graph = g.build({"y": g.sqrt(x)})
    exact, _ = plan_graph(graph, Limits(LIMITS, {"sqrt.accuracy": None}))
    assert [o["op"] for o in exact.ops] == ["sqrt"]  # accurate here: the direct op
    refined, report = plan_graph(graph, Limits(LIMITS, {"sqrt.accuracy": "sqrt(float32) is not correctly rounded"}))
    assert report["sqrt_0"].note.startswith("float32 sqrt refined") and len(refined.ops) > 1
    rng = np.random.default_rng(1)
    values = (rng.uniform(1, 2, 4096) * 2.0 ** rng.integers(-149, 128, 4096)).astype(np.float32)
    values[:8] = [0.0, -0.0, np.inf, np.nan, -1.0, 3.4e38, 1e-45, 1.0]
    got = _replay(refined, {"x": values}, _tflite_sqrt)["y"]
    with np.errstate(invalid="ignore"):
        want = np.sqrt(values.astype(np.float64))
    from webinfer.ir.tolerance import compare

    tol = wi.get_op("sqrt").tolerance(wi.get_op("sqrt").call([graph.inputs["x"]], {}))  # 1 ULP, as WPT
    c = compare(got, want, tol, "float32")
    assert c.ok, c.message
    assert not compare(_tflite_sqrt(values), want, tol, "float32").ok  # what the refinement is for
    assert got[2] == np.inf and np.isnan(got[3]) and np.isnan(got[4]) and got[0] == 0
