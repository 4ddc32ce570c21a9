"""The planner: a static graph in, a complete WebGPU plan out — all in Python, at compile time.

It walks the nodes in topological order. Elementwise nodes become lazy expression trees that fuse
into their single consumer (chains into one kernel; bias + activation into a matmul or conv
epilogue); reshape, transpose, slice, expand and split become views; other ops become kernel steps.
A lazy value is materialized only when it must be (a second consumer, a different shape, a graph
output, a kernel input is fine as a view). Then the memory plan assigns buffers by liveness, every
step is rendered to WGSL with its uniforms, and the adapter's limits are checked — here, not at
dispatch. The result is one JSON-able description the JS executor builds everything from.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendError, UnsupportedError
from ...ir.graph import Graph, Node
from ...ir.operand import OperandDesc, fmt_shape
from ..contract import NodeDescs, no_entry_reason
from .expr import Acc, Const, Expr, Load, Op, has_acc, values, walk
from .kernels import KERNELS, PROGRAMS, elementwise_program
from .memory import Buffer, plan_memory
from .program import Program
from .step import Step
from .views import PACKED, Value, View

UNIFORM_ALIGN = 256
_EXACT_WIDENING = {("float16", "float32"), ("float32", "float32"), ("float16", "float16")}

DEFAULT_LIMITS = {
    "maxStorageBufferBindingSize": 134217728,
    "maxBufferSize": 268435456,
    "maxStorageBuffersPerShaderStage": 8,
    "maxComputeWorkgroupsPerDimension": 65535,
    "maxComputeWorkgroupStorageSize": 16384,
    "maxComputeInvocationsPerWorkgroup": 256,
    "maxUniformBufferBindingSize": 65536,
}


@dataclass
class DeviceFacts:
    """What the planner needs to know about the device: its limits and whether f16 is native."""

    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    f16: bool = False  # compute float16 in f16 (shader-f16 present and asked for)
    tiling: str = "workgroup"  # matmul tiling: "workgroup" (GPUs) or "register" (CPU adapters, e.g. SwiftShader)


@dataclass
class Lazy:
    """A value not computed yet: an expression tree (maybe over a pending kernel's Acc)."""

    tree: Expr
    shape: tuple[int, ...]
    dtype: str
    step: Step | None = None


@dataclass
class Mat:
    """A value held in a buffer, seen through a view."""

    view: View


@dataclass
class ConstRef:
    """A graph constant not uploaded yet (scalars may end up as uniforms instead)."""

    name: str


Ref = Lazy | Mat | ConstRef


@dataclass
class IOSlot:
    """A graph input or output and the buffer it goes through."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    store: str
    value: Value
    nbytes: int  # bytes moved (before int64 widening)
    offset: int = 0  # outputs: where in the readback buffer


@dataclass
class Plan:
    """Everything the executor needs, plus what Python keeps to move data and report."""

    spec: dict[str, Any]  # JSON for the executor
    uniforms: bytes
    inputs: list[IOSlot]
    outputs: list[IOSlot]
    constants: list[tuple[int, str]]  # (buffer, constant name)
    stats: dict[str, Any]
    placement: dict[str, str]


def io_store(dtype: str, f16: bool) -> str:
    """How a graph input, constant or output of ``dtype`` sits in its GPU buffer."""
    try:
        return {"float32": "f32", "float16": "f16" if f16 else "p16", "int32": "i32", "uint32": "u32",
                "int64": "i32", "int8": "pi8", "uint8": "pu8", "int4": "pi4", "uint4": "pu4"}[dtype]
    except KeyError:
        raise UnsupportedError(
            f"webgpu: dtype {dtype} has no WGSL representation", reason=f"{dtype} not supported"
        ) from None


def compute_store(dtype: str, f16: bool) -> str:
    """How an intermediate of ``dtype`` is stored (unpacked: one WGSL scalar per element)."""
    s = io_store(dtype, f16)
    return {"p16": "f32", "pi8": "i32", "pu8": "u32", "pi4": "i32", "pu4": "u32"}.get(s, s)


def check_graph(graph: Graph, limits: dict[str, int] | None = None) -> None:
    """Raise one UnsupportedError naming every node WebGPU cannot run and why (before any GPU work)."""
    problems = []
    for node in graph.nodes:
        kern = KERNELS.get(node.op)
        reason = no_entry_reason("webgpu", node.op) if kern is None else kern.supports(
            node, NodeDescs.of(graph, node), limits)
        if reason is not None:
            problems.append((node, reason))
    if len(problems) == 1:
        node, reason = problems[0]
        raise UnsupportedError(f"webgpu: cannot run {node.label}: {reason}", node=node.name, reason=reason)
    if problems:
        lines = "\n".join(f"  - {n.label}: {r}" for n, r in problems)
        raise UnsupportedError(f"webgpu: cannot run {len(problems)} nodes of the graph (backend='hybrid' places "
                               f"them on WebNN where it can):\n{lines}", node=problems[0][0].name,
                               reason=problems[0][1])


class Planner:
    """Builds a Plan for one static graph (see the module docstring)."""

    def __init__(self, graph: Graph, facts: DeviceFacts, constant_bytes: Callable[[str], bytes | memoryview]) -> None:
        if not graph.is_static:
            raise BackendError("webgpu: the planner needs a static graph; specialize its dims first")
        self.graph = graph
        self.facts = facts
        self.f16 = facts.f16
        self.limits = facts.limits
        self.constant_bytes = constant_bytes
        self.values: list[Value] = []
        self.steps: list[Step] = []
        self.env: dict[str, Ref] = {}
        self.uses: dict[str, int] = {}
        self.graph_outputs = set(graph.outputs.values())
        self.const_values: dict[str, Value] = {}
        self.node_of: dict[str, Node] = {o: n for n in graph.nodes for o in n.outputs}
        self.graph_node: dict[str, Node] = {n.name: n for n in graph.nodes}
        for n in graph.nodes:
            for i in n.inputs:
                if i is not None:
                    self.uses[i] = self.uses.get(i, 0) + 1
        for o in self.graph_outputs:
            self.uses[o] = self.uses.get(o, 0) + 1
        self.max_bindings = int(self.limits.get("maxStorageBuffersPerShaderStage", 8))

    # -- values ------------------------------------------------------------------------------------
    def new_value(self, dtype: str, size: int, kind: str, name: str, store: str | None = None) -> Value:
        v = Value(len(self.values), dtype, store or compute_store(dtype, self.f16), size, kind, name)
        limit = int(self.limits["maxStorageBufferBindingSize"])
        if v.nbytes > min(limit, int(self.limits.get("maxBufferSize", limit))):
            what = self.node_of[name].label if name in self.node_of else f"{kind} {name!r}"
            raise BackendError(
                f"webgpu: {what}: {name!r} needs {v.nbytes} bytes, more than this adapter's "
                f"maxStorageBufferBindingSize ({limit}); it cannot be bound in one buffer"
            )
        self.values.append(v)
        return v

    def desc(self, operand: str) -> OperandDesc:
        return self.graph.operands[operand]

    def shape(self, operand: str) -> tuple[int, ...]:
        """The operand's shape (the graph is static, so every dim is an int)."""
        return tuple(int(d) for d in self.graph.operands[operand].shape)

    # -- the API lowerings use ---------------------------------------------------------------------
    def view(self, operand: str) -> View:
        """The operand as a view over a buffer (materializing a lazy value, uploading a constant)."""
        ref = self.env[operand]
        if isinstance(ref, Mat):
            return ref.view
        if isinstance(ref, ConstRef):
            desc = self.desc(operand)
            v = self.new_value(desc.dtype, desc.size, "const", operand, io_store(desc.dtype, self.f16))
            self.const_values[operand] = v
            view = View.dense(v, self.shape(operand))
            self.env[operand] = Mat(view)
            return view
        return self.materialize(operand)

    def source_view(self, operand: str) -> View:
        """``view``, but an exact widening cast of a stored value (float16 -> float32, a constant's usual
        wrapping) is read from the stored value itself: the loader widens, nothing is materialized."""
        ref = self.env[operand]
        if isinstance(ref, Lazy) and ref.step is None and isinstance(ref.tree, Op) and len(ref.tree.args) == 1:
            op, arg = ref.tree, ref.tree.args[0]
            exact = op.op == "identity" or (op.op == "cast" and (arg.dtype, op.dtype) in _EXACT_WIDENING)
            if exact and isinstance(arg, Load) and arg.dtype == arg.view.value.dtype:
                return arg.view
        return self.view(operand)

    def dense(self, operand: str) -> View:
        """The operand as a dense (row-major, offset 0) view, copying if it is strided."""
        v = self.view(operand)
        if v.is_dense:
            return v
        desc, shape = self.desc(operand), self.shape(operand)
        out = View.dense(self.new_value(desc.dtype, desc.size, "temp", operand), shape)
        self.emit(Step("elementwise", "", [], shape, desc.dtype, tree=Load(v, desc.dtype), out=out))
        return out

    def set_view(self, operand: str, view: View) -> None:
        self.env[operand] = Mat(view)

    def set_lazy(self, operand: str, tree: Expr, shape: tuple[int, ...], dtype: str, step: Step | None) -> None:
        self.env[operand] = Lazy(tree, tuple(shape), dtype, step)

    def kernel(self, node: Node, family: str, inputs: list[View], shape: tuple[int, ...], dtype: str,
               params: dict[str, Any], lazy: bool = True) -> Step:
        """A kernel step for ``node``; its value stays lazy so an epilogue can fuse into it."""
        step = Step(family, node.name, inputs, tuple(shape), dtype, params)
        if lazy:
            self.set_lazy(node.outputs[0], Acc(dtype), shape, dtype, step)
        return step

    def elementwise(self, node: Node, inputs: list[str | None], build: Callable[[list[Expr]], Expr]) -> None:
        """Build ``node``'s tree from its inputs' trees, inlining single-use lazy producers of the same shape."""
        desc, shape = self.desc(node.outputs[0]), self.shape(node.outputs[0])
        names = [i for i in inputs if i is not None]
        inline = [self._can_inline(i, shape) for i in names]
        # at most one kernel (Acc) per tree: keep the first, materialize the others
        seen_step = False
        for k, name in enumerate(names):
            ref = self.env[name]
            if inline[k] and isinstance(ref, Lazy) and ref.step is not None:
                if seen_step:
                    inline[k] = False
                seen_step = True
        while True:
            args = [self._arg(name, shape, inl) for name, inl in zip(names, inline)]
            tree = build(args)
            step = self._inlined_step(names, inline)
            reads = values(tree)
            if step is not None:
                reads += [v.value for v in step.inputs if not any(v.value is r for r in reads)]
            if len(reads) + 1 <= self.max_bindings or not any(inline):
                break
            # over the adapter's storage-buffer limit: materialize the biggest inlined producer
            k = max((k for k in range(len(names)) if inline[k]),
                    key=lambda k: len(values(self.env[names[k]].tree)))  # type: ignore[union-attr]
            inline[k] = False
        if len(reads) + 1 > self.max_bindings:
            raise BackendError(
                f"webgpu: {node.label} reads {len(reads)} buffers; with its output that exceeds this adapter's "
                f"maxStorageBuffersPerShaderStage ({self.max_bindings})"
            )
        self.set_lazy(node.outputs[0], tree, shape, desc.dtype, step)

    def _inlined_step(self, names: list[str], inline: list[bool]) -> Step | None:
        """The kernel step of the first inlined lazy producer (a tree holds at most one), if any."""
        for name, inl in zip(names, inline):
            ref = self.env[name]
            if inl and isinstance(ref, Lazy) and ref.step is not None:
                return ref.step
        return None

    def _can_inline(self, operand: str, shape: tuple[int, ...]) -> bool:
        ref = self.env[operand]
        return (isinstance(ref, Lazy) and self.uses.get(operand, 0) == 1 and operand not in self.graph_outputs
                and ref.shape == tuple(shape))

    def _arg(self, operand: str, shape: tuple[int, ...], inline: bool) -> Expr:
        ref = self.env[operand]
        desc = self.desc(operand)
        if inline and isinstance(ref, Lazy):
            return ref.tree
        if isinstance(ref, ConstRef) and desc.size == 1:
            return Const(self._scalar(operand), desc.dtype)
        return Load(self.view(operand).broadcast_to(shape), desc.dtype)

    def _scalar(self, name: str) -> float:
        desc = self.desc(name)
        if desc.dtype in ("int4", "uint4"):
            nib = bytes(self.constant_bytes(name))[0] & 15
            return nib - 16 if desc.dtype == "int4" and nib >= 8 else nib
        code = {"float32": "f", "float16": "e", "int32": "i", "uint32": "I", "int64": "q", "int8": "b",
                "uint8": "B", "uint64": "Q"}[desc.dtype]
        return struct.unpack("<" + code, bytes(self.constant_bytes(name)))[0]

    def concat(self, node: Node) -> None:
        """Allocate the output once; each input is computed (or copied) straight into its window."""
        desc, shape = self.desc(node.outputs[0]), self.shape(node.outputs[0])
        axis = node.attributes["axis"] % len(shape)
        out = View.dense(self.new_value(desc.dtype, desc.size, "temp", node.outputs[0]), shape)
        start = 0
        for name in node.inputs:
            assert name is not None
            part = self.shape(name)
            starts = [start if d == axis else 0 for d in range(len(shape))]
            start += part[axis]
            if math.prod(part) == 0:
                continue
            window = out.slice(starts, part, (1,) * len(part))
            ref = self.env[name]
            if isinstance(ref, Lazy) and self._can_inline(name, part):
                self.materialize(name, dest=window, fused=node.name)
            else:
                src = self.view(name)
                self.emit(Step("elementwise", node.name, [], part, desc.dtype, tree=Load(src, desc.dtype),
                               out=window, fused=[node.name]))
        self.set_view(node.outputs[0], out)

    def scatter(self, node: Node) -> None:
        """scatter_nd: the output is the input with the updates written over it (see ``update_in_place``)."""
        x, idx, upd = node.inputs
        assert x is not None and idx is not None and upd is not None
        desc, shape = self.desc(node.outputs[0]), self.shape(node.outputs[0])
        xv = self.view(x)
        if self.update_in_place(x, node.outputs[0]):
            out = xv
            out.value.kind = "inout"
        else:
            out = View.dense(self.new_value(desc.dtype, desc.size, "temp", node.outputs[0]), shape)
            self.emit(Step("elementwise", node.name, [], shape, desc.dtype, tree=Load(xv, desc.dtype), out=out,
                           fused=[node.name]))
        iv, uv = self.view(idx), self.view(upd)
        self.emit(Step("scatter", node.name, [iv, uv], uv.shape, desc.dtype, {"depth": iv.shape[-1]}, out=out,
                       fused=[node.name]))
        self.set_view(node.outputs[0], out)

    def update_in_place(self, operand: str, result: str) -> bool:
        """Whether a kernel may write its result into ``operand``'s buffer: a graph input read by that kernel
        alone, held unpacked and densely, whose result is a graph output (and not the input itself). The plan's
        buffer is refilled from the caller's data every run, so the caller's tensor is never changed unless it
        donates its buffer (``run(..., donate=True)``): then the output is that buffer, updated in place."""
        ref = self.env.get(operand)
        if not isinstance(ref, Mat) or ref.view.value.kind != "input" or not ref.view.is_dense:
            return False
        return (self.uses.get(operand, 0) == 1 and operand not in self.graph_outputs and result in self.graph_outputs
                and ref.view.value.store not in PACKED and list(self.graph.outputs.values()).count(result) == 1)

    # -- materialization -----------------------------------------------------------------------------
    def materialize(self, operand: str, dest: View | None = None, fused: str = "") -> View:
        """Compute a lazy value into ``dest`` (or a new dense buffer); emits its kernel step."""
        ref = self.env[operand]
        assert isinstance(ref, Lazy), ref
        if isinstance(ref.tree, Load) and dest is None:
            self.env[operand] = Mat(ref.tree.view)
            return ref.tree.view
        if dest is None:
            dest = View.dense(self.new_value(ref.dtype, math.prod(ref.shape), "temp", operand), ref.shape)
        if ref.step is not None:
            step = ref.step
            step.tree = ref.tree if not isinstance(ref.tree, Acc) else None
            step.out = dest
        else:
            step = Step("elementwise", "", [], ref.shape, ref.dtype, tree=ref.tree, out=dest)
        step.fused = _fused_names(step, fused)
        self.emit(step)
        if dest.is_dense and dest.shape == ref.shape:
            self.env[operand] = Mat(dest)
        return dest

    def emit(self, step: Step) -> None:
        index = len(self.steps)
        if not step.fused:
            step.fused = _fused_names(step, "")
        self.steps.append(step)
        for v in step.reads():
            v.readers.append(index)
        assert step.out is not None
        step.out.value.writers.append(index)

    # -- the whole graph -------------------------------------------------------------------------------
    def plan(self) -> Plan:
        g = self.graph
        inputs: list[IOSlot] = []
        for name, desc in g.inputs.items():
            store = io_store(desc.dtype, self.f16)
            v = self.new_value(desc.dtype, desc.size, "input", name, store)
            self.env[name] = Mat(View.dense(v, self.shape(name)))
            inputs.append(IOSlot(name, desc.dtype, self.shape(name), store, v, v.nbytes))
        for name in g.constants:
            self.env[name] = ConstRef(name)
        for node in g.nodes:
            kern = KERNELS.get(node.op)
            reason = (no_entry_reason("webgpu", node.op) if kern is None
                      else kern.supports(node, NodeDescs.of(g, node), self.limits))
            if reason is not None:
                raise UnsupportedError(f"webgpu: cannot run {node.label}: {reason}", node=node.name, reason=reason)
            assert kern is not None
            try:
                kern.lower(self, node)
            except (BackendError, UnsupportedError):
                raise
            except Exception as e:  # a planner bug: say which node
                raise BackendError(f"webgpu: planning {node.label} failed: {type(e).__name__}: {e}") from e
        outputs = self._outputs()
        for s in self.steps:  # drop work on empty tensors
            s.params.setdefault("empty", math.prod(s.shape) == 0)
        buffers = plan_memory(self.values, len(self.steps))
        return self._render(buffers, inputs, outputs)

    def _kind(self, step: Step) -> str:
        """What a dispatch computes, without node names: its kernel (variant) and the ops fused into it
        (``conv2d 1×1+clamp``, ``matmul+add+gelu``, ``elementwise(mul+add)``) — how profiles group dispatches."""
        node = self.graph_node.get(step.node)
        head = str(step.params.get("variant") or (node.op if node else step.kernel))
        ops = [self.graph_node[n].op for n in step.fused if n != step.node and n in self.graph_node]
        if step.kernel == "elementwise":
            return f"elementwise({'+'.join(ops) or 'copy'})"
        return "+".join([head, *ops])

    def _outputs(self) -> list[IOSlot]:
        slots: list[IOSlot] = []
        done: dict[str, IOSlot] = {}
        for out_name, operand in self.graph.outputs.items():
            desc, shape = self.desc(operand), self.shape(operand)
            if operand in done:
                first = done[operand]
                slots.append(IOSlot(out_name, first.dtype, first.shape, first.store, first.value, first.nbytes))
                continue
            ref = self.env[operand]
            if isinstance(ref, Lazy):
                view = self.materialize(operand)
            else:
                view = self.view(operand)
            if view.is_dense and view.value.kind == "temp" and view.shape == shape:
                view.value.kind = "output"
            elif view.is_dense and view.value.kind == "inout" and view.shape == shape:
                pass  # updated in place: the output is the input's buffer
            else:
                out = View.dense(self.new_value(desc.dtype, desc.size, "output", operand), shape)
                self.emit(Step("elementwise", "", [], shape, desc.dtype, tree=Load(view, desc.dtype), out=out,
                               fused=[f"output {out_name}"]))
                view = out
            store = io_store(desc.dtype, self.f16)
            value = view.value
            if store in PACKED:
                value.kind = "temp"
                raw = self.new_value(desc.dtype, desc.size, "raw_out", operand, store)
                self.emit(Step("pack", "", [view], shape, desc.dtype, out=View.dense(raw, shape),
                               fused=[f"output {out_name}"]))
                value = raw
            slot = IOSlot(out_name, desc.dtype, shape, store, value, value.nbytes)
            done[operand] = slot
            slots.append(slot)
        return slots

    # -- rendering -------------------------------------------------------------------------------------
    def _render(self, buffers: list[Buffer], inputs: list[IOSlot], outputs: list[IOSlot]) -> Plan:
        uniforms = bytearray()
        pipelines: dict[str, int] = {}
        pipeline_specs: list[dict[str, Any]] = []
        dispatches: list[dict[str, Any]] = []
        placement: dict[str, str] = {}
        for step in self.steps:
            if step.params.get("empty"):
                continue
            prog = Program(step.label, self.facts.tiling)
            if step.kernel == "elementwise":
                assert step.out is not None and step.tree is not None
                code, grid = elementwise_program(prog, step.out, step.shape, step.tree, self.f16)
            else:
                code, grid = PROGRAMS[step.kernel](prog, step, self.f16)
            if len(prog.bindings) > self.max_bindings:
                raise BackendError(
                    f"webgpu: {step.label}: {len(prog.bindings)} storage buffers exceed this adapter's "
                    f"maxStorageBuffersPerShaderStage ({self.max_bindings})"
                )
            n_vec4 = max(1, -(-len(prog.words) // 4))  # the WGSL declares array<vec4<u32>, n_vec4>
            words = prog.words + [0] * (4 * n_vec4 - len(prog.words))
            offset = len(uniforms)
            uniforms += struct.pack(f"<{len(words)}I", *words)
            uniforms += bytes(-len(uniforms) % UNIFORM_ALIGN)
            if code not in pipelines:
                pipelines[code] = len(pipeline_specs)
                pipeline_specs.append({"code": code, "label": step.label})
            index = len(dispatches)
            dispatches.append({
                "pipeline": pipelines[code],
                "label": step.label,
                "kind": self._kind(step),
                "uniform": [offset, 4 * len(words)],
                "bindings": [v.buffer for v, _ in prog.bindings],
                "grid": list(grid),
            })
            for name in step.fused:
                if not name.startswith("output "):
                    placement[name] = f"webgpu: dispatch {index} ({step.kernel}" + (
                        f", fused: {step.label})" if len(step.fused) > 1 else ")")
        for node in self.graph.nodes:
            fam = KERNELS[node.op].family
            if node.name not in placement:
                placement[node.name] = _UNDISPATCHED.get(fam, "webgpu: fused")
        if not uniforms:
            uniforms = bytearray(16)
        offset = 0
        for slot in outputs:
            slot.offset = offset
            offset += -(-slot.nbytes // 8) * 8
        const_slots = [(v.buffer, name) for name, v in self.const_values.items()]
        const_name = {v.buffer: name for name, v in self.const_values.items()}
        in_slot = {s.value.buffer: i for i, s in enumerate(inputs)}
        out_slot = {s.value.buffer: i for i, s in enumerate(outputs)}
        spec = {
            "buffers": [{"size": b.size, "kind": b.kind, **({"name": const_name[b.index]} if b.kind == "const" else {})}
                        for b in buffers],
            "pipelines": pipeline_specs,
            "dispatches": dispatches,
            # an input updated in place names the output that shares its buffer (and the reverse)
            "inputs": [{"buffer": s.value.buffer, "bytes": s.nbytes,
                        **({"output": out_slot[s.value.buffer]} if s.value.kind == "inout" else {})} for s in inputs],
            "outputs": [{"buffer": s.value.buffer, "bytes": s.nbytes, "offset": s.offset,
                         **({"input": in_slot[s.value.buffer]} if s.value.kind == "inout" else {})} for s in outputs],
            "staging": max(offset, 8),
        }
        pool = [b for b in buffers if b.kind == "pool"]
        fused_groups = [str(d["label"]) for d in dispatches if "+" in str(d["label"])]
        stats = {
            "dispatches": len(dispatches),
            "pipelines": len(pipeline_specs),
            "fused_groups": len(fused_groups),
            "fused": fused_groups,
            "buffers": len(buffers),
            "values": len(self.values),
            "pool_buffers": len(pool),
            "pool_bytes": sum(b.size for b in pool),
            "constant_bytes": sum(b.size for b in buffers if b.kind == "const"),
            "peak_bytes": sum(b.size for b in buffers) + max(offset, 8) + len(uniforms),
            "uniform_bytes": len(uniforms),
            "unpooled_bytes": sum(-(-v.nbytes // 16) * 16 for v in self.values if v.kind not in ("const", "virtual")),
            "inout_bytes": sum(b.size for b in buffers if b.kind == "inout"),
            "in_place": [s.name for s in inputs if s.value.kind == "inout"],
        }
        return Plan(spec, bytes(uniforms), inputs, outputs, const_slots, stats, placement)


_UNDISPATCHED = {"view": "webgpu: view (no copy)",
                 "dequantize": "webgpu: dequantized where read (the quantized blocks stay packed on the device)"}


def _fused_names(step: Step, extra: str) -> list[str]:
    names = [step.node] if step.node else []
    for n in walk(step.tree) if step.tree is not None else []:
        if isinstance(n, Op) and n.node and n.node not in names:
            names.append(n.node)
    if extra and extra not in names:
        names.append(extra)
    return names


__all__ = ["DeviceFacts", "Plan", "Planner", "check_graph", "IOSlot", "io_store", "compute_store", "fmt_shape",
           "has_acc"]
