"""The backend contract: what every backend describes about itself, once.

A :class:`Backend` says its name, what it needs to be available, its session class and its ops table
(both named ``"module:attribute"`` and imported on first use, so the descriptions import on the host
without numpy or ``js``). Every entry of an ops table is keyed by the op's registry name and carries
``supports(node, descs, limits) -> reason | None`` beside the backend's own lowering (:class:`OpEntry`).
The CLI, conformance, the README op table, the page's backend picker and ``backend="auto"`` all read
these descriptions (``webinfer.backends``); nothing else lists the backends.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import BackendError
from ..ir.graph import Graph, Node
from ..ir.operand import OperandDesc


@dataclass(frozen=True)
class NodeDescs:
    """A node's input descriptors (None for absent optional inputs) and output descriptors."""

    inputs: Sequence[OperandDesc | None]
    outputs: Sequence[OperandDesc]

    @classmethod
    def of(cls, graph: Graph, node: Node) -> NodeDescs:
        """The descriptors of ``node``'s operands in ``graph``."""
        return cls([None if i is None else graph.operands[i] for i in node.inputs],
                   [graph.operands[o] for o in node.outputs])


CheckFn = Callable[[Node, NodeDescs, Any], "str | None"]


class SupportsOp(Protocol):
    """What the contract asks of every ops-table entry (the lowering beside it is the backend's own)."""

    def supports(self, node: Node, descs: NodeDescs, limits: Any) -> str | None: ...


@dataclass(frozen=True)
class OpEntry:
    """One op on one backend: ``lower`` (the backend's kernel or lowering) and ``check`` (why not, or None).

    ``limits`` is whatever the backend plans against (WebNN: the context's ``opSupportLimits()``;
    WebGPU: the adapter's limits; None: nothing known, answer for the node alone).
    """

    lower: Any
    check: CheckFn | None = None

    def supports(self, node: Node, descs: NodeDescs, limits: Any = None) -> str | None:
        """Why this backend cannot run ``node`` (None: it can)."""
        return self.check(node, descs, limits) if self.check else None


def _needs_numpy() -> str | None:
    if importlib.util.find_spec("numpy"):
        return None
    return "needs numpy, which is not installed here"


def in_browser() -> bool:
    """Whether this Python runs in the page (Pyodide)."""
    return sys.platform == "emscripten"


def _needs_browser() -> str | None:
    return None if in_browser() else "runs only in the browser (Pyodide)"


def _needs_api(api: str, what: str) -> Callable[[], str | None]:
    def check() -> str | None:
        from .. import ffi

        if ffi.navigator_has(api):
            return None
        return f"{what} is not available in this browser (navigator.{api} is missing)"

    return check


#: What a backend may need, and the check that says why it is missing (None: present). Cheap: no device made.
NEEDS: dict[str, Callable[[], str | None]] = {
    "numpy": _needs_numpy,
    "browser": _needs_browser,
    "webgpu": _needs_api("gpu", "WebGPU"),
    "webnn": _needs_api("ml", "WebNN"),
}


def _resolve(target: str, what: str) -> Any:
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise BackendError(f"{what} must be 'module:attribute', got {target!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise BackendError(f"{what} {target!r} cannot be loaded here: {e}") from e
    except AttributeError:
        raise BackendError(f"{what} {target!r}: module {module!r} has no {attr!r}") from None


@dataclass(frozen=True)
class Backend:
    """One backend, described once.

    ``needs`` are :data:`NEEDS` keys; ``session`` and ``ops`` are ``"module:attribute"`` (imported on first
    use); ``parts`` names the backends a composite (hybrid) places nodes on, instead of an ops table of
    its own; ``ops_file`` is where a new op's entry goes (for docs/adding-an-op.md and the coverage test);
    ``device_outputs``: its sessions' ``run(..., keep_on_device=True)`` leaves the outputs on the device.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    session: str
    ops: str | None = None
    parts: tuple[str, ...] = ()
    ops_file: str = ""
    summary: str = ""
    device_outputs: bool = False  # run(..., keep_on_device=True) leaves outputs on the device (Session.device_outputs)

    @property
    def browser_only(self) -> bool:
        return "browser" in self.needs

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot be compiled for here, or None (a cheap check: no device is made)."""
        for need in self.needs:
            check = NEEDS.get(need)
            if check is None:
                return f"needs {need!r}, which webinfer does not know how to check"
            reason = check()
            if reason:
                return reason
        return None

    def session_class(self) -> Callable[..., Any]:
        """The Session subclass (imported now)."""
        return _resolve(self.session, f"backend {self.name!r}: session")  # type: ignore[no-any-return]

    def op_table(self) -> Mapping[str, SupportsOp] | None:
        """The ops table keyed by op name; None for a composite, or when it cannot be imported here."""
        if self.ops is None:
            return None
        try:
            table = _resolve(self.ops, f"backend {self.name!r}: ops table")
        except BackendError:
            return None
        return table if isinstance(table, Mapping) else None


def no_entry_reason(backend: str, op: str) -> str:
    """The reason a backend gives for an op its table lacks."""
    return f"{backend} has no entry for op {op!r} (not implemented on this backend)"


def entry_supports(table: Mapping[str, SupportsOp], backend: str, node: Node, descs: NodeDescs,
                   limits: Any = None) -> str | None:
    """Why ``backend`` (with ops ``table``) cannot run ``node``: a missing entry, or the entry's own reason."""
    entry = table.get(node.op)
    if entry is None:
        return no_entry_reason(backend, node.op)
    return entry.supports(node, descs, limits)


__all__ = ["Backend", "CheckFn", "NEEDS", "NodeDescs", "OpEntry", "SupportsOp", "entry_supports", "in_browser",
           "no_entry_reason"]
