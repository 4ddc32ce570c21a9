"""Run a WebGPU plan on the host through ``wgpu`` (wgpu-native: naga + a CPU adapter such as llvmpipe or
SwiftShader's Vulkan), for fast numerical checks of the planner's kernels without a browser.

A test aid, not a backend: it does what ``executor.js`` does (buffers, one pipeline per WGSL source, bind
groups, one submit) in the simplest way. The browser tests run the real executor.
"""

from __future__ import annotations

import glob
import os
import warnings
from typing import Any

import numpy as np

from webinfer.backends.webgpu.planner import DEFAULT_LIMITS, DeviceFacts, Plan, Planner
from webinfer.ir.graph import Graph

_DEVICE: Any = None
_NP = {"f32": np.float32, "i32": np.int32, "u32": np.uint32, "f16": np.float16, "p16": np.float16, "pi8": np.int8,
       "pu8": np.uint8}


def device() -> Any:
    """A wgpu device on this host (raises ImportError/RuntimeError when there is none)."""
    global _DEVICE
    if _DEVICE is None:
        if "VK_ICD_FILENAMES" not in os.environ:
            found = sorted(glob.glob(os.path.expanduser("~/.cache/webinfer/chromium-*/vk_swiftshader_icd.json")))
            if found:
                os.environ["VK_ICD_FILENAMES"] = found[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import wgpu
        adapter = wgpu.gpu.request_adapter_sync(power_preference="low-power")
        if adapter is None:
            raise RuntimeError("no wgpu adapter on this host")
        limits = {k: adapter.limits[k] for k in ("max-storage-buffer-binding-size", "max-buffer-size",
                                                 "max-storage-buffers-per-shader-stage") if k in adapter.limits}
        _DEVICE = adapter.request_device_sync(required_limits=limits)
    return _DEVICE


def facts(tiling: str = "register") -> DeviceFacts:
    d = device()
    limits = dict(DEFAULT_LIMITS)
    limits["maxStorageBuffersPerShaderStage"] = int(d.limits["max-storage-buffers-per-shader-stage"])
    limits["maxStorageBufferBindingSize"] = int(d.limits["max-storage-buffer-binding-size"])
    limits["maxBufferSize"] = int(d.limits["max-buffer-size"])
    return DeviceFacts(limits, False, tiling)


def plan(graph: Graph, tiling: str = "register") -> Plan:
    return Planner(graph, facts(tiling), lambda n: graph.constants[n].data()).plan()


def run(graph: Graph, inputs: dict[str, Any], tiling: str = "register", p: Plan | None = None) -> dict[str, np.ndarray]:
    """Plan ``graph`` (static) and run it once on the host device; outputs as numpy arrays."""
    import wgpu

    dev = device()
    p = p or plan(graph, tiling)
    usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
    bufs = [dev.create_buffer(size=max(b["size"], 16), usage=usage) for b in p.spec["buffers"]]
    uni = dev.create_buffer(size=len(p.uniforms), usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)
    dev.queue.write_buffer(uni, 0, p.uniforms)
    for index, name in p.constants:
        data = bytes(graph.constants[name].data())
        if graph.constants[name].desc.dtype == "int64":
            data = np.frombuffer(data, np.int64).astype(np.int32).tobytes()
        dev.queue.write_buffer(bufs[index], 0, data + bytes(-len(data) % 4))
    for slot in p.inputs:
        data = np.ascontiguousarray(inputs[slot.name]).tobytes()
        if slot.dtype == "int64":
            data = np.frombuffer(data, np.int64).astype(np.int32).tobytes()
        if slot.dtype in ("int4", "uint4"):
            flat = np.asarray(inputs[slot.name]).astype(np.uint8).reshape(-1) & 15
            flat = np.concatenate([flat, np.zeros(len(flat) % 2, np.uint8)])
            data = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
        data += bytes(-len(data) % 4)
        if data:
            dev.queue.write_buffer(bufs[slot.value.buffer], 0, data)
    pipes = [dev.create_compute_pipeline(layout="auto", compute={
        "module": dev.create_shader_module(code=s["code"]), "entry_point": "main"}) for s in p.spec["pipelines"]]
    enc = dev.create_command_encoder()
    ps = enc.begin_compute_pass()
    for d in p.spec["dispatches"]:
        pipe = pipes[d["pipeline"]]
        entries = [{"binding": 0, "resource": {"buffer": uni, "offset": d["uniform"][0], "size": d["uniform"][1]}}]
        entries += [{"binding": i + 1, "resource": {"buffer": bufs[b]}} for i, b in enumerate(d["bindings"])]
        ps.set_pipeline(pipe)
        ps.set_bind_group(0, dev.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries))
        ps.dispatch_workgroups(*d["grid"])
    ps.end()
    dev.queue.submit([enc.finish()])
    out = {}
    for slot in p.outputs:
        raw = dev.queue.read_buffer(bufs[slot.value.buffer])
        n = int(np.prod(slot.shape))
        out[slot.name] = np.frombuffer(raw, _NP[slot.store])[:n].reshape(slot.shape).copy()
    return out


__all__ = ["device", "facts", "plan", "run"]
