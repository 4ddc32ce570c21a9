"""The WebGPU kernel table: ``KERNELS[op]`` for every op WebGPU runs, keyed by the registry's names.

Each entry (``lowering.py``) says why WebGPU cannot run a node (``supports``), names its family and the
lowering that turns a graph node into planner work (a fused elementwise tree, a view, or a kernel step);
``PROGRAMS`` maps each kernel family to its WGSL generator, which also returns the dispatch size.
Families come first: one elementwise generator serves every elementwise op (``EW_OPS``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..program import Program
from ..step import Step
from . import conv, matmul, movement, reduce
from .elementwise import EW_OPS, elementwise_program
from .lowering import LOWERINGS, Kernel

ProgramFn = Callable[[Program, Step, bool], tuple[str, tuple[int, int, int]]]

# family -> WGSL generator + dispatch size
PROGRAMS: dict[str, ProgramFn] = {
    "matmul": matmul.matmul_program,
    "reduce": reduce.reduce_program,
    "softmax": reduce.softmax_program,
    "layer_norm": reduce.layer_norm_program,
    "conv2d": conv.conv2d_program,
    "depthwise": conv.depthwise_program,
    "pool2d": conv.pool2d_program,
    "gather": movement.gather_program,
    "scatter": movement.scatter_program,
    "pad": movement.pad_program,
    "pack": movement.pack_program,
}

#: The WebGPU backend's ops table (the contract's): op name -> Kernel (supports, family, lowering).
KERNELS: dict[str, Kernel] = LOWERINGS

__all__ = ["EW_OPS", "KERNELS", "Kernel", "PROGRAMS", "elementwise_program"]
