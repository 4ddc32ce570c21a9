"""A Step: one kernel dispatch in a plan, before it is rendered to WGSL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .expr import Expr
from .views import Value, View


@dataclass(eq=False)
class Step:
    """One dispatch: a kernel family, its inputs (views), settings, the fused epilogue and the output view.

    ``shape`` is the logical shape of what the kernel computes (the index space of ``store``);
    ``tree`` is the elementwise epilogue evaluated on the kernel's value (``Acc``) before it is
    written through ``out``.
    """

    kernel: str
    node: str  # the graph node this kernel implements ("" for pure elementwise / copies)
    inputs: list[View]
    shape: tuple[int, ...]
    dtype: str
    params: dict[str, Any] = field(default_factory=dict)
    tree: Expr | None = None
    out: View | None = None
    fused: list[str] = field(default_factory=list)  # names of the graph nodes this dispatch computes

    def reads(self) -> list[Value]:
        from .expr import values

        out: list[Value] = []
        for v in [p for iv in self.inputs for p in iv.value.parts()] + values(self.tree):
            if not any(v is o for o in out):
                out.append(v)
        return out

    @property
    def label(self) -> str:
        return "+".join(self.fused) if self.fused else (self.node or self.kernel)
