"""Values computed from constants alone, computed once at load on the device and shared by every MLGraph.

A graph of low-bit weights computes each float weight from its packed constants (``dequantize_linear`` of
uint4/int8 bytes, ``cast`` of float16): the same value at every run. On this TFLite a ``dequantizeLinear``
in the graph runs at every dispatch (measured ~10x slower than a float32 matmul on a layer-sized weight), and
constants baked into an MLGraph are copied into each graph built (a graph per input shape set) with no
constant MLTensors to share them (Chromium 153: ``createConstantTensor`` refuses). So the values whose bytes
grow from their constants (decompression) are *folded*: small static "prologue" graphs compute them once, the
results stay in MLTensors, and the step graph takes them as inputs, bound to those tensors at every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ...ir.graph import Graph, Node
from ...ir.operand import OperandDesc

PROLOGUE_BYTES = 32 << 20  # constant bytes per prologue graph: what is in memory at once while folding
ZERO = "/fold.zero"  # the prologues' zero inputs (one per float dtype), and the suffix of the guarded outputs
GUARDED = ("float32", "float16")


@dataclass
class Folding:
    """The step graph (folded values as extra inputs) and the prologue graphs computing those values."""

    step: Graph
    values: list[str]  # folded operands: outputs of the prologues, inputs of the step graph
    prologues: list[Graph] = field(default_factory=list)
    value_bytes: int = 0  # bytes of the folded values (held once on the device)
    source_bytes: int = 0  # bytes of the constants they are computed from

    def by_dtype(self) -> dict[str, int]:
        """Folded bytes per dtype (how the weights are stored on the device)."""
        out: dict[str, int] = {}
        for v in self.values:
            d = self.step.inputs[v]
            out[d.dtype] = out.get(d.dtype, 0) + d.byte_length
        return out


def fold_constants(graph: Graph, chunk_bytes: int = PROLOGUE_BYTES) -> Folding | None:
    """The folding of ``graph``, or None when no constant-only value grows from its constants."""
    known = set(graph.constants)
    producer: dict[str, Node] = {}
    for node in graph.nodes:
        if all(i is None or i in known for i in node.inputs) and all(
                graph.operands[o].is_static for o in node.outputs):
            for o in node.outputs:
                producer[o] = node
            known.update(node.outputs)
    if not producer:
        return None
    sources: dict[str, set[str]] = {}

    def constants_of(name: str) -> set[str]:
        if name in graph.constants:
            return {name}
        got = sources.get(name)
        if got is None:
            got = set()
            for i in producer[name].inputs:
                if i is not None:
                    got |= constants_of(i)
            sources[name] = got
        return got

    def grows(name: str) -> bool:
        source = sum(graph.constants[c].desc.byte_length for c in constants_of(name))
        return graph.operands[name].byte_length > source

    # folded values: constant-only operands read by the rest of the graph (or its outputs) that grow from their
    # constants; the nodes they need move to the prologues, and whatever else those nodes give the rest is folded
    readers = {i for n in graph.nodes if n.outputs[0] not in producer for i in n.inputs if i is not None}
    readers |= set(graph.outputs.values())
    values = [name for name in producer if name in readers and grows(name)]
    if not values:
        return None
    outputs = set(graph.outputs.values())
    while True:  # a moved node's output that the step graph still reads (or the graph outputs) is folded too
        moved = {n.name for v in values for n in _ancestors(v, producer)}
        step_reads = {i for n in graph.nodes if n.name not in moved for i in n.inputs if i is not None}
        extra = [o for n in graph.nodes if n.name in moved for o in n.outputs
                 if (o in step_reads or o in outputs) and o not in values]
        if not extra:
            break
        values += extra
    step_nodes = [n for n in graph.nodes if n.name not in moved]
    used = {i for n in step_nodes for i in n.inputs if i is not None}
    inputs = dict(graph.inputs)
    inputs.update({v: graph.operands[v] for v in values})
    step = Graph(inputs, {k: c for k, c in graph.constants.items() if k in used}, step_nodes, dict(graph.outputs))
    step.metadata.update(graph.metadata)
    folding = Folding(step, values, value_bytes=sum(graph.operands[v].byte_length for v in values),
                      source_bytes=sum(graph.constants[c].desc.byte_length for c in set().union(
                          *(constants_of(v) for v in values))))
    folding.prologues = list(_prologues(graph, values, producer, constants_of, chunk_bytes))
    return folding


def _ancestors(name: str, producer: dict[str, Node]) -> list[Node]:
    out: dict[str, Node] = {}
    stack = [name]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in out:
            continue
        out[node.name] = node
        stack += [i for i in node.inputs if i is not None]
    return list(out.values())


def _prologues(graph: Graph, values: list[str], producer: dict[str, Node], constants_of: Callable[[str], set[str]],
               chunk_bytes: int) -> Iterator[Graph]:
    """Static graphs computing ``values`` in chunks of at most ``chunk_bytes`` of constants (one value alone may
    exceed it), in graph order."""
    order = {n.name: k for k, n in enumerate(graph.nodes)}
    chunk: list[str] = []
    size = 0
    for v in values:
        need = sum(graph.constants[c].desc.byte_length for c in constants_of(v))
        if chunk and size + need > chunk_bytes:
            yield _prologue(graph, chunk, producer, order)
            chunk, size = [], 0
        chunk.append(v)
        size += need
    if chunk:
        yield _prologue(graph, chunk, producer, order)


def _prologue(graph: Graph, values: list[str], producer: dict[str, Node], order: dict[str, int]) -> Graph:
    """The graph computing ``values``; each float value leaves through ``add(value, zero)`` with ``zero`` a graph
    input (fed 0 at fold time): Chromium 153's TFLite folds constant-only outputs at build and then returns
    zeros for them (a graph whose output is ``cast`` of a float16 constant reads back as zeros, and so do
    the other outputs of a graph holding such an output), while a value that depends on an input is computed."""
    nodes: dict[str, Node] = {}
    for v in values:
        for n in _ancestors(v, producer):
            nodes[n.name] = n
    ordered = sorted(nodes.values(), key=lambda n: order[n.name])
    used = {i for n in ordered for i in n.inputs if i is not None}
    constants = {k: c for k, c in graph.constants.items() if k in used}
    inputs: dict[str, OperandDesc] = {}
    outputs: dict[str, str] = {}
    for v in values:
        dtype = graph.operands[v].dtype
        if dtype not in GUARDED:
            outputs[v] = v
            continue
        zero = f"{ZERO}.{dtype}"
        inputs[zero] = OperandDesc(dtype, (1,))
        out = f"{v}{ZERO}"
        ordered.append(Node("add", (v, zero), (out,), {}, f"{v}{ZERO}.add"))
        outputs[v] = out
    return Graph(inputs, constants, ordered, outputs)


__all__ = ["Folding", "PROLOGUE_BYTES", "fold_constants"]
