"""Split a graph into WebNN and WebGPU islands: by capability, with user overrides, few crossings.

Each node is placed first by the user's ``place`` map (node name, then op type), else on the
preferred backend when it can run the node there, else on the other one. Nodes are then scheduled
greedily in a dependency order that stays on the current backend while it can, so the islands —
maximal runs of one backend — are few. Each island becomes a subgraph whose inputs are the values
it reads from outside (graph inputs, earlier islands' outputs) and whose outputs are the values
later islands or the graph read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...errors import BackendError, UnsupportedError
from ...ir.graph import Graph, Node
from ...ir.operand import OperandDesc

BACKEND_NAMES = ("webnn", "webgpu")
SupportFn = Callable[[Node], str | None]  # node -> why this backend cannot run it, or None


@dataclass
class Island:
    """A run of nodes on one backend, and the values it takes in and gives out."""

    index: int
    backend: str
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.backend}#{self.index}"

    def subgraph(self, graph: Graph) -> Graph:
        """This island as a graph of its own (constants it reads are copied in)."""
        used = {i for n in self.nodes for i in n.inputs if i is not None}
        constants = {k: c for k, c in graph.constants.items() if k in used}
        inputs = {name: graph.operands[name] for name in self.inputs}
        carried = {s for name in self.inputs for s in graph.operands[name].symbols}
        for node in self.nodes:  # a size named only in attributes (e.g. a slice of a table by ["C"])
            for out in node.outputs:
                lost = [s for s in graph.operands[out].symbols if s not in carried]
                if lost:
                    raise UnsupportedError(
                        f"hybrid: island {self.label} cannot be planned on its own: {node.label} gives {out!r} the "
                        f"symbolic dim {lost[0]!r}, which none of the island's inputs carries; run this graph on "
                        "webnn or webgpu, or place the node with the nodes that read that dim",
                        node=node.name, reason=f"symbolic dim {lost[0]!r} not carried by the island's inputs")
        return Graph(inputs, constants, self.nodes, {name: name for name in self.outputs})


@dataclass(frozen=True)
class Crossing:
    """A value moving from one island (or the host) to another island, every run."""

    operand: str
    source: str  # "host" for graph inputs, else an island label
    target: str
    desc: OperandDesc

    def nbytes(self, bindings: Mapping[str, int] | None = None) -> int | None:
        desc = self.desc.bind(bindings or {})
        return desc.byte_length if desc.is_static else None

    @property
    def between_backends(self) -> bool:
        return self.source != "host" and self.source.split("#")[0] != self.target.split("#")[0]


@dataclass
class Partition:
    """Where each node runs, why, the islands in run order and the values crossing between them."""

    placement: dict[str, str]
    why: dict[str, str]
    islands: list[Island]
    crossings: list[Crossing]

    def report(self, bindings: Mapping[str, int] | None = None) -> dict[str, object]:
        """JSON-able summary: islands, crossings with their bytes, totals."""
        crossings = []
        total = 0
        for c in self.crossings:
            if not c.between_backends:
                continue
            n = c.nbytes(bindings)
            total += n or 0
            crossings.append({"operand": c.operand, "from": c.source, "to": c.target, "desc": str(c.desc), "bytes": n})
        return {
            "islands": [
                {"island": i.label, "nodes": [n.name for n in i.nodes], "inputs": i.inputs, "outputs": i.outputs}
                for i in self.islands
            ],
            "crossings": crossings,
            "bytes_between_backends_per_run": total,
        }


def place_nodes(graph: Graph, support: Mapping[str, SupportFn], place: Mapping[str, str] | None = None,
                prefer: str = "webnn") -> tuple[dict[str, str], dict[str, str]]:
    """node name -> backend, and node name -> why there. Raises when a node can run nowhere."""
    place = dict(place or {})
    for key, backend in place.items():
        if backend not in BACKEND_NAMES:
            raise BackendError(f"hybrid: place[{key!r}] is {backend!r}; use one of {', '.join(BACKEND_NAMES)}")
    names = {n.name for n in graph.nodes}
    ops = {n.op for n in graph.nodes}
    unknown = [k for k in place if k not in names and k not in ops]
    if unknown:
        raise BackendError(f"hybrid: place names {unknown[0]!r}, which is neither a node nor an op type in this graph")
    if prefer not in BACKEND_NAMES:
        raise BackendError(f"hybrid: prefer={prefer!r}; use one of {', '.join(BACKEND_NAMES)}")
    other = {"webnn": "webgpu", "webgpu": "webnn"}
    placement: dict[str, str] = {}
    why: dict[str, str] = {}
    for node in graph.nodes:
        forced = place.get(node.name) or place.get(node.op)
        if forced:
            reason = support[forced](node)
            if reason:
                raise UnsupportedError(f"hybrid: {node.label} is placed on {forced} by the user, but {forced} "
                                       f"cannot run it: {reason}", node=node.name, reason=reason)
            placement[node.name] = forced
            why[node.name] = "placed by the user" + (" (node)" if node.name in place else f" (op {node.op})")
            continue
        first = support[prefer](node)
        if first is None:
            placement[node.name], why[node.name] = prefer, f"{prefer} supports it"
            continue
        second = support[other[prefer]](node)
        if second is None:
            placement[node.name], why[node.name] = other[prefer], f"{prefer}: {first}"
            continue
        raise UnsupportedError(f"hybrid: no backend can run {node.label}: {prefer}: {first}; {other[prefer]}: {second}",
                               node=node.name, reason=first)
    return placement, why


def schedule(graph: Graph, placement: Mapping[str, str]) -> list[Island]:
    """Group nodes into islands: a dependency order that stays on one backend as long as it can."""
    producer = graph.producer()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    deps = {n.name: {producer[i].name for i in n.inputs if i is not None and i in producer} for n in graph.nodes}
    users: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for name, ds in deps.items():
        for d in ds:
            users[d].append(name)
    waiting = {name: len(ds) for name, ds in deps.items()}
    ready = sorted((n for n, k in waiting.items() if k == 0), key=index.__getitem__)
    nodes = {n.name: n for n in graph.nodes}
    islands: list[Island] = []
    current: str | None = None
    while ready:
        same = [n for n in ready if placement[n] == current]
        if not same:
            current = placement[ready[0]]
            islands.append(Island(len(islands), current))
            same = [n for n in ready if placement[n] == current]
        name = same[0]
        ready.remove(name)
        islands[-1].nodes.append(nodes[name])
        for u in users[name]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
        ready.sort(key=index.__getitem__)
    return islands


def partition(graph: Graph, support: Mapping[str, SupportFn], place: Mapping[str, str] | None = None,
              prefer: str = "webnn") -> Partition:
    """Place every node, group them into islands and list the values that cross between islands."""
    placement, why = place_nodes(graph, support, place, prefer)
    islands = schedule(graph, placement)
    home: dict[str, str] = {name: "host" for name in graph.inputs}
    for island in islands:
        for node in island.nodes:
            for o in node.outputs:
                home[o] = island.label
    crossings: list[Crossing] = []
    for island in islands:
        produced = {o for n in island.nodes for o in n.outputs}
        seen: set[str] = set()
        for node in island.nodes:
            for i in node.inputs:
                if i is None or i in produced or i in graph.constants or i in seen:
                    continue
                seen.add(i)
                island.inputs.append(i)
                crossings.append(Crossing(i, home[i], island.label, graph.operands[i]))
    wanted_later: dict[str, int] = {}
    for idx, island in enumerate(islands):
        for i in island.inputs:
            wanted_later[i] = max(wanted_later.get(i, -1), idx)
    graph_outputs = set(graph.outputs.values())
    for idx, island in enumerate(islands):
        for node in island.nodes:
            for o in node.outputs:
                if o in graph_outputs or wanted_later.get(o, -1) > idx:
                    island.outputs.append(o)
    return Partition(placement, why, islands, crossings)


__all__ = ["Crossing", "Island", "Partition", "partition", "place_nodes", "schedule"]
