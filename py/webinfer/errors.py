"""The exceptions webinfer raises: each names what was wrong and where."""

from __future__ import annotations


class WebinferError(Exception):
    """Base class of every error webinfer raises on purpose."""


class GraphError(WebinferError, ValueError):
    """A graph, node, operand or attribute is invalid (names the op, the operand and the shapes)."""


class WeightsError(WebinferError, ValueError):
    """A weights (safetensors) file is malformed, truncated, or does not match the graph."""


class InputError(WebinferError, ValueError):
    """Inputs given to ``Session.run`` do not match the graph (name, dtype, shape, range)."""


class BackendError(WebinferError, RuntimeError):
    """A backend cannot compile or run the graph (unsupported op, device lost, limits exceeded)."""


class UnsupportedError(BackendError):
    """A backend does not support a node; ``reason`` says why."""

    def __init__(self, message: str, *, node: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.reason = reason or message
