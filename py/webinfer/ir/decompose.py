"""Rewrite composite ops (gelu, gemm, layer_normalization, batch_normalization) into the ops they decompose to.

A backend without a fused kernel for a composite calls ``expand_composites(graph, ops=...)`` at compile
time; tests use it to check each fused kernel against its decomposition. Decompositions are declared in
the registry entry (``OpSpec.decompose``), never here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import GraphError
from .builder import GraphBuilder
from .graph import Graph
from .registry import all_ops, get_op

MAX_PASSES = 8  # a decomposition may use another composite; this bounds the fixed point


def composite_ops() -> tuple[str, ...]:
    """Names of the registered ops that declare a decomposition."""
    return tuple(spec.name for spec in all_ops() if spec.decompose is not None)


def expand_composites(graph: Graph, ops: Iterable[str] | None = None) -> Graph:
    """``graph`` with every node of ``ops`` (default: all composites) replaced by its decomposition.

    Operand names of the untouched nodes, the inputs, constants and output names stay as they were;
    the replacement nodes get fresh names. Unknown op names, or ops without a decomposition, are a
    GraphError.
    """
    wanted = _wanted(ops)
    for _ in range(MAX_PASSES):
        if not any(n.op in wanted for n in graph.nodes):
            return graph
        graph = _expand_once(graph, wanted)
    raise GraphError(f"expand_composites: still composites after {MAX_PASSES} passes (a decomposition loops?)")


def _wanted(ops: Iterable[str] | None) -> frozenset[str]:
    if ops is None:
        return frozenset(composite_ops())
    if isinstance(ops, str):
        ops = [ops]
    names = frozenset(ops)
    for name in names:
        if get_op(name).decompose is None:
            raise GraphError(
                f"expand_composites: {name} has no decomposition; composites are {', '.join(composite_ops())}"
            )
    return names


def _expand_once(graph: Graph, wanted: frozenset[str]) -> Graph:
    b = GraphBuilder.from_graph(graph)
    rename: dict[str, str] = {}  # operand of a replaced node -> the operand that now holds its value
    for node in graph.nodes:
        inputs = tuple(None if i is None else rename.get(i, i) for i in node.inputs)
        if node.op not in wanted:
            b.add_node(type(node)(node.op, inputs, node.outputs, node.attributes, node.name))
            continue
        spec = get_op(node.op)
        assert spec.decompose is not None
        args = [None if i is None else b.operand(i) for i in inputs]
        outs = spec.decompose(b, args, dict(node.attributes))
        if len(outs) != len(node.outputs):
            raise GraphError(f"{node.label}: its decomposition gave {len(outs)} outputs, {len(node.outputs)} expected")
        for name, out in zip(node.outputs, outs):
            if out.desc != graph.operands[name]:
                raise GraphError(
                    f"{node.label}: decomposition output is {out.desc}, the op gives {graph.operands[name]}"
                )
            rename[name] = out.name
    return b.build({k: b.operand(rename.get(v, v)) for k, v in graph.outputs.items()})
