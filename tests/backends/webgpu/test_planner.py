"""The WebGPU planner on CPython: kernel coverage, views, fusion, the memory plan, limits and WGSL shape.

Everything here runs without a browser; the browser tests run the same plans on SwiftShader.
"""

from __future__ import annotations

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.webgpu import runtime
from webinfer.backends.webgpu.kernels import KERNELS, PROGRAMS
from webinfer.backends.webgpu.planner import DEFAULT_LIMITS, DeviceFacts, Planner
from webinfer.backends.webgpu.program import MAX_GRID, grid
from webinfer.backends.webgpu.views import Value, View, coalesce
from webinfer.ir import all_ops


def plan(graph: wi.Graph, **limits: int):  # type: ignore[no-untyped-def]
    facts = DeviceFacts({**DEFAULT_LIMITS, **limits})
    return Planner(graph, facts, lambda n: graph.constants[n].data()).plan()


def mlp(hidden: int = 16) -> wi.Graph:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4, hidden])
    w1 = g.constant(np.ones((hidden, 2 * hidden), np.float32))
    b1 = g.constant(np.ones(2 * hidden, np.float32))
    h = g.gelu(g.add(g.matmul(x, w1), b1))
    w2 = g.constant(np.ones((2 * hidden, hidden), np.float32))
    return g.build({"y": g.relu(g.matmul(h, w2))})


def test_every_kernel_family_has_a_generator() -> None:
    for op, k in KERNELS.items():
        assert k.family in ("elementwise", "view", "concat", "dequantize") or k.family in PROGRAMS, op


def test_bias_and_activation_fuse_into_the_matmul_epilogue() -> None:
    p = plan(mlp())
    assert p.stats["dispatches"] == 2
    labels = [d["label"] for d in p.spec["dispatches"]]
    assert labels[0].split("+") == ["matmul_0", "add_0", "gelu_0"]
    assert labels[1].split("+") == ["matmul_1", "relu_0"]
    assert p.placement["gelu_0"].startswith("webgpu: dispatch 0 (matmul, fused")


def test_elementwise_chains_fuse_into_one_kernel() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [8, 8])
    y = g.sigmoid(g.mul(g.exp(g.neg(x)), g.add(x, g.constant(1.0))))
    p = plan(g.build({"y": y}))
    assert p.stats["dispatches"] == 1
    code = p.spec["pipelines"][0]["code"]
    assert "sigmoid_f32" in code and "exp_f32" in code


def test_shared_or_broadcast_producers_are_materialized_once() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4, 1])
    e = g.exp(x)  # used twice, and broadcast: computed once into a buffer
    y = g.add(g.mul(e, g.constant(np.ones((4, 5), np.float32))), e)
    p = plan(g.build({"y": y}))
    assert p.stats["dispatches"] == 2


def test_movement_ops_are_views() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3, 4])
    t = g.transpose(g.reshape(x, new_shape=[6, 4]), permutation=[1, 0])
    s = g.slice(t, starts=[0, 1], sizes=[4, 4], strides=[1, 1])
    y = g.matmul(s, g.expand(g.constant(np.ones((4, 1), np.float32)), new_shape=[4, 3]))
    p = plan(g.build({"y": y}))
    assert p.stats["dispatches"] == 1  # the matmul reads x through the strides; no copies
    for name in ("reshape_0", "transpose_0", "slice_0", "expand_0"):
        assert p.placement[name] == "webgpu: view (no copy)"


def test_concat_writes_producers_into_their_windows() -> None:
    g = wi.GraphBuilder()
    a = g.input("a", "float32", [2, 3])
    b = g.input("b", "float32", [2, 5])
    y = g.concat([g.relu(a), g.neg(b)], axis=1)
    p = plan(g.build({"y": g.mul(y, y)}))
    # two producers write straight into the concat buffer, then the square
    assert p.stats["dispatches"] == 3
    assert p.stats["values"] == 4  # a, b, the concat buffer, the output: no per-input copies


def test_memory_plan_reuses_dead_buffers() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [64])
    h = x
    for _ in range(8):  # each step's result is used twice, so each is materialized
        h = g.add(g.exp(h), g.sin(h))
    p = plan(g.build({"y": h}))
    assert p.stats["values"] >= 9
    assert p.stats["pool_buffers"] <= 3
    assert p.stats["pool_bytes"] < p.stats["unpooled_bytes"]


def test_intervals_of_shared_buffers_never_overlap() -> None:
    from webinfer.backends.webgpu.memory import lifetime

    g = wi.GraphBuilder()
    x = g.input("x", "float32", [32])
    h = x
    for _ in range(6):
        h = g.add(g.exp(h), g.cos(h))
    planner = Planner(g.build({"y": h}), DeviceFacts(), lambda n: b"")
    planner.plan()
    by_buffer: dict[int, list[tuple[int, int]]] = {}
    for v in planner.values:
        if v.kind != "const":
            by_buffer.setdefault(v.buffer, []).append(lifetime(v, len(planner.steps)))
    for spans in by_buffer.values():
        spans.sort()
        for (_, e0), (s1, _) in zip(spans, spans[1:]):
            assert e0 < s1, spans


def test_shapes_are_uniforms_so_one_pipeline_serves_many_shapes() -> None:
    def code(n: int) -> list[str]:
        g = wi.GraphBuilder()
        x = g.input("x", "float32", [n, 32])
        w = g.constant(np.ones((32, 16), np.float32))
        return [pp["code"] for pp in plan(g.build({"y": g.softmax(g.matmul(x, w))})).spec["pipelines"]]

    assert code(3) == code(100)


def test_symbolic_graph_specializes_per_shape() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 8])
    graph = g.build({"y": g.relu(x)})
    with pytest.raises(wi.BackendError, match="static graph"):
        Planner(graph, DeviceFacts(), lambda n: b"")
    assert plan(graph.specialize({"batch": 5})).outputs[0].shape == (5, 8)


def test_binding_size_limit_is_checked_at_compile_time_and_named() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1024, 1024])
    graph = g.build({"y": g.exp(x)})
    with pytest.raises(wi.BackendError, match=r"maxStorageBufferBindingSize \(1048576\)") as e:
        plan(graph, maxStorageBufferBindingSize=1 << 20)
    assert "'x'" in str(e.value)


def test_fusion_stops_at_the_storage_buffer_limit() -> None:
    g = wi.GraphBuilder()
    ins = [g.input(f"x{i}", "float32", [16]) for i in range(8)]
    y = ins[0]
    for t in ins[1:]:
        y = g.add(y, t)
    graph = g.build({"y": y})
    assert plan(graph, maxStorageBuffersPerShaderStage=10).stats["dispatches"] == 1
    p = plan(graph, maxStorageBuffersPerShaderStage=4)
    assert p.stats["dispatches"] > 1
    assert all(len(d["bindings"]) <= 4 for d in p.spec["dispatches"])


def test_large_dispatches_use_a_2d_grid() -> None:
    assert grid(100, "op") == (100, 1, 1)
    x, y, z = grid(MAX_GRID * 3 + 1, "op")
    assert x <= MAX_GRID and y == 4 and x * y >= MAX_GRID * 3 + 1
    with pytest.raises(wi.BackendError, match="maxComputeWorkgroupsPerDimension"):
        grid(MAX_GRID * MAX_GRID + 1, "big op")
    g = wi.GraphBuilder()
    x_in = g.input("x", "float32", [MAX_GRID * 64 + 64])
    p = plan(g.build({"y": g.neg(x_in)}))
    assert p.spec["dispatches"][0]["grid"][1] == 2


def test_packed_dtypes_are_decoded_on_load_and_packed_for_readback() -> None:
    g = wi.GraphBuilder()
    h = g.input("h", "float16", [5])
    b = g.input("b", "uint8", [7])
    p = plan(g.build({"y": g.exp(h), "z": g.logical_not(b)}))
    codes = "\n".join(pp["code"] for pp in p.spec["pipelines"])
    assert "unpack2x16float" in codes and "extractBits" in codes and "f16_bits" in codes
    assert [s.store for s in p.inputs] == ["p16", "pu8"]
    assert [s.nbytes for s in p.outputs] == [12, 8]  # 5 halves and 7 bytes, rounded up to words


def test_native_float16_enables_f16() -> None:
    g = wi.GraphBuilder()
    h = g.input("h", "float16", [5])
    graph = g.build({"y": g.exp(h)})
    p = Planner(graph, DeviceFacts(f16=True), lambda n: b"").plan()
    assert p.spec["pipelines"][0]["code"].startswith("enable f16;")
    assert [s.store for s in p.inputs] == ["f16"]


def test_gather_clamps_indices_in_wgsl() -> None:
    g = wi.GraphBuilder()
    t = g.input("t", "float32", [5, 3])
    i = g.input("i", "int64", [4])
    p = plan(g.build({"y": g.gather(t, i)}))
    code = p.spec["pipelines"][0]["code"]
    assert "k = clamp(k, 0, max(" in code


def test_views_reshape_and_coalesce() -> None:
    v = View.dense(Value(0, "float32", "f32", 24, "temp", "v"), (2, 3, 4))
    t = v.transpose((1, 0, 2))
    assert t.reshape((3, 8)) is None  # not expressible by strides: needs a copy
    assert t.reshape((3, 2, 2, 2)).strides == (4, 12, 2, 1)
    assert v.slice((0, 1, 0), (2, 2, 4), (1, 1, 2)).strides == (12, 4, 2)
    assert v.broadcast_to((5, 2, 3, 4)).strides == (0, 12, 4, 1)
    assert coalesce((2, 3, 4), [(12, 4, 1), (0, 0, 0)]) == ((24,), [(1,), (0,)])
    assert coalesce((2, 1, 4), [(4, 4, 1), (4, 0, 1)]) == ((8,), [(1,), (1,)])
    assert coalesce((2, 3), [(1, 2)]) == ((2, 3), [(1, 2)])


def test_int64_narrowing_is_range_checked() -> None:
    import array

    data = array.array("q", [1, -5, 2**31 - 1]).tobytes()
    assert array.array("i", runtime.narrow_int64(data, "input 'ids'")).tolist() == [1, -5, 2**31 - 1]
    with pytest.raises(wi.InputError, match=r"input 'ids': int64 value 2147483648 at flat index 1"):
        runtime.narrow_int64(array.array("q", [0, 2**31]).tobytes(), "input 'ids'")
    assert array.array("q", runtime.widen_int32(array.array("i", [-3, 7]).tobytes())).tolist() == [-3, 7]


def test_compile_outside_the_browser_says_why() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    with pytest.raises(Exception, match="browser|Pyodide|emscripten"):
        wi.compile(g.build({"y": g.neg(x)}), backend="webgpu")


def _one(op: str, *inputs: tuple[str, list[int]], **attrs: object) -> wi.Graph:
    g = wi.GraphBuilder()
    xs = [g.input(f"x{i}", dt, shape) for i, (dt, shape) in enumerate(inputs)]
    return g.build({"y": g.apply(op, xs, attrs)[0]})


I64 = ("int64", [4])


@pytest.mark.parametrize("graph", [
    _one("add", I64, I64), _one("sub", I64, I64), _one("mul", I64, I64), _one("div", I64, I64), _one("neg", I64),
    _one("abs", I64), _one("pow", I64, I64), _one("reduce_sum", I64), _one("reduce_mean", I64),
    _one("matmul", ("int64", [2, 2]), ("int64", [2, 2])), _one("cast", ("float32", [4]), data_type="int64"),
    _one("cast", ("uint32", [4]), data_type="int64"),
    _one("pad", I64, beginning_padding=[1], ending_padding=[0], value=2.0**40),
], ids=lambda g: g.nodes[0].label)
def test_int64_arithmetic_is_refused_at_compile_by_name(graph: wi.Graph) -> None:
    from webinfer.backends.webgpu.planner import check_graph

    node = graph.nodes[0]
    with pytest.raises(wi.UnsupportedError, match=rf"webgpu: .*{node.op} \(node '{node.name}'\): .*int") as e:
        check_graph(graph)
    assert e.value.node == node.name and "int64" in (e.value.reason or "")
    with pytest.raises(wi.UnsupportedError):  # the planner checks too (with the adapter's limits)
        plan(graph.specialize({}) if not graph.is_static else graph)


@pytest.mark.parametrize("graph", [
    _one("gather", ("float32", [5, 2]), I64), _one("cast", I64, data_type="float32"), _one("max", I64, I64),
    _one("identity", I64), _one("reshape", I64, new_shape=[2, 2]), _one("concat", I64, I64, axis=0),
    _one("cast", ("int32", [4]), data_type="int64"), _one("greater", I64, I64), _one("reduce_max", I64),
    _one("where", ("uint8", [4]), I64, I64), _one("clamp", I64, min_value=0.0),
    _one("pad", I64, beginning_padding=[1], ending_padding=[0], value=-5.0),
], ids=lambda g: g.nodes[0].label)
def test_int64_that_only_moves_or_is_selected_runs(graph: wi.Graph) -> None:
    from webinfer.backends.webgpu.planner import check_graph

    check_graph(graph)
    assert plan(graph).stats["dispatches"] >= 0


def test_hybrid_places_refused_int64_arithmetic_on_webnn_with_the_reason() -> None:
    from webinfer.backends.contract import NodeDescs, entry_supports
    from webinfer.backends.hybrid.partition import partition
    from webinfer.backends.webgpu.kernels import KERNELS

    g = wi.GraphBuilder()
    ids = g.input("ids", "int64", [4])
    graph = g.build({"y": g.gather(g.constant(np.ones((9, 3), np.float32)), g.add(ids, ids, name="double"))})

    def webgpu(node):  # type: ignore[no-untyped-def]
        return entry_supports(KERNELS, "webgpu", node, NodeDescs.of(graph, node))

    p = partition(graph, {"webnn": lambda n: None, "webgpu": webgpu}, prefer="webgpu")
    assert p.placement == {"double": "webnn", "gather_0": "webgpu"}
    assert p.why["double"].startswith("webgpu: add producing int64: WGSL has no 64-bit integers")


# ops without a kernel yet (tests/backends/test_coverage.py's PENDING)
MISSING_KERNELS = sorted(s.name for s in all_ops() if s.name not in KERNELS)


@pytest.mark.parametrize("op", MISSING_KERNELS)
def test_ops_without_a_kernel_are_refused_by_name(op: str) -> None:
    from webinfer.errors import UnsupportedError
    from webinfer.ir.opcases import cases_for

    case = next(c for c in cases_for(op) if c.runnable)
    g = wi.GraphBuilder()
    ins = [None if d is None else g.input(f"in{i}", d.dtype, list(d.shape)) for i, d in enumerate(case.inputs)]
    graph = g.build({"y": g.apply(op, ins, dict(case.attrs))[0]})
    with pytest.raises(UnsupportedError, match="webgpu: "):
        plan(graph.specialize(dict(case.bind)) if case.bind else graph)
