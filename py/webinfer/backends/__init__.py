"""Backends: ``compile(graph, backend=...)`` picks one by name and returns its Session."""

from __future__ import annotations

import importlib
from typing import Any, Callable

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


def register_backend(name: str, target: str) -> None:
    BACKENDS[name] = target


def _in_browser() -> bool:
    import sys

    return sys.platform == "emscripten"


def available_backends() -> list[str]:
    """Backend names that can be compiled for here (browser backends only inside Pyodide)."""
    names = list(BACKENDS)
    return names if _in_browser() else [n for n in names if n == "reference"]


def resolve_backend(name: str) -> str:
    if name == "auto":
        if not _in_browser():
            return "reference"
        for candidate in ("webgpu", "webnn"):
            if candidate in BACKENDS:
                return candidate
        raise BackendError("auto: no browser backend is available in this build")
    if name not in BACKENDS:
        raise BackendError(f"compile: unknown backend {name!r}; choose one of {', '.join(list(BACKENDS) + ['auto'])}")
    return name


def compile(graph: Graph, backend: str = "auto", **options: Any) -> Session:
    """Compile ``graph`` for ``backend`` ("reference", "webgpu", "webnn", "hybrid" or "auto")."""
    if not isinstance(graph, Graph):
        raise BackendError(f"compile: expected a webinfer Graph, got {type(graph).__name__}")
    name = resolve_backend(backend)
    module, _, cls = BACKENDS[name].partition(":")
    try:
        factory: Callable[..., Session] = getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise BackendError(f"compile: backend {name!r} cannot be loaded here: {e}") from e
    return factory(graph, **options)


__all__ = ["BACKENDS", "Session", "available_backends", "compile", "register_backend"]
