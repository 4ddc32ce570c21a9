"""Graph -> WebNN plan: check every node against the context's limits, then lower it.

``check_graph`` says, node by node, whether the context runs it with its direct WebNN op, through
the registry's decomposition (when the context lacks the direct op), or not at all and why. The
hybrid backend partitions on that answer; ``plan_graph`` refuses a graph with any unsupported node
by raising one :class:`UnsupportedError` that names every such node and its reason — before any
WebNN call is made, so the user never sees an opaque build exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import BackendError, UnsupportedError
from ...ir.builder import GraphBuilder
from ...ir.graph import Graph, Node
from ...ir.operand import OperandDesc
from ...ir.registry import get_op
from ..layout import plan_nhwc, wants_nhwc
from ..layout import resolve as resolve_layout
from .limits import Limits
from .lowering import LOWERINGS, NodeDescs, camel, note, supports
from .plan import Plan, PlanBuilder, PlanOperand


@dataclass(frozen=True)
class Support:
    """How the context runs one node: ``how`` is the WebNN op, or "decomposed: ..."; ``reason`` if it cannot."""

    node: str
    op: str
    how: str | None
    reason: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, str | None]:
        d = {"op": self.op, "webnn": self.how, "reason": self.reason, "note": self.note}
        return {k: v for k, v in d.items() if v is not None}


def narrowed(desc: OperandDesc, narrow_int64: bool) -> OperandDesc:
    return OperandDesc("int32", desc.shape) if narrow_int64 and desc.dtype == "int64" else desc


def expand(node: Node, inputs: Sequence[OperandDesc | None]) -> Graph:
    """The registry's decomposition of ``node`` as a small graph with inputs ``in0``, ``in1``, ..."""
    spec = get_op(node.op)
    if spec.decompose is None:
        raise BackendError(f"{node.label}: op {node.op} has no decomposition")
    gb = GraphBuilder()
    operands = [None if d is None else gb.input(f"in{i}", d.dtype, list(d.shape)) for i, d in enumerate(inputs)]
    outs = spec.decompose(gb, operands, dict(node.attributes))
    return gb.build({f"out{i}": o for i, o in enumerate(outs)})


class Checker:
    """Answers "can this context run that node, and how" for one set of limits."""

    def __init__(self, limits: Limits, decompose: bool = True) -> None:
        self.limits = limits
        self.decompose = decompose
        self.narrow_int64 = limits.known and not limits.supports_int64()

    def node(self, node: Node, inputs: Sequence[OperandDesc | None], outputs: Sequence[OperandDesc]) -> Support:
        """Support for one node with these (IR) descriptors."""
        n = self.narrow_int64
        descs = NodeDescs([None if d is None else narrowed(d, n) for d in inputs], [narrowed(d, n) for d in outputs])
        explain = note(node, self.limits)
        lowering = LOWERINGS.get(node.op)
        reason = supports(node, descs, self.limits)
        if reason is None:
            return Support(node.name, node.op, lowering.webnn if lowering else node.op, note=explain)
        spec = get_op(node.op)
        if not (self.decompose and spec.decompose is not None and all(d is None or d.is_static for d in inputs)):
            return Support(node.name, node.op, None, reason)
        try:
            sub = expand(node, inputs)
        except Exception as e:  # a decomposition that cannot be built for these shapes
            return Support(node.name, node.op, None, f"{reason}; its decomposition failed: {e}")
        for s in sub.nodes:
            sub_support = self.node(s, [None if i is None else sub.operands[i] for i in s.inputs],
                                    [sub.operands[o] for o in s.outputs])
            if not sub_support.ok:
                return Support(node.name, node.op, None,
                               f"{reason}; its decomposition needs {s.op}, and {sub_support.reason}")
        ops = ", ".join(dict.fromkeys(camel(s.op) for s in sub.nodes))
        return Support(node.name, node.op, f"decomposed: {ops}", note=f"{reason}, so it is decomposed")

    def graph(self, graph: Graph) -> dict[str, Support]:
        """Support for every node of ``graph`` (symbolic dims allowed: size checks then skip)."""
        return {
            node.name: self.node(node, [None if i is None else graph.operands[i] for i in node.inputs],
                                 [graph.operands[o] for o in node.outputs])
            for node in graph.nodes
        }

    def edges(self, graph: Graph) -> list[tuple[str, str]]:
        """(edge, reason) for each graph input or output this context cannot take."""
        problems = []
        for name, desc in graph.inputs.items():
            r = self.limits.check_graph_edge("input", narrowed(desc, self.narrow_int64))
            if r:
                problems.append((f"input {name!r}", r))
        for name, operand in graph.outputs.items():
            r = self.limits.check_graph_edge("output", narrowed(graph.operands[operand], self.narrow_int64))
            if r:
                problems.append((f"output {name!r}", r))
        return problems


def check_graph(graph: Graph, limits: Limits, decompose: bool = True) -> dict[str, Support]:
    """node name -> how (or why not) the context with ``limits`` runs it."""
    return Checker(limits, decompose).graph(graph)


def unsupported_error(problems: Sequence[tuple[str, str | None]], where: str = "webnn") -> UnsupportedError:
    """One error naming every unsupported node (or edge) and its reason."""
    lines = "\n".join(f"  - {name}: {reason}" for name, reason in problems)
    first_node, first_reason = problems[0]
    hint = "" if where.startswith("hybrid") else " (use backend='hybrid' to run them on WebGPU)"
    return UnsupportedError(
        f"{where}: this context cannot run {len(problems)} part(s) of the graph{hint}:\n{lines}",
        node=first_node,
        reason=first_reason,
    )


def plan_graph(graph: Graph, limits: Limits, decompose: bool = True,
               layout: str = "auto") -> tuple[Plan, dict[str, Support]]:
    """Check and lower a static graph; raises UnsupportedError naming every node the context cannot run.

    ``layout``: "auto" plans NCHW conv/pool regions in NHWC once when the context prefers NHWC (the layout
    pass, ``webinfer.backends.layout``, applied when it saves transposes); "nhwc" whatever the context
    prefers; "keep" leaves the graph's layouts as they are.
    """
    if not graph.is_static:
        raise BackendError(f"webnn: bind the graph's symbolic dims ({', '.join(graph.symbols)}) before planning it")
    report_layout = None
    if resolve_layout(layout, limits.preferred_input_layout) == "nhwc" and wants_nhwc(graph):
        graph, report_layout = plan_nhwc(graph)
    checker = Checker(limits, decompose)
    report = checker.graph(graph)
    problems = [(f"node {s.node!r} ({s.op})", s.reason) for s in report.values() if s.reason]
    problems += checker.edges(graph)
    if problems:
        raise unsupported_error(problems)

    b = PlanBuilder(narrow_int64=checker.narrow_int64, features=limits.features)
    env: dict[str, PlanOperand] = {}
    for name, desc in graph.inputs.items():
        env[name] = b.input(name, desc)
    for node in graph.nodes:
        operands = [None if i is None else _operand(b, graph, env, i) for i in node.inputs]
        support = report[node.name]
        b.node = node.name
        outs = [b.dtype_of(graph.operands[o]) for o in node.outputs]
        if support.how and support.how.startswith("decomposed"):
            results = _lower_decomposed(b, checker, node, graph, operands)
        else:
            results = LOWERINGS[node.op].lower(b, node, operands, outs)
        b.plan.how[node.name] = support.how or ""
        env.update(zip(node.outputs, results))
    b.node = ""
    used: set[int] = set()
    inputs_and_constants = {op.id for _, op in b.plan.inputs} | {c.id for c in b.plan.constants}
    for out_name, operand in graph.outputs.items():
        op = _operand(b, graph, env, operand)
        if op.id in inputs_and_constants or op.id in used:  # WebNN outputs must be distinct computed operands
            b.node = f"output {out_name}"
            op = b.call("identity", [op], op.desc)
            b.node = ""
        used.add(op.id)
        b.output(out_name, op)
    b.plan.layout = report_layout.as_dict() if report_layout else None
    b.plan.graph_constants = dict(graph.constants)
    return b.plan, report


def _operand(b: PlanBuilder, graph: Graph, env: dict[str, PlanOperand], name: str) -> PlanOperand:
    """The plan operand for a graph operand, making constants on first use."""
    op = env.get(name)
    if op is None:
        const = graph.constants[name]
        data = bytes(const.data()) if b.narrow_int64 and const.desc.dtype == "int64" else None
        op = b.constant(name, const.desc, data, key=name, source=const.source)
        env[name] = op
    return op


def _lower_decomposed(b: PlanBuilder, checker: Checker, node: Node, graph: Graph,
                      operands: Sequence[PlanOperand | None]) -> list[PlanOperand]:
    sub = expand(node, [None if i is None else graph.operands[i] for i in node.inputs])
    env: dict[str, PlanOperand] = {f"in{i}": op for i, op in enumerate(operands) if op is not None}
    for cname, const in sub.constants.items():
        env[cname] = b.constant(f"{node.name}/{cname}", const.desc, bytes(const.data()))
    for s in sub.nodes:
        b.node = f"{node.name}/{s.name}"
        ops = [None if i is None else env[i] for i in s.inputs]
        outs = [b.dtype_of(sub.operands[o]) for o in s.outputs]
        support = checker.node(s, [None if i is None else sub.operands[i] for i in s.inputs],
                               [sub.operands[o] for o in s.outputs])
        if support.how and support.how.startswith("decomposed"):
            results = _lower_decomposed(b, checker, s, sub, ops)
        else:
            results = LOWERINGS[s.op].lower(b, s, ops, outs)
        env.update(zip(s.outputs, results))
    b.node = node.name
    return [env[sub.outputs[f"out{i}"]] for i in range(len(sub.outputs))]


__all__ = ["Checker", "Support", "check_graph", "expand", "plan_graph", "unsupported_error"]
