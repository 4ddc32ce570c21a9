"""The WebGPU backend in the browser (SwiftShader here): conformance, models vs the reference, the
executor's promises (one submit per run, no growth over 1,000 runs, device loss) and the safety
ones (gather never reads out of bounds, int64 range checks)."""

from __future__ import annotations

import base64
import math
import pathlib

import numpy as np
import pytest

from webinfer.backends.reference import evaluate
from webinfer.tensor import Tensor

HERE = pathlib.Path(__file__).parent
SETUP = f"""
import base64, json, math, struct
import webinfer as wi
from webinfer.backends.webgpu import runtime
exec(compile({(HERE / "models_src.py").read_text()!r}, "models_src.py", "exec"))

def b64(t):
    return base64.b64encode(t.tobytes()).decode()

def counters():
    return runtime.counters()
"""

ns: dict = {}
exec(compile((HERE / "models_src.py").read_text(), "models_src.py", "exec"), ns)


@pytest.fixture(scope="module")
def page(browser_py):  # type: ignore[no-untyped-def]
    browser_py.run(SETUP)
    return browser_py


def _array(b64: str, shape: list[int], dtype: str = "float32") -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype).reshape(shape)


def _close_to_reference(got: np.ndarray, ref: np.ndarray, scale: float) -> None:
    """A composite graph has no registry tolerance: float32 error stays below 1e-4 of the output's scale."""
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    assert err <= 1e-4 * scale, f"max abs error {err:g} vs reference (scale {scale:g})"


def test_conformance_every_op(page) -> None:  # type: ignore[no-untyped-def]
    from webinfer.tools.conformance import format_report, run_conformance

    report = run_conformance("webgpu", runner=page.run)
    assert "swiftshader" in report.device.lower() or report.device
    assert report.ok, format_report(report)
    assert len(report.ops) >= 52


@pytest.mark.parametrize("tiling", ["workgroup", "register"])
def test_conformance_of_the_tiled_kernels_with_each_tiling(page, tiling) -> None:  # type: ignore[no-untyped-def]
    """Both matmul tilings (GPU: workgroup memory; CPU: registers) and both reduction layouts, whatever the adapter."""
    from webinfer.tools.conformance import format_report, run_conformance

    ops = ["matmul", "gemm", "softmax", "layer_normalization", "reduce_sum", "reduce_mean", "reduce_max"]
    report = run_conformance("webgpu", ops, runner=page.run, options={"tiling": tiling})
    assert report.ok, format_report(report)
    assert not [c for r in report.ops for c in r.results if c.status == "xfail"]


def test_mlp_matches_reference_for_two_batch_sizes(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    sess = wi.compile(build_mlp(64), backend="webgpu")
    outs = {}
    for batch in (3, 8):
        x = [[math.sin(i * 64 + j) for j in range(64)] for i in range(batch)]
        outs[batch] = b64(sess.run({"x": x})["y"])
    info = sess.info()
    sess.close()
    [outs, len(info["plans"]), info["plan"]["dispatches"], info["plan"]["fused"]]
    """)
    outs, n_plans, dispatches, fused = got
    graph = ns["build_mlp"](64)
    for batch in (3, 8):
        x = np.array([[math.sin(i * 64 + j) for j in range(64)] for i in range(batch)], dtype=np.float32)
        ref = evaluate(graph.specialize({"batch": batch}), {"x": Tensor(x)})["y"]
        _close_to_reference(_array(outs[str(batch)], [batch, 64]), ref, float(np.max(np.abs(ref))))
    assert n_plans == 2  # one plan per concrete input shape
    assert dispatches == 2  # matmul+add+relu and matmul+add+gelu: bias and activation in the epilogue
    assert all("matmul" in f and "add" in f for f in fused)


@pytest.mark.parametrize("tiling", ["workgroup", "register"])
def test_transformer_block_matches_reference(page, tiling) -> None:  # type: ignore[no-untyped-def]
    hidden, seq = 64, 16
    got = page.run(f"""
    sess = wi.compile(build_block({hidden}, {seq}, 4), backend="webgpu", tiling={tiling!r})
    y = sess.run({{"x": block_input({hidden}, {seq})}})["y"]
    info = sess.info()
    sess.close()
    [b64(y), info["nodes"], info["plan"]["dispatches"], info["plan"]["pool_buffers"], info["plan"]["values"],
     info["placement"]]
    """)
    out, nodes, dispatches, pool_buffers, values, placement = got
    graph = ns["build_block"](hidden, seq, 4)
    x = np.array(ns["block_input"](hidden, seq), dtype=np.float32)
    ref = evaluate(graph, {"x": Tensor(x)})["y"]
    _close_to_reference(_array(out, [1, seq, hidden]), ref, float(np.max(np.abs(ref))))
    assert dispatches < nodes / 2  # fusion and views: far fewer dispatches than nodes
    assert pool_buffers < values  # the memory plan reuses buffers
    assert set(placement) == {n.name for n in graph.nodes}
    assert all(p.startswith("webgpu:") for p in placement.values())
    assert any("view" in p for p in placement.values())  # reshape/transpose cost no copy


def test_profile_times_every_dispatch_and_info_names_the_tiling(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    sess = wi.compile(build_block(32, 8, 2), backend="webgpu")
    prof = sess.profile({"x": block_input(32, 8)}, repeats=1)
    info = sess.info()
    try:
        wi.compile(build_block(32, 8, 2), backend="webgpu", tiling="diagonal")
        bad = "no error"
    except wi.BackendError as e:
        bad = str(e)
    sess.close()
    [prof, info["plan"]["dispatches"], info["tiling"], info["device"]["name"], bad]
    """)
    prof, dispatches, tiling, device, bad = got
    assert len(prof) == dispatches
    assert all(p["ms"] >= 0 and p["label"] for p in prof)
    assert [p["ms"] for p in prof] == sorted((p["ms"] for p in prof), reverse=True)
    assert tiling == ("register" if "swiftshader" in device.lower() else "workgroup")
    assert "tiling must be one of auto, workgroup, register" in bad


def test_one_submit_per_run(page) -> None:  # type: ignore[no-untyped-def]
    submits = page.run("""
    sess = wi.compile(build_block(32, 8, 2), backend="webgpu")
    x = block_input(32, 8)
    sess.run({"x": x})
    before = counters()["submits"]
    for _ in range(5):
        sess.run({"x": x})
    after = counters()["submits"]
    plan_submits = sess.info()["plan"]["submits"]
    sess.close()
    [after - before, plan_submits]
    """)
    assert submits == [5, 6]


def test_keep_on_device_chains_without_readback(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4, 8])
    sess = wi.compile(g.build({"y": g.add(g.mul(x, g.constant(2.0)), g.constant(1.0))}), backend="webgpu")
    x0 = [[float(i * 8 + j) for j in range(8)] for i in range(4)]
    s0 = counters()["submits"]
    t1 = sess.run({"x": x0}, keep_on_device=True)["y"]
    t2 = sess.run({"x": t1}, keep_on_device=True)["y"]
    s1 = counters()["submits"]
    on_device = [t1.on_device, t2.on_device, repr(t2)]
    values = t2.tolist()
    s2 = counters()["submits"]
    live = counters()["buffers"]
    t1.release(); t2.release()
    freed = live - counters()["buffers"]
    sess.close()
    [on_device, values, s1 - s0, s2 - s1, freed]
    """)
    on_device, values, run_submits, read_submits, freed = got
    assert on_device[:2] == [True, True] and "webgpu" in on_device[2]
    x0 = np.arange(32, dtype=np.float32).reshape(4, 8)
    np.testing.assert_array_equal(np.array(values, dtype=np.float32), (x0 * 2 + 1) * 2 + 1)
    assert run_submits == 2 and read_submits == 1  # no readback between the two runs
    assert freed == 2


def test_buffers_do_not_grow_over_1000_runs(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [16])
    sess = wi.compile(g.build({"y": g.relu(g.sub(x, g.constant(0.5)))}), backend="webgpu")
    data = [i / 16 for i in range(16)]
    sess.run({"x": data})
    c0 = counters()
    for _ in range(1000):
        y = sess.run({"x": data})["y"]
    c1 = counters()
    sess.close()
    c2 = counters()
    from webinfer import ffi
    [c0["buffers"], c0["bytes"], c1["buffers"], c1["bytes"], c2["buffers"], y.tolist()[-1],
     ffi.ledger.live().get("proxy", 0)]
    """, timeout=300)
    b0, bytes0, b1, bytes1, b2, last, proxies = got
    assert (b1, bytes1) == (b0, bytes0)
    assert b2 < b1  # close() destroyed the session's buffers
    assert last == pytest.approx(15 / 16 - 0.5)
    assert proxies == 0  # every zero-copy view was released


def test_destroyed_device_gives_a_clear_error_and_a_new_session_works(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [3])
    graph = g.build({"y": g.neg(x)})
    sess = wi.compile(graph, backend="webgpu")
    sess.device.js.destroy()
    try:
        sess.run({"x": [1.0, 2.0, 3.0]})
        err = None
    except wi.BackendError as e:
        err = str(e)
    sess2 = wi.compile(graph, backend="webgpu")
    y = sess2.run({"x": [1.0, 2.0, 3.0]})["y"].tolist()
    sess2.close()
    [err, y]
    """)
    err, y = got
    assert err is not None and "device was lost" in err and "compile the graph again" in err
    assert y == [-1.0, -2.0, -3.0]


def test_gather_clamps_out_of_range_indices(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    table = g.input("table", "float32", [5, 3])
    idx = g.input("idx", "int32", [6])
    sess = wi.compile(g.build({"y": g.gather(table, idx, axis=0)}), backend="webgpu")
    rows = [[float(10 * r + c) for c in range(3)] for r in range(5)]
    y = sess.run({"table": rows, "idx": [0, -1, 4, 5, 2147483647, -2147483648]})["y"].tolist()
    sess.close()
    y
    """)
    # -1 counts from the end; everything out of range clamps to the first/last row (never a stray read)
    assert got == [[0.0, 1.0, 2.0], [40.0, 41.0, 42.0], [40.0, 41.0, 42.0], [40.0, 41.0, 42.0],
                   [40.0, 41.0, 42.0], [0.0, 1.0, 2.0]]


def test_int64_inputs_are_range_checked_and_round_trip(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    ids = g.input("ids", "int64", [4])
    table = g.constant([[float(i), -float(i)] for i in range(5)])
    y = g.gather(table, ids, axis=0)
    sess = wi.compile(g.build({"y": y, "ids_max": g.max(ids, g.constant(2, dtype="int64")), "same": g.identity(ids)}),
                      backend="webgpu")
    ok = sess.run({"ids": [1, -2, 3, 2**31 - 1]})
    try:
        sess.run({"ids": [1, 2, 2**40, 4]})
        err = None
    except wi.InputError as e:
        err = str(e)
    narrowed = sess.info()["int64_narrowed"]
    sess.close()
    [ok["y"].tolist(), ok["ids_max"].dtype, ok["ids_max"].tolist(), ok["same"].tolist(), err, narrowed]
    """)
    rows, dtype, maxed, same, err, narrowed = got
    assert narrowed["ids"] == "graph input int64 -> int32 (range-checked at run)"  # info says so, as webnn's does
    assert list(narrowed.values())[1:] == ["constant int64 -> int32 (values checked)"]
    # int64 that only moves or is selected (gather indices, max, identity) is exact in int32
    assert rows == [[1.0, -1.0], [3.0, -3.0], [3.0, -3.0], [4.0, -4.0]]
    assert dtype == "int64" and maxed == [2, 2, 3, 2**31 - 1] and same == [1, -2, 3, 2**31 - 1]
    assert err is not None and "'ids'" in err and str(2**40) in err


def test_int64_arithmetic_is_refused_by_name_never_wrapped(page) -> None:  # type: ignore[no-untyped-def]
    """2**30 + 2**30 would wrap to -2**31 in WGSL's int32: compile refuses the node and says why; hybrid places
    it on WebNN (which has int64 here) and gets 2**31."""
    got = page.run("""
    g = wi.GraphBuilder()
    ids = g.input("ids", "int64", [2])
    graph = g.build({"y": g.add(ids, ids, name="double")})
    try:
        wi.compile(graph, backend="webgpu")
        err = None
    except wi.UnsupportedError as e:
        err = [str(e), e.node, e.reason]
    h = wi.compile(graph, backend="hybrid", prefer="webgpu")
    out = h.run({"ids": [2**30, -3]})["y"]
    res = [err, out.tolist(), out.backend, h.info()["hybrid"]["why"]["double"]]
    h.close()
    res
    """)
    err, values, backend, why = got
    assert err is not None and err[1] == "double"
    assert "add (node 'double')" in err[0] and "int64" in err[2] and "wrap" in err[2]
    assert values == [2**31, -6] and backend == "webnn"
    assert why.startswith("webgpu: add producing int64")


def test_float16_and_int8_io_and_info_says_how(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    h = g.input("h", "float16", [5])
    b = g.input("b", "int8", [5])
    y = g.mul(h, g.constant(3.0, dtype="float16"))
    z = g.add(b, b)
    sess = wi.compile(g.build({"y": y, "z": z}), backend="webgpu")
    out = sess.run({"h": wi.Tensor([0.5, -1.0, 1000.0, 30000.0, 1e-3], dtype="float16"),
                    "b": wi.Tensor([1, -2, 100, -100, 127], dtype="int8")})
    info = sess.info()
    sess.close()
    [out["y"].dtype, [repr(v) for v in out["y"].tolist()], out["z"].dtype, out["z"].tolist(), info["precision"]]
    """)
    ydt, y, zdt, z, precision = got
    y = [float(v) for v in y]
    assert ydt == "float16"
    want = np.array([0.5, -1.0, 1000.0, 1e-3], dtype=np.float16).astype(np.float64) * 3
    assert y[3] == math.inf  # 90000 overflows float16
    np.testing.assert_allclose(np.array(y)[[0, 1, 2, 4]], want, rtol=1e-3)
    assert zdt == "int8" and z == [2, -4, -56, 56, -2]  # int8 arithmetic wraps, as numpy's does
    assert "float16" in precision["float16"]


def test_run_async_and_dynamic_shapes(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["n", 2])
    sess = wi.compile(g.build({"y": g.reduce_sum(x, axes=[1])}), backend="webgpu")
    a = await sess.run_async({"x": [[1.0, 2.0], [3.0, 4.0]]})
    b = await sess.run_async({"x": [[1.0, 1.0]]})
    n = len(sess.info()["plans"])
    sess.close()
    [a["y"].tolist(), b["y"].tolist(), n]
    """)
    assert got == [[3.0, 7.0], [2.0], 2]


def test_compile_errors_name_the_limit(page) -> None:  # type: ignore[no-untyped-def]
    err = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1])
    try:
        wi.compile(g.build({"y": g.neg(x)}), backend="webgpu", precision="bfloat16")
        msg = None
    except wi.BackendError as e:
        msg = str(e)
    msg
    """)
    assert "precision" in err and "float16" in err


def test_reference_matches_nonfinite_softmax_rows(page) -> None:  # type: ignore[no-untyped-def]
    got = page.run("""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3])
    sess = wi.compile(g.build({"y": g.softmax(x, axis=1)}), backend="webgpu")
    y = sess.run({"x": [[0.0, float("inf"), 1.0], [1.0, 2.0, 3.0]]})["y"].tolist()
    sess.close()
    [str(v) for v in y[0]] + [round(v, 6) for v in y[1]]
    """)
    assert got[:3] == ["nan", "nan", "nan"]
    e = np.exp(np.array([1.0, 2.0, 3.0]) - 3.0)
    assert got[3:] == pytest.approx(list(e / e.sum()), abs=1e-6)
