"""Importers: foreign model formats -> webinfer ``Graph``.

``webinfer.importers.onnx.load(path)`` (host only: needs the ``onnx`` package, ``pip install 'webinfer[onnx]'``).
Submodules are imported on first use, so ``import webinfer`` stays light (and works in Pyodide).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["onnx"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
