"""ONNX ``ModelProto`` -> webinfer ``Graph``: check every node first, then convert node by node.

1. Structure: nodes put in dependency order (a cycle, a missing input or a twice-defined value is an error
   naming the node).
2. Support: each node's converter (``ops.CONVERTERS``, found by op type) says whether it can convert it and why
   not; every node that cannot is collected, and ONE :class:`OnnxUnsupportedError` lists them all (op type,
   version, node name, reason) before anything is built.
3. Conversion: each value is a run-time operand, a constant known at import (initializers, ``Constant``, and
   every foldable node whose inputs are all known), or a *shape value* whose entries may be symbolic dims
   (``Shape`` of a tensor with a ``dim_param``). Shape subgraphs fold away; a shape computation webinfer cannot
   express (``batch * seq``) is an error naming the node where the symbolic dim entered it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from ...errors import GraphError, UnsupportedError
from ...ir.builder import GraphBuilder, Operand
from ...ir.graph import MAX_NAME, Constant, Graph
from ...ir.operand import Dim, OperandDesc, fmt_shape
from .model import (
    DTYPES,
    MAX_OPSET,
    NUMPY,
    TensorData,
    default_opset,
    model_metadata,
    read_attributes,
    tensor_data,
    type_name,
    value_shape,
    webinfer_dtype,
)

FOLD_MAX_ELEMENTS = 1 << 16  # constants folded at import stay small; bigger work is left to the backend
MAX_LISTED = 40  # unsupported nodes listed one by one in the error (the rest are counted)


@dataclass(frozen=True)
class Unsupported:
    """One node the importer cannot convert, and why."""

    op_type: str
    version: int
    node: str
    reason: str

    def __str__(self) -> str:
        return f"{self.op_type}-{self.version} (node {self.node!r}): {self.reason}"


class OnnxUnsupportedError(UnsupportedError):
    """The model has nodes webinfer cannot import; ``unsupported`` lists every one of them."""

    def __init__(self, message: str, unsupported: Sequence[Unsupported]) -> None:
        super().__init__(message, node=unsupported[0].node if unsupported else None)
        self.unsupported = list(unsupported)


# ---- values -------------------------------------------------------------------------------------------------


@dataclass
class Value:
    """What an ONNX value name stands for while converting."""

    kind: str  # "operand" (run time) | "const" (known at import) | "shape" (ints and symbolic dims) | "bad"
    elem: int = 0  # ONNX element type
    operand: Operand | None = None
    tensor: TensorData | None = None  # const backed by a model tensor (read on demand)
    array_: np.ndarray | None = None  # const (numpy, ONNX's dtype) or shape (object array of ints and names)
    error: str = ""  # bad: why it cannot be computed
    cached: dict[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.kind in ("const", "shape")

    def array(self) -> np.ndarray:
        if self.array_ is None:
            assert self.tensor is not None
            self.array_ = self.tensor.array()
        return self.array_

    @property
    def shape(self) -> tuple[Dim, ...]:
        if self.kind == "operand":
            assert self.operand is not None
            return self.operand.shape
        if self.tensor is not None and self.array_ is None:
            return self.tensor.dims
        return tuple(self.array().shape)

    @property
    def size(self) -> int | None:
        s = self.shape
        ints = [d for d in s if isinstance(d, int)]
        return math.prod(ints) if len(ints) == len(s) else None


def const_value(arr: np.ndarray) -> Value:
    """A known constant (numpy array in ONNX's dtype)."""
    arr = np.asarray(arr)
    return Value("const", elem=_elem_of(arr), array_=arr)


def _elem_of(arr: np.ndarray) -> int:
    if arr.dtype == object:
        return TensorProto.INT64
    return int(onnx.helper.np_dtype_to_tensor_dtype(arr.dtype))


# ---- the node context converters work with ----------------------------------------------------------------------


class NodeCtx:
    """One node being checked or converted: its attributes, inputs and outputs, and the builder."""

    def __init__(self, imp: Importer, node: onnx.NodeProto, index: int) -> None:
        self.imp = imp
        self.node = node
        self.op_type = node.op_type
        self.name = node.name or f"#{index}"
        self.label = f"{node.op_type} (node {self.name!r})"
        self.attrs = read_attributes(node, self.label)
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.version = imp.versions.get(index, 0)
        self._emitted = 0

    # -- errors and attributes
    def error(self, message: str) -> GraphError:
        return GraphError(f"{self.label}: {message}")

    def attr(self, name: str, kind: str, default: Any = None) -> Any:
        """The attribute ``name`` of ``kind`` (int, float, string, ints, floats, tensor), else ``default``."""
        if name not in self.attrs:
            return default
        got, value = self.attrs[name]
        if got != kind:
            raise self.error(f"attribute {name!r} must be of type {kind}, got {got}")
        return value

    def has(self, i: int) -> bool:
        """Whether optional input ``i`` is given."""
        return i < len(self.inputs) and self.inputs[i] != ""

    # -- inputs
    def value(self, i: int) -> Value:
        name = self.inputs[i]
        v = self.imp.values.get(name)
        if v is None:  # checked up front; a value a converter left unset would land here
            raise self.error(f"input {name!r} has no value")
        if v.kind == "bad":
            raise self.error(f"input {name!r} cannot be computed: {v.error}")
        return v

    def elem(self, i: int) -> int:
        """ONNX element type of input ``i`` (from the type map while checking)."""
        if self.imp.checking:
            return self.imp.types.get(self.inputs[i], 0)
        return self.value(i).elem

    def dtype(self, i: int) -> str:
        return webinfer_dtype(self.elem(i), f"{self.label}: input {self.inputs[i]!r}")

    def shape(self, i: int) -> tuple[Dim, ...]:
        return self.value(i).shape

    def rank(self, i: int) -> int:
        return len(self.shape(i))

    def x(self, i: int) -> Operand:
        """Input ``i`` as a run-time operand (a known constant becomes a graph constant)."""
        return self.imp.operand_of(self, i)

    def opt(self, i: int) -> Operand | None:
        return self.x(i) if self.has(i) else None

    def const(self, i: int, what: str = "") -> np.ndarray:
        """Input ``i``'s value, which must be known at import (a constant, or folded from constants)."""
        v = self.value(i)
        if v.kind == "shape":
            raise self.error(f"input {what or self.inputs[i]!r} depends on the symbolic dims "
                             f"{_symbols(v.array())}; it must be a constant here")
        if v.kind != "const":
            raise self.error(f"input {what or self.inputs[i]!r} must be a constant (an initializer or computed "
                             "from constants and static shapes); here it is computed at run time")
        return v.array()

    def ints(self, i: int, what: str = "") -> list[int]:
        return [int(v) for v in self.const(i, what).reshape(-1)]

    def dims(self, i: int, what: str = "") -> list[Dim]:
        """A 1-D shape-like input (Reshape's shape, Expand's shape, ...): ints, or names for symbolic dims."""
        v = self.value(i)
        if v.kind == "shape":
            return [d if isinstance(d, str) else int(d) for d in v.array().reshape(-1)]
        return list(self.ints(i, what))

    # -- outputs
    def op(self, op: str, inputs: Sequence[Operand | None], **attrs: Any) -> Operand:
        return self.ops(op, inputs, **attrs)[0]

    def ops(self, op: str, inputs: Sequence[Operand | None], **attrs: Any) -> list[Operand]:
        """Add one webinfer node (named after this ONNX node); errors from its shape rule name this node too."""
        name = self.imp.node_name(self.name, self._emitted)
        self._emitted += 1
        try:
            return self.imp.b.apply(op, list(inputs), attrs, name=name)
        except GraphError as e:
            raise self.error(str(e)) from None

    def const_operand(self, value: Any, dtype: str) -> Operand:
        """A small constant (a scalar or list) as an operand of ``dtype``."""
        arr = np.asarray(value, dtype=np.uint8 if dtype == "uint8" else dtype)
        return self.imp.b.constant(arr)

    def set(self, i: int, value: Operand | Value, elem: int | None = None) -> None:
        """Set output ``i`` (a run-time operand, or a known value); ``elem`` overrides the ONNX type (bool)."""
        if i >= len(self.outputs) or self.outputs[i] == "":
            return
        if isinstance(value, Operand):
            value = Value("operand", elem=elem or self.imp.elem_for(value.dtype, self.elem_hint(i)), operand=value)
        self.imp.values[self.outputs[i]] = value

    def elem_hint(self, i: int) -> int:
        """The declared/inferred ONNX type of output ``i`` (to tell bool from uint8)."""
        return self.imp.types.get(self.outputs[i], 0)


def _symbols(arr: np.ndarray) -> str:
    names = sorted({d for d in arr.reshape(-1) if isinstance(d, str)})
    return ", ".join(repr(n) for n in names)


# ---- the importer -------------------------------------------------------------------------------------------------


ConvertFn = Callable[[NodeCtx], None]
CheckFn = Callable[[NodeCtx], "str | None"]


class Importer:
    """Converts one ONNX model; use :func:`webinfer.importers.onnx.load`."""

    def __init__(self, model: onnx.ModelProto, base_dir: str | None, source: str = "") -> None:
        from .ops import CONVERTERS

        self.converters = CONVERTERS
        self.model = model
        self.graph = model.graph
        self.base_dir = base_dir
        self.source = source
        try:
            self.opset = default_opset(model)
        except GraphError as e:  # an opset outside 13-21: the whole model is unsupported, said the same way
            problem = Unsupported("opset_import", 0, model.graph.name, str(e))
            raise OnnxUnsupportedError(str(e), [problem]) from None
        self.b = GraphBuilder()
        self.values: dict[str, Value] = {}
        self.types: dict[str, int] = {}
        self.versions: dict[int, int] = {}
        self.checking = False
        self.dim_names: dict[str, str] = {}  # ONNX dim_param (or input/axis for unnamed dims) -> webinfer dim name
        self._used_names: set[str] = set()
        self._const_names: set[str] = set()
        self.folded = 0
        self.zero_pads: dict[str, tuple[Operand, list[int]]] = {}  # pad output -> (its input, [t, b, l, r])

    # -- names
    def node_name(self, base: str, k: int) -> str:
        stem = _clean(base, "node")
        name = stem if k == 0 else f"{stem}/{k}"
        while name in self._used_names:
            k += 1
            name = f"{stem}/{k}"
        self._used_names.add(name)
        return name

    def dim_name(self, raw: str) -> str:
        """A webinfer dim name for an ONNX dim_param (kept when it is already a valid name)."""
        if raw in self.dim_names:
            return self.dim_names[raw]
        name = re.sub(r"\W", "_", raw.encode("ascii", "replace").decode())[:60] or "dim"
        if not (name[0].isalpha() or name[0] == "_"):
            name = "d_" + name
        base, k = name, 1
        while name in self.dim_names.values():
            k += 1
            name = f"{base}_{k}"
        self.dim_names[raw] = name
        return name

    # -- the passes
    def run(self) -> Graph:
        order = self._order()
        self._collect_types()
        self._check_support(order)
        self._declare()
        for index, node in order:
            self._convert(NodeCtx(self, node, index))
        return self._finish()

    def _order(self) -> list[tuple[int, onnx.NodeProto]]:
        """Nodes in dependency order; cycles, undefined inputs and values defined twice are errors naming a node."""
        g = self.graph
        defined: dict[str, str] = {}
        for vi in g.input:
            defined.setdefault(vi.name, "graph input")
        for t in g.initializer:
            if t.name in defined and defined[t.name] == "initializer":
                raise GraphError(f"onnx: initializer {t.name!r} is defined twice")
            defined[t.name] = "initializer"
        if len(g.sparse_initializer):
            raise GraphError("onnx: sparse initializers are not supported")
        producer: dict[str, int] = {}
        nodes = list(g.node)
        for idx, n in enumerate(nodes):
            label = f"{n.op_type} (node {n.name or '#' + str(idx)!r})"
            for o in n.output:
                if o == "":
                    continue
                if o in producer or o in defined:
                    what = "another node" if o in producer else f"a {defined[o]}"
                    raise GraphError(f"onnx: {label}: output {o!r} is already defined by {what}")
                producer[o] = idx
        users: list[list[int]] = [[] for _ in nodes]
        indegree = [0] * len(nodes)
        for idx, n in enumerate(nodes):
            label = f"{n.op_type} (node {n.name or '#' + str(idx)!r})"
            srcs = set()
            for i in n.input:
                if i == "":
                    continue
                if i in producer:
                    srcs.add(producer[i])
                elif i not in defined:
                    raise GraphError(f"onnx: {label}: input {i!r} is not a graph input, an initializer or the "
                                     "output of any node")
            for s in srcs:
                users[s].append(idx)
                indegree[idx] += 1
        ready = [i for i, d in enumerate(indegree) if d == 0]
        ready.reverse()
        order: list[tuple[int, onnx.NodeProto]] = []
        while ready:
            i = ready.pop()
            order.append((i, nodes[i]))
            for u in users[i]:
                indegree[u] -= 1
                if indegree[u] == 0:
                    ready.append(u)
        if len(order) != len(nodes):
            stuck = next(i for i, d in enumerate(indegree) if d > 0)
            n = nodes[stuck]
            raise GraphError(f"onnx: the graph has a cycle through {n.op_type} (node {n.name or '#' + str(stuck)!r})")
        for vi in g.output:
            if vi.name not in producer and vi.name not in defined:
                raise GraphError(f"onnx: graph output {vi.name!r} is not produced by any node")
        return order

    def _collect_types(self) -> None:
        """Element types of every value (declared, else from ONNX's shape inference) for the support check."""
        model = self.model
        try:  # a model without tensor data keeps inference cheap; failures just leave types unknown
            stripped = onnx.ModelProto()
            stripped.CopyFrom(model)
            for t in stripped.graph.initializer:
                t.ClearField("raw_data")
                t.ClearField("float_data")
                t.ClearField("int64_data")
                t.ClearField("int32_data")
                t.ClearField("double_data")
                t.ClearField("uint64_data")
                t.ClearField("external_data")
                t.data_location = TensorProto.DEFAULT
            inferred = onnx.shape_inference.infer_shapes(stripped, strict_mode=False)
            infos = list(inferred.graph.value_info) + list(inferred.graph.output)
        except Exception:
            infos = []
        for vi in list(self.graph.input) + list(self.graph.output) + list(self.graph.value_info) + infos:
            elem, _ = value_shape(vi)
            if elem:
                self.types.setdefault(vi.name, elem)
        for t in self.graph.initializer:
            self.types[t.name] = t.data_type

    def _check_support(self, order: Sequence[tuple[int, onnx.NodeProto]]) -> None:
        static = {t.name for t in self.graph.initializer}
        problems: list[Unsupported] = []
        self.checking = True
        try:
            for index, node in order:
                op_type, name = node.op_type, node.name or f"#{index}"
                version, reason = self._resolve(index, node)
                if reason is None:
                    conv = self.converters[op_type]
                    foldable = conv.fold and all(i == "" or i in static for i in node.input)
                    if op_type in ("Shape", "Size", "Constant") or foldable:
                        static.update(o for o in node.output if o)
                    else:
                        reason = self._dtype_reason(node)
                    if reason is None and conv.check is not None:
                        try:
                            reason = conv.check(NodeCtx(self, node, index))
                        except GraphError as e:
                            reason = str(e).split(": ", 1)[-1]
                if reason is not None:
                    problems.append(Unsupported(op_type, version, name, reason))
        finally:
            self.checking = False
        named = {p.node for p in problems} | {w for p in problems for w in re.findall(r"'([^']*)'", p.reason)}
        for vi in self.graph.input:
            if vi.name in static or vi.name in named:
                continue
            elem, _ = value_shape(vi)
            if elem is None:
                kind = vi.type.WhichOneof("value") or "untyped"
                reason = f"a {kind.replace('_type', '')} input is not supported (tensors only)"
                problems.append(Unsupported("input", self.opset, vi.name, reason))
            elif elem not in DTYPES:
                problems.append(Unsupported("input", self.opset, vi.name, f"dtype {type_name(elem)} is not supported"))
        if problems:
            raise OnnxUnsupportedError(_unsupported_message(problems, self.opset), problems)

    def _resolve(self, index: int, node: onnx.NodeProto) -> tuple[int, str | None]:
        """(the op's version at the model's opset, why it cannot be converted or None)."""
        if node.domain not in ("", "ai.onnx"):
            return 0, f"domain {node.domain!r} is not supported (only the default ONNX domain)"
        try:
            schema = onnx.defs.get_schema(node.op_type, self.opset, node.domain)
        except Exception:
            return 0, f"{node.op_type} does not exist in opset {self.opset}"
        version = schema.since_version
        self.versions[index] = version
        if schema.deprecated:
            return version, f"{node.op_type} is deprecated at opset {self.opset}"
        if node.op_type not in self.converters:
            return version, "no converter for this op"
        if version > MAX_OPSET:  # later versions import when they only widened types or added unused attributes
            older = onnx.defs.get_schema(node.op_type, MAX_OPSET, node.domain)
            (i0, o0, a0), (i1, o1, a1) = _signature(older), _signature(schema)
            used = {a.name for a in node.attribute}
            if (i0, o0) != (i1, o1) or not set(a0) <= set(a1) or used & (set(a1) - set(a0)):
                return version, (f"version {version} changed the op's inputs or attributes; webinfer converts the "
                                 f"versions of opsets up to {MAX_OPSET}")
        return version, None

    def _dtype_reason(self, node: onnx.NodeProto) -> str | None:
        for name in list(node.input) + list(node.output):
            elem = self.types.get(name) if name else None
            if elem and elem not in DTYPES:
                return f"value {name!r} has dtype {type_name(elem)}, which webinfer does not support"
        return None

    def _declare(self) -> None:
        inits = {t.name: t for t in self.graph.initializer}
        for t in self.graph.initializer:
            td = tensor_data(t, "onnx: initializer", self.base_dir)
            self.values[t.name] = Value("const", elem=td.elem_type, tensor=td)
        for vi in self.graph.input:
            if vi.name in inits:
                continue  # an initializer listed as an input (IR < 4 style): a constant here
            elem, dims = value_shape(vi)
            where = f"onnx: graph input {vi.name!r}"
            dtype = webinfer_dtype(elem or 0, where)
            if dims is None:
                raise GraphError(f"{where} has no shape; webinfer needs the rank (dims may be named)")
            shape = [self.dim_name(d) if isinstance(d, str) else (self.dim_name(f"{vi.name}_{k}") if d is None else d)
                     for k, d in enumerate(dims)]
            try:
                operand = self.b.input(_clean(vi.name, "input"), dtype, shape)
            except GraphError as e:
                raise GraphError(f"{where}: {e}") from None
            self.values[vi.name] = Value("operand", elem=elem or 0, operand=operand)

    def _convert(self, nc: NodeCtx) -> None:
        conv = self.converters[nc.op_type]
        if conv.fold and self._fold(nc):
            self.folded += 1
            return
        conv.convert(nc)
        for o in nc.outputs:
            if o and o not in self.values:
                raise nc.error(f"output {o!r} is not supported by the converter (optional outputs are not)")

    # -- folding
    def _fold(self, nc: NodeCtx) -> bool:
        """Evaluate ``nc`` at import when its inputs are all known; False when it must run at run time."""
        present = [nc.inputs[i] for i in range(len(nc.inputs)) if nc.has(i)]
        values = [self.values.get(n) for n in present]
        if any(v is None or not v.known for v in values):
            return False
        assert all(v is not None for v in values)
        if any(v.kind == "shape" for v in values):  # type: ignore[union-attr]
            return self._fold_shape(nc, present)
        sizes = [v.size or 0 for v in values]  # type: ignore[union-attr]
        if sum(sizes) > FOLD_MAX_ELEMENTS or not _small_result(nc, self):
            return False
        outs = self._evaluate(nc, {n: self.values[n].array() for n in present})
        for i, arr in enumerate(outs):
            nc.set(i, const_value(arr))
        return True

    def _evaluate(self, nc: NodeCtx, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        from onnx.reference import ReferenceEvaluator

        inputs = [onnx.helper.make_tensor_value_info(n, _elem_of(a), None) for n, a in feeds.items()]
        outputs = [onnx.helper.make_tensor_value_info(o, 0, None) for o in nc.outputs if o]
        graph = onnx.helper.make_graph([nc.node], "fold", inputs, outputs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", self.opset)])
        model.ir_version = 9
        try:
            results = ReferenceEvaluator(model).run(None, feeds)
        except Exception as e:  # the ONNX reference rejects what the node asks for
            raise nc.error(f"cannot be evaluated at import: {type(e).__name__}: {e}") from None
        out = [np.asarray(r) for r in results]
        for r in out:
            if r.size > FOLD_MAX_ELEMENTS * 16:
                raise nc.error(f"folding at import produced {r.size:,} elements")
        return out

    def _fold_shape(self, nc: NodeCtx, present: list[str]) -> bool:
        """Fold a node over shape values: evaluate twice with different stand-ins for each symbolic dim; entries equal
        to a dim's stand-in in both runs are that dim, entries equal in both runs are constants, the rest is an
        expression of dims webinfer cannot name (an error if anything needs it)."""
        from .ops import SHAPE_SAFE

        symbols = sorted({d for n in present for d in self.values[n].array().reshape(-1) if isinstance(d, str)})
        bad_reason = (f"it depends on the symbolic dims {', '.join(map(repr, symbols))} through {nc.label}, "
                      "which webinfer cannot express as a dim (export with static dims, or use -1 in Reshape)")
        if nc.op_type in SHAPE_SAFE and not SHAPE_SAFE[nc.op_type](nc):
            return False  # the converter handles it (e.g. a slice of a constant table to a symbolic size)
        if nc.op_type not in SHAPE_SAFE:
            for o in nc.outputs:
                if o:
                    self.values[o] = Value("bad", error=bad_reason)
            return True
        stand_ins = [{s: 1_000_003 + 7 * k for k, s in enumerate(symbols)},
                     {s: 2_000_029 + 13 * k for k, s in enumerate(symbols)}]
        runs = []
        for table in stand_ins:
            feeds = {}
            for n in present:
                v = self.values[n]
                arr = v.array()
                if v.kind == "shape":
                    arr = np.array([table[d] if isinstance(d, str) else int(d) for d in arr.reshape(-1)],
                                   dtype=np.int64).reshape(arr.shape)
                feeds[n] = arr
            runs.append(self._evaluate(nc, feeds))
        for i, (a, b) in enumerate(zip(*runs)):
            if a.shape != b.shape:
                nc.set(i, Value("bad", error=bad_reason))
                continue
            same = a == b
            if same.all():
                nc.set(i, const_value(a))
                continue
            if a.dtype.kind not in "iu":
                nc.set(i, Value("bad", error=bad_reason))
                continue
            out = np.empty(a.shape, dtype=object)
            ok = True
            for idx in np.ndindex(a.shape):
                if same[idx]:
                    out[idx] = int(a[idx])
                    continue
                match = [s for s in symbols if a[idx] == stand_ins[0][s] and b[idx] == stand_ins[1][s]]
                if not match:
                    ok = False
                    break
                out[idx] = match[0]
            nc.set(i, Value("shape", elem=_elem_of(a), array_=out) if ok else Value("bad", error=bad_reason))
        return True

    # -- operands
    def operand_of(self, nc: NodeCtx, i: int) -> Operand:
        v = nc.value(i)
        if v.kind == "operand":
            assert v.operand is not None
            return v.operand
        if v.kind == "shape":
            raise nc.error(f"input {nc.inputs[i]!r} is a shape with the symbolic dims {_symbols(v.array())}; "
                           "webinfer cannot compute it at run time")
        op = v.cached.get("operand")
        if op is None:
            op = v.cached["operand"] = self._materialize(nc.inputs[i], v, nc.label)
        return op  # type: ignore[no-any-return]

    def _materialize(self, onnx_name: str, v: Value, where: str) -> Operand:
        dtype = webinfer_dtype(v.elem, f"{where}: constant {onnx_name!r}")
        name = _clean(onnx_name, "const")
        if name in self._const_names or name in self.b._operands:
            name = None  # type: ignore[assignment]
        if v.tensor is not None and v.array_ is None:
            td = v.tensor
            desc = OperandDesc(dtype, td.dims)
            const = Constant(desc, loader=lambda: memoryview(td.raw()).cast("B"))
        else:
            arr = v.array()
            if arr.dtype == np.bool_:
                arr = arr.astype(np.uint8)
            arr = np.ascontiguousarray(arr.astype(np.dtype(dtype).newbyteorder("<")))
            const = Constant(OperandDesc(dtype, tuple(arr.shape)), arr.tobytes())
        op = self.b.add_constant(const, name)
        self._const_names.add(op.name)
        return op

    def const_operand(self, arr: np.ndarray, where: str) -> Operand:
        """A numpy array as a graph constant."""
        return self._materialize("const", const_value(arr), where)

    def elem_for(self, dtype: str, hint: int) -> int:
        """The ONNX type of a run-time value of webinfer ``dtype`` (uint8 stays bool where ONNX says bool)."""
        if dtype == "uint8" and hint == TensorProto.BOOL:
            return TensorProto.BOOL
        return {v: k for k, v in DTYPES.items() if k != TensorProto.BOOL}[dtype]

    # -- outputs
    def _finish(self) -> Graph:
        outputs: dict[str, Operand] = {}
        for vi in self.graph.output:
            v = self.values.get(vi.name)
            where = f"onnx: graph output {vi.name!r}"
            if v is None:
                raise GraphError(f"{where} was not computed")
            if v.kind == "bad":
                raise GraphError(f"{where} cannot be computed: {v.error}")
            if v.kind == "shape":
                raise GraphError(f"{where} is a shape with the symbolic dims {_symbols(v.array())}; webinfer cannot "
                                 "compute it at run time")
            op = v.operand if v.kind == "operand" else self._materialize(vi.name, v, where)
            assert op is not None
            self._check_declared(vi, v, op)
            outputs[_clean(vi.name, "output")] = op
        if not outputs:
            raise GraphError("onnx: the model has no outputs")
        g = self.b.build(outputs)
        meta = {"onnx": {**model_metadata(self.model), "source": self.source, "folded_nodes": self.folded,
                         "dims": {k: v for k, v in self.dim_names.items() if k != v}}}
        return Graph(g.inputs, g.constants, g.nodes, g.outputs, meta)

    def _check_declared(self, vi: onnx.ValueInfoProto, v: Value, op: Operand) -> None:
        """A declared output type/shape must agree with what the nodes compute (a lying file is an error)."""
        elem, dims = value_shape(vi)
        producer = next((n for n in self.graph.node if vi.name in n.output), None)
        by = f" by {producer.op_type} (node {producer.name!r})" if producer is not None else ""
        if elem and DTYPES.get(elem) != op.dtype:
            raise GraphError(f"onnx: graph output {vi.name!r} is declared {type_name(elem)} but is computed{by} as "
                             f"{op.dtype}")
        if dims is None:
            return
        if len(dims) != op.rank or any(isinstance(d, int) and isinstance(c, int) and d != c
                                       for d, c in zip(dims, op.shape)):
            shown = fmt_shape("?" if d is None else d for d in dims)
            raise GraphError(f"onnx: graph output {vi.name!r} is declared {shown} but is computed{by} as "
                             f"{fmt_shape(op.shape)}")


def _small_result(nc: NodeCtx, imp: Importer) -> bool:
    """Whether folding ``nc`` keeps its result small (ops making big tensors from small inputs are sized first)."""
    from .ops import result_size

    n = result_size(nc)
    return n is None or n <= FOLD_MAX_ELEMENTS


def _signature(schema: Any) -> tuple:
    return (tuple(i.name for i in schema.inputs), tuple(o.name for o in schema.outputs),
            tuple(sorted(schema.attributes)))


def _clean(name: str, fallback: str) -> str:
    """An ONNX name as a webinfer name (kept when valid; control characters replaced, long names shortened)."""
    if not name:
        return fallback
    name = "".join("_" if ord(c) < 32 or ord(c) == 127 else c for c in name)
    if len(name) > MAX_NAME:
        import hashlib

        name = name[: MAX_NAME - 17] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name


def _unsupported_message(problems: Sequence[Unsupported], opset: int) -> str:
    by_op: dict[str, list[Unsupported]] = {}
    for p in problems:
        by_op.setdefault(p.op_type, []).append(p)
    summary = ", ".join(f"{op} ×{len(ps)}" for op, ps in by_op.items())
    lines = [f"onnx: {len(problems)} node(s) of this opset-{opset} model cannot be imported ({summary}):"]
    lines += [f"  - {p}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    return "\n".join(lines)


__all__ = ["FOLD_MAX_ELEMENTS", "Importer", "NodeCtx", "OnnxUnsupportedError", "Unsupported", "Value", "const_value",
           "NUMPY"]
