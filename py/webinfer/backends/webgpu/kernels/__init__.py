"""The WebGPU kernel table: ``KERNELS[op]`` for every op in op set v1, keyed by the registry's names.

Each entry names its family, the lowering that turns a graph node into planner work (a fused
elementwise tree, a view, or a kernel step) and, for kernel families, the WGSL generator that also
returns the dispatch size. Families come first: one elementwise generator serves 33 ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..program import Program
from ..step import Step
from . import conv, matmul, movement, reduce
from .elementwise import EW_OPS, elementwise_program
from .lowering import LOWERINGS

ProgramFn = Callable[[Program, Step, bool], tuple[str, tuple[int, int, int]]]

# family -> WGSL generator + dispatch size
PROGRAMS: dict[str, ProgramFn] = {
    "matmul": matmul.matmul_program,
    "reduce": reduce.reduce_program,
    "softmax": reduce.softmax_program,
    "layer_norm": reduce.layer_norm_program,
    "conv2d": conv.conv2d_program,
    "pool2d": conv.pool2d_program,
    "gather": movement.gather_program,
    "pad": movement.pad_program,
    "pack": movement.pack_program,
}


@dataclass(frozen=True)
class Kernel:
    """How one op runs on WebGPU: its family, its lowering and (for kernels) its WGSL generator."""

    op: str
    family: str  # "elementwise" | "view" | "concat" | a PROGRAMS key
    lower: Callable[[Any, Any], None]
    program: ProgramFn | None


def _table() -> dict[str, Kernel]:
    table: dict[str, Kernel] = {}
    for op, (family, lower) in LOWERINGS.items():
        table[op] = Kernel(op, family, lower, PROGRAMS.get(family))
    return table


KERNELS: dict[str, Kernel] = _table()

__all__ = ["EW_OPS", "KERNELS", "Kernel", "PROGRAMS", "elementwise_program"]
