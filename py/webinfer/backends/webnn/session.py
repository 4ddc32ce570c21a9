"""``backend="webnn"``: build one MLGraph per concrete shape set, run it with MLTensors made once.

Compile checks every node against the context's ``opSupportLimits()`` (an :class:`UnsupportedError`
names each node the context cannot run, before any WebNN call), plans the MLGraphBuilder calls in
Python and hands the plan to ``runtime.mjs`` in one call, which builds the graph and makes the input
and output tensors. A run is one JS call (write inputs, dispatch, read outputs) plus one JSPI wait.
"""

from __future__ import annotations

import json
import time
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
from .limits import Limits
from .plan import Plan, narrow_int64_bytes, widen_int32_bytes
from .planner import Checker, Support, plan_graph, unsupported_error

OPTIONS = ("device", "power_preference", "accelerated", "gpu_device", "context", "decompose", "bindings", "layout")


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
        try:
            self.checker = Checker(self.context.limits, bool(options.get("decompose", True)))
            self.support: dict[str, Support] = self.checker.graph(graph)
            problems = [(f"node {s.node!r} ({s.op})", s.reason) for s in self.support.values() if s.reason]
            problems += self.checker.edges(graph)
            if problems:
                raise unsupported_error(problems)
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
    def _build(self, bindings: Mapping[str, int]) -> _Built:
        key = tuple(sorted(bindings.items()))
        built = self._built.get(key)
        if built is not None:
            return built
        graph = self.specialized(bindings)
        t0 = time.perf_counter()
        plan, _ = plan_graph(graph, self.context.limits, bool(self.options.get("decompose", True)),
                             self.options.get("layout", "auto"))
        plan_ms = (time.perf_counter() - t0) * 1e3
        keys = [c.key for c in plan.constants if c.key is not None]
        index = {k: i for i, k in enumerate(keys)}
        plan_json = json.dumps(plan.to_dict(constant_ref=lambda c: index[c.key]))
        proxies, buffers, views = [], [], []
        try:
            for k in keys:  # zero-copy views of the constants' bytes; builder.constant copies them once
                proxy = ffi.create_proxy(plan.graph_constants[k].data())  # re-laid ones are made here, once
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
            executor = ffi.run_sync(promise)
        except ffi.FFIError:
            raise
        except Exception as e:
            lost = ffi.run_sync(self._rt.lostReason(self.context.handle))
            raise self._failure(e, "building the graph", lost) from None
        built = _Built(plan, executor, float(executor.buildMs), plan_ms, graph)
        self._built[key] = built
        self.stats["build_ms"] = round(built.build_ms, 3)
        self.stats["plan_ms"] = round(plan_ms, 3)
        self.stats["graphs_built"] = len(self._built)
        return built

    # -- running -----------------------------------------------------------------------------------
    def _input_bytes(self, built: _Built, inputs: Mapping[str, Tensor]) -> list[bytes]:
        data = []
        for name, _ in built.plan.inputs:
            t = inputs[name]
            raw = t.tobytes()
            if name in built.plan.narrowed:
                try:
                    raw = narrow_int64_bytes(raw, f"input {name!r}")
                except BackendError as e:
                    raise InputError(str(e).replace("webnn: ", "run: ", 1)) from None
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

    def _start(self, inputs: Mapping[str, Tensor], bindings: Mapping[str, int]) -> tuple[_Built, Any]:
        lost = str(self._rt.contextLost(self.context.handle))
        if lost:
            raise self._failure(RuntimeError("lost"), "run", lost)
        built = self._build(bindings)
        datas = self._input_bytes(built, inputs)
        proxies, buffers, views = [], [], []
        try:
            for raw in datas:
                proxy = ffi.create_proxy(memoryview(raw))
                proxies.append(proxy)
                buf = proxy.getBuffer("u8")
                buffers.append(buf)
                views.append(buf.data)
            promise = built.executor.run(ffi.to_js(views))  # writeTensor copies before run() returns
        finally:
            for buf in buffers:
                buf.release()
            for proxy in proxies:
                ffi.destroy_proxy(proxy)
        return built, promise

    def _finish(self, built: _Built, results: Any) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        graph = built.graph
        for (name, operand), buf in zip(built.plan.outputs, results):
            raw = bytes(buf.to_bytes())
            desc = graph.operands[graph.outputs[name]]
            if desc.dtype != operand.dtype:  # int64 narrowed for the context: give it back as declared
                raw = widen_int32_bytes(raw)
            t = Tensor(raw, dtype=desc.dtype, shape=list(operand.shape))
            t.backend, t.device = "webnn", self.context.report.device_label()
            out[name] = t
        return out

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        if kwargs:
            raise BackendError(f"webnn: run takes no option {next(iter(kwargs))!r}")
        try:
            built, promise = self._start(inputs, bindings)
            results = ffi.run_sync(promise)
        except (WebinferError, ffi.FFIError):
            raise
        except Exception as e:  # a JsException: the browser's InvalidStateError, OperationError, ...
            raise self._failure(e, "run", ffi.run_sync(self._rt.lostReason(self.context.handle))) from None
        return self._finish(built, results)

    async def _run_async(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        if kwargs:
            raise BackendError(f"webnn: run takes no option {next(iter(kwargs))!r}")
        try:
            built, promise = self._start(inputs, bindings)
            results = await promise
        except (WebinferError, ffi.FFIError):
            raise
        except Exception as e:
            raise self._failure(e, "run", await self._rt.lostReason(self.context.handle)) from None
        return self._finish(built, results)

    def bench(self, inputs: Mapping[str, Any], repeat: int = 10) -> float:
        """Mean milliseconds of a run measured inside JS (write, dispatch, read), over ``repeat`` runs."""
        from ..session import bind_inputs

        tensors, bindings = bind_inputs(self.graph, inputs)
        built = self._build(bindings)
        datas = [ffi.to_js(memoryview(d)) for d in self._input_bytes(built, tensors)]
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
        for built in self._built.values():
            built.executor.destroy()
        self._built.clear()
        if self.options.get("context") is None and getattr(self, "context", None) is not None:
            self.context.destroy()

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
            "build_ms": round(built.build_ms, 3) if built else None,
            "run_ms": self.stats.get("last_run_ms"),
        }
        return info


__all__ = ["WebNNContext", "WebNNSession", "runtime"]
