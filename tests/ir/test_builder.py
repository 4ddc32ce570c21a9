"""GraphBuilder: inputs, constants, generated op methods, operator sugar, names, rewrites."""

from __future__ import annotations

import re

import numpy as np
import pytest

import webinfer as wi
from webinfer.errors import GraphError, InputError
from webinfer.ir import Node


def test_design_example_shapes() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 384])
    w = np.zeros((384, 16), np.float32)
    b = np.zeros(16, np.float32)
    y = g.gelu(g.add(g.matmul(x, g.constant(w)), g.constant(b)))
    graph = g.build({"y": y})
    assert graph.operands[graph.outputs["y"]] == wi.OperandDesc("float32", ("batch", 16))
    assert [n.op for n in graph.nodes] == ["matmul", "add", "gelu"]


def test_inputs_and_constants() -> None:
    g = wi.GraphBuilder()
    g.input("x", "float32", [2])
    with pytest.raises(GraphError, match="input 'x': the name is already used"):
        g.input("x", "float32", [2])
    with pytest.raises(GraphError, match="input 'y': unknown dtype 'float64'"):
        g.input("y", "float64", [2])
    with pytest.raises(GraphError, match="input 'y': shape must be a list of dims"):
        g.input("y", "float32", "2")  # type: ignore[arg-type]
    c = g.constant(np.arange(6, dtype=np.int32).reshape(2, 3), name="c")
    assert c.desc == wi.OperandDesc("int32", (2, 3))
    with pytest.raises(GraphError, match="constant 'c': the name is already used"):
        g.constant(1.0, name="c")
    assert g.constant(2.5).desc == wi.OperandDesc("float32", ())
    assert g.constant(3, dtype="int8").desc == wi.OperandDesc("int8", ())
    assert g.constant(b"\1\2", dtype="uint8", shape=[2]).desc == wi.OperandDesc("uint8", (2,))
    with pytest.raises(InputError, match="raw bytes need dtype="):
        g.constant(b"\1\2")


def test_operator_sugar() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 2])
    w = g.input("w", "float32", [2, 2])
    y = -(((x + 1.0) * 2.0 - x) / 4.0) @ w
    z = 1.0 - x
    graph = g.build({"y": y, "z": z, "r": 2.0 / x, "m": 3.0 * x, "a": 1.0 + x})
    ops = [n.op for n in graph.nodes]
    assert ops.count("matmul") == 1 and "neg" in ops
    data = np.array([[1, 2], [3, 4]], np.float32)
    eye = np.eye(2, dtype=np.float32)
    out = wi.compile(graph, "reference").run({"x": data, "w": eye})
    np.testing.assert_allclose(out["y"].numpy(), -(((data + 1) * 2 - data) / 4))
    np.testing.assert_allclose(out["z"].numpy(), 1 - data)
    np.testing.assert_allclose(out["r"].numpy(), 2 / data)


def test_operands_belong_to_their_builder() -> None:
    g1, g2 = wi.GraphBuilder(), wi.GraphBuilder()
    x = g1.input("x", "float32", [2])
    with pytest.raises(GraphError, match="relu: input 'input' \\(x\\) belongs to another GraphBuilder"):
        g2.relu(x)
    with pytest.raises(GraphError, match="add: input 'b' must be an Operand from this builder, got ndarray"):
        g1.add(x, np.ones(2))
    with pytest.raises(GraphError, match="build: give the outputs as a non-empty dict"):
        g1.build({})


def test_methods_take_inputs_and_attributes_by_name_or_position() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3, 4])
    s = g.input("s", "float32", [4])
    assert g.softmax(x, 1).shape == (2, 3, 4)
    assert g.layer_normalization(x, bias=s, axes=[2]).shape == (2, 3, 4)
    assert g.layer_normalization(input=x, scale=s, axes=[-1]).shape == (2, 3, 4)
    with pytest.raises(GraphError, match="layer_normalization: input 'input' given twice"):
        g.layer_normalization(x, input=x)
    with pytest.raises(GraphError, match="reduce_sum: attribute 'axes' given twice"):
        g.reduce_sum(x, [1], axes=[1])
    parts = g.split(x, 2, axis=0)
    assert isinstance(parts, list) and [p.shape for p in parts] == [(1, 3, 4), (1, 3, 4)]
    assert g.concat(parts, axis=0).shape == (2, 3, 4)
    assert g.gemm(g.input("a", "float32", [2, 3]), g.input("b", "float32", [3, 5]), alpha=2.0).shape == (2, 5)


def test_node_names() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    y = g.relu(x, name="act")
    assert y.name == "act"
    with pytest.raises(GraphError, match="relu: node name 'act' is already used"):
        g.relu(x, name="act")
    z = g.relu(x, name="x")  # a node may share its name with an operand: its output gets a fresh name
    assert z.name != "x"
    graph = g.build({"y": y, "z": z})
    assert {n.name for n in graph.nodes} == {"act", "x"}


def test_build_drops_unused_nodes_but_keeps_inputs() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    unused_in = g.input("extra", "float32", [1])
    g.exp(x)  # never used
    graph = g.build(g.relu(x))
    assert list(graph.outputs) == ["output"]
    assert [n.op for n in graph.nodes] == ["relu"]
    assert set(graph.inputs) == {"x", unused_in.name}


def test_from_graph_and_add_node() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [3])
    graph = g.build({"y": g.relu(x, name="r")})
    b = wi.GraphBuilder.from_graph(graph)
    (r,) = b.add_node(graph.nodes[0])
    assert r.name == "r" and b.operand("x").desc == graph.inputs["x"]
    with pytest.raises(GraphError, match="output 'r' is already defined"):
        b.add_node(Node("relu", ("x",), ("r",), {}, "r2"))
    with pytest.raises(GraphError, match="node name 'r' is already used"):
        b.add_node(Node("relu", ("x",), ("r3",), {}, "r"))
    with pytest.raises(GraphError, match="input 'zz' is not defined in this builder"):
        b.add_node(Node("relu", ("zz",), ("q",), {}, "q"))
    with pytest.raises(GraphError, match="no operand named 'zz'"):
        b.operand("zz")
    e = b.exp(r)  # fresh names avoid everything the source graph used
    assert e.name not in graph.operands
    assert [n.op for n in b.build({"y": e}).nodes] == ["relu", "exp"]


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("layerNormalization", "did you mean 'layer_normalization' (ops use snake_case)"),
        ("reduceMean", "did you mean 'reduce_mean'"),
        ("softmaxx", "did you mean 'softmax'"),
        ("no_such_thing_at_all", "see webinfer.all_ops()"),
    ],
)
def test_an_unknown_op_names_the_one_meant(typed: str, hint: str) -> None:
    g = wi.GraphBuilder()
    with pytest.raises(AttributeError, match=f"GraphBuilder has no op or method '{typed}'.*{re.escape(hint)}"):
        getattr(g, typed)
    with pytest.raises(GraphError, match=f"unknown op '{typed}'.*{re.escape(hint)}"):
        wi.get_op(typed)
    assert not hasattr(g, "__array__") and hasattr(g, "relu")



def test_an_unknown_op_is_suggested_once_in_a_printed_traceback() -> None:
    import subprocess
    import sys

    code = "import webinfer as wi\nwi.GraphBuilder().softmaxx"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert last == "AttributeError: GraphBuilder has no op or method 'softmaxx'; did you mean 'softmax'?"  # not twice
