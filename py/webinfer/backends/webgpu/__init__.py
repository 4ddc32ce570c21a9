"""The WebGPU backend: WGSL compute shaders planned in Python, run by a small JS executor.

``webinfer.compile(graph, backend="webgpu")`` inside Pyodide. The planner (``planner.py``), the
kernel table (``kernels/``) and the WGSL they generate are plain Python and testable on CPython;
``runtime.py`` and ``executor.js`` are the browser side.
"""

from __future__ import annotations

from .session import WebGPUSession

__all__ = ["WebGPUSession"]
