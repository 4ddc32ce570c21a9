"""The memory plan: give every value a GPU buffer, reusing buffers whose values are dead (liveness).

A value is live from the first step that writes it (graph inputs: before the first step) to the
last step that reads it (graph outputs: to the end, for readback). Values whose lifetimes do not
overlap share a buffer: greedy best fit in order of first write, growing a free buffer when none is
big enough. Constants keep their own buffers, and so do inputs updated in place ("inout": a KV cache, whose
buffer is the output's too and may be the caller's, donated). Virtual values (dequantized weights) have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .views import Value

ALIGN = 16


@dataclass
class Buffer:
    """One GPU buffer of the plan."""

    index: int
    size: int
    kind: str  # "pool" | "const" | "inout"
    values: list[Value] = field(default_factory=list)


def _round(n: int) -> int:
    return max(ALIGN, -(-n // ALIGN) * ALIGN)


def lifetime(v: Value, n_steps: int) -> tuple[int, int]:
    start = -1 if v.kind == "input" else min(v.writers, default=-1)
    if v.kind in ("output", "raw_out"):
        end = n_steps
    else:
        end = max(v.readers, default=start)
    return start, end


def plan_memory(values: list[Value], n_steps: int) -> list[Buffer]:
    """Assign ``value.buffer`` for every value; returns the buffers (constants first)."""
    buffers: list[Buffer] = []
    for v in values:
        if v.kind in ("const", "inout"):
            b = Buffer(len(buffers), _round(v.nbytes), v.kind, [v])
            v.buffer = b.index
            buffers.append(b)
    live = sorted((v for v in values if v.kind not in ("const", "inout", "virtual")),
                  key=lambda v: (lifetime(v, n_steps)[0], v.id))
    free: list[Buffer] = []
    busy: list[tuple[int, Buffer]] = []  # (end step, buffer)
    for v in live:
        start, end = lifetime(v, n_steps)
        still = []
        for e, b in busy:
            if e < start:
                free.append(b)
            else:
                still.append((e, b))
        busy = still
        need = _round(v.nbytes)
        fits = [b for b in free if b.size >= need]
        if fits:
            b = min(fits, key=lambda b: b.size)
        elif free:
            b = max(free, key=lambda b: b.size)
            b.size = need
        else:
            b = Buffer(len(buffers), need, "pool")
            buffers.append(b)
        if b in free:
            free.remove(b)
        b.values.append(v)
        v.buffer = b.index
        busy.append((end, b))
    return buffers
