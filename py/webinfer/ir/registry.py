"""The op registry: one entry per op, found by its WebNN name.

An entry holds what every layer needs to agree on: the op's inputs, its attributes with defaults and
checks, its shape/dtype rule, its conformance tolerance and, for composites, a decomposition into
simpler ops. Backends keep their own tables (reference kernels, WGSL, WebNN lowerings) keyed by the
same names; tests check that each table covers this registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphError
from .dtypes import ALL_TYPES
from .graph import Node
from .operand import Dim, OperandDesc, Shape, check_dim, fmt_shape

REQUIRED = object()


@dataclass(frozen=True)
class Tolerance:
    """How far a float result may be from the float64 reference: in ULP of the output dtype, or absolute.

    A value passes when it is within ``ulp`` ULP *or* within ``abs`` (whichever are set). Integer
    outputs are compared exactly.
    """

    ulp: float | None = None
    abs: float | None = None

    def __str__(self) -> str:
        parts = []
        if self.ulp is not None:
            parts.append(f"{self.ulp:g} ULP")
        if self.abs is not None:
            parts.append(f"abs {self.abs:g}")
        return " or ".join(parts) or "exact"


EXACT = Tolerance(ulp=0)


@dataclass(frozen=True)
class Attr:
    """One attribute: its kind, default (or REQUIRED) and an optional check of its value."""

    name: str
    kind: str  # int float bool str dtype ints floats dims int_or_ints
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None
    optional: bool = False  # None is a legal value

    def normalize(self, op: str, value: Any) -> Any:
        """Check ``value`` and give it its canonical Python form (tuples for lists, float for floats)."""
        where = f"{op}: attribute {self.name!r}"
        if value is None and self.optional:
            return None
        k = self.kind
        if k == "int":
            return _int(value, where)
        if k == "float":
            return _float(value, where)
        if k == "bool":
            if not isinstance(value, bool):
                raise GraphError(f"{where} must be true or false, got {value!r}")
            return value
        if k in ("str", "dtype"):
            if not isinstance(value, str):
                raise GraphError(f"{where} must be a string, got {value!r}")
            choices = ALL_TYPES if k == "dtype" else self.choices
            if choices and value not in choices:
                raise GraphError(f"{where} is {value!r}; expected one of {', '.join(choices)}")
            return value
        if k == "int_or_ints" and not isinstance(value, (list, tuple)):
            return _int(value, where)
        if k in ("ints", "floats", "dims", "int_or_ints"):
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise GraphError(f"{where} must be a list, got {value!r}")
            if len(value) > 4096:
                raise GraphError(f"{where} has {len(value)} entries; at most 4096 are allowed")
            if k == "floats":
                return tuple(_float(v, where) for v in value)
            if k == "dims":
                return tuple(-1 if v == -1 and not isinstance(v, bool) else check_dim(v, where) for v in value)
            return tuple(_int(v, where) for v in value)
        raise AssertionError(f"unknown attribute kind {k}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        raise GraphError(f"{where} must be an integer, got {value!r}")
    if abs(value) > 2**53:
        raise GraphError(f"{where} is {value}, out of range")
    return value


def _float(value: Any, where: str) -> float:
    if isinstance(value, str) and value in ("inf", "+inf", "-inf", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GraphError(f"{where} must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise GraphError(f"{where} is NaN")
    return v


@dataclass
class Call:
    """One application of an op being checked: its input descriptors and normalized attributes."""

    spec: OpSpec
    inputs: list[OperandDesc | None]
    attrs: dict[str, Any]
    node: str = ""

    @property
    def op(self) -> str:
        return self.spec.name

    def error(self, message: str) -> GraphError:
        where = f"{self.op} (node {self.node!r})" if self.node else self.op
        return GraphError(f"{where}: {message}")

    def input(self, name: str) -> OperandDesc | None:
        return self.inputs[self.spec.input_index(name)]

    def __getitem__(self, name: str) -> Any:
        return self.attrs[name]


InferFn = Callable[[Call], Sequence[OperandDesc]]
ToleranceFn = Callable[[Call], Tolerance]


@dataclass(frozen=True)
class InputSpec:
    """An operand input: its name, whether optional or variadic, and the dtypes it takes."""

    name: str
    dtypes: tuple[str, ...]
    optional: bool = False
    variadic: bool = False
    same_dtype_as: str | None = None  # must match this other input's dtype


@dataclass
class OpSpec:
    """Everything the IR knows about one op."""

    name: str
    inputs: tuple[InputSpec, ...]
    attrs: tuple[Attr, ...]
    infer: InferFn
    tolerance: ToleranceFn
    family: str
    doc: str = ""
    num_outputs: Callable[[Mapping[str, Any], int], int] = lambda attrs, n_inputs: 1
    decompose: Callable[..., Any] | None = None  # (builder, inputs, attrs) -> list[Operand]
    symbolic_attrs: tuple[str, ...] = ()  # attrs holding dims that may be symbolic names
    multi_output: bool = False  # the builder method returns a list
    notes: str = ""
    renamed_attrs: Mapping[str, str] = field(default_factory=dict)  # old name -> new name (graph files map them)

    def input_index(self, name: str) -> int:
        for i, s in enumerate(self.inputs):
            if s.name == name:
                return i
        raise KeyError(name)

    @property
    def variadic(self) -> bool:
        return any(s.variadic for s in self.inputs)

    @property
    def attr_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)

    def normalize_attrs(self, given: Mapping[str, Any], node: str = "") -> dict[str, Any]:
        """Attributes with defaults filled in; unknown or missing ones are errors naming the op."""
        where = f"{self.name} (node {node!r})" if node else self.name
        if not isinstance(given, Mapping):
            raise GraphError(f"{where}: attributes must be an object, got {type(given).__name__}")
        unknown = [k for k in given if k not in self.attr_names]
        if unknown:
            known = ", ".join(self.attr_names) or "none"
            renamed = self.renamed_attrs.get(unknown[0])
            hint = f" (renamed {renamed!r}, as WebNN names it)" if renamed else ""
            raise GraphError(f"{where}: unknown attribute {unknown[0]!r}{hint}; {self.name} takes {known}")
        result: dict[str, Any] = {}
        for a in self.attrs:
            if a.name in given:
                try:
                    result[a.name] = a.normalize(self.name, given[a.name])
                except GraphError as e:
                    raise GraphError(str(e).replace(f"{self.name}:", f"{where}:", 1)) from None
            elif a.default is REQUIRED:
                raise GraphError(f"{where}: attribute {a.name!r} is required")
            else:
                result[a.name] = a.default
        return result

    @property
    def tolerance_doc(self) -> str:
        """A short human description of the tolerance rule (for the op table)."""
        return getattr(self.tolerance, "doc", "")

    def call(self, inputs: Sequence[OperandDesc | None], attrs: Mapping[str, Any], node: str = "") -> Call:
        """A checked ``Call`` (inputs padded, attributes normalized) for tolerance and kernel lookups."""
        call = Call(self, list(inputs), self.normalize_attrs(attrs, node), node)
        _check_inputs(call)
        return call

    def check(
        self, inputs: Sequence[OperandDesc | None], attrs: Mapping[str, Any], node: str = ""
    ) -> list[OperandDesc]:
        """Validate one application and return its output descriptors."""
        call = self.call(inputs, attrs, node)
        try:
            outs = list(self.infer(call))
        except GraphError as e:  # a helper's message without the op prefix gets one
            prefix = f"{self.name} (node {node!r}):" if node else f"{self.name}:"
            if str(e).startswith(prefix):
                raise
            raise call.error(str(e)) from None
        for o in outs:
            for d in o.shape:
                if isinstance(d, int) and d < 0:
                    raise call.error(f"computed a negative output dimension: {fmt_shape(o.shape)}")
        return outs


def _check_inputs(call: Call) -> None:
    spec = call.spec
    n_fixed = len(spec.inputs)
    if spec.variadic:
        if len(call.inputs) < 1:
            raise call.error("needs at least one input")
        specs = [spec.inputs[0]] * len(call.inputs)
    else:
        required = sum(1 for s in spec.inputs if not s.optional)
        if not required <= len(call.inputs) <= n_fixed:
            names = ", ".join(s.name + ("?" if s.optional else "") for s in spec.inputs)
            raise call.error(f"takes inputs ({names}); {len(call.inputs)} given")
        call.inputs = list(call.inputs) + [None] * (n_fixed - len(call.inputs))
        specs = list(spec.inputs)
    for idx, (s, d) in enumerate(zip(specs, call.inputs)):
        label = f"{s.name}[{idx}]" if s.variadic else s.name
        if d is None:
            if not s.optional:
                raise call.error(f"input {label!r} is required")
            continue
        if d.dtype not in s.dtypes:
            raise call.error(f"input {label!r} has dtype {d.dtype}; expected one of {', '.join(s.dtypes)}")
        if s.same_dtype_as is not None:
            other = call.input(s.same_dtype_as)
            if other is not None and other.dtype != d.dtype:
                raise call.error(
                    f"input {label!r} has dtype {d.dtype} but {s.same_dtype_as!r} has {other.dtype}; they must match"
                )
    if spec.variadic:
        first = call.inputs[0]
        for idx, d in enumerate(call.inputs):
            if d is not None and first is not None and d.dtype != first.dtype:
                raise call.error(
                    f"input {spec.inputs[0].name}[{idx}] has dtype {d.dtype}, input 0 has {first.dtype}; "
                    "they must match"
                )


REGISTRY: dict[str, OpSpec] = {}


def register(spec: OpSpec) -> OpSpec:
    """Add one op to the registry (each name once)."""
    if spec.name in REGISTRY:
        raise ValueError(f"op {spec.name} registered twice")
    REGISTRY[spec.name] = spec
    return spec


def get_op(name: str) -> OpSpec:
    """The registry entry of ``name``; GraphError if there is none."""
    _ensure_loaded()
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise GraphError(f"unknown op {name!r}{op_suggestion(name)}") from None


def op_suggestion(name: object) -> str:
    """'; did you mean 'layer_normalization'?' for a misspelt or camelCase op name (else '')."""
    if not isinstance(name, str):
        return ""
    import difflib
    import re

    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()  # WebNN's JS spelling: layerNormalization
    if snake != name and snake in REGISTRY:
        return f"; did you mean {snake!r} (ops use snake_case)?"
    close = difflib.get_close_matches(snake, list(REGISTRY), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "; see webinfer.all_ops()"


def all_ops() -> Iterator[OpSpec]:
    """Every registered op, by family then name."""
    _ensure_loaded()
    return iter(sorted(REGISTRY.values(), key=lambda s: (s.family, s.name)))


def infer_node(node: Node, inputs: Sequence[OperandDesc | None]) -> list[OperandDesc]:
    """Check one node against its op's rule and return its output descriptors."""
    spec = get_op(node.op)
    outs = spec.check(inputs, node.attributes, node.name)
    if len(outs) != len(node.outputs):
        where = node.label
        raise GraphError(f"{where}: produces {len(outs)} outputs but the node names {len(node.outputs)}")
    return outs


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import ops  # noqa: F401  (registers every op)


# ---- shape helpers shared by the op rules ----------------------------------------------------------


def broadcast_shapes(call: Call, *shapes: Shape, names: Sequence[str] = ()) -> Shape:
    """Numpy broadcasting over int and symbolic dims; an error names both operands and shapes."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for axis in range(rank):
        dim: Dim = 1
        for s in shapes:
            k = axis - (rank - len(s))
            if k < 0:
                continue
            d = s[k]
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim = d
            elif isinstance(d, str) and isinstance(dim, int) or isinstance(dim, str) and isinstance(d, int):
                dim = d if isinstance(d, int) else dim  # a name meets a size: the size wins, checked when bound
            else:
                labels = names or [f"input {i}" for i in range(len(shapes))]
                desc = ", ".join(f"{n} is {fmt_shape(sh)}" for n, sh in zip(labels, shapes))
                raise call.error(f"shapes cannot be broadcast: {desc}")
        out.append(dim)
    return tuple(out)


def normalize_axis(call: Call, axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in [0, rank); negative axes count from the end. A rank-0 operand has no axis."""
    if not -rank <= axis < rank:
        raise call.error(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def normalize_axes(call: Call, axes: Sequence[int] | None, rank: int, what: str = "axes") -> tuple[int, ...]:
    """Distinct axes in [0, rank) (None: all of them)."""
    if axes is None:
        return tuple(range(rank))
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise call.error(f"{what} contains {a}, out of range for rank {rank}")
        a %= rank
        if a in out:
            raise call.error(f"{what} contains axis {a} twice")
        out.append(a)
    return tuple(out)


def dims_product(dims: Sequence[Dim]) -> int | None:
    """The number of elements, or None when a dim is symbolic."""
    n = 1
    for d in dims:
        if isinstance(d, str):
            return None
        n *= d
    return n


def static_count(call: Call, dim: Dim | None, what: str) -> int:
    """A dim a tolerance depends on; symbolic ones must be bound first (``Graph.specialize``)."""
    if not isinstance(dim, int):
        raise call.error(f"the tolerance depends on {what}, which is symbolic here; specialize the graph first")
    return dim


def same_dims(a: Dim, b: Dim) -> bool:
    """Dims that can be equal: the same, or either symbolic (checked when bound)."""
    return a == b or isinstance(a, str) or isinstance(b, str)
