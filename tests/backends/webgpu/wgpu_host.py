"""Run a WebGPU plan on the host through ``wgpu`` (wgpu-native), as ``executor.js`` runs it in the page.

For kernel tests and kernel work without a browser: the same WGSL, buffers, uniforms and dispatches, on whatever
adapter wgpu finds — preferably SwiftShader's Vulkan from the unpacked Chromium (``libvk_swiftshader.so``, the
library the browser's WebGPU runs on here). Inputs and outputs of any dtype the planner stores (int64 narrowed to
int32 as the page does, 4-bit packed two to a byte).

    dev = device()                       # None when wgpu or an adapter is missing
    out = run_plan(dev, plan, graph, {"x": array})   # {name: float32 array}
    ms = time_dispatches(dev, plan, graph, inputs)    # [(label, ms)] each dispatch alone
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

STORAGE, UNIFORM, COPY_SRC, COPY_DST, MAP_READ = 0x80, 0x40, 0x04, 0x08, 0x01
_NP = {"f32": np.float32, "i32": np.int32, "u32": np.uint32, "f16": np.float16, "p16": np.float16, "pi8": np.int8,
       "pu8": np.uint8}


def host_bytes(value: Any, dtype: str) -> bytes:
    """The bytes the page would upload for ``value`` of graph dtype ``dtype`` (int64 → int32, 4-bit packed)."""
    if dtype in ("int4", "uint4"):
        flat = np.asarray(value).astype(np.uint8).reshape(-1) & 15
        flat = np.concatenate([flat, np.zeros(len(flat) % 2, np.uint8)])
        data = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if dtype == "int64":
            data = np.frombuffer(data, np.int64).astype(np.int32).tobytes()
    else:
        arr = np.ascontiguousarray(value)
        if dtype == "int64":
            arr = arr.astype(np.int32)
        data = arr.tobytes()
    return data + bytes(-len(data) % 4)


def device(prefer: str = "SwiftShader") -> Any:
    """A wgpu device on SwiftShader's Vulkan when it can be found (else any adapter), or None."""
    found = sorted((Path.home() / ".cache" / "webinfer").glob("chromium-*/vk_swiftshader_icd.json"))
    if found and "VK_ICD_FILENAMES" not in os.environ:
        import ctypes

        os.environ["VK_ICD_FILENAMES"] = str(found[-1])
        loader = found[-1].parent / "libvulkan.so.1"
        if loader.is_file():  # Chromium's Vulkan loader, loaded first so wgpu-native's dlopen finds it
            ctypes.CDLL(str(loader), mode=ctypes.RTLD_GLOBAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import wgpu
        adapters = wgpu.gpu.enumerate_adapters_sync()
    except Exception:
        return None
    if not adapters:
        return None
    adapter = next((a for a in adapters if prefer in a.info["device"]), adapters[0])
    limits = adapter.limits
    dev = adapter.request_device_sync(required_limits={
        "max-storage-buffers-per-shader-stage": limits["max-storage-buffers-per-shader-stage"],
        "max-storage-buffer-binding-size": limits["max-storage-buffer-binding-size"],
        "max-buffer-size": limits["max-buffer-size"]})
    dev.adapter_name = adapter.info["device"]
    return dev


class HostExecutor:
    """Buffers, pipelines and bind groups of one plan, made once."""

    def __init__(self, dev: Any, plan: Any, graph: Any) -> None:
        self.dev, self.plan = dev, plan
        spec = plan.spec
        self.buffers = [dev.create_buffer(size=b["size"], usage=STORAGE | COPY_SRC | COPY_DST) for b in spec["buffers"]]
        self.uniform = dev.create_buffer_with_data(data=plan.uniforms, usage=UNIFORM | COPY_DST)
        for buf, name in plan.constants:
            data = host_bytes(graph.constants[name].data(), graph.constants[name].desc.dtype)
            dev.queue.write_buffer(self.buffers[buf], 0, data)
        pipes = [dev.create_compute_pipeline(layout="auto", compute={
            "module": dev.create_shader_module(code=p["code"]), "entry_point": "main"}) for p in spec["pipelines"]]
        self.passes = []
        for x in spec["dispatches"]:
            pipe = pipes[x["pipeline"]]
            entries = [{"binding": 0, "resource": {"buffer": self.uniform, "offset": x["uniform"][0],
                                                   "size": x["uniform"][1]}}]
            entries += [{"binding": i + 1, "resource": {"buffer": self.buffers[b], "offset": 0,
                                                        "size": self.buffers[b].size}}
                        for i, b in enumerate(x["bindings"])]
            group = dev.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
            self.passes.append((pipe, group, x["grid"], x["label"]))

    def write(self, inputs: dict[str, np.ndarray]) -> None:
        for slot, spec in zip(self.plan.inputs, self.plan.spec["inputs"]):
            data = host_bytes(inputs[slot.name], slot.dtype)
            if data:
                self.dev.queue.write_buffer(self.buffers[spec["buffer"]], 0, data)

    def submit(self, passes: list[Any]) -> None:
        enc = self.dev.create_command_encoder()
        cp = enc.begin_compute_pass()
        for pipe, group, grid, _ in passes:
            cp.set_pipeline(pipe)
            cp.set_bind_group(0, group)
            cp.dispatch_workgroups(*grid)
        cp.end()
        self.dev.queue.submit([enc.finish()])

    def read(self) -> dict[str, np.ndarray]:
        out = {}
        for slot, spec in zip(self.plan.outputs, self.plan.spec["outputs"]):
            raw = self.dev.queue.read_buffer(self.buffers[spec["buffer"]], 0, spec["bytes"])
            n = int(np.prod(slot.shape))
            out[slot.name] = np.frombuffer(bytes(raw), _NP[slot.store])[:n].reshape(slot.shape)
        return out

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.write(inputs)
        self.submit(self.passes)
        return self.read()

    def time_each(self, repeats: int = 3, clock: Any = time.process_time) -> list[tuple[str, float]]:
        """Each dispatch alone (after a full run): median ms of ``repeats`` submits, less an empty submit's.

        The default clock is this process's CPU time (every thread: SwiftShader runs here), which a busy machine
        disturbs far less than wall time; ``clock=time.perf_counter`` gives wall time."""
        def once(passes: list[Any]) -> float:
            t = clock()
            self.submit(passes)
            self.dev.queue.read_buffer(self.buffers[0], 0, 4)  # waits for the queue
            return (clock() - t) * 1e3

        base = float(np.median([once([]) for _ in range(3)]))
        return [(p[3], max(0.0, float(np.median([once([p]) for _ in range(repeats)])) - base)) for p in self.passes]


def plan_for(graph: Any, tiling: str = "register", limits: dict[str, int] | None = None) -> Any:
    """The WebGPU plan of a static graph for this host's adapter limits."""
    from webinfer.backends.webgpu.planner import DEFAULT_LIMITS, DeviceFacts, Planner

    lim = dict(DEFAULT_LIMITS)
    lim.update(limits or {})
    return Planner(graph, DeviceFacts(lim, False, tiling), lambda n: graph.constants[n].data()).plan()


def run_plan(dev: Any, graph: Any, inputs: dict[str, np.ndarray], tiling: str = "register") -> dict[str, np.ndarray]:
    """Plan ``graph`` and run it once on ``dev``."""
    return HostExecutor(dev, plan_for(graph, tiling), graph).run(inputs)


__all__ = ["HostExecutor", "device", "plan_for", "run_plan"]
