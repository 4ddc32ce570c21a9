"""Plan a graph's layout once: NCHW conv/pool regions rewritten to NHWC, with transposes only at their edges.

A backend whose convolutions want NHWC (WebNN's TFLite backend says so in ``opSupportLimits().preferredInputLayout``)
would otherwise transpose around every NCHW conv: two transposes per layer. :func:`to_nhwc` rewrites the graph
instead — a graph-to-graph pass, so the reference backend checks it:

- every ``conv2d`` and pool with NCHW input runs in NHWC; a constant filter is re-laid once, as a new constant
  (``ohwi``; ``ihwo`` for depthwise), and a filter whose bytes do not move (1×1 kernels) shares the original bytes;
- layout-agnostic ops follow their input into NHWC: elementwise ops (a constant operand is re-laid, broadcast
  ranks padded; a rank-4 operand converted), ``batch_normalization`` (axis 1 → 3), reductions (axes remapped; an
  output without kept dims is layout-free when the kept dims keep their order), ``concat`` (axis remapped) and
  ``pad`` (paddings permuted);
- anything else, and every graph output, takes NCHW: a value crosses back once, where it is first needed, as a
  ``transpose`` — or as a ``reshape`` when its bytes are the same in both layouts (C = 1 or H·W = 1: after a
  global pool), which costs nothing.

For EfficientNet-Lite0 that is one transpose (the input) and one reshape (after the global average pool) for 49
convs. :func:`plan_nhwc` keeps the graph as it is when the rewrite saves nothing (a lone conv: the browser's two
transposes either way). The pass is pure Python (no numpy): it runs in the page.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Constant, Graph, Node
from ..ir.operand import OperandDesc
from ..ir.registry import get_op

TO_NHWC = (0, 2, 3, 1)  # nhwc dim i is nchw dim TO_NHWC[i]
TO_NCHW = (0, 3, 1, 2)
LAYOUTS = ("auto", "keep", "nhwc")
_ELEMENTWISE = ("unary", "binary", "compare")
_UINT = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass
class LayoutReport:
    """What the pass did: nodes moved to NHWC, nodes that followed, the layout changes it inserted."""

    layout: str = "nhwc"
    converted: list[str] = field(default_factory=list)  # conv2d / pool nodes now NHWC
    followed: list[str] = field(default_factory=list)  # layout-agnostic nodes now on NHWC data
    transposes: list[str] = field(default_factory=list)  # transpose nodes inserted
    reshapes: list[str] = field(default_factory=list)  # layout changes that move no bytes
    relaid: dict[str, str] = field(default_factory=dict)  # constant -> its re-laid twin ("@nhwc", "@ohwi", ...)
    applied: bool = True  # False: the rewrite saved no layout change, so the graph was planned as it is

    @property
    def saves(self) -> int:
        """Layout changes saved: the browser's two transposes around every converted node, less the ones made."""
        return 2 * len(self.converted) - len(self.transposes)

    def as_dict(self) -> dict[str, Any]:
        return {"layout": self.layout if self.applied else "as in the graph", "applied": self.applied,
                "converted": len(self.converted), "followed": len(self.followed),
                "transposes": len(self.transposes), "reshapes": len(self.reshapes),
                "relaid_constants": len(self.relaid), "transpose_nodes": list(self.transposes),
                "summary": self.summary()}

    def summary(self) -> str:
        if not self.applied:
            return (f"planned as in the graph: moving {len(self.converted)} conv/pool node(s) to {self.layout} would "
                    f"take {len(self.transposes)} transpose(s), no fewer than the browser's own")
        return (f"{len(self.converted)} conv/pool node(s) planned in {self.layout} with {len(self.followed)} "
                f"layout-agnostic node(s) following; {len(self.transposes)} transpose(s) and {len(self.reshapes)} "
                f"free reshape(s) at the edges; {len(self.relaid)} constant(s) re-laid once")


def wants_nhwc(graph: Graph) -> bool:
    """Whether the graph has an NCHW conv2d or pool for the pass to move."""
    return any(_is_nchw_seed(n) for n in graph.nodes)


def _is_nchw_seed(node: Node) -> bool:
    if node.op == "conv2d":
        return bool(node.attributes["input_layout"] == "nchw")
    if node.op in ("average_pool2d", "max_pool2d"):
        return bool(node.attributes["layout"] == "nchw")
    return False


def permute_bytes(data: bytes | memoryview, shape: Sequence[int], perm: Sequence[int], itemsize: int) -> bytes:
    """The row-major bytes of a tensor of ``shape`` transposed by ``perm`` (output dim i = input dim perm[i])."""
    src = array.array(_UINT[itemsize])
    src.frombytes(bytes(data))
    rank = len(shape)
    strides = [1] * rank
    for d in range(rank - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    out_shape = [shape[p] for p in perm]
    out = array.array(_UINT[itemsize], bytes(len(src) * itemsize))
    if not len(src):
        return out.tobytes()
    last = out_shape[-1] if rank else 1
    step = strides[perm[-1]] if rank else 1
    outer = out_shape[:-1]
    index = [0] * len(outer)
    pos = 0
    while True:  # one slice copy per row of the output's last dim
        base = sum(i * strides[perm[d]] for d, i in enumerate(index))
        out[pos:pos + last] = src[base:base + (last - 1) * step + 1:step]
        pos += last
        d = len(outer) - 1
        while d >= 0:
            index[d] += 1
            if index[d] < outer[d]:
                break
            index[d] = 0
            d -= 1
        if d < 0:
            return out.tobytes()


def _moves_no_bytes(shape: Sequence[Any], perm: Sequence[int]) -> bool:
    """Whether transposing ``shape`` by ``perm`` keeps the elements in the same order (only size-1 dims move)."""
    kept = [p for p in perm if shape[p] != 1]  # a symbolic dim counts as more than 1
    return kept == sorted(kept)


class _Rewriter:
    """One pass over the nodes in order; every operand gets an NCHW and/or an NHWC name in the new graph."""

    def __init__(self, graph: Graph, report: LayoutReport) -> None:
        self.g = graph
        self.report = report
        self.nodes: list[Node] = []
        self.constants: dict[str, Constant] = dict(graph.constants)
        self.nchw: dict[str, str] = {n: n for n in (*graph.inputs, *graph.constants)}
        self.nhwc: dict[str, str] = {}
        self.taken = set(graph.operands) | {n.name for n in graph.nodes}

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}#{k}"
        self.taken.add(name)
        return name

    def desc(self, name: str) -> OperandDesc:
        return self.g.operands[name]

    # -- values in a layout ------------------------------------------------------------------------------
    def as_nhwc(self, name: str) -> str:
        """The NHWC value of rank-4 operand ``name`` (re-laying a constant, or a transpose/reshape once)."""
        got = self.nhwc.get(name)
        if got is None:
            got = (self.relaid(name, TO_NHWC, "nhwc") if name in self.g.constants
                   else self.change(self.nchw[name], self.desc(name).shape, TO_NHWC, self.fresh(f"{name}@nhwc"),
                                    f"{name}/to_nhwc"))
            self.nhwc[name] = got
        return got

    def as_nchw(self, name: str) -> str:
        """The NCHW value of ``name``: itself, or a transpose/reshape back from NHWC (named as the operand)."""
        got = self.nchw.get(name)
        if got is None:
            shape = self.desc(name).shape
            nhwc_shape = tuple(shape[p] for p in TO_NHWC)
            self.taken.discard(name)
            got = self.change(self.nhwc[name], nhwc_shape, TO_NCHW, self.fresh(name), f"{name}/to_nchw")
            self.nchw[name] = got
        return got

    def change(self, src: str, shape: Sequence[Any], perm: tuple[int, ...], out: str, node: str) -> str:
        """Node ``node``: a transpose of ``src`` (of ``shape``) by ``perm`` into ``out`` — a reshape when no byte
        moves."""
        node = self.fresh(node)
        if _moves_no_bytes(shape, perm):
            self.nodes.append(Node("reshape", (src,), (out,), {"new_shape": tuple(shape[p] for p in perm)}, node))
            self.report.reshapes.append(node)
        else:
            self.nodes.append(Node("transpose", (src,), (out,), {"permutation": perm}, node))
            self.report.transposes.append(node)
        return out

    def relaid(self, name: str, perm: Sequence[int], tag: str, rank: int = 4) -> str:
        """Constant ``name`` padded to ``rank`` with leading 1s and transposed by ``perm``: a new constant made once
        (sharing the original bytes when none move)."""
        key = f"{name}@{tag}"
        if key in self.constants:
            return key
        const = self.g.constants[name]
        shape = (1,) * (rank - const.desc.rank) + tuple(int(d) for d in const.desc.shape)
        desc = OperandDesc(const.desc.dtype, tuple(shape[p] for p in perm))
        if _moves_no_bytes(shape, perm):
            self.constants[key] = Constant(desc, loader=const.data, source=const.source)
        else:
            itemsize = const.desc.info.itemsize

            def load() -> memoryview:
                return memoryview(permute_bytes(const.data(), shape, perm, itemsize))

            self.constants[key] = Constant(desc, loader=load)
        self.taken.add(key)
        self.report.relaid[name] = key
        return key

    # -- nodes -----------------------------------------------------------------------------------------------
    def emit(self, node: Node, inputs: Sequence[str | None], attrs: Mapping[str, Any], nhwc_outputs: bool) -> None:
        """``node`` with new inputs and attributes; its outputs are NHWC values (``out@nhwc``) or NCHW ones."""
        outs = []
        for o in node.outputs:
            if nhwc_outputs:
                new = self.fresh(f"{o}@nhwc")
                self.nhwc[o] = new
            else:
                new = o
                self.nchw[o] = o
            outs.append(new)
        self.nodes.append(Node(node.op, tuple(inputs), tuple(outs), dict(attrs), node.name))

    def keep(self, node: Node) -> None:
        """The node as it is, its inputs in NCHW."""
        self.emit(node, [None if i is None else self.as_nchw(i) for i in node.inputs], node.attributes, False)

    def in_nhwc(self, name: str | None) -> bool:
        return name is not None and name in self.nhwc

    def run(self) -> Graph:
        for node in self.g.nodes:
            rule = RULES.get(node.op) or (_elementwise if get_op(node.op).family in _ELEMENTWISE else None)
            if rule is None or not rule(self, node):
                self.keep(node)
        outputs = {k: self.as_nchw(v) for k, v in self.g.outputs.items()}
        return Graph(self.g.inputs, self.constants, self.nodes, outputs, self.g.metadata).pruned()


Rule = Callable[[_Rewriter, Node], bool]  # rewrites the node in NHWC and returns True, or returns False


def _filter_layout(node: Node, rw: _Rewriter) -> tuple[str, str | None]:
    """(the filter layout to use, the re-laid filter constant or None when the filter stays as it is)."""
    a = node.attributes
    f = node.inputs[1]
    assert f is not None
    src = a["filter_layout"]
    if f not in rw.g.constants:
        return src, None
    shape = rw.desc(f).shape
    cin = rw.desc(node.inputs[0] or "").shape[1]
    depthwise = a["groups"] > 1 and a["groups"] == cin and shape[src.index("i")] == 1
    target = "ihwo" if depthwise else "ohwi"
    if target == src:
        return src, None
    return target, rw.relaid(f, tuple(src.index(c) for c in target), target)


def _conv(rw: _Rewriter, node: Node) -> bool:
    if node.attributes["input_layout"] != "nchw":
        return False
    x, f, b = node.inputs
    assert x is not None and f is not None
    layout, relaid = _filter_layout(node, rw)
    attrs = {**node.attributes, "input_layout": "nhwc", "filter_layout": layout}
    rw.emit(node, [rw.as_nhwc(x), relaid or rw.as_nchw(f), None if b is None else rw.as_nchw(b)], attrs, True)
    rw.report.converted.append(node.name)
    return True


def _pool(rw: _Rewriter, node: Node) -> bool:
    if node.attributes["layout"] != "nchw":
        return False
    x = node.inputs[0]
    assert x is not None
    rw.emit(node, [rw.as_nhwc(x)], {**node.attributes, "layout": "nhwc"}, True)
    rw.report.converted.append(node.name)
    return True


def _elementwise(rw: _Rewriter, node: Node) -> bool:
    """Unary, binary, compare and where: NHWC when an input is; constants re-laid, rank-4 operands converted."""
    out = rw.desc(node.outputs[0])
    if out.rank != 4 or not any(rw.in_nhwc(i) for i in node.inputs):
        return False
    inputs: list[str | None] = []
    for name in node.inputs:
        if name is None:
            inputs.append(None)
            continue
        d = rw.desc(name)
        if name in rw.g.constants:
            inputs.append(rw.relaid(name, TO_NHWC, "nhwc"))
        elif d.rank == 4:
            inputs.append(rw.as_nhwc(name))
        elif all(s == 1 for s in d.shape):  # broadcasts the same way in either layout
            inputs.append(rw.as_nchw(name))
        else:
            return False
    rw.emit(node, inputs, node.attributes, True)
    rw.report.followed.append(node.name)
    return True


def _batch_norm(rw: _Rewriter, node: Node) -> bool:
    x = node.inputs[0]
    if not rw.in_nhwc(x) or node.attributes["axis"] % 4 != 1:
        return False
    assert x is not None
    rest = [None if i is None else rw.as_nchw(i) for i in node.inputs[1:]]
    rw.emit(node, [rw.as_nhwc(x), *rest], {**node.attributes, "axis": 3}, True)
    rw.report.followed.append(node.name)
    return True


def _reduce(rw: _Rewriter, node: Node) -> bool:
    x = node.inputs[0]
    if not rw.in_nhwc(x):
        return False
    assert x is not None
    a = node.attributes
    axes = range(4) if a["axes"] is None else [ax % 4 for ax in a["axes"]]
    new_axes = tuple(TO_NHWC.index(ax) for ax in axes)
    attrs = {**a, "axes": None if a["axes"] is None else new_axes}
    if a["keep_dimensions"]:
        rw.emit(node, [rw.as_nhwc(x)], attrs, True)
    else:  # the kept dims, in NHWC order: a layout-free result when their order is NCHW's too
        kept = [TO_NHWC[i] for i in range(4) if TO_NHWC[i] not in axes]
        if kept != sorted(kept):
            return False
        rw.emit(node, [rw.as_nhwc(x)], attrs, False)
    rw.report.followed.append(node.name)
    return True


def _concat(rw: _Rewriter, node: Node) -> bool:
    if rw.desc(node.outputs[0]).rank != 4 or not any(rw.in_nhwc(i) for i in node.inputs):
        return False
    inputs = [rw.relaid(i, TO_NHWC, "nhwc") if i in rw.g.constants else rw.as_nhwc(i)
              for i in node.inputs if i is not None]
    rw.emit(node, inputs, {**node.attributes, "axis": TO_NHWC.index(node.attributes["axis"] % 4)}, True)
    rw.report.followed.append(node.name)
    return True


def _pad(rw: _Rewriter, node: Node) -> bool:
    x = node.inputs[0]
    if not rw.in_nhwc(x):
        return False
    assert x is not None
    a = node.attributes
    attrs = {**a, "beginning_padding": tuple(a["beginning_padding"][p] for p in TO_NHWC),
             "ending_padding": tuple(a["ending_padding"][p] for p in TO_NHWC)}
    rw.emit(node, [rw.as_nhwc(x)], attrs, True)
    rw.report.followed.append(node.name)
    return True


#: op -> how it runs in NHWC (elementwise ops by family); an op not here keeps NCHW inputs.
RULES: dict[str, Rule] = {
    "conv2d": _conv, "average_pool2d": _pool, "max_pool2d": _pool, "batch_normalization": _batch_norm,
    "reduce_sum": _reduce, "reduce_mean": _reduce, "reduce_max": _reduce, "reduce_min": _reduce,
    "concat": _concat, "pad": _pad,
}


def to_nhwc(graph: Graph) -> tuple[Graph, LayoutReport]:
    """``graph`` with its NCHW conv/pool regions in NHWC (see the module docstring), and what changed."""
    report = LayoutReport()
    if not wants_nhwc(graph):
        return graph, report
    return _Rewriter(graph, report).run(), report


def plan_nhwc(graph: Graph) -> tuple[Graph, LayoutReport]:
    """:func:`to_nhwc` when it saves layout changes (the browser transposes around each NCHW conv/pool itself: a
    lone conv gains nothing), else ``graph`` as it is with a report saying why (``applied`` False)."""
    new, report = to_nhwc(graph)
    if report.converted and report.saves <= 0:
        report.applied = False
        return graph, report
    return new, report


def resolve(layout: str | None, preferred: str | None) -> str:
    """The layout a backend plans for: ``"nhwc"`` when asked (or ``"auto"`` and the context prefers it), else
    ``"keep"`` (the graph's own layouts)."""
    layout = layout or "auto"
    if layout not in LAYOUTS:
        from ..errors import BackendError

        raise BackendError(f"compile: layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "auto":
        return "nhwc" if preferred == "nhwc" else "keep"
    return layout


__all__ = ["LAYOUTS", "TO_NCHW", "TO_NHWC", "LayoutReport", "permute_bytes", "plan_nhwc", "resolve", "to_nhwc",
           "wants_nhwc"]
