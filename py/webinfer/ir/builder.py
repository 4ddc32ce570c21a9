"""GraphBuilder: build graphs in Python, one method per registered op (``g.layer_normalization(...)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import GraphError
from .dtypes import dtype_info
from .graph import Constant, Graph, Node, check_name
from .hostdata import pack, to_data
from .operand import OperandDesc, Shape, check_shape
from .registry import OpSpec, all_ops, get_op, op_suggestion


class Operand:
    """A value in a graph under construction; pass it to builder methods."""

    __slots__ = ("builder", "name", "desc")

    def __init__(self, builder: GraphBuilder, name: str, desc: OperandDesc) -> None:
        self.builder = builder
        self.name = name
        self.desc = desc

    @property
    def dtype(self) -> str:
        return self.desc.dtype

    @property
    def shape(self) -> Shape:
        return self.desc.shape

    @property
    def rank(self) -> int:
        return self.desc.rank

    def __repr__(self) -> str:
        return f"Operand({self.name!r}, {self.desc})"

    # arithmetic sugar: x + y, x * 2.0, -x, x @ w
    def _other(self, v: Any) -> Operand:
        return v if isinstance(v, Operand) else self.builder.constant(v, dtype=self.dtype)

    def __add__(self, v: Any) -> Operand:
        return self.builder.add(self, self._other(v))

    def __radd__(self, v: Any) -> Operand:
        return self.builder.add(self._other(v), self)

    def __sub__(self, v: Any) -> Operand:
        return self.builder.sub(self, self._other(v))

    def __rsub__(self, v: Any) -> Operand:
        return self.builder.sub(self._other(v), self)

    def __mul__(self, v: Any) -> Operand:
        return self.builder.mul(self, self._other(v))

    def __rmul__(self, v: Any) -> Operand:
        return self.builder.mul(self._other(v), self)

    def __truediv__(self, v: Any) -> Operand:
        return self.builder.div(self, self._other(v))

    def __rtruediv__(self, v: Any) -> Operand:
        return self.builder.div(self._other(v), self)

    def __matmul__(self, v: Operand) -> Operand:
        return self.builder.matmul(self, v)

    def __neg__(self) -> Operand:
        return self.builder.neg(self)


class _NoSuggestions:
    """An object with nothing in ``dir()``: the target of AttributeErrors that carry their own suggestion."""

    def __dir__(self) -> list[str]:
        return []


_NO_SUGGESTIONS = _NoSuggestions()


class GraphBuilder:
    """Builds a :class:`Graph`; every op in the registry is a method named after it."""

    def __getattr__(self, op: str) -> Callable[..., Any]:
        """Only reached for names that are not ops (the op methods are generated below): say which op was meant."""
        if op.startswith("__"):
            raise AttributeError(op)
        # obj=_NO_SUGGESTIONS: our message already suggests; Python's own "Did you mean" would say it twice
        raise AttributeError(f"GraphBuilder has no op or method {op!r}{op_suggestion(op)}", name=op,
                             obj=_NO_SUGGESTIONS)

    def __init__(self) -> None:
        self._inputs: dict[str, OperandDesc] = {}
        self._constants: dict[str, Constant] = {}
        self._nodes: list[Node] = []
        self._operands: dict[str, OperandDesc] = {}
        self._counts: dict[str, int] = {}
        self._node_names: set[str] = set()
        self._reserved: set[str] = set()

    @classmethod
    def from_graph(cls, graph: Graph) -> GraphBuilder:
        """A builder holding ``graph``'s inputs and constants, with every name the graph uses reserved.

        Rewrites (e.g. :func:`webinfer.ir.decompose.expand_composites`) use it to re-add the graph's nodes
        with :meth:`add_node` and to build replacements with the op methods without name clashes.
        """
        b = cls()
        for name, desc in graph.inputs.items():
            b._inputs[name] = desc
            b._operands[name] = desc
        for name, const in graph.constants.items():
            b._constants[name] = const
            b._operands[name] = const.desc
        b._reserved.update(graph.operands)
        b._reserved.update(n.name for n in graph.nodes if n.name)
        return b

    # -- names -----------------------------------------------------------------------------------
    def _fresh(self, base: str) -> str:
        while True:
            n = self._counts.get(base, 0)
            self._counts[base] = n + 1
            name = f"{base}_{n}"
            if name not in self._operands and name not in self._node_names and name not in self._reserved:
                return name

    def operand(self, name: str) -> Operand:
        """The operand called ``name`` in this builder (an input, constant or node output)."""
        try:
            return Operand(self, name, self._operands[name])
        except KeyError:
            raise GraphError(f"no operand named {name!r} in this builder") from None

    def _own(self, x: Any, op: str, label: str) -> str | None:
        if x is None:
            return None
        if not isinstance(x, Operand):
            raise GraphError(f"{op}: input {label!r} must be an Operand from this builder, got {type(x).__name__}")
        if x.builder is not self:
            raise GraphError(f"{op}: input {label!r} ({x.name}) belongs to another GraphBuilder")
        return x.name

    # -- leaves ----------------------------------------------------------------------------------
    def input(self, name: str, dtype: str, shape: Sequence[int | str]) -> Operand:
        """A graph input; dims are ints or names ('batch') bound when the graph runs."""
        check_name(name, "input")
        if name in self._operands or name in self._reserved:
            raise GraphError(f"input {name!r}: the name is already used")
        desc = OperandDesc(dtype_info(dtype, where=f"input {name!r}").name, check_shape(shape, f"input {name!r}"))
        self._inputs[name] = desc
        self._operands[name] = desc
        return Operand(self, name, desc)

    def constant(
        self,
        value: Any,
        dtype: str | None = None,
        shape: Sequence[int] | None = None,
        name: str | None = None,
    ) -> Operand:
        """A constant from a numpy array, Tensor, nested list, scalar, or raw bytes (with dtype and shape)."""
        if name is not None:
            check_name(name, "constant")
            if name in self._operands or name in self._reserved:
                raise GraphError(f"constant {name!r}: the name is already used")
        if dtype is not None:
            dtype_info(dtype, where="constant")
        shp: tuple[int, ...] = ()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and shape is None:
            dt = dtype or "float32"
            data = pack([value], dt, "constant")
        else:
            data, dt, shp = to_data(value, dtype, shape)
        desc = OperandDesc(dt, shp)
        cname = name or self._fresh("const")
        self._constants[cname] = Constant(desc, data)
        self._operands[cname] = desc
        return Operand(self, cname, desc)

    def add_constant(self, constant: Constant, name: str | None = None) -> Operand:
        """Add an existing :class:`Constant` (e.g. one read lazily from a file) as a constant operand."""
        if not isinstance(constant, Constant):
            raise GraphError(f"add_constant: expected a Constant, got {type(constant).__name__}")
        if name is not None:
            check_name(name, "constant")
            if name in self._operands or name in self._reserved:
                raise GraphError(f"constant {name!r}: the name is already used")
        cname = name or self._fresh("const")
        self._constants[cname] = constant
        self._operands[cname] = constant.desc
        return Operand(self, cname, constant.desc)

    def lazy_constant(self, name: str, dtype: str, shape: Sequence[int],
                      loader: Callable[[], bytes | bytearray | memoryview]) -> Operand:
        """A constant whose little-endian bytes ``loader()`` gives when first needed (converters stream big
        weights this way: nothing is read or repacked until a backend or ``save`` asks)."""
        check_name(name, "constant")
        desc = OperandDesc(dtype_info(dtype, where=f"constant {name!r}").name, check_shape(shape, f"constant {name!r}"))
        return self.add_constant(Constant(desc, loader=lambda: memoryview(loader())), name)

    # -- ops -------------------------------------------------------------------------------------
    def apply(self, op: str, inputs: Sequence[Any], attributes: Mapping[str, Any] | None = None,
              name: str | None = None) -> list[Operand]:
        """Add one node of ``op``; returns its outputs (checked by the op's shape rule)."""
        spec = get_op(op)
        attrs = dict(attributes or {})
        if spec.variadic:
            labels = [f"{spec.inputs[0].name}[{i}]" for i in range(len(inputs))]
        else:
            labels = ([s.name for s in spec.inputs][: len(inputs)]
                      + [f"#{i}" for i in range(len(spec.inputs), len(inputs))])
        names = tuple(self._own(x, op, label) for x, label in zip(inputs, labels))
        node_name = name or self._fresh(op)
        if name is not None:
            check_name(name, op)
            if name in self._node_names or name in self._reserved:
                raise GraphError(f"{op}: node name {name!r} is already used")
        descs = spec.check([None if n is None else self._operands[n] for n in names], attrs, node_name)
        normalized = spec.normalize_attrs(attrs, node_name)
        if not spec.variadic and len(names) < len(spec.inputs):  # absent optional inputs, spelled out
            names = names + (None,) * (len(spec.inputs) - len(names))
        single = len(descs) == 1 and node_name not in self._operands and node_name not in self._reserved
        outs = [node_name] if single else [self._fresh(f"{node_name}_out") for _ in descs]
        return self._append(Node(op, names, tuple(outs), normalized, node_name), descs)

    def add_node(self, node: Node) -> list[Operand]:
        """Add an existing node unchanged (names kept), checked by its op's shape rule."""
        if not isinstance(node, Node):
            raise GraphError(f"add_node: expected a Node, got {type(node).__name__}")
        spec = get_op(node.op)
        for i in node.inputs:
            if i is not None and i not in self._operands:
                raise GraphError(f"{node.label}: input {i!r} is not defined in this builder")
        if node.name and node.name in self._node_names:
            raise GraphError(f"{node.label}: node name {node.name!r} is already used")
        for o in node.outputs:
            check_name(o, node.label)
            if o in self._operands:
                raise GraphError(f"{node.label}: output {o!r} is already defined")
        descs = spec.check([None if i is None else self._operands[i] for i in node.inputs], node.attributes, node.name)
        if len(descs) != len(node.outputs):
            raise GraphError(f"{node.label}: produces {len(descs)} outputs but the node names {len(node.outputs)}")
        return self._append(node, descs)

    def _append(self, node: Node, descs: Sequence[OperandDesc]) -> list[Operand]:
        self._nodes.append(node)
        if node.name:
            self._node_names.add(node.name)
        result = []
        for o, d in zip(node.outputs, descs):
            self._operands[o] = d
            result.append(Operand(self, o, d))
        return result

    def build(self, outputs: Mapping[str, Operand] | Operand) -> Graph:
        """The validated graph computing ``outputs`` (name -> operand); unused nodes are dropped."""
        if isinstance(outputs, Operand):
            outputs = {"output": outputs}
        if not isinstance(outputs, Mapping) or not outputs:
            raise GraphError("build: give the outputs as a non-empty dict of name -> Operand")
        names = {k: self._own(v, "build", k) for k, v in outputs.items()}
        return Graph(self._inputs, self._constants, self._nodes, names).pruned()  # type: ignore[arg-type]


def _make_method(spec: OpSpec) -> Callable[..., Any]:
    """The GraphBuilder method for ``spec``: inputs (positional or by name), then attributes."""
    input_names = [s.name for s in spec.inputs]
    attr_names = list(spec.attr_names)

    def variadic(self: GraphBuilder, inputs: Sequence[Operand], *args: Any, name: str | None = None,
                 **kwargs: Any) -> Any:
        attrs = _collect(spec, attr_names, args, kwargs)
        return self.apply(spec.name, list(inputs), attrs, name)[0]

    def fixed(self: GraphBuilder, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
        n_in = len(input_names)
        ins: list[Any] = list(args[:n_in])
        rest = args[n_in:]
        for i, iname in enumerate(input_names):
            if iname in kwargs:
                if i < len(ins):
                    raise GraphError(f"{spec.name}: input {iname!r} given twice")
                while len(ins) < i:
                    ins.append(None)
                ins.append(kwargs.pop(iname))
        # positional attrs only after every input slot
        if rest and len(ins) < n_in:
            raise GraphError(f"{spec.name}: too few inputs")
        attrs = _collect(spec, attr_names, rest, kwargs)
        outs = self.apply(spec.name, ins, attrs, name)
        return outs if spec.multi_output else outs[0]

    method = variadic if spec.variadic else fixed
    params = ", ".join(input_names + [f"{a}=..." for a in attr_names])
    method.__name__ = spec.name
    method.__qualname__ = f"GraphBuilder.{spec.name}"
    method.__doc__ = f"{spec.name}({params}): {spec.doc}"
    return method


def _collect(spec: OpSpec, attr_names: list[str], args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    if len(args) > len(attr_names):
        raise GraphError(f"{spec.name}: too many arguments; attributes are {', '.join(attr_names) or 'none'}")
    attrs = dict(zip(attr_names, args))
    for k, v in kwargs.items():
        if k in attrs:
            raise GraphError(f"{spec.name}: attribute {k!r} given twice")
        if k not in attr_names:
            renamed = spec.renamed_attrs.get(k)
            hint = f" (renamed {renamed!r}, as WebNN names it)" if renamed else ""
            raise GraphError(f"{spec.name}: unknown argument {k!r}{hint}; attributes are "
                             f"{', '.join(attr_names) or 'none'}")
        attrs[k] = v
    return attrs


for _spec in all_ops():
    setattr(GraphBuilder, _spec.name, _make_method(_spec))
