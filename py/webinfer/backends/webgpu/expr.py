"""Elementwise expression trees: what a fused kernel computes per output element.

A tree's leaves are ``Load`` (an input view at the output's shape), ``Const`` (a scalar uniform)
and ``Acc`` (the value the kernel itself computed: a matmul or conv sum, a reduction, a gather).
Fusion builds trees by putting a producer's tree in place of a consumer's ``Load``; the kernel
that finally materializes a tree evaluates it in its ``store`` function.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .views import Value, View


class Expr:
    dtype: str

    def children(self) -> list[Expr]:
        return []


@dataclass(eq=False)
class Acc(Expr):
    """The kernel's own value at this element."""

    dtype: str


@dataclass(eq=False)
class Load(Expr):
    """An element of ``view`` (shaped like the kernel's output)."""

    view: View
    dtype: str


@dataclass(eq=False)
class Const(Expr):
    """A scalar, passed as a uniform."""

    value: float
    dtype: str


@dataclass(eq=False)
class Op(Expr):
    """An elementwise op (a name in the WGSL table) applied to its argument trees."""

    op: str
    args: list[Expr]
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict)
    node: str = ""

    def children(self) -> list[Expr]:
        return list(self.args)


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of the tree, children before parents."""
    for c in e.children():
        yield from walk(c)
    yield e


def loads(e: Expr | None) -> list[Load]:
    return [] if e is None else [n for n in walk(e) if isinstance(n, Load)]


def values(e: Expr | None) -> list[Value]:
    """The distinct buffers' values the tree reads (a virtual value's parts in its place)."""
    out: list[Value] = []
    for ld in loads(e):
        for part in ld.view.value.parts():
            if not any(v is part for v in out):
                out.append(part)
    return out


def has_acc(e: Expr | None) -> bool:
    return e is not None and any(isinstance(n, Acc) for n in walk(e))


def ops(e: Expr | None) -> list[Op]:
    return [] if e is None else [n for n in walk(e) if isinstance(n, Op)]


def replace_loads(e: Expr, fn: Any) -> Expr:
    """A copy of the tree with each Load replaced by ``fn(load)``."""
    if isinstance(e, Load):
        return fn(e)
    if isinstance(e, Op):
        return Op(e.op, [replace_loads(a, fn) for a in e.args], e.dtype, e.attrs, e.node)
    return e
