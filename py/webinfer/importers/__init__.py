"""Importers: foreign model formats -> webinfer ``Graph`` (or the pieces to build one).

``webinfer.importers.onnx.load(path)`` (host only: needs the ``onnx`` package, ``pip install 'webinfer[onnx]'``).
``webinfer.importers.gguf`` reads GGUF files (llama.cpp's format) in pure Python, without numpy, so it runs
in Pyodide too. Submodules are imported on first use, so ``import webinfer`` stays light.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["gguf", "onnx"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
