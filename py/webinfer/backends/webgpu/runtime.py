"""The browser side of the WebGPU backend: the device, the JS executor module, moving bytes.

Only this module (through :mod:`webinfer.ffi`) talks to JavaScript. The device is shared by every
session of the page (so device-resident tensors move between sessions without readback) and is
requested again after it is lost.
"""

from __future__ import annotations

import array
import json
import weakref
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ... import ffi
from ...errors import BackendError, InputError

_MODULE_NAME = "webinfer-webgpu-executor"


def executor_module() -> Any:
    """The executor.js ES module (loaded once per page)."""
    source = resources.files(__package__).joinpath("executor.js").read_text(encoding="utf-8")
    return ffi.import_module(source, _MODULE_NAME)


@dataclass
class Device:
    """A GPUDevice with what was learned about its adapter."""

    js: Any
    state: Any
    facts: dict[str, Any]
    sessions: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)

    @property
    def lost(self) -> str | None:
        reason = self.state.lost  # "" while the device is fine
        return str(reason) if reason else None

    @property
    def label(self) -> str:
        a = self.facts["adapter"]
        return " ".join(p for p in (a.get("vendor"), a.get("architecture"), a.get("description")) if p) or "webgpu"


_devices: dict[tuple[str, bool], Device] = {}


def get_device(power_preference: str = "high-performance", f16: bool = False) -> Device:
    """The shared device (a new one if there is none yet or it was lost); blocks via JSPI."""
    key = (power_preference, f16)
    dev = _devices.get(key)
    if dev is not None and dev.lost is None:
        return dev
    mod = executor_module()
    try:
        got = ffi.run_sync(mod.acquireDevice(power_preference, f16))
    except ffi.FFIError:
        raise
    except Exception as e:
        raise BackendError(f"webgpu: no device: {_js_message(e)}") from None
    dev = Device(got.device, got.state, json.loads(got.facts))
    _devices[key] = dev
    return dev


def counters() -> dict[str, int]:
    """GPU buffers alive (and their bytes), submits and pipelines compiled, page-wide."""
    return dict(json.loads(executor_module().countersJSON()))


def _js_message(e: BaseException) -> str:
    msg = str(e)
    for prefix in ("Error: ", "GPUPipelineError: ", "OperationError: "):
        msg = msg.replace(prefix, "", 1) if msg.startswith(prefix) else msg
    return msg.strip()


def js_error(e: BaseException, what: str, device: Device | None = None) -> BackendError:
    """A BackendError for a JS failure, saying so plainly when the device was lost."""
    if device is not None and device.lost is not None:
        return BackendError(
            f"webgpu: {what}: the GPU device was lost ({device.lost}); compile the graph again "
            "(a new session requests a new device)"
        )
    return BackendError(f"webgpu: {what}: {_js_message(e)}")


class ByteViews:
    """Zero-copy JS Uint8Array views of Python bytes, valid until ``release``."""

    def __init__(self) -> None:
        self._held: list[tuple[Any, Any]] = []

    def view(self, data: bytes | bytearray | memoryview) -> Any:
        proxy = ffi.create_proxy(data)
        buf = proxy.getBuffer("u8")
        self._held.append((proxy, buf))
        return buf.data

    def release(self) -> None:
        for proxy, buf in self._held:
            buf.release()
            ffi.destroy_proxy(proxy)
        self._held.clear()


def narrow_int64(data: bytes, name: str) -> bytes:
    """int64 → int32 for WGSL, raising InputError naming the input if a value does not fit."""
    try:
        return array.array("i", memoryview(data).cast("q")).tobytes()
    except OverflowError:
        values = memoryview(data).cast("q")
        bad = next(i for i, v in enumerate(values) if not -(2**31) <= v < 2**31)
        raise InputError(
            f"{name}: int64 value {values[bad]} at flat index {bad} does not fit int32, which WGSL computes "
            "int64 data in (WGSL has no 64-bit integers; values must lie in [-2147483648, 2147483647])"
        ) from None


def widen_int32(data: bytes) -> bytes:
    """int32 results back to the graph's int64."""
    return array.array("q", memoryview(data).cast("i")).tobytes()


class GPUStorage:
    """A device-resident tensor's data: a GPUBuffer in the executor's I/O format."""

    backend = "webgpu"

    def __init__(self, device: Device, buffer: Any, nbytes: int, store: str, decode: Any) -> None:
        self.device_ref = device
        self.device = device.label
        self.buffer = buffer
        self.nbytes = nbytes
        self.store = store
        self._decode = decode
        self._given = False
        self._finalizer = weakref.finalize(self, _destroy, buffer)

    def read(self) -> bytes:
        if self._given:
            raise BackendError("webgpu: this tensor's GPU buffer was donated to a run (donate=True) and is that "
                               "run's output now; read the output instead")
        if not self._finalizer.alive:
            raise BackendError("webgpu: this tensor's GPU buffer was released")
        if self.device_ref.lost is not None:
            raise BackendError(f"webgpu: the GPU device holding this tensor was lost ({self.device_ref.lost})")
        try:
            raw = ffi.run_sync(executor_module().readBuffer(self.device_ref.js, self.buffer, self.nbytes))
        except Exception as e:
            raise js_error(e, "reading a device tensor back", self.device_ref) from None
        return self._decode(raw.to_bytes())

    def release(self) -> None:
        self._finalizer()

    def donated(self) -> None:
        """The buffer now belongs to a run's output: this storage no longer frees it (nor reads it)."""
        self._given = True
        self._finalizer.detach()


def destroy_buffer(buffer: Any) -> None:
    """Free a GPU buffer the executor module made (a session's constants)."""
    _destroy(buffer)


def _destroy(buffer: Any) -> None:
    try:
        executor_module().destroyBuffer(buffer)
    except Exception:  # the page may be going away; nothing to free then
        pass
