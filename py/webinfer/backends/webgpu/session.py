"""WebGPUSession: compile plans (per concrete input shapes), run them through the JS executor."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

from ... import ffi
from ...errors import BackendError, InputError
from ...ir.graph import Graph
from ...tensor import Tensor
from ..session import Session, bind_inputs, check_options
from . import runtime
from .planner import DeviceFacts, IOSlot, Plan, Planner, check_graph

OPTIONS = ("precision", "power_preference", "device", "bindings", "max_plans", "tiling")
TILINGS = ("auto", "workgroup", "register")
DEVICES = {"gpu": "high-performance", "high-performance": "high-performance", "low-power": "low-power"}
PRECISIONS = ("float32", "float16")


class Compiled:
    """One plan for one set of input shapes, and the executor built from it."""

    def __init__(self, plan: Plan, executor: Any, graph: Graph) -> None:
        self.plan = plan
        self.executor = executor
        self.graph = graph

    def destroy(self) -> None:
        try:
            self.executor.destroy()
        except Exception:  # the device may be gone already
            pass


def cpu_tiling(facts: dict[str, Any]) -> str:
    """The matmul tiling for an adapter: "register" when it runs shaders on the CPU (SwiftShader, fallback)."""
    a = facts.get("adapter", {})
    text = " ".join(str(a.get(k, "")) for k in ("vendor", "architecture", "device", "description")).lower()
    cpu = bool(facts.get("isFallbackAdapter")) or "swiftshader" in text or "llvmpipe" in text or "lavapipe" in text
    return "register" if cpu else "workgroup"


def _decoder(slot: IOSlot) -> Any:
    n = 1
    for d in slot.shape:
        n *= d
    itemsize = {"f32": 4, "i32": 4, "u32": 4, "f16": 2, "p16": 2, "pi8": 1, "pu8": 1}[slot.store]
    size = n * itemsize
    if slot.dtype == "int64":
        return lambda raw: runtime.widen_int32(raw[:size])
    return lambda raw: raw[:size]


class WebGPUSession(Session):
    """Runs a graph with WGSL compute shaders planned in Python and executed by a small JS executor.

    Options: ``precision`` ("float32", or "float16" to compute float16 data in f16 where the adapter
    has shader-f16), ``power_preference``, ``bindings`` (dim sizes to plan for at compile time when
    the graph has symbolic dims), ``max_plans`` (plans kept per session, one per input shapes),
    ``tiling`` (matmul kernels: "auto" picks "register" on a CPU adapter such as SwiftShader and
    "workgroup" on a GPU; see ``kernels/matmul.py``). ``run(inputs, keep_on_device=True)`` leaves the
    outputs in GPU buffers (no readback); ``run_async`` awaits the GPU instead of blocking (no JSPI).
    ``run(..., keep_on_device=True, donate=True)`` also lets the run take over the buffers of device-resident
    inputs that the plan updates in place (a KV cache: ``scatter_nd`` into a graph input whose result is an
    output): the output *is* that buffer, updated where it is, and the input tensor is left empty.

    Constants are uploaded once per session, as stored (4-bit blocks stay 4-bit), and shared by every plan;
    ``info()["weights"]`` gives their bytes, ``info()["stats"]`` the plans built and pipelines compiled.
    """

    backend = "webgpu"

    def __init__(self, graph: Graph, **options: Any) -> None:
        check_options("webgpu", options, OPTIONS)
        check_graph(graph)
        precision = options.get("precision", "float32")
        if precision not in PRECISIONS:
            raise BackendError(f"compile: webgpu precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        super().__init__(graph, **options)
        t0 = time.perf_counter()
        self.precision = precision
        device = options.get("device", "gpu")
        if device not in DEVICES:
            raise BackendError(f"compile: webgpu device must be one of {', '.join(DEVICES)}, got {device!r}")
        power = options.get("power_preference", DEVICES[device])
        self.device = runtime.get_device(power, precision == "float16")
        self.f16 = precision == "float16" and bool(self.device.facts["f16"])
        self.max_plans = int(options.get("max_plans", 8))
        tiling = options.get("tiling", "auto")
        if tiling not in TILINGS:
            raise BackendError(f"compile: webgpu tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
        self.tiling = cpu_tiling(self.device.facts) if tiling == "auto" else tiling
        self._plans: OrderedDict[tuple[tuple[str, int], ...], Compiled] = OrderedDict()
        self._last: Compiled | None = None
        self._consts: dict[str, tuple[Any, int]] = {}  # constant name -> (GPUBuffer, bytes): shared by every plan
        self.device.sessions.add(self)
        self.stats.update(last_run=None, plans_built=0, pipelines_created=0, plan_ms=0.0)
        if graph.is_static:
            self._compiled({})
        elif options.get("bindings"):
            self._compiled(dict(options["bindings"]))
        self.stats["compile_ms"] = (time.perf_counter() - t0) * 1e3

    # -- plans -------------------------------------------------------------------------------------
    def _compiled(self, bindings: dict[str, int]) -> Compiled:
        key = tuple(sorted(bindings.items()))
        got = self._plans.get(key)
        if got is not None:
            self._plans.move_to_end(key)
            self._last = got
            return got
        t0 = time.perf_counter()
        graph = self.graph if self.graph.is_static else self.graph.specialize(bindings)
        facts = DeviceFacts(dict(self.device.facts["limits"]), self.f16, self.tiling)
        plan = Planner(graph, facts, lambda name: graph.constants[name].data()).plan()
        executor = self._build(plan, graph)
        got = Compiled(plan, executor, graph)
        self.stats["plans_built"] += 1
        self.stats["plan_ms"] += (time.perf_counter() - t0) * 1e3
        try:
            self.stats["pipelines_created"] += int(json.loads(str(executor.stats()))["pipelines_created"])
        except Exception:
            pass
        self._plans[key] = got
        while len(self._plans) > self.max_plans:
            _, old = self._plans.popitem(last=False)
            old.destroy()
        self._last = got
        return got

    def _build(self, plan: Plan, graph: Graph) -> Any:
        mod = runtime.executor_module()
        consts: list[Any] = [None] * len(plan.spec["buffers"])
        for buffer, name in plan.constants:
            consts[buffer] = self._constant(mod, graph, name)
        views = runtime.ByteViews()
        try:
            uniforms = views.view(plan.uniforms)
            try:
                return ffi.run_sync(mod.createExecutor(self.device.js, self.device.state, json.dumps(plan.spec),
                                                       uniforms, ffi.to_js(consts)))
            except ffi.FFIError:
                raise
            except Exception as e:
                raise runtime.js_error(e, "building the plan", self.device) from None
        finally:
            views.release()

    def _constant(self, mod: Any, graph: Graph, name: str) -> Any:
        """The GPU buffer of constant ``name``: uploaded once per session, as stored (packed dtypes stay packed)."""
        got = self._consts.get(name)
        if got is not None:
            return got[0]
        const = graph.constants[name]
        data: Any = const.data()
        if const.desc.dtype == "int64":
            data = runtime.narrow_int64(bytes(data), f"constant {name!r}")
        if len(data) % 4:
            data = bytes(data) + bytes(-len(data) % 4)
        views = runtime.ByteViews()
        try:
            buf = mod.makeConstant(self.device.js, views.view(data), name)
        except Exception as e:
            raise runtime.js_error(e, f"uploading constant {name!r}", self.device) from None
        finally:
            views.release()
        self._consts[name] = (buf, len(data))
        return buf

    # -- runs (``run(inputs, keep_on_device=True)`` leaves the outputs in GPU buffers: no readback) ---------
    def _stage(self, compiled: Compiled, inputs: dict[str, Tensor], views: runtime.ByteViews,
               donate: bool = False) -> tuple[Any, Any, list[Tensor]]:
        """The inputs for the executor (GPU buffers as they are, host data as zero-copy views), which of them the run
        may take over (``donate``: device-resident, updated in place), and those tensors."""
        items: list[Any] = []
        given: list[bool] = []
        taken: list[Tensor] = []
        seen: set[int] = set()
        for slot, spec in zip(compiled.plan.inputs, compiled.plan.spec["inputs"]):
            t = inputs[slot.name]
            storage = t.storage if t.on_device else None
            if (isinstance(storage, runtime.GPUStorage) and storage.device_ref is self.device
                    and storage.store == slot.store):
                items.append(storage.buffer)
                give = donate and "output" in spec and id(storage) not in seen
                given.append(give)
                if give:
                    seen.add(id(storage))
                    taken.append(t)
                continue
            data: Any = t.tobytes()
            if slot.dtype == "int64":
                data = runtime.narrow_int64(data, f"input {slot.name!r}")
            if len(data) % 4 or not data:
                data = bytes(data) + bytes(-len(data) % 4 or 4)
            items.append(views.view(data))
            given.append(False)
        return ffi.to_js(items), ffi.to_js(given), taken

    def _start(self, bindings: dict[str, int], inputs: dict[str, Tensor], keep: bool,
               donate: bool = False) -> tuple[Compiled, Any, list[Tensor]]:
        compiled = self._compiled(bindings)
        if self.device.lost is not None:
            raise runtime.js_error(RuntimeError("lost"), "run", self.device)
        views = runtime.ByteViews()
        try:
            js_inputs, js_given, taken = self._stage(compiled, inputs, views, donate and keep)
            try:
                promise = compiled.executor.run(js_inputs, keep, js_given)
            except Exception as e:
                raise runtime.js_error(e, "run", self.device) from None
        finally:
            views.release()
        return compiled, promise, taken

    def _finish(self, compiled: Compiled, result: Any, keep: bool, taken: list[Tensor]) -> dict[str, Tensor]:
        for t in taken:  # donated: their buffers are outputs now (after a run that failed, they stay the inputs')
            t.storage.donated()  # type: ignore[union-attr]
        out: dict[str, Tensor] = {}
        if keep:
            buffers = list(result)
            for slot, buf in zip(compiled.plan.outputs, buffers):
                st = runtime.GPUStorage(self.device, buf, slot.nbytes, slot.store, _decoder(slot))
                out[slot.name] = Tensor.from_device(slot.dtype, slot.shape, st)
        else:
            raw = result.to_bytes()
            for slot in compiled.plan.outputs:
                data = _decoder(slot)(raw[slot.offset: slot.offset + slot.nbytes])
                t = Tensor(data, dtype=slot.dtype, shape=slot.shape)
                t.backend, t.device = "webgpu", self.device.label
                out[slot.name] = t
        wall = (time.perf_counter() - self._t_call) * 1e3
        enc, gpu, read, total = compiled.executor.timings().to_py()
        # python_ms: everything but the executor's own time (input checks, staging, output tensors)
        self.stats["last_run"] = {"total_ms": wall, "python_ms": wall - total, "encode_ms": enc, "gpu_ms": gpu,
                                  "readback_ms": read, "executor_ms": total}
        return out

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        keep, donate = self._keep(kwargs)
        compiled, promise, taken = self._start(bindings, inputs, keep, donate)
        try:
            result = ffi.run_sync(promise)
        except ffi.FFIError:
            raise
        except Exception as e:
            raise runtime.js_error(e, "run", self.device) from None
        return self._finish(compiled, result, keep, taken)

    async def _run_async(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        keep, donate = self._keep(kwargs)
        compiled, promise, taken = self._start(bindings, inputs, keep, donate)
        try:
            result = await promise
        except Exception as e:
            raise runtime.js_error(e, "run", self.device) from None
        return self._finish(compiled, result, keep, taken)

    def profile(self, inputs: Any, repeats: int = 5) -> list[dict[str, Any]]:
        """Debug: each dispatch of the plan for ``inputs`` timed alone (median ms of ``repeats``), slowest first.

        Costs one full run plus one submit per dispatch and repeat; for finding hot kernels, not for serving.
        """
        self._check_open()
        tensors, bindings = bind_inputs(self.graph, inputs)
        compiled = self._compiled(bindings)
        views = runtime.ByteViews()
        try:
            js_inputs, _, _ = self._stage(compiled, tensors, views)
            try:
                got = ffi.run_sync(compiled.executor.profile(js_inputs, int(repeats)))
            except Exception as e:
                raise runtime.js_error(e, "profile", self.device) from None
        finally:
            views.release()
        return sorted(json.loads(str(got)), key=lambda d: -d["ms"])

    @staticmethod
    def _keep(kwargs: dict[str, Any]) -> tuple[bool, bool]:
        unknown = [k for k in kwargs if k not in ("keep_on_device", "donate")]
        if unknown:
            raise InputError(f"run: webgpu takes no option {unknown[0]!r}; options: keep_on_device, donate")
        keep, donate = bool(kwargs.get("keep_on_device", False)), bool(kwargs.get("donate", False))
        if donate and not keep:
            raise InputError("run: donate=True needs keep_on_device=True (a donated buffer becomes an output that "
                             "stays on the device)")
        return keep, donate

    # -- info and cleanup ----------------------------------------------------------------------------
    def device_info(self) -> dict[str, Any]:
        f = self.device.facts
        return {"type": "gpu", "name": self.device.label, "adapter": f["adapter"],
                "is_fallback_adapter": f["isFallbackAdapter"], "features": f["features"], "limits": f["limits"],
                "lost": self.device.lost}

    def placement(self) -> dict[str, str]:
        if self._last is None:
            return {n.name: "webgpu: planned at first run (symbolic input shapes)" for n in self.graph.nodes}
        return dict(self._last.plan.placement)

    def info(self) -> dict[str, Any]:
        info = super().info()
        if self.precision == "float16":
            f16 = ("float16 computed in f16 (adapter has shader-f16)" if self.f16 else
                   "float16 asked, but the adapter lacks shader-f16: float16 data is stored packed and computed in f32")
        else:
            f16 = "float16 data (if any) is stored packed (2 per u32) and computed in f32; converted at the boundary"
        plans = []
        for key, c in self._plans.items():
            try:
                ex = json.loads(c.executor.stats())
            except Exception:
                ex = {}
            plans.append({"bindings": dict(key), **c.plan.stats, "submits": ex.get("submits"),
                          "bind_groups": ex.get("bind_groups")})
        weights = {"bytes": sum(n for _, n in self._consts.values()), "buffers": len(self._consts),
                   "note": "constants as stored (block-quantized ones packed), uploaded once, shared by every plan",
                   "constants": {name: n for name, (_, n) in self._consts.items()}}
        info.update(precision={"requested": self.precision, "float16": f16}, tiling=self.tiling, plans=plans,
                    plan=plans[-1] if plans else None, int64_narrowed=self._int64_narrowed(), weights=weights)
        try:
            info["gpu"] = runtime.counters()
        except Exception:
            info["gpu"] = None
        return info

    def _int64_narrowed(self) -> dict[str, str]:
        """Graph inputs and constants of dtype int64, which WGSL (no 64-bit integers) holds as int32 (as webnn's
        info)."""
        g = self.graph
        narrowed = {n: "graph input int64 -> int32 (range-checked at run)"
                    for n, d in g.inputs.items() if d.dtype == "int64"}
        narrowed.update({n: "constant int64 -> int32 (values checked)"
                         for n, c in g.constants.items() if c.desc.dtype == "int64"})
        return narrowed

    def _close(self) -> None:
        for c in self._plans.values():
            c.destroy()
        self._plans.clear()
        self._last = None
        for buf, _ in self._consts.values():
            runtime.destroy_buffer(buf)
        self._consts.clear()
