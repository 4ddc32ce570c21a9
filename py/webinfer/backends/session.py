"""The Session every backend returns from ``compile``: input checking, run/run_async, info, close."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..errors import BackendError, GraphError, InputError
from ..ir.dtypes import dtype_info
from ..ir.graph import Graph
from ..ir.operand import fmt_shape
from ..tensor import Tensor, as_tensor, pack, unpack


def bind_inputs(graph: Graph, inputs: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, int]]:
    """Check ``inputs`` against the graph and bind its symbolic dims.

    Returns the inputs as Tensors of the declared dtypes and the dim bindings. Nested lists take the
    declared dtype; integer data of another integer dtype is converted only after a range check; any
    other dtype mismatch is an error.
    """
    if not isinstance(inputs, Mapping):
        raise InputError(f"run: inputs must be a dict of name -> data, got {type(inputs).__name__}")
    missing = [k for k in graph.inputs if k not in inputs]
    unexpected = [k for k in inputs if k not in graph.inputs]
    if unexpected:
        raise InputError(f"run: unknown input {unexpected[0]!r}; the graph takes {', '.join(graph.inputs) or 'none'}")
    if missing:
        raise InputError(f"run: missing input {missing[0]!r} ({graph.inputs[missing[0]]})")
    tensors: dict[str, Tensor] = {}
    bindings: dict[str, int] = {}
    for name, desc in graph.inputs.items():
        where = f"input {name!r}"
        t = _coerce(inputs[name], desc.dtype, where)
        if len(t.shape) != desc.rank:
            raise InputError(f"{where}: expected rank {desc.rank} {fmt_shape(desc.shape)}, got {fmt_shape(t.shape)}")
        for axis, (want, got) in enumerate(zip(desc.shape, t.shape)):
            if isinstance(want, int):
                if want != got:
                    raise InputError(
                        f"{where}: expected shape {fmt_shape(desc.shape)}, got {fmt_shape(t.shape)} (axis {axis})"
                    )
            elif bindings.setdefault(want, got) != got:
                raise InputError(
                    f"{where}: dim {want!r} is {got} here (axis {axis}) but {bindings[want]} in an earlier input"
                )
        tensors[name] = t
    return tensors, bindings


def _coerce(value: Any, dtype: str, where: str) -> Tensor:
    """``value`` as a Tensor of the declared ``dtype``: lists take it, same-kind data converts with a range check."""
    if isinstance(value, (list, tuple, int, float)):
        return as_tensor(value, dtype, where)
    t = value if isinstance(value, Tensor) else as_tensor(value, None, where)
    if t.dtype == dtype:
        return t
    src, dst = dtype_info(t.dtype), dtype_info(dtype)
    if src.is_float != dst.is_float:
        raise InputError(f"{where}: expected {dtype} data, got {t.dtype}")
    np = _numpy()
    if np is not None:  # fast path: numpy checks the integer range and converts floats
        return as_tensor(t.numpy(), dtype, where)
    return Tensor(pack(unpack(t.tobytes(), t.dtype), dtype, where), dtype=dtype, shape=t.shape)


def _numpy() -> Any:
    try:
        import numpy

        return numpy
    except ImportError:
        return None


class Session:
    """A compiled graph, ready to run. Backends subclass this and implement ``_run``."""

    backend = "abstract"

    def __init__(self, graph: Graph, **options: Any) -> None:
        self.graph = graph
        self.options = options
        self.closed = False
        self.chosen_by: str | None = None
        self.stats: dict[str, Any] = {"runs": 0, "last_run_ms": None, "compile_ms": None}
        self._specialized: dict[tuple[tuple[str, int], ...], Graph] = {}

    # -- the public API ----------------------------------------------------------------------------
    def run(self, inputs: Mapping[str, Any], **kwargs: Any) -> dict[str, Tensor]:
        """Run the graph on ``inputs`` (name -> data); returns output name -> Tensor."""
        tensors, bindings = self._begin(inputs)
        return self._done(self._run(tensors, bindings, **kwargs))

    async def run_async(self, inputs: Mapping[str, Any], **kwargs: Any) -> dict[str, Tensor]:
        """The same as ``run``, awaitable (no JSPI needed in the browser)."""
        tensors, bindings = self._begin(inputs)
        return self._done(await self._run_async(tensors, bindings, **kwargs))

    def _begin(self, inputs: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, int]]:
        """The one body of run and run_async before the backend's work: check, bind, specialize, start timing."""
        self._t_call = time.perf_counter()  # the call's start (webgpu reports Python's share from it)
        self._check_open()
        tensors, bindings = bind_inputs(self.graph, inputs)
        self.specialized(bindings)
        self._t_run = time.perf_counter()
        return tensors, bindings

    def _done(self, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """The one body of run and run_async after the backend's work: count the run and its time."""
        self.stats["runs"] += 1
        self.stats["last_run_ms"] = (time.perf_counter() - self._t_run) * 1e3
        return out

    def specialized(self, bindings: Mapping[str, int]) -> Graph:
        """The graph with its symbolic dims bound (cached); InputError if the graph rejects those sizes."""
        if not bindings:
            return self.graph
        key = tuple(sorted(bindings.items()))
        graph = self._specialized.get(key)
        if graph is None:
            try:
                graph = self.graph.specialize(bindings)
            except GraphError as e:
                dims = ", ".join(f"{k}={v}" for k, v in key)
                raise InputError(f"run: the inputs give {dims}, which the graph cannot take: {e}") from None
            if len(self._specialized) >= 16:
                self._specialized.pop(next(iter(self._specialized)))
            self._specialized[key] = graph
        return graph

    def info(self) -> dict[str, Any]:
        """Which backend and device run this graph, where each node runs, and plan statistics."""
        return {
            "backend": self.backend,
            "chosen_by": self.chosen_by,  # why backend="auto" picked this one (None when named)
            "device": self.device_info(),
            "closed": self.closed,
            "inputs": {k: str(v) for k, v in self.graph.inputs.items()},
            "outputs": {k: str(self.graph.operands[v]) for k, v in self.graph.outputs.items()},
            "nodes": len(self.graph.nodes),
            "placement": self.placement(),
            "stats": dict(self.stats),
        }

    def close(self) -> None:
        """Free everything this session made (GPU buffers, MLTensors); further runs raise."""
        if not self.closed:
            self._close()
            self.closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend} {self.graph!r}{' closed' if self.closed else ''}>"

    # -- for subclasses ----------------------------------------------------------------------------
    @property
    def device_outputs(self) -> bool:
        """Whether ``run(inputs, keep_on_device=True)`` leaves the outputs on the device (``Tensor.on_device``),
        where later runs of this session or of its ``compile_sibling`` sessions take them without a copy (the
        backend's description says so: ``Backend.device_outputs``)."""
        from . import BACKENDS

        desc = BACKENDS.get(self.backend)
        return bool(desc is not None and desc.device_outputs)

    def compile_sibling(self, graph: Graph, **options: Any) -> Session:
        """``graph`` compiled for this session's backend and device with its options, so that device tensors pass
        between the two (a backend whose sessions hold separate devices overrides this to share its own)."""
        from . import compile as compile_graph

        return compile_graph(graph, self.backend, **{**self.options, **options})

    def _check_open(self) -> None:
        if self.closed:
            raise BackendError(f"this {self.backend} session is closed; compile the graph again")

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        raise NotImplementedError

    async def _run_async(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        return self._run(inputs, bindings, **kwargs)

    def _close(self) -> None:
        pass

    def device_info(self) -> dict[str, Any]:
        return {}

    def placement(self) -> dict[str, str]:
        """node name -> where it runs."""
        return {n.name: self.backend for n in self.graph.nodes}


def check_options(backend: str, options: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise BackendError(
            f"compile: backend {backend!r} takes no option {unknown[0]!r}; options: {', '.join(allowed) or 'none'}"
        )


__all__ = ["Session", "bind_inputs", "check_options"]
