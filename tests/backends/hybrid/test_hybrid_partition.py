"""The partitioner: placement by capability and user overrides, few islands, crossings and bytes."""

from __future__ import annotations

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.hybrid.partition import partition, place_nodes
from webinfer.errors import BackendError, UnsupportedError
from webinfer.ir.graph import Node


def _always(node: Node) -> str | None:
    return None


def _webnn_without(*ops: str):  # type: ignore[no-untyped-def]
    return lambda node: f"no {node.op} here" if node.op in ops else None


def _block() -> wi.Graph:
    """x -> matmul -> add -> gelu -> matmul -> softmax, plus a side branch x -> relu."""
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 4])
    w1 = g.constant(np.ones((4, 8), np.float32))
    w2 = g.constant(np.ones((8, 3), np.float32))
    h = g.add(g.matmul(x, w1, name="mm1"), g.constant(np.zeros(8, np.float32)), name="bias")
    y = g.softmax(g.matmul(g.gelu(h, name="act"), w2, name="mm2"), name="sm")
    return g.build({"y": y, "r": g.relu(x, name="side")})


SUPPORT = {"webnn": _always, "webgpu": _always}


def test_everything_on_the_preferred_backend() -> None:
    p = partition(_block(), SUPPORT)
    assert set(p.placement.values()) == {"webnn"}
    assert len(p.islands) == 1 and p.islands[0].outputs == ["sm", "side"]
    assert p.report()["crossings"] == [] and p.report()["bytes_between_backends_per_run"] == 0


def test_op_override_makes_two_crossings() -> None:
    p = partition(_block(), SUPPORT, place={"gelu": "webgpu"})
    assert p.placement["act"] == "webgpu" and p.why["act"] == "placed by the user (op gelu)"
    assert [i.label for i in p.islands] == ["webnn#0", "webgpu#1", "webnn#2"]
    first = p.islands[0]
    assert [n.name for n in first.nodes] == ["mm1", "bias", "side"]  # the side branch joins the first island
    report = p.report({"batch": 2})
    assert [(c["operand"], c["from"], c["to"], c["bytes"]) for c in report["crossings"]] == [
        ("bias", "webnn#0", "webgpu#1", 2 * 8 * 4),
        ("act", "webgpu#1", "webnn#2", 2 * 8 * 4),
    ]
    assert report["bytes_between_backends_per_run"] == 128
    assert p.report()["crossings"][0]["bytes"] is None  # symbolic until bound


def test_node_override_wins_over_op_override() -> None:
    p = partition(_block(), SUPPORT, place={"matmul": "webgpu", "mm2": "webnn"})
    assert p.placement["mm1"] == "webgpu" and p.placement["mm2"] == "webnn"
    assert p.why["mm2"] == "placed by the user (node)"


def test_capability_moves_unsupported_nodes() -> None:
    p = partition(_block(), {"webnn": _webnn_without("softmax"), "webgpu": _always})
    assert p.placement["sm"] == "webgpu" and p.why["sm"] == "webnn: no softmax here"
    assert p.islands[-1].backend == "webgpu" and p.islands[-1].outputs == ["sm"]


def test_prefer_webgpu() -> None:
    p = partition(_block(), SUPPORT, prefer="webgpu")
    assert set(p.placement.values()) == {"webgpu"}


def test_island_subgraphs_are_valid_graphs() -> None:
    graph = _block()
    p = partition(graph, SUPPORT, place={"gelu": "webgpu"})
    subs = [i.subgraph(graph) for i in p.islands]
    assert list(subs[0].inputs) == ["x"] and set(subs[0].outputs) == {"bias", "side"}
    assert list(subs[1].inputs) == ["bias"] and list(subs[1].outputs) == ["act"]
    assert list(subs[2].inputs) == ["act"] and len(subs[2].constants) == 1
    # running the islands one after the other gives the whole graph's result
    from webinfer.backends.reference import evaluate
    from webinfer.tensor import Tensor

    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    env = {"x": Tensor(x)}
    for sub in subs:
        out = evaluate(sub.specialize({"batch": 2}), {k: env[k] for k in sub.inputs})
        env.update({k: Tensor(v.astype(np.float32)) for k, v in out.items()})
    whole = evaluate(graph.specialize({"batch": 2}), {"x": Tensor(x)})
    np.testing.assert_allclose(env["sm"].numpy(), whole["y"], rtol=1e-6)


def test_bad_overrides() -> None:
    with pytest.raises(BackendError, match="place\\['gelu'\\] is 'cuda'"):
        place_nodes(_block(), SUPPORT, {"gelu": "cuda"})
    with pytest.raises(BackendError, match="'conv2d', which is neither a node nor an op type"):
        place_nodes(_block(), SUPPORT, {"conv2d": "webgpu"})
    with pytest.raises(UnsupportedError, match="placed on webnn by the user, but webnn cannot run it: no gelu here"):
        place_nodes(_block(), {"webnn": _webnn_without("gelu"), "webgpu": _always}, {"act": "webnn"})


def test_a_node_no_backend_runs() -> None:
    none = {"webnn": _webnn_without("gelu"), "webgpu": _webnn_without("gelu")}
    with pytest.raises(UnsupportedError, match="no backend can run gelu \\(node 'act'\\)"):
        place_nodes(_block(), none)


def test_greedy_schedule_keeps_islands_few() -> None:
    # two independent chains, each alternating would give 4 islands in plain node order
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4])
    a1 = g.exp(x, name="a1")
    b1 = g.sin(x, name="b1")
    a2 = g.relu(a1, name="a2")
    b2 = g.cos(b1, name="b2")
    graph = g.build({"a": a2, "b": b2})
    p = partition(graph, SUPPORT, place={"sin": "webgpu", "cos": "webgpu"})
    assert [i.label for i in p.islands] == ["webnn#0", "webgpu#1"]


def test_an_island_whose_inputs_do_not_carry_a_dim_is_refused_by_name() -> None:
    # a slice of a table by a size named only in the attributes (as the LLM's slot table by "C"): the island that
    # holds the slice but none of the inputs carrying "C" cannot be a graph of its own
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["C"])
    table = g.constant(np.arange(16, dtype=np.float32))
    graph = g.build({"y": g.add(x, g.slice(table, starts=[0], sizes=["C"], name="cut"), name="plus")})
    p = partition(graph, SUPPORT, {"cut": "webgpu"})
    island = next(i for i in p.islands if any(n.name == "cut" for n in i.nodes))
    with pytest.raises(UnsupportedError, match=r"island webgpu#\d+ .*slice \(node 'cut'\).*symbolic dim 'C'") as e:
        island.subgraph(graph)
    assert e.value.node == "cut"
    for other in p.islands:
        if other is not island:
            other.subgraph(graph)
