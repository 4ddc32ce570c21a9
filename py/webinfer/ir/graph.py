"""Nodes, constants and graphs: wiring, topological order, dead-node removal, shape specialization."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphError
from .operand import OperandDesc, check_dim, fmt_shape

MAX_NAME = 256


def check_name(name: object, where: str) -> str:
    """Operand and node names: non-empty strings without control characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise GraphError(f"{where}: name must be a non-empty string of at most {MAX_NAME} characters, got {name!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise GraphError(f"{where}: name {name!r} contains control characters")
    return name


@dataclass(frozen=True)
class Node:
    """One op application: inputs and outputs are operand names (``None`` for an absent optional input)."""

    op: str
    inputs: tuple[str | None, ...]
    outputs: tuple[str, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.op} (node {self.name!r})" if self.name else self.op


class Constant:
    """A constant operand: its descriptor and bytes, held in memory or read on demand from a weights file."""

    def __init__(
        self,
        desc: OperandDesc,
        data: bytes | bytearray | memoryview | None = None,
        *,
        loader: Callable[[], memoryview] | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> None:
        if not desc.is_static:
            raise GraphError(f"constant shape {fmt_shape(desc.shape)} must be static")
        if (data is None) == (loader is None):
            raise GraphError("a constant needs exactly one of data or loader")
        if data is not None:
            mv = memoryview(data).cast("B")
            if mv.nbytes != desc.byte_length:
                raise GraphError(
                    f"constant {desc}: {mv.nbytes} bytes given, {desc.byte_length} expected for that dtype and shape"
                )
            self._data: memoryview | None = mv
        else:
            self._data = None
        self.desc = desc
        self._loader = loader
        self.source = dict(source) if source else None  # e.g. {"file": ..., "key": ...} from the format layer

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def data(self) -> memoryview:
        """The raw little-endian bytes (loaded on first use when lazy)."""
        if self._data is None:
            assert self._loader is not None
            mv = memoryview(self._loader()).cast("B")
            if mv.nbytes != self.desc.byte_length:
                raise GraphError(
                    f"constant {self.desc}: loader gave {mv.nbytes} bytes, {self.desc.byte_length} expected"
                )
            self._data = mv
        return self._data

    def unload(self) -> None:
        """Forget the bytes of a lazy constant (read again on next use), so a consumer that has handed them on
        (a device upload) does not keep them in memory; constants given as bytes keep them."""
        if self._loader is not None:
            self._data = None

    def sha256(self) -> str:
        return hashlib.sha256(self.data()).hexdigest()

    def __repr__(self) -> str:
        return f"Constant({self.desc}{', lazy' if not self.loaded else ''})"


class Graph:
    """A validated graph: named inputs and constants, nodes in topological order, named outputs.

    Construction checks the wiring (every name defined once, no cycles, outputs exist) and infers every
    operand's dtype and shape through the op registry, so a ``Graph`` that exists is a valid one.
    """

    def __init__(
        self,
        inputs: Mapping[str, OperandDesc],
        constants: Mapping[str, Constant],
        nodes: Sequence[Node],
        outputs: Mapping[str, str],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        from .registry import infer_node  # registry imports graph types; resolve at call time

        self.metadata: dict[str, Any] = dict(metadata or {})  # free-form, kept by save/load and transforms

        self.inputs: dict[str, OperandDesc] = {}
        self.constants: dict[str, Constant] = dict(constants)
        defined: dict[str, str] = {}  # operand name -> what defines it (for messages)
        for name, desc in inputs.items():
            check_name(name, "graph input")
            if not isinstance(desc, OperandDesc):
                raise GraphError(f"graph input {name!r}: expected an OperandDesc, got {type(desc).__name__}")
            self.inputs[name] = desc
            defined[name] = "input"
        for name in self.constants:
            check_name(name, "constant")
            if name in defined:
                raise GraphError(f"constant {name!r}: the name is already used by an {defined[name]}")
            defined[name] = "constant"
        for n in nodes:  # before ordering, so redefining an input is not reported as a cycle
            for out in n.outputs if isinstance(n, Node) else ():
                if out in defined:
                    raise GraphError(f"{n.label}: output {out!r} is already defined by an {defined[out]}")
        self.nodes: list[Node] = [_canonical(n) for n in _topological(nodes, set(defined))]
        self.operands: dict[str, OperandDesc] = {**self.inputs, **{k: c.desc for k, c in self.constants.items()}}
        node_names: set[str] = set()
        symbols = {d for desc in self.inputs.values() for d in desc.symbols}
        for node in self.nodes:
            if node.name:
                if node.name in node_names:
                    raise GraphError(f"node name {node.name!r} is used twice")
                node_names.add(node.name)
            for out in node.outputs:
                check_name(out, node.label)
                if out in defined:
                    raise GraphError(f"{node.label}: output {out!r} is already defined by an {defined[out]}")
                defined[out] = f"output of {node.label}"
            descs = infer_node(node, [None if i is None else self.operands[i] for i in node.inputs])
            for out, d in zip(node.outputs, descs):
                unknown = [s for s in d.symbols if s not in symbols]
                if unknown:  # e.g. reshape to ["seq", 4] where no input has a dim called seq
                    raise GraphError(
                        f"{node.label}: output {out!r} is {d}, but no graph input has a dim named {unknown[0]!r}"
                    )
            self.operands.update(zip(node.outputs, descs))
        if not outputs:
            raise GraphError("a graph needs at least one output")
        self.outputs: dict[str, str] = {}
        for out_name, operand in outputs.items():
            check_name(out_name, "graph output")
            if operand not in self.operands:
                raise GraphError(
                    f"graph output {out_name!r} refers to {operand!r}, which no input, constant or node defines"
                )
            self.outputs[out_name] = operand

    # -- queries ---------------------------------------------------------------------------------
    def producer(self) -> dict[str, Node]:
        """operand name -> the node that produces it."""
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        """operand name -> the nodes that read it."""
        result: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i is not None:
                    result.setdefault(i, []).append(n)
        return result

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbolic dim names used by the inputs, in order of first appearance."""
        seen: dict[str, None] = {}
        for desc in self.inputs.values():
            for d in desc.symbols:
                seen.setdefault(d, None)
        return tuple(seen)

    @property
    def is_static(self) -> bool:
        return all(d.is_static for d in self.inputs.values())

    # -- transforms ------------------------------------------------------------------------------
    def pruned(self) -> Graph:
        """The graph without nodes and constants that no output depends on (inputs are kept)."""
        producer = self.producer()
        live: set[str] = set()
        stack = list(self.outputs.values())
        while stack:
            name = stack.pop()
            if name in live:
                continue
            live.add(name)
            node = producer.get(name)
            if node is not None:
                stack.extend(i for i in node.inputs if i is not None)
                live.update(node.outputs)
        nodes = [n for n in self.nodes if any(o in live for o in n.outputs)]
        constants = {k: c for k, c in self.constants.items() if k in live}
        return Graph(self.inputs, constants, nodes, self.outputs, self.metadata)

    def specialize(self, bindings: Mapping[str, int]) -> Graph:
        """The same graph with symbolic dims bound to sizes; every shape is re-checked with them."""
        missing = [s for s in self.symbols if s not in bindings]
        if missing:
            raise GraphError(f"cannot specialize: no size given for dims {', '.join(missing)}")
        for k, v in bindings.items():
            check_dim(v, f"specialize: dim {k!r}")
            if not isinstance(v, int):
                raise GraphError(f"specialize: dim {k!r} must be bound to an int, got {v!r}")
        inputs = {k: d.bind(bindings) for k, d in self.inputs.items()}
        nodes = [_bind_node(n, bindings) for n in self.nodes]
        return Graph(inputs, self.constants, nodes, self.outputs, self.metadata)

    def __repr__(self) -> str:
        ins = ", ".join(f"{k}: {v}" for k, v in self.inputs.items())
        outs = ", ".join(f"{k}: {self.operands[v]}" for k, v in self.outputs.items())
        return f"Graph(inputs=({ins}), outputs=({outs}), nodes={len(self.nodes)}, constants={len(self.constants)})"


def _canonical(node: Node) -> Node:
    """The node with absent optional inputs spelled out as None, so inputs line up with the op's spec."""
    from .registry import get_op

    spec = get_op(node.op)
    if spec.variadic or len(node.inputs) >= len(spec.inputs):
        return node
    return Node(node.op, node.inputs + (None,) * (len(spec.inputs) - len(node.inputs)), node.outputs,
                node.attributes, node.name)


def _bind_node(node: Node, bindings: Mapping[str, int]) -> Node:
    from .registry import get_op

    spec = get_op(node.op)
    if not spec.symbolic_attrs:
        return node
    attrs = dict(node.attributes)
    for key in spec.symbolic_attrs:
        if key in attrs and attrs[key] is not None:
            attrs[key] = tuple(bindings.get(d, d) if isinstance(d, str) else d for d in attrs[key])
    return Node(node.op, node.inputs, node.outputs, attrs, node.name)


def _topological(nodes: Sequence[Node], available: set[str]) -> list[Node]:
    """Nodes in a dependency-respecting order (stable: given order when it is already valid)."""
    for n in nodes:
        if not isinstance(n, Node):
            raise GraphError(f"expected a Node, got {type(n).__name__}")
    producers: dict[str, int] = {}
    for idx, n in enumerate(nodes):
        if not n.outputs:
            raise GraphError(f"{n.label}: a node needs at least one output")
        for o in n.outputs:
            if o in producers:
                raise GraphError(f"{n.label}: output {o!r} is also produced by {nodes[producers[o]].label}")
            producers[o] = idx
    users: list[list[int]] = [[] for _ in nodes]
    indegree = [0] * len(nodes)
    for idx, n in enumerate(nodes):
        for src in {producers[i] for i in n.inputs if i is not None and i in producers}:
            users[src].append(idx)
            indegree[idx] += 1
        for i in n.inputs:
            if i is not None and i not in producers and i not in available:
                raise GraphError(f"{n.label}: input {i!r} is not defined by any input, constant or node")
    ready = [idx for idx, deg in enumerate(indegree) if deg == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        idx = heapq.heappop(ready)
        order.append(nodes[idx])
        for u in users[idx]:
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = next(idx for idx, deg in enumerate(indegree) if deg > 0)
        raise GraphError(f"the graph has a cycle through {nodes[stuck].label}")
    return order


def iter_operand_names(nodes: Iterable[Node]) -> Iterable[str]:
    for n in nodes:
        yield from (i for i in n.inputs if i is not None)
        yield from n.outputs
