"""Graph construction by hand: wiring checks, cycles, names, topological order, pruning, specialization."""

from __future__ import annotations

import pytest

from webinfer.errors import GraphError
from webinfer.ir import Constant, Graph, Node, OperandDesc


def D(dtype: str, *shape: object) -> OperandDesc:
    return OperandDesc(dtype, shape)  # type: ignore[arg-type]


X = {"x": D("float32", 2, 3)}


def relu(src: str, out: str, name: str = "") -> Node:
    return Node("relu", (src,), (out,), {}, name or out)


def test_a_valid_graph_infers_every_operand() -> None:
    g = Graph(X, {}, [relu("x", "a"), Node("add", ("a", "x"), ("b",), {}, "add")], {"y": "b"})
    assert g.operands["b"] == D("float32", 2, 3)
    assert [n.name for n in g.nodes] == ["a", "add"]
    assert g.producer()["b"].name == "add"
    assert [n.name for n in g.consumers()["x"]] == ["a", "add"]
    assert "Graph(inputs=(x: float32[2, 3])" in repr(g)


def test_cycle_is_detected() -> None:
    nodes = [Node("add", ("x", "c"), ("a",), {}, "n1"), relu("a", "b", "n2"), relu("b", "c", "n3")]
    with pytest.raises(GraphError, match="the graph has a cycle through relu \\(node 'n2'\\)|cycle through"):
        Graph(X, {}, nodes, {"y": "c"})


def test_self_loop_is_a_cycle() -> None:
    with pytest.raises(GraphError, match="cycle through add \\(node 'loop'\\)"):
        Graph(X, {}, [Node("add", ("x", "a"), ("a",), {}, "loop")], {"y": "a"})


def test_duplicate_output_names() -> None:
    with pytest.raises(GraphError, match="output 'a' is also produced by relu \\(node 'n1'\\)"):
        Graph(X, {}, [relu("x", "a", "n1"), relu("x", "a", "n2")], {"y": "a"})
    with pytest.raises(GraphError, match="output 'x' is already defined by an input"):
        Graph(X, {}, [relu("x", "x", "n1")], {"y": "x"})


def test_duplicate_node_names() -> None:
    with pytest.raises(GraphError, match="node name 'n' is used twice"):
        Graph(X, {}, [relu("x", "a", "n"), relu("a", "b", "n")], {"y": "b"})


def test_constant_name_clashes_with_input() -> None:
    c = Constant(D("float32", 1), b"\0\0\0\0")
    with pytest.raises(GraphError, match="constant 'x': the name is already used by an input"):
        Graph(X, {"x": c}, [relu("x", "a")], {"y": "a"})


def test_dangling_input() -> None:
    with pytest.raises(GraphError,
                       match="relu \\(node 'a'\\): input 'nowhere' is not defined by any input, constant or node"):
        Graph(X, {}, [relu("nowhere", "a")], {"y": "a"})


def test_outputs_must_exist() -> None:
    with pytest.raises(GraphError, match="graph output 'y' refers to 'b', which no input, constant or node defines"):
        Graph(X, {}, [relu("x", "a")], {"y": "b"})
    with pytest.raises(GraphError, match="a graph needs at least one output"):
        Graph(X, {}, [relu("x", "a")], {})


def test_unknown_op_and_bad_attributes_name_the_node() -> None:
    with pytest.raises(GraphError, match="unknown op 'frobnicate'"):
        Graph(X, {}, [Node("frobnicate", ("x",), ("a",), {}, "f")], {"y": "a"})
    with pytest.raises(GraphError, match="softmax \\(node 's'\\): attribute 'axis' must be an integer"):
        Graph(X, {}, [Node("softmax", ("x",), ("a",), {"axis": "1"}, "s")], {"y": "a"})


def test_output_count_must_match_the_op() -> None:
    with pytest.raises(GraphError, match="split \\(node 's'\\): produces 3 outputs but the node names 2"):
        Graph({"x": D("float32", 6)}, {}, [Node("split", ("x",), ("a", "b"), {"splits": 3}, "s")], {"y": "a"})


def test_names_are_checked() -> None:
    with pytest.raises(GraphError, match="graph input: name must be a non-empty string"):
        Graph({"": D("float32", 1)}, {}, [], {"y": ""})
    with pytest.raises(GraphError, match="contains control characters"):
        Graph({"x\n": D("float32", 1)}, {}, [], {"y": "x\n"})
    with pytest.raises(GraphError, match="expected a Node"):
        Graph(X, {}, ["relu"], {"y": "x"})  # type: ignore[list-item]


def test_operand_desc_validates() -> None:
    with pytest.raises(GraphError, match="unknown dtype 'float64'"):
        D("float64", 2)
    with pytest.raises(GraphError, match="dimension -1 is out of range"):
        D("float32", -1)
    with pytest.raises(GraphError, match="symbolic dimension '2x' must be a name"):
        D("float32", "2x")
    with pytest.raises(GraphError, match="dimension True is a bool"):
        D("float32", True)
    with pytest.raises(GraphError, match="rank 9 exceeds the maximum 8"):
        D("float32", *([1] * 9))
    d = D("int64", "batch", 3)
    assert d.symbols == ("batch",) and not d.is_static and d.bind({"batch": 2}) == D("int64", 2, 3)
    with pytest.raises(GraphError, match="symbolic"):
        _ = d.size


def test_constant_checks_its_bytes() -> None:
    with pytest.raises(GraphError, match="3 bytes given, 8 expected"):
        Constant(D("float32", 2), b"abc")
    with pytest.raises(GraphError, match="must be static"):
        Constant(D("float32", "n"), b"")
    lazy = Constant(D("uint8", 2), loader=lambda: memoryview(b"ab"))
    assert not lazy.loaded and bytes(lazy.data()) == b"ab" and lazy.loaded
    short = Constant(D("uint8", 3), loader=lambda: memoryview(b"ab"))
    with pytest.raises(GraphError, match="loader gave 2 bytes, 3 expected"):
        short.data()


def test_topological_order_is_stable() -> None:
    ordered = [relu("x", "a"), relu("x", "b"), Node("add", ("a", "b"), ("c",), {}, "c"), relu("c", "d")]
    assert [n.name for n in Graph(X, {}, ordered, {"y": "d"}).nodes] == ["a", "b", "c", "d"]
    # given out of order: dependencies first, otherwise the given order (so "b" before "a")
    shuffled = [ordered[3], ordered[2], ordered[1], ordered[0]]
    assert [n.name for n in Graph(X, {}, shuffled, {"y": "d"}).nodes] == ["b", "a", "c", "d"]
    again = [n.name for n in Graph(X, {}, shuffled, {"y": "d"}).nodes]
    assert again == ["b", "a", "c", "d"]


def test_pruned_drops_dead_nodes_and_constants() -> None:
    c_used = Constant(D("float32", 3), bytes(12))
    c_dead = Constant(D("float32", 3), bytes(12))
    nodes = [
        Node("add", ("x", "cu"), ("a",), {}, "a"),
        relu("x", "dead1"),
        Node("mul", ("dead1", "cd"), ("dead2",), {}, "dead2"),
        relu("a", "out"),
    ]
    g = Graph({**X, "unused": D("float32", 1)}, {"cu": c_used, "cd": c_dead}, nodes, {"y": "out"})
    p = g.pruned()
    assert [n.name for n in p.nodes] == ["a", "out"]
    assert list(p.constants) == ["cu"]
    assert list(p.inputs) == ["x", "unused"]  # inputs are the graph's signature: kept


def test_split_outputs_keep_their_node_alive() -> None:
    g = Graph({"x": D("float32", 4)}, {}, [Node("split", ("x",), ("p", "q"), {"splits": 2}, "s"), relu("q", "r")],
              {"y": "r"})
    assert [n.name for n in g.pruned().nodes] == ["s", "r"]


def test_specialize_rechecks_shapes() -> None:
    inputs = {"x": D("float32", "batch", 4), "y": D("float32", 3, 4)}
    g = Graph(inputs, {}, [Node("add", ("x", "y"), ("z",), {}, "add")], {"z": "z"})
    assert g.operands["z"] == D("float32", 3, 4)  # a name meets a size: the size wins, checked when bound
    assert g.symbols == ("batch",) and not g.is_static
    s = g.specialize({"batch": 3})
    assert s.is_static and s.operands["z"] == D("float32", 3, 4)
    assert g.specialize({"batch": 1}).operands["z"] == D("float32", 3, 4)
    with pytest.raises(GraphError,
                       match="add \\(node 'add'\\): shapes cannot be broadcast: a is \\[2, 4\\], b is \\[3, 4\\]"):
        g.specialize({"batch": 2})
    with pytest.raises(GraphError, match="no size given for dims batch"):
        g.specialize({})
    with pytest.raises(GraphError, match="dimension -3 is out of range"):
        g.specialize({"batch": -3})
    with pytest.raises(GraphError, match="must be bound to an int"):
        g.specialize({"batch": "seq"})


def test_specialize_binds_shape_attributes() -> None:
    g = Graph({"x": D("float32", "batch", 8)}, {},
              [Node("reshape", ("x",), ("r",), {"new_shape": ["batch", 2, 4]}, "r")], {"r": "r"})
    assert g.operands["r"] == D("float32", "batch", 2, 4)
    s = g.specialize({"batch": 5})
    assert s.operands["r"] == D("float32", 5, 2, 4)
    assert s.nodes[0].attributes["new_shape"] == (5, 2, 4)


def test_optional_inputs_are_spelled_out() -> None:
    g = Graph({"x": D("float32", 2, 3)}, {}, [Node("layer_normalization", ("x",), ("y",), {}, "ln")], {"y": "y"})
    assert g.nodes[0].inputs == ("x", None, None)


def test_output_dims_must_come_from_inputs() -> None:
    nodes = [Node("reshape", ("x",), ("r",), {"new_shape": ["seq", 4]}, "r")]
    with pytest.raises(GraphError, match="reshape \\(node 'r'\\): output 'r' is float32\\[seq, 4\\], "
                                         "but no graph input has a dim named 'seq'"):
        Graph({"x": D("float32", "batch", 4)}, {}, nodes, {"r": "r"})
