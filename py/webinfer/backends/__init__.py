"""Backends: ``compile(graph, backend=...)`` picks one by name and returns its Session."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import BackendError
from ..ir.graph import Graph
from .session import Session

# name -> "module:Class", imported on first use (browser backends import only in the browser)
BACKENDS: dict[str, str] = {
    "reference": "webinfer.backends.reference:ReferenceSession",
    "webgpu": "webinfer.backends.webgpu:WebGPUSession",
    "webnn": "webinfer.backends.webnn:WebNNSession",
    "hybrid": "webinfer.backends.hybrid:HybridSession",
}

#: Backends that need the browser's WebGPU/WebNN (compile refuses them on CPython with a clear message).
BROWSER_BACKENDS = ("webgpu", "webnn", "hybrid")


def register_backend(name: str, target: str) -> None:
    BACKENDS[name] = target


def _in_browser() -> bool:
    import sys

    return sys.platform == "emscripten"


#: What each built-in backend needs from the page: ``navigator.gpu`` (WebGPU) or ``navigator.ml`` (WebNN).
_NEEDS = {"webgpu": ("gpu", "WebGPU"), "webnn": ("ml", "WebNN"), "hybrid": ("ml", "WebNN")}


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot be compiled for here, or None when it can (as far as can be told cheaply)."""
    if name == "reference":
        import importlib.util

        if importlib.util.find_spec("numpy"):
            return None
        return "the reference backend needs numpy, which is not installed here"
    if name in _NEEDS:
        if not _in_browser():
            return f"{name} runs only in the browser (Pyodide)"
        from .. import ffi

        api, what = _NEEDS[name]
        if ffi.navigator_has(api):
            return None
        return f"{what} is not available in this browser (navigator.{api} is missing)"
    return None  # a registered third-party backend: it says for itself


def available_backends() -> list[str]:
    """Backend names that can be compiled for here: reference where numpy is, the others where the page has the API."""
    return [n for n in BACKENDS if unavailable_reason(n) is None]


def resolve_backend(name: str) -> str:
    """A backend name from ``name``; "auto" takes $WEBINFER_BACKEND (``webinfer run --backend``) when set."""
    return _resolve(name)[0]


def _resolve(name: str) -> tuple[str, str | None]:
    """(backend, why "auto" chose it — None when the caller named the backend)."""
    if name == "auto":
        import os

        chosen = os.environ.get("WEBINFER_BACKEND", "").strip()
        if chosen and chosen != "auto":
            if chosen not in BACKENDS:
                raise BackendError(
                    f"compile: WEBINFER_BACKEND={chosen!r} is not a backend; "
                    f"choose one of {', '.join(list(BACKENDS) + ['auto'])}"
                )
            return chosen, f"WEBINFER_BACKEND={chosen}"
        if not _in_browser():
            return "reference", "on the host only the reference backend runs"
        reasons = {c: unavailable_reason(c) for c in ("webgpu", "webnn", "reference") if c in BACKENDS}
        if reasons.get("webgpu") is None and reasons.get("webnn") is None:
            from .. import ffi

            adapter = ffi.webgpu_adapter_summary()
            if adapter is None:
                reasons["webgpu"] = "navigator.gpu.requestAdapter() gave no adapter"
            elif adapter["software"]:  # a CPU-emulated GPU: the browser's WebNN CPU path is far faster
                return "webnn", (f"the WebGPU adapter is software ({adapter['vendor']} {adapter['architecture']}, "
                                 "fallback), so WebNN runs faster")
            else:
                return "webgpu", f"a hardware WebGPU adapter ({adapter['vendor']} {adapter['architecture']})"
        for candidate, reason in reasons.items():
            if reason is None:
                return candidate, "first available of webgpu, webnn, reference"
        raise BackendError("compile: backend='auto' found none that can run here: "
                           + "; ".join(f"{c}: {r}" for c, r in reasons.items()))
    if name not in BACKENDS:
        raise BackendError(f"compile: unknown backend {name!r}; choose one of {', '.join(list(BACKENDS) + ['auto'])}")
    return name, None


def compile(graph: Graph, backend: str = "auto", **options: Any) -> Session:
    """Compile ``graph`` for ``backend`` ("reference", "webgpu", "webnn", "hybrid" or "auto")."""
    if not isinstance(graph, Graph):
        raise BackendError(f"compile: expected a webinfer Graph, got {type(graph).__name__}")
    name, why = _resolve(backend)
    if name in BROWSER_BACKENDS and not _in_browser():
        raise BackendError(
            f"compile: backend {name!r} runs only in the browser (Pyodide with WebGPU/WebNN); here, on the "
            f"host, use backend='reference', or run the script in a page with `webinfer run SCRIPT.py --backend {name}`"
        )
    module, _, cls = BACKENDS[name].partition(":")
    try:
        factory: Callable[..., Session] = getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise BackendError(f"compile: backend {name!r} cannot be loaded here: {e}") from e
    session = factory(graph, **options)
    session.chosen_by = why
    return session


__all__ = [
    "BACKENDS", "BROWSER_BACKENDS", "Session", "available_backends", "compile", "register_backend",
    "unavailable_reason",
]
