"""``backend="webnn"``: build one MLGraph per concrete shape set, run it with MLTensors made once.

Compile checks every node against the context's ``opSupportLimits()`` (an :class:`UnsupportedError`
names each node the context cannot run, before any WebNN call), plans the MLGraphBuilder calls in
Python and hands the plan to ``runtime.mjs`` in one call, which builds the graph and makes the input
and output tensors. A run is one JS call (write inputs, dispatch, read outputs) plus one JSPI wait.

Values computed from constants alone that grow from them (dequantized weights) are folded: computed once at
compile on the device and bound as inputs of every graph (``fold.py``). ``run(inputs, keep_on_device=True)``
leaves the outputs in MLTensors (``Tensor.on_device``; read on ``.tobytes()``), which later runs of this
session, or of a sibling on the same context (``compile_sibling``), take as inputs without a copy.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ... import ffi
from ...errors import BackendError, InputError, WebinferError
from ...ir.graph import Graph
from ...tensor import Tensor
from ..layout import resolve as resolve_layout
from ..session import Session, check_options
from .context import ContextReport, ContextRequest, limits_from_json
from .fold import Folding, fold_constants
from .limits import Limits
from .plan import Plan, narrow_int64_bytes, uint4_as_int4, widen_int32_bytes
from .planner import Checker, Support, plan_graph, unsupported_error

OPTIONS = ("device", "power_preference", "accelerated", "gpu_device", "context", "decompose", "bindings", "layout",
           "fold")


_PROBED: dict[tuple[str, str], dict[str, str | None]] = {}  # (options, limits) -> probed features


def runtime() -> Any:
    """The runtime.mjs module in the page (loaded once from the wheel)."""
    source = resources.files(__package__).joinpath("runtime.mjs").read_text(encoding="utf-8")
    return ffi.import_module(source, "webinfer.webnn.runtime")


class WebNNContext:
    """An MLContext with its limits and the report of how it was made; shared by hybrid islands."""

    def __init__(self, handle: Any, report: ContextReport, owned: bool = True, gpu_device: Any = None,
                 owns_device: bool = False) -> None:
        self.handle = handle
        self.report = report
        self.limits: Limits = report.limits
        self.owned = owned
        self.gpu_device = gpu_device
        self.owns_device = owns_device  # the GPUDevice was requested for this context alone
        self.destroyed = False

    @classmethod
    def open(cls, device: str | None = None, power_preference: str | None = None,
             accelerated: bool | None = None, gpu_device: Any = None) -> WebNNContext:
        """Create a context: from ``gpu_device`` (a GPUDevice, or True for a fresh one) or from options."""
        t0 = time.perf_counter()
        request = ContextRequest(device, power_preference, accelerated,
                                 gpu_device is not None and gpu_device is not False)
        rt = runtime()
        own_device = gpu_device is True
        if request.gpu_device:
            if own_device:
                gpu_device = ffi.run_sync(rt.requestGPUDevice())
            arg: Any = gpu_device
            sent: Any = "GPUDevice"
        else:
            sent = request.options()
            arg = ffi.to_js(sent)
        try:
            handle = ffi.run_sync(rt.createContext(arg))
        except Exception as e:  # the browser's own words (NotSupportedError, ...)
            shown = json.dumps(sent) if isinstance(sent, dict) else sent
            raise BackendError(f"webnn: createContext({shown}) failed: {e}") from None
        limits = limits_from_json(str(rt.limitsJSON(handle)))
        key = (json.dumps(sent, sort_keys=True) if isinstance(sent, dict) else str(sent), limits.fingerprint())
        if key not in _PROBED:  # behaviour probes: once per page for each kind of context
            _PROBED[key] = json.loads(str(ffi.run_sync(rt.probeFeatures(handle))))
        limits.features.update(_PROBED[key])
        cpu_equal: bool | None = None
        if request.gpu_device or request.device not in (None, "cpu") or request.accelerated:
            cpu_text = ffi.run_sync(rt.limitsFor(ffi.to_js({"deviceType": "cpu", "accelerated": False})))
            if cpu_text is not None:
                cpu_equal = limits_from_json(str(cpu_text)).fingerprint() == limits.fingerprint()
        accelerated_attr = rt.contextAccelerated(handle)
        accelerated_now = None if accelerated_attr is None else bool(accelerated_attr)
        report = ContextReport(request, sent, accelerated_now, limits, cpu_equal,
                               {"open_ms": round((time.perf_counter() - t0) * 1e3, 3)})
        return cls(handle, report, owned=True, gpu_device=gpu_device if request.gpu_device else None,
                   owns_device=own_device)

    def lost(self) -> str | None:
        """Why the context was lost (``MLContext.lost`` settled), or None while it is usable."""
        return str(runtime().contextLost(self.handle)) or None

    def destroy(self) -> None:
        """Destroy the context (and a GPUDevice requested for it alone); shared ones are left alone."""
        if self.owned and not self.destroyed:
            self.destroyed = True
            runtime().destroyContext(self.handle)
            if self.owns_device and self.gpu_device is not None:
                self.gpu_device.destroy()


@dataclass
class _Built:
    """One built graph: its plan, the JS executor and the timings of building it."""

    plan: Plan
    executor: Any
    build_ms: float
    plan_ms: float
    graph: Graph
    runs: int = 0


class MLStorage:
    """A device-resident tensor's data: an MLTensor of the session's context (``run(..., keep_on_device=True)``).

    ``read()`` reads it back (counted in the session's ``readback_bytes``); ``release()`` gives the MLTensor
    back to the context's pool, where later runs take their outputs from.
    """

    backend = "webnn"

    def __init__(self, session: WebNNSession, tensor: Any, held: str, declared: str, nbytes: int) -> None:
        self.context = session.context
        self.device = session.context.report.device_label()
        self.tensor = tensor
        self.held, self.declared, self.nbytes = held, declared, nbytes  # dtype on the device / of the Tensor
        self._stats = session.stats
        self._finalizer = weakref.finalize(self, _recycle, session.context, tensor)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def read(self) -> bytes:
        if not self._finalizer.alive:
            raise BackendError("webnn: this tensor's MLTensor was released")
        lost = self.context.lost()
        if lost:
            raise BackendError(f"webnn: the MLContext holding this tensor was lost ({lost})")
        try:
            raw = bytes(ffi.run_sync(runtime().readKept(self.context.handle, self.tensor)).to_bytes())
        except ffi.FFIError:
            raise
        except Exception as e:
            raise BackendError(f"webnn: reading a device tensor back failed: {e}") from None
        self._stats["readback_bytes"] += len(raw)
        return widen_int32_bytes(raw) if self.held != self.declared else raw

    def release(self) -> None:
        self._finalizer()


def _recycle(context: WebNNContext, tensor: Any) -> None:
    try:
        runtime().recycle(context.handle, tensor)
    except Exception:  # the page may be going away; nothing to free then
        pass


class WebNNSession(Session):
    """A graph compiled for a WebNN context."""

    backend = "webnn"

    def __init__(self, graph: Graph, **options: Any) -> None:
        check_options("webnn", options, OPTIONS)
        resolve_layout(options.get("layout"), None)  # a bad value fails here, before any WebNN call
        super().__init__(graph, **options)
        t0 = time.perf_counter()
        shared = options.get("context")
        if shared is not None:
            if not isinstance(shared, WebNNContext):
                raise BackendError(f"webnn: context= takes a WebNNContext, got {type(shared).__name__}")
            self.context = shared
        else:
            self.context = WebNNContext.open(options.get("device"), options.get("power_preference"),
                                             options.get("accelerated"), options.get("gpu_device"))
        self._rt = runtime()
        self._built: dict[tuple[tuple[str, int], ...], _Built] = {}
        self._values: dict[str, Any] = {}  # folded value -> its MLTensor (bound as an input of every graph)
        self._step_graphs: dict[tuple[tuple[str, int], ...], Graph] = {}
        self.folding: Folding | None = None
        self.stats.update(builds=0, builds_by_shape={}, runs_since_last_build=0, upload_bytes=0, readback_bytes=0,
                          device_inputs=0, kept_outputs=0, fold_ms=None)
        try:
            self.checker = Checker(self.context.limits, bool(options.get("decompose", True)))
            self.support: dict[str, Support] = self.checker.graph(graph)
            problems = [(f"node {s.node!r} ({s.op})", s.reason) for s in self.support.values() if s.reason]
            problems += self.checker.edges(graph)
            if problems:
                raise unsupported_error(problems)
            fold = options.get("fold", True)
            if fold not in (True, False):
                raise BackendError(f"webnn: fold must be True or False, got {fold!r}")
            self.folding = fold_constants(graph) if fold else None
            if self.folding is not None:
                self._fold(self.folding)
            if graph.is_static:
                self._build({})
            prebuild = options.get("bindings") or ()
            for bindings in [prebuild] if isinstance(prebuild, Mapping) else prebuild:  # dims to build for now
                self._build(dict(bindings))
        except BaseException:
            self._close()
            raise
        self.stats["compile_ms"] = (time.perf_counter() - t0) * 1e3

    # -- building ----------------------------------------------------------------------------------
    def _fold(self, folding: Folding) -> None:
        """Compute the folded values with the prologue graphs (each built, run once keeping its outputs on the
        device, then destroyed), dropping the constants' bytes after each: at most one chunk is in memory."""
        t0 = time.perf_counter()
        step_constants = list(folding.step.constants.values())
        for prologue in folding.prologues:
            # the step graph's own constants stored in the same files are read now too, while those files are at
            # hand (weights fetched from a URL are held one file at a time: webinfer.models.files)
            files = {c.source.get("file") for c in prologue.constants.values() if c.source}
            wanted = list(prologue.constants.values()) + [
                c for c in step_constants if c.source and c.source.get("file") in files]
            for const in sorted(wanted, key=lambda c: str((c.source or {}).get("file", ""))):  # file by file
                const.data()
            plan, _ = plan_graph(prologue, self.context.limits, bool(self.options.get("decompose", True)))
            executor = self._executor(plan, prologue)
            try:
                zeros = [ffi.to_js(memoryview(bytes(op.desc.byte_length))) for _, op in plan.inputs]  # fold.ZERO
                results = ffi.run_sync(executor.run(ffi.to_js(zeros), True))
                ffi.run_sync(self._rt.fence(self.context.handle))  # the dispatch ran: its graph may go now
            except ffi.FFIError:
                raise
            except Exception as e:
                raise self._failure(e, "folding the constant-only values", ffi.run_sync(
                    self._rt.lostReason(self.context.handle))) from None
            finally:
                executor.destroy()
            for (name, _), tensor in zip(plan.outputs, results):
                self._values[name] = tensor
            for const in prologue.constants.values():
                const.unload()
        self.stats["fold_ms"] = (time.perf_counter() - t0) * 1e3

    def _step_graph(self, bindings: Mapping[str, int]) -> Graph:
        """The graph the shape-specific MLGraphs are built from (folded values as inputs), with ``bindings``."""
        step = self.folding.step if self.folding is not None else self.graph
        if step is self.graph:
            return self.specialized(bindings)
        key = tuple(sorted(bindings.items()))
        got = self._step_graphs.get(key)
        if got is None:
            got = self._step_graphs[key] = step.specialize(dict(bindings)) if bindings else step
        return got

    def _executor(self, plan: Plan, graph: Graph) -> Any:
        """Hand ``plan`` to runtime.mjs (constants as zero-copy views of their bytes) and await the build."""
        keys = [c.key for c in plan.constants if c.key is not None]
        index = {k: i for i, k in enumerate(keys)}
        plan_json = json.dumps(plan.to_dict(constant_ref=lambda c: index[c.key]))
        # every constant's bytes first (lazy ones are read, re-laid ones made, here): a view of the wasm heap is
        # detached when the heap grows, so no allocation may come between making the views and using them
        datas = [plan.graph_constants[k].data() for k in keys]
        proxies, buffers, views = [], [], []
        try:
            for data in datas:  # zero-copy views of the constants' bytes; builder.constant copies them once
                proxy = ffi.create_proxy(data)
                proxies.append(proxy)
                buf = proxy.getBuffer("u8")
                buffers.append(buf)
                views.append(buf.data)
            promise = self._rt.Executor.create(self.context.handle, plan_json, ffi.to_js(views))
        finally:  # replay (and so every builder.constant copy) ran synchronously inside create()
            for buf in buffers:
                buf.release()
            for proxy in proxies:
                ffi.destroy_proxy(proxy)
        try:
            return ffi.run_sync(promise)
        except ffi.FFIError:
            raise
        except Exception as e:
            lost = ffi.run_sync(self._rt.lostReason(self.context.handle))
            raise self._failure(e, "building the graph", lost) from None

    def _build(self, bindings: Mapping[str, int]) -> _Built:
        key = tuple(sorted(bindings.items()))
        built = self._built.get(key)
        if built is not None:
            return built
        self.specialized(bindings)  # the user's graph accepts these sizes (InputError naming them if not)
        graph = self._step_graph(bindings)
        t0 = time.perf_counter()
        plan, _ = plan_graph(graph, self.context.limits, bool(self.options.get("decompose", True)),
                             self.options.get("layout", "auto"))
        plan_ms = (time.perf_counter() - t0) * 1e3
        executor = self._executor(plan, graph)
        built = _Built(plan, executor, float(executor.buildMs), plan_ms, graph)
        self._built[key] = built
        shape = ",".join(f"{k}={v}" for k, v in key) or "static"
        self.stats["builds"] += 1
        self.stats["builds_by_shape"][shape] = self.stats["builds_by_shape"].get(shape, 0) + 1
        self.stats["runs_since_last_build"] = 0
        self.stats["build_ms"] = round(built.build_ms, 3)
        self.stats["plan_ms"] = round(plan_ms, 3)
        self.stats["graphs_built"] = len(self._built)
        return built

    # -- running -----------------------------------------------------------------------------------
    def _input_bytes(self, built: _Built, inputs: Mapping[str, Tensor]) -> list[Any]:
        """Per plan input: the MLTensor to bind (a folded value, or an input already on this context's device), or
        the bytes to write (narrowed or re-biased for the context where it asks)."""
        data: list[Any] = []
        for name, operand in built.plan.inputs:
            value = self._values.get(name)
            if value is not None:
                data.append(value)
                continue
            t = inputs[name]
            storage = t.storage if t.on_device else None
            if (isinstance(storage, MLStorage) and storage.context is self.context and storage.alive
                    and storage.held == operand.dtype):
                data.append(storage.tensor)
                self.stats["device_inputs"] += 1
                continue
            raw = t.tobytes()
            convert = built.plan.convert.get(name)
            if convert == "int64-int32":
                try:
                    raw = narrow_int64_bytes(raw, f"input {name!r}")
                except BackendError as e:
                    raise InputError(str(e).replace("webnn: ", "run: ", 1)) from None
            elif convert == "uint4-int4":
                raw = uint4_as_int4(raw)
            self.stats["upload_bytes"] += len(raw)
            data.append(raw)
        return data

    def _failure(self, e: BaseException, what: str, lost: Any) -> BackendError:
        """A BackendError for a failed WebNN call; says so plainly when the context was lost."""
        if str(lost or ""):
            return BackendError(
                f"webnn: {what}: the MLContext was lost ({lost}); compile the graph again (a new session makes "
                "a new context; a shared WebNNContext must be opened again)"
            )
        return BackendError(f"webnn: {what} failed: {e}")

    def _start(self, inputs: Mapping[str, Tensor], bindings: Mapping[str, int],
               keep: bool = False) -> tuple[_Built, Any]:
        lost = str(self._rt.contextLost(self.context.handle))
        if lost:
            raise self._failure(RuntimeError("lost"), "run", lost)
        built = self._build(bindings)
        datas = self._input_bytes(built, inputs)
        proxies, buffers, views = [], [], []
        try:
            for raw in datas:
                if not isinstance(raw, (bytes, bytearray, memoryview)):
                    views.append(raw)  # an MLTensor: bound as it is
                    continue
                proxy = ffi.create_proxy(memoryview(raw))
                proxies.append(proxy)
                buf = proxy.getBuffer("u8")
                buffers.append(buf)
                views.append(buf.data)
            promise = built.executor.run(ffi.to_js(views), keep)  # writeTensor copies before run() returns
        finally:
            for buf in buffers:
                buf.release()
            for proxy in proxies:
                ffi.destroy_proxy(proxy)
        return built, promise

    def _finish(self, built: _Built, results: Any, keep: bool = False) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        graph = built.graph
        built.runs += 1
        self.stats["runs_since_last_build"] += 1
        for (name, operand), item in zip(built.plan.outputs, results):
            desc = graph.operands[graph.outputs[name]]
            if keep:
                storage = MLStorage(self, item, operand.dtype, desc.dtype, operand.desc.byte_length)
                out[name] = Tensor.from_device(desc.dtype, list(operand.shape), storage)
                self.stats["kept_outputs"] += 1
                continue
            raw = bytes(item.to_bytes())
            self.stats["readback_bytes"] += len(raw)
            if desc.dtype != operand.dtype:  # int64 narrowed for the context: give it back as declared
                raw = widen_int32_bytes(raw)
            t = Tensor(raw, dtype=desc.dtype, shape=list(operand.shape))
            t.backend, t.device = "webnn", self.context.report.device_label()
            out[name] = t
        return out

    @staticmethod
    def _keep(kwargs: Mapping[str, Any]) -> bool:
        unknown = [k for k in kwargs if k != "keep_on_device"]
        if unknown:
            raise InputError(f"run: webnn takes no option {unknown[0]!r}; options: keep_on_device")
        return bool(kwargs.get("keep_on_device", False))

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        keep = self._keep(kwargs)
        try:
            built, promise = self._start(inputs, bindings, keep)
            results = ffi.run_sync(promise)
        except (WebinferError, ffi.FFIError):
            raise
        except Exception as e:  # a JsException: the browser's InvalidStateError, OperationError, ...
            raise self._failure(e, "run", ffi.run_sync(self._rt.lostReason(self.context.handle))) from None
        return self._finish(built, results, keep)

    async def _run_async(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        keep = self._keep(kwargs)
        try:
            built, promise = self._start(inputs, bindings, keep)
            results = await promise
        except (WebinferError, ffi.FFIError):
            raise
        except Exception as e:
            raise self._failure(e, "run", await self._rt.lostReason(self.context.handle)) from None
        return self._finish(built, results, keep)

    def bench(self, inputs: Mapping[str, Any], repeat: int = 10) -> float:
        """Mean milliseconds of a run measured inside JS (write, dispatch, read), over ``repeat`` runs."""
        from ..session import bind_inputs

        tensors, bindings = bind_inputs(self.graph, inputs)
        built = self._build(bindings)
        datas = [d if not isinstance(d, (bytes, bytearray, memoryview)) else ffi.to_js(memoryview(d))
                 for d in self._input_bytes(built, tensors)]
        result = ffi.run_sync(built.executor.bench(ffi.to_js(datas), repeat))
        return float(result.ms)

    # -- reporting and cleanup ---------------------------------------------------------------------
    def _layout_info(self, built: _Built | None) -> dict[str, Any]:
        """The layout the graph was planned in: what was asked, what the context prefers, what the pass did."""
        asked = self.options.get("layout", "auto")
        preferred = self.context.limits.preferred_input_layout
        info: dict[str, Any] = {"asked": asked, "preferred": preferred}
        report = built.plan.layout if built else None
        if report:
            info.update(report)
        else:
            info["summary"] = ("the graph's own layouts (nothing to move)" if resolve_layout(asked, preferred) == "nhwc"
                               else f"the graph's own layouts (layout={asked!r}, the context prefers {preferred})")
        if built:
            info["transposes_in_plan"] = built.plan.stats()["transposes"]
        return info

    def _close(self) -> None:
        for built in getattr(self, "_built", {}).values():
            built.executor.destroy()
        self._built.clear()
        for tensor in getattr(self, "_values", {}).values():
            self._rt.destroyTensor(tensor)
        self._values = {}
        if self.options.get("context") is None and getattr(self, "context", None) is not None:
            self.context.destroy()

    def compile_sibling(self, graph: Graph, **options: Any) -> WebNNSession:
        """``graph`` compiled on this session's MLContext, so device tensors pass between the two (CausalLM's
        cache-growing graph); the context stays this session's (closed with it)."""
        opts = {k: v for k, v in self.options.items() if k in ("decompose", "fold", "layout")}
        return WebNNSession(graph, context=self.context, **{**opts, **options})

    def device_info(self) -> dict[str, Any]:
        return self.context.report.as_dict()

    def placement(self) -> dict[str, str]:
        return {n.name: "webnn" for n in self.graph.nodes}

    def info(self) -> dict[str, Any]:
        info = super().info()
        built = next(iter(self._built.values()), None)
        info["webnn"] = {
            "nodes": {name: s.as_dict() for name, s in self.support.items()},
            "plan": built.plan.stats() if built else None,
            "int64_narrowed": dict(built.plan.narrowed) if built else {},
            "layout": self._layout_info(built),
            "graphs_built": len(self._built),
            "graphs": [{"bindings": dict(k), "build_ms": round(b.build_ms, 3), "plan_ms": round(b.plan_ms, 3),
                        "runs": b.runs, "webnn_calls": len(b.plan.ops)} for k, b in self._built.items()],
            "build_ms": round(built.build_ms, 3) if built else None,
            "run_ms": self.stats.get("last_run_ms"),
            "weights": self.weights_info(),
        }
        return info

    def weights_info(self) -> dict[str, Any]:
        """How the constants are held: folded values (computed once, shared by every graph) and what they cost."""
        f = self.folding
        if f is None:
            return {"folded": 0, "note": "constants are baked into each MLGraph built"}
        return {
            "folded": len(f.values),
            "bytes_on_device": f.value_bytes,
            "stored_as": f.by_dtype(),
            "computed_from_bytes": f.source_bytes,
            "extra_bytes": f.value_bytes - f.source_bytes,
            "prologue_graphs": len(f.prologues),
            "fold_ms": self.stats.get("fold_ms"),
            "note": ("values computed from constants alone that grow from them (dequantized weights) are computed "
                     "once at compile on the device and bound as inputs of every MLGraph: dequantizeLinear inside "
                     "the graph would run at every dispatch (this TFLite does not fuse it into the matmul), and "
                     "constants are copied into every graph built (no constant MLTensors to share here)"),
        }


__all__ = ["WebNNContext", "WebNNSession", "runtime"]
