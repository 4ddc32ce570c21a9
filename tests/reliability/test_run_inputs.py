"""Inputs at run time (issue 8 item 5), on reference (host), webgpu, webnn and hybrid (page).

Wrong names, types, dtypes, shapes, NaN/inf/fractional token ids, out-of-range gather indices and
empty batches each give a ``webinfer`` error that names the input, or a documented result:

- out-of-range gather indices clamp (``get_op("gather").notes``) on every backend, and never read past
  the gathered tensor: a gather from a *view* (a slice of a bigger input, a transposed slice) or from an
  intermediate that shares the WebGPU memory pool with others returns the clamped rows of that tensor,
  not its neighbours' data, and the neighbours (other outputs) are intact;
- int64 token ids beyond int32: webgpu computes int64 as int32 and refuses them (``InputError`` naming
  the input and value; so does hybrid, whose gathers run on WebGPU here); reference and webnn (which
  has int64 here) clamp them like any index;
- an empty batch (a symbolic dim bound to 0): reference and webgpu return an empty output; WebNN has
  no zero-size tensors, so webnn and hybrid raise ``UnsupportedError`` naming the nodes.

The same case code runs on the host and in the page; anything but a ``WebinferError`` is reported as a
defect (``NOT-WEBINFER``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from webinfer.tools.pytest_plugin import BrowserPy

CASES = r'''
import math
import webinfer as wi

def _outcome(call):
    try:
        out = call()
    except wi.WebinferError as e:
        return [type(e).__name__, str(e)]
    except BaseException as e:  # anything else is a defect
        return ["NOT-WEBINFER " + type(e).__name__, str(e)]
    return ["ok", {k: [list(v.shape), v.dtype, v.tolist()] for k, v in sorted(out.items())}]

def _graphs():
    gs = {}
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 2])
    gs["relu"] = g.build({"y": g.mul(g.relu(x), g.constant(2.0))})

    g = wi.GraphBuilder()
    ids = g.input("ids", "int64", [4])
    table = g.constant([[float(r), float(-r)] for r in range(4)], dtype="float32")
    gs["embed"] = g.build({"y": g.gather(table, ids, axis=0)})

    g = wi.GraphBuilder()
    table = g.input("table", "float32", [5, 3])
    idx = g.input("idx", "int32", [6])
    gs["gather"] = g.build({"y": g.gather(table, idx, axis=0)})

    # gathers from views and from pooled intermediates, with other outputs beside them
    g = wi.GraphBuilder()
    big = g.input("big", "float32", [10, 3])
    idx = g.input("idx", "int32", [4])
    window = g.slice(big, starts=[2, 0], sizes=[5, 3])              # rows 2..6 of big
    turned = g.transpose(window, permutation=[1, 0])                # [3, 5] view
    shifted = g.add(big, g.constant(1000.0))                        # [10, 3] intermediate
    lower = g.slice(shifted, starts=[5, 0], sizes=[5, 3])           # rows 5..9 of it
    gs["views"] = g.build({
        "rows": g.gather(window, idx, axis=0),
        "cols": g.gather(turned, idx, axis=1),
        "low": g.gather(lower, idx, axis=0),
        "neighbour": g.mul(shifted, g.constant(-1.0)),
    })
    return gs

GRAPHS = _graphs()
BIG = [[float(10 * r + c) for c in range(3)] for r in range(10)]
TABLE = [[float(10 * r + c) for c in range(3)] for r in range(5)]
HUGE = [0, -1, 4, 5, 2147483647, -2147483648]

def _compile(graph, backend, place):
    ops = {node.op for node in graph.nodes}
    chosen = {op: where for op, where in place.items() if op in ops}
    return wi.compile(graph, backend=backend, **({"place": chosen} if chosen else {}))

def input_cases(backend, place={}):
    sessions = {name: _compile(graph, backend, place) for name, graph in GRAPHS.items() if name != "relu"}
    relu = _compile(GRAPHS["relu"], backend, place)  # symbolic batch: planned per run
    run = lambda name, feeds: _outcome(lambda: sessions[name].run(feeds))
    r = {}
    r["ok"] = _outcome(lambda: relu.run({"x": [[1.0, -2.0], [3.0, -4.0]]}))
    r["unknown name"] = _outcome(lambda: relu.run({"X": [[1.0, 2.0]]}))
    r["missing input"] = _outcome(lambda: relu.run({}))
    r["not a dict"] = _outcome(lambda: relu.run([[1.0, 2.0]]))
    r["None value"] = _outcome(lambda: relu.run({"x": None}))
    r["string value"] = _outcome(lambda: relu.run({"x": "1.0, 2.0"}))
    r["ragged list"] = _outcome(lambda: relu.run({"x": [[1.0, 2.0], [3.0]]}))
    r["int32 data for float32"] = _outcome(lambda: relu.run({"x": wi.Tensor([[1, 2]], dtype="int32")}))
    r["wrong rank"] = _outcome(lambda: relu.run({"x": [1.0, 2.0]}))
    r["wrong dim"] = _outcome(lambda: relu.run({"x": [[1.0, 2.0, 3.0]]}))
    r["raw bytes"] = _outcome(lambda: relu.run({"x": b"\0" * 8}))
    r["empty batch"] = _outcome(lambda: relu.run({"x": wi.Tensor(b"", dtype="float32", shape=[0, 2])}))
    r["ids ok"] = run("embed", {"ids": [3, 0, 1, 2]})
    r["NaN in ids"] = run("embed", {"ids": [1.0, float("nan"), 2.0, 0.0]})
    r["inf in ids"] = run("embed", {"ids": [1, 2, float("inf"), 0]})
    r["fraction in ids"] = run("embed", {"ids": [1.5, 2.0, 0.0, 0.0]})
    r["float tensor for ids"] = run("embed", {"ids": wi.Tensor([1.0, float("nan"), 2.0, 0.0], dtype="float32")})
    r["ids past int32"] = run("embed", {"ids": [1, 2**40, -(2**40), 0]})
    r["ids past int64"] = run("embed", {"ids": [1, 2**70, 0, 0]})
    r["ids out of range"] = run("embed", {"ids": [4, -5, 99, -99]})
    r["gather huge indices"] = run("gather", {"table": TABLE, "idx": HUGE})
    r["gather from views"] = run("views", {"big": BIG, "idx": [4, 5, 2147483647, -2147483648]})
    for s in list(sessions.values()) + [relu]:
        s.close()
    return r
'''

NEEDS_BROWSER = ("webgpu", "webnn", "hybrid")
#: reference runs on the host; the others in the page (marked, so --require-browser fails them without one)
BACKENDS = ["reference", *(pytest.param(b, marks=pytest.mark.browser) for b in NEEDS_BROWSER)]


@pytest.fixture(scope="module")
def page(browser_py: BrowserPy) -> BrowserPy:
    browser_py.run(CASES)
    return browser_py


@pytest.fixture(scope="module")
def host_results() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(CASES, "<input cases>", "exec"), namespace)
    return json.loads(json.dumps(namespace["input_cases"]("reference")))


def _results(request: pytest.FixtureRequest, backend: str) -> dict[str, Any]:
    if backend not in NEEDS_BROWSER:
        return request.getfixturevalue("host_results")  # type: ignore[no-any-return]
    cache = request.config.stash.setdefault(_CACHE, {})
    if backend not in cache:
        page = request.getfixturevalue("page")
        place = {"gather": "webgpu"} if backend == "hybrid" else {}  # gathers on WebGPU, the rest on WebNN
        cache[backend] = page.run(f"input_cases({backend!r}, {place!r})", timeout=600)
    return cache[backend]  # type: ignore[no-any-return]


_CACHE = pytest.StashKey[dict[str, Any]]()


def _error(result: list, kind: str, *phrases: str) -> None:
    assert result[0] == kind, result
    for phrase in phrases:
        assert phrase in result[1], result


ROWS = {r: [10.0 * r, 10.0 * r + 1, 10.0 * r + 2] for r in range(10)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_failure_is_a_webinfer_error(request: pytest.FixtureRequest, backend: str) -> None:
    results = _results(request, backend)
    defects = {case: r for case, r in results.items() if r[0].startswith("NOT-WEBINFER")}
    assert defects == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_types_dtypes_and_shapes(request: pytest.FixtureRequest, backend: str) -> None:
    r = _results(request, backend)
    assert r["ok"] == ["ok", {"y": [[2, 2], "float32", [[2.0, 0.0], [6.0, 0.0]]]}]
    _error(r["unknown name"], "InputError", "unknown input 'X'", "the graph takes x")
    _error(r["missing input"], "InputError", "missing input 'x'")
    _error(r["not a dict"], "InputError", "inputs must be a dict")
    for case in ("None value", "string value"):
        _error(r[case], "InputError", "input 'x'", "cannot make a tensor")
    _error(r["ragged list"], "InputError", "input 'x'", "ragged")
    _error(r["int32 data for float32"], "InputError", "input 'x'", "expected float32 data, got int32")
    _error(r["wrong rank"], "InputError", "input 'x'", "expected rank 2")
    _error(r["wrong dim"], "InputError", "input 'x'", "axis 1")
    _error(r["raw bytes"], "InputError", "input 'x'", "dtype")


@pytest.mark.parametrize("backend", BACKENDS)
def test_token_ids_that_are_not_integers(request: pytest.FixtureRequest, backend: str) -> None:
    r = _results(request, backend)
    assert r["ids ok"] == ["ok", {"y": [[4, 2], "float32", [[3.0, -3.0], [0.0, 0.0], [1.0, -1.0], [2.0, -2.0]]]}]
    _error(r["NaN in ids"], "InputError", "input 'ids'", "nan is not an integer")
    _error(r["inf in ids"], "InputError", "input 'ids'", "inf is not an integer")
    _error(r["fraction in ids"], "InputError", "input 'ids'", "1.5 is not an integer")
    _error(r["float tensor for ids"], "InputError", "input 'ids'", "expected int64 data, got float32")
    _error(r["ids past int64"], "InputError", "input 'ids'")


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_ids_clamp_or_are_refused(request: pytest.FixtureRequest, backend: str) -> None:
    r = _results(request, backend)
    first, last = [0.0, 0.0], [3.0, -3.0]
    assert r["ids out of range"] == ["ok", {"y": [[4, 2], "float32", [last, first, last, first]]}]
    if backend in ("webgpu", "hybrid"):  # int64 is computed as int32 on WebGPU (hybrid: the gather is there)
        _error(r["ids past int32"], "InputError", "input 'ids'", str(2**40), "does not fit int32")
    else:
        assert r["ids past int32"] == ["ok", {"y": [[4, 2], "float32", [[1.0, -1.0], last, first, first]]}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_clamps_out_of_range_indices(request: pytest.FixtureRequest, backend: str) -> None:
    r = _results(request, backend)
    assert r["gather huge indices"] == ["ok", {"y": [[6, 3], "float32",
                                                    [ROWS[0], ROWS[4], ROWS[4], ROWS[4], ROWS[4], ROWS[0]]]}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_from_a_view_stays_inside_the_view(request: pytest.FixtureRequest, backend: str) -> None:
    """On WebGPU a view shares its buffer with the rest of the tensor: robust access alone would not save it."""
    kind, out = _results(request, backend)["gather from views"]
    assert kind == "ok", out
    # window = rows 2..6 of big: indices [4, 5, 2**31-1, -2**31] -> window rows [4, 4, 4, 0], never big's 7 or 1
    assert out["rows"][2] == [ROWS[6], ROWS[6], ROWS[6], ROWS[2]]
    # the transposed window, gathered on axis 1: the same rows, as columns
    assert out["cols"][2] == [[ROWS[6][c], ROWS[6][c], ROWS[6][c], ROWS[2][c]] for c in range(3)]
    # rows 5..9 of an intermediate (big + 1000): clamps to its rows 9 and 5, not past the end of the pool value
    low = [[v + 1000.0 for v in ROWS[9]]] * 3 + [[v + 1000.0 for v in ROWS[5]]]
    assert out["low"][2] == low
    assert out["neighbour"][2] == [[-(v + 1000.0) for v in ROWS[row]] for row in range(10)]  # intact


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_batch(request: pytest.FixtureRequest, backend: str) -> None:
    r = _results(request, backend)["empty batch"]
    if backend in ("reference", "webgpu"):
        assert r == ["ok", {"y": [[0, 2], "float32", []]}]
    else:  # WebNN has no zero-size tensors: refused before any WebNN call, naming the nodes
        _error(r, "UnsupportedError", "is empty; WebNN has no zero-size tensors", "relu")
