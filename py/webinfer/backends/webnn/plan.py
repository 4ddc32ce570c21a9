"""A recorded WebNN graph: the MLGraphBuilder calls to make, as plain data.

Python plans, JS executes: the lowerings call :class:`PlanBuilder` methods, which record each
``MLGraphBuilder`` call (method name, arguments, options) instead of making it. The finished
:class:`Plan` is a JSON-able dict that ``runtime.mjs`` replays in one call, in the page or in a
module written by ``webinfer export-js``. Operands in arguments are ``{"$": id}``; non-finite
numbers are ``{"$num": "Infinity"}`` (JSON has no spelling for them).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendError
from ...ir.dtypes import dtype_info
from ...ir.operand import OperandDesc, fmt_shape

INLINE_LIMIT = 4096  # constants up to this many bytes travel inside the plan (base64)


@dataclass(frozen=True)
class PlanOperand:
    """One MLOperand in the plan: its id and its (static, possibly int64-narrowed) descriptor."""

    id: int
    desc: OperandDesc

    @property
    def dtype(self) -> str:
        return self.desc.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.desc.shape  # type: ignore[return-value]

    @property
    def rank(self) -> int:
        return self.desc.rank


@dataclass
class PlanConstant:
    """A constant operand: where its bytes come from (a graph constant by name, or inline bytes)."""

    id: int
    desc: OperandDesc
    name: str
    data: bytes | None = None  # inline bytes (decomposition scalars, narrowed int64 constants)
    key: str | None = None  # the graph constant's name when the bytes come from the graph
    source: dict[str, Any] | None = None  # the format layer's {file, key} reference, for export-js


@dataclass
class Plan:
    """Everything runtime.mjs needs to build and run one MLGraph (plus the constants' bytes)."""

    inputs: list[tuple[str, PlanOperand]] = field(default_factory=list)
    constants: list[PlanConstant] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[tuple[str, PlanOperand]] = field(default_factory=list)
    narrowed: dict[str, str] = field(default_factory=dict)  # operand -> why int64 became int32
    how: dict[str, str] = field(default_factory=dict)  # node -> "gelu" | "decomposed: ..." (for info())
    layout: dict[str, Any] | None = None  # what the layout pass did (None: the graph's layouts as they are)
    #: the planned graph's constants by name (``PlanConstant.key``): the layout pass adds re-laid ones
    graph_constants: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, constant_ref: Any = None) -> dict[str, Any]:
        """The plan as JSON-able data; ``constant_ref(c)`` says how JS finds a graph constant's bytes."""
        import base64

        consts = []
        for c in self.constants:
            entry: dict[str, Any] = {"id": c.id, "name": c.name, **_desc_json(c.desc)}
            if c.data is not None:
                entry["inline"] = base64.b64encode(c.data).decode("ascii")
            else:
                entry["ref"] = constant_ref(c) if constant_ref is not None else c.key
            consts.append(entry)
        return {
            "format": "webinfer-webnn-plan",
            "version": 1,
            "inputs": [{"name": n, "id": o.id, **_desc_json(o.desc)} for n, o in self.inputs],
            "constants": consts,
            "ops": self.ops,
            "outputs": [{"name": n, "id": o.id, **_desc_json(o.desc)} for n, o in self.outputs],
        }

    def stats(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op["op"]] = counts.get(op["op"], 0) + 1
        return {
            "webnn_calls": len(self.ops),
            "transposes": counts.get("transpose", 0),
            "calls_by_op": dict(sorted(counts.items())),
            "constants": len(self.constants),
            "constant_bytes": sum(c.desc.byte_length for c in self.constants),
            "inline_constant_bytes": sum(len(c.data) for c in self.constants if c.data is not None),
        }


def _desc_json(desc: OperandDesc) -> dict[str, Any]:
    return {"dataType": desc.dtype, "shape": list(desc.shape)}


def encode(value: Any) -> Any:
    """Arguments as plan data: operands become ``{"$": id}``, non-finite floats ``{"$num": ...}``."""
    if isinstance(value, PlanOperand):
        return {"$": value.id}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items() if v is not None}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$num": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    return value


class PlanBuilder:
    """Records MLGraphBuilder calls; the lowerings use it as they would use the real builder."""

    def __init__(self, narrow_int64: bool = False, features: dict[str, str | None] | None = None) -> None:
        self.plan = Plan()
        self.narrow_int64 = narrow_int64
        self.features: dict[str, str | None] = dict(features or {})  # probed feature -> why not (None: works)
        self.node = ""  # the graph node being lowered (named in the plan, for JS error messages)
        self._next = 0

    def _new(self, desc: OperandDesc) -> PlanOperand:
        if not desc.is_static:
            raise BackendError(f"webnn: operand {desc} has symbolic dims; bind them before building")
        op = PlanOperand(self._next, self.dtype_of(desc))
        self._next += 1
        return op

    def dtype_of(self, desc: OperandDesc) -> OperandDesc:
        """The descriptor as the context holds it (int64 narrowed to int32 when it has no int64)."""
        if self.narrow_int64 and desc.dtype == "int64":
            return OperandDesc("int32", desc.shape)
        return desc

    # -- leaves ------------------------------------------------------------------------------------
    def input(self, name: str, desc: OperandDesc) -> PlanOperand:
        op = self._new(desc)
        self.plan.inputs.append((name, op))
        if op.desc != desc:
            self.plan.narrowed[name] = "graph input int64 -> int32 (range-checked at run)"
        return op

    def constant(self, name: str, desc: OperandDesc, data: bytes | None = None, *, key: str | None = None,
                 source: dict[str, Any] | None = None) -> PlanOperand:
        """A constant: inline ``data`` or the graph constant ``key`` (its bytes travel separately)."""
        op = self._new(desc)
        if op.desc != desc:  # int64 constant on a context without int64: narrow the bytes now
            if data is None:
                raise BackendError(f"webnn: constant {name!r} ({desc}) needs narrowing; pass its bytes")
            data = narrow_int64_bytes(data, f"constant {name!r}")
            key, source = None, None
            self.plan.narrowed[name] = "constant int64 -> int32 (values checked)"
        self.plan.constants.append(PlanConstant(op.id, op.desc, name, data, key, source))
        return op

    def scalar(self, value: float, dtype: str, shape: Sequence[int] = ()) -> PlanOperand:
        """A small constant filled with ``value`` (decomposition helpers: 0.5, epsilon, ...)."""
        info = dtype_info(dtype)
        n = math.prod(shape)
        v = value if info.is_float else int(value)
        data = struct.pack(f"<{n}{info.struct_code}", *([v] * n))
        return self.constant(f"{self.node or 'scalar'}/const{self._next}", OperandDesc(dtype, tuple(shape)), data)

    # -- ops ---------------------------------------------------------------------------------------
    def call(self, op: str, args: Sequence[Any], out: OperandDesc | Sequence[OperandDesc],
             options: dict[str, Any] | None = None) -> PlanOperand:
        """Record ``builder[op](...args, options)`` with one output of ``out``."""
        outs = self.call_multi(op, args, [out] if isinstance(out, OperandDesc) else list(out), options)
        return outs[0]

    def call_multi(self, op: str, args: Sequence[Any], outs: Sequence[OperandDesc],
                   options: dict[str, Any] | None = None) -> list[PlanOperand]:
        """Record a call with several outputs (``split``); the JS side unpacks the returned array."""
        results = [self._new(d) for d in outs]
        record: dict[str, Any] = {"node": self.node, "op": op, "args": encode(list(args)),
                                  "outs": [r.id for r in results]}
        if options:
            opts = encode(options)
            if opts:
                record["options"] = opts
        if len(results) > 1 or op == "split":
            record["multi"] = True
        self.plan.ops.append(record)
        return results

    def output(self, name: str, operand: PlanOperand) -> None:
        self.plan.outputs.append((name, operand))


def narrow_int64_bytes(data: bytes | memoryview, where: str) -> bytes:
    """int64 little-endian bytes as int32, refusing values that do not fit (never wrapping)."""
    import array

    wide = array.array("q")
    wide.frombytes(bytes(data))
    if wide:
        lo, hi = min(wide), max(wide)
        if lo < -(2**31) or hi > 2**31 - 1:
            bad = lo if lo < -(2**31) else hi
            raise BackendError(
                f"webnn: {where} holds {bad}, which does not fit int32; this context has no int64, "
                "so int64 values are narrowed to int32 and must lie in [-2147483648, 2147483647]"
            )
    return array.array("i", wide).tobytes()


def widen_int32_bytes(data: bytes | memoryview) -> bytes:
    """int32 little-endian bytes as int64 (an output narrowed for the context, given back as declared)."""
    import array

    narrow = array.array("i")
    narrow.frombytes(bytes(data))
    return array.array("q", narrow).tobytes()


def describe(op: PlanOperand) -> str:
    return f"%{op.id}:{op.desc.dtype}{fmt_shape(op.desc.shape)}"


__all__ = ["Plan", "PlanBuilder", "PlanConstant", "PlanOperand", "encode", "narrow_int64_bytes", "widen_int32_bytes"]
