"""The one module that touches Pyodide's ``js`` and ``pyodide`` modules.

It imports on CPython too (every browser import is inside a function), so the rest of webinfer
stays testable on the host. What it gives the backends:

- :func:`in_browser`, :func:`jspi_available`, :func:`run_sync` (block on a JS promise via JSPI) and
  :func:`blocked_seconds` (how long ``run_sync`` has blocked in total, for timing tools);
- :func:`to_js_dict` for WebNN's name-keyed dictionaries, :func:`to_js`;
- :func:`create_proxy` / :func:`destroy_proxy`, :func:`create_buffer` / :func:`destroy_buffer`,
  :func:`upload` (zero-copy ``queue.writeBuffer``) and :func:`read_buffer`;
- :data:`ledger`: counts of what was made and destroyed, so tests can assert nothing leaks.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

from .errors import BackendError

T = TypeVar("T")

# GPUBufferUsage / GPUMapMode bits (WebGPU spec), so callers need no ``js`` import.
MAP_READ = 0x0001
MAP_WRITE = 0x0002
COPY_SRC = 0x0004
COPY_DST = 0x0008
STORAGE = 0x0080
UNIFORM = 0x0040
MAP_MODE_READ = 0x0001


class FFIError(BackendError):
    """A browser-only operation was used where it cannot work (a BackendError, so ``except WebinferError`` sees it)."""


class JSPIUnavailable(FFIError):
    """``run_sync`` was called where stack switching (JSPI) is not available."""


class Ledger:
    """Counts of JS-side objects webinfer made and destroyed, by kind (``proxy``, ``buffer``)."""

    def __init__(self) -> None:
        self.created: Counter[str] = Counter()
        self.destroyed: Counter[str] = Counter()

    def made(self, kind: str) -> None:
        """Record one ``kind`` object created."""
        self.created[kind] += 1

    def gone(self, kind: str) -> None:
        """Record one ``kind`` object destroyed."""
        self.destroyed[kind] += 1

    def live(self) -> dict[str, int]:
        """Objects still alive, by kind (kinds ever used, zeros included)."""
        return {kind: self.created[kind] - self.destroyed[kind] for kind in sorted(self.created)}

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Created, destroyed and live counts, by kind (JSON-able)."""
        return {
            "created": dict(self.created),
            "destroyed": dict(self.destroyed),
            "live": self.live(),
        }


#: The process-wide ledger (one per Pyodide interpreter).
ledger = Ledger()


def in_browser() -> bool:
    """True inside Pyodide (or another Emscripten Python with the ``js`` module)."""
    return sys.platform == "emscripten"


def _require_browser(what: str) -> None:
    if not in_browser():
        raise FFIError(f"{what} needs the browser (Pyodide); this is CPython on {sys.platform}")


def jspi_available() -> bool:
    """True when :func:`run_sync` can block here (Python entered via runPythonAsync/callPromising)."""
    if not in_browser():
        return False
    from pyodide.ffi import can_run_sync

    return bool(can_run_sync())


def navigator_has(api: str) -> bool:
    """True when the page's ``navigator`` has ``api`` ("gpu": WebGPU, "ml": WebNN); False off the browser."""
    if not in_browser():
        return False
    import js

    return getattr(js.navigator, api, None) is not None


def webgpu_adapter_summary() -> dict[str, Any] | None:
    """The default WebGPU adapter's vendor, architecture and fallback flag (None without an adapter).

    Needs JSPI (it awaits ``requestAdapter``); ``software`` is true for fallback adapters such as SwiftShader.
    """
    if not navigator_has("gpu"):
        return None
    import js

    adapter = run_sync(js.navigator.gpu.requestAdapter())
    if adapter is None:
        return None
    info = getattr(adapter, "info", None)
    vendor = str(getattr(info, "vendor", "") or "")
    arch = str(getattr(info, "architecture", "") or "")
    fallback = bool(getattr(info, "isFallbackAdapter", False) or getattr(adapter, "isFallbackAdapter", False))
    return {"vendor": vendor, "architecture": arch, "fallback": fallback,
            "software": fallback or arch.lower() in ("swiftshader", "llvmpipe", "lavapipe", "warp")}


def run_sync(awaitable: Awaitable[T]) -> T:
    """Block until a JS promise (or Python awaitable) settles, using JSPI stack switching."""
    _require_browser("run_sync")
    from pyodide.ffi import can_run_sync
    from pyodide.ffi import run_sync as pyodide_run_sync

    if not can_run_sync():
        raise JSPIUnavailable(
            "run_sync cannot block here: JS Promise Integration (JSPI) is off, or Python was "
            "entered through pyodide.runPython; enter through runPythonAsync or callPromising "
            "(as `webinfer run` does), or use the async API (`await sess.run_async(...)`)"
        )
    global _blocked
    start = time.perf_counter()
    try:
        result: T = pyodide_run_sync(awaitable)
    finally:
        _blocked += time.perf_counter() - start
    return result


_blocked = 0.0


def blocked_seconds() -> float:
    """Seconds :func:`run_sync` has spent blocked on JS promises so far in this interpreter (a running total).

    The difference around a call is the part of its wall time spent waiting for the browser (GPU map,
    WebNN ``readTensor``) rather than running Python; ``webinfer bench`` reports wall minus that.
    """
    return _blocked


async def fetch_bytes(url: str) -> bytes:
    """GET ``url`` with the page's ``fetch`` and return the body; an HTTP error status raises FFIError naming it."""
    _require_browser("fetch_bytes")
    from pyodide.http import pyfetch

    response = await pyfetch(url)
    if not response.ok:
        raise FFIError(f"fetch {url}: HTTP {response.status} {response.status_text}")
    return bytes(await response.bytes())


async def fetch_buffer(url: str) -> Any:
    """GET ``url``; the body as a JS ``ArrayBuffer``, left outside the wasm heap (read slices with
    :func:`buffer_bytes`). An HTTP error status raises FFIError naming it."""
    _require_browser("fetch_buffer")
    import js

    response = await js.fetch(url)
    if not response.ok:
        raise FFIError(f"fetch {url}: HTTP {response.status} {response.statusText}")
    return await response.arrayBuffer()


def buffer_bytes(buffer: Any, offset: int, length: int) -> bytes:
    """``length`` bytes of a JS ArrayBuffer from ``offset``, copied into Python (only those bytes)."""
    _require_browser("buffer_bytes")
    import js

    return bytes(js.Uint8Array.new(buffer, offset, length).to_bytes())


async def buffer_sha256(buffer: Any) -> str:
    """SHA-256 (hex) of a JS ArrayBuffer: ``crypto.subtle`` where the page has it (a secure context), else hashed
    in Python 1 MiB at a time; the buffer never enters the wasm heap whole."""
    _require_browser("buffer_sha256")
    import hashlib

    import js

    subtle = getattr(getattr(js, "crypto", None), "subtle", None)
    if subtle is not None:
        digest = await subtle.digest("SHA-256", buffer)
        return buffer_bytes(digest, 0, 32).hex()
    h = hashlib.sha256()
    size = int(buffer.byteLength)
    for offset in range(0, size, 1 << 20):
        h.update(buffer_bytes(buffer, offset, min(1 << 20, size - offset)))
    return h.hexdigest()


def heap_bytes() -> int | None:
    """The size of the wasm heap now (it only grows: the peak so far); None outside the browser."""
    if not in_browser():
        return None
    import pyodide_js

    return int(pyodide_js._module.HEAP8.length)


def to_js(value: Any) -> Any:
    """Python value → JS; dicts become plain JS objects (not ``Map``)."""
    _require_browser("to_js")
    import js
    from pyodide.ffi import to_js as pyodide_to_js

    return pyodide_to_js(value, dict_converter=js.Object.fromEntries)


def to_js_dict(value: dict[str, Any]) -> Any:
    """A Python dict as a plain JS object, as WebNN's ``build``/``dispatch`` dictionaries need."""
    if not isinstance(value, dict):
        raise TypeError(f"to_js_dict takes a dict, not {type(value).__name__}")
    return to_js(value)


def create_proxy(obj: Any) -> Any:
    """A counted ``pyodide.ffi.create_proxy``; pair it with :func:`destroy_proxy`."""
    _require_browser("create_proxy")
    from pyodide.ffi import create_proxy as pyodide_create_proxy

    proxy = pyodide_create_proxy(obj)
    ledger.made("proxy")
    return proxy


def destroy_proxy(proxy: Any) -> None:
    """Destroy a proxy made by :func:`create_proxy`."""
    proxy.destroy()
    ledger.gone("proxy")


def create_buffer(device: Any, size: int, usage: int, label: str = "") -> Any:
    """A counted ``GPUBuffer``; pair it with :func:`destroy_buffer`."""
    _check_u53("buffer size", size)
    buffer = device.createBuffer(to_js({"size": size, "usage": usage, "label": label}))
    ledger.made("buffer")
    return buffer


def destroy_buffer(buffer: Any) -> None:
    """Destroy a buffer made by :func:`create_buffer`."""
    buffer.destroy()
    ledger.gone("buffer")


def _check_u53(what: str, value: int) -> None:
    # Python ints ≥ 2**53 become BigInt in JS, which WebGPU rejects with an unhelpful error.
    if not 0 <= value < 2**53:
        raise ValueError(f"{what} {value} is out of range for WebGPU (0 ≤ n < 2**53)")


def _byte_view(data: Any) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"upload takes bytes, bytearray, memoryview, array.array or a numpy array, "
            f"not {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        raise ValueError("upload needs C-contiguous data (numpy: np.ascontiguousarray)")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def upload(device: Any, buffer: Any, data: Any, offset: int = 0) -> int:
    """Write ``data`` into ``buffer`` at byte ``offset`` without copying it through JS.

    ``queue.writeBuffer`` reads straight from a view of Pyodide's wasm memory; the view and its
    proxy are released before returning. WebGPU needs ``offset`` and the size in multiples of 4.
    Returns the number of bytes written.
    """
    _require_browser("upload")
    view = _byte_view(data)
    nbytes = view.nbytes
    if offset % 4 or nbytes % 4:
        raise ValueError(
            f"upload of {nbytes} bytes at offset {offset}: WebGPU writeBuffer needs both to be "
            "multiples of 4 bytes (pad the data or the buffer)"
        )
    _check_u53("upload offset", offset)
    if nbytes == 0:
        return 0
    proxy = create_proxy(view)
    try:
        pybuffer = proxy.getBuffer("u8")
        try:
            device.queue.writeBuffer(buffer, offset, pybuffer.data)
        finally:
            pybuffer.release()
    finally:
        destroy_proxy(proxy)
    return nbytes


def read_buffer(device: Any, buffer: Any, size: int, offset: int = 0) -> bytes:
    """Copy ``size`` bytes of ``buffer`` (usage COPY_SRC) back to Python, blocking via JSPI."""
    _require_browser("read_buffer")
    import js

    if offset % 4 or size % 4:
        raise ValueError(f"read of {size} bytes at offset {offset}: WebGPU needs multiples of 4")
    staging = create_buffer(device, size, MAP_READ | COPY_DST, "webinfer.read_buffer")
    try:
        encoder = device.createCommandEncoder()
        encoder.copyBufferToBuffer(buffer, offset, staging, 0, size)
        device.queue.submit(to_js([encoder.finish()]))
        run_sync(staging.mapAsync(MAP_MODE_READ))
        data: bytes = js.Uint8Array.new(staging.getMappedRange()).to_bytes()
        staging.unmap()
        return data
    finally:
        destroy_buffer(staging)


_modules: dict[str, Any] = {}


def import_module(source: str, name: str) -> Any:
    """Load an ES module from its source text (JS shipped in the wheel), once per ``name``; blocks via JSPI.

    The module is imported from a ``blob:`` URL, so it needs no server route; later calls with the
    same ``name`` return the cached module namespace.
    """
    _require_browser("import_module")
    if name not in _modules:
        import js

        blob = js.Blob.new(to_js([source]), to_js({"type": "text/javascript"}))
        url = js.URL.createObjectURL(blob)
        try:
            _modules[name] = run_sync(js.eval("(url) => import(url)")(url))
        finally:
            js.URL.revokeObjectURL(url)
    return _modules[name]
