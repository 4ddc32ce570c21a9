"""The reference backend: numpy kernels computing in float64 on the host (the conformance oracle)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

try:
    import numpy as np
except ImportError as _e:  # the browser has no numpy: say so instead of a bare ModuleNotFoundError
    raise ImportError(
        "the reference backend needs numpy, which is not installed here (pip install 'webinfer[host]')"
    ) from _e

from ...errors import BackendError, UnsupportedError
from ...ir.graph import Graph
from ...ir.hostdata import unpack_array
from ...tensor import Tensor
from ..contract import no_entry_reason
from ..session import Session, check_options
from .kernels import KERNELS


def evaluate(
    graph: Graph,
    inputs: Mapping[str, Tensor],
    *,
    keep: bool = False,
    float64: bool = True,
    constants: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``graph`` with numpy; floats compute in float64 unless ``float64=False``.

    Returns the outputs by output name, or with ``keep=True`` every operand by operand name
    (for debugging and bisecting a backend against this one). ``constants`` is a cache of the
    constants already loaded at this precision, and of the values of nodes computed from constants only
    (dequantized weights, casts of scales): a session passes one, so each run skips that work.
    """
    values: dict[str, np.ndarray | None] = {}
    for name, t in inputs.items():
        values[name] = _load(t.numpy(), float64)
    cache = constants if constants is not None else {}
    for name, c in graph.constants.items():
        arr = cache.get(name)
        if arr is None:
            desc = c.desc
            shape = tuple(int(d) for d in desc.shape)
            if desc.info.packed:  # int4/uint4 constants come unpacked, as int8/uint8
                arr = unpack_array(np.frombuffer(c.data(), np.uint8), desc.dtype, shape)
            else:
                arr = np.frombuffer(c.data(), dtype=np.dtype(desc.dtype).newbyteorder("<")).reshape(shape)
            arr = cache[name] = _load(arr, float64)
        values[name] = arr
    consumers_left: dict[str, int] = {}
    if not keep:
        for n in graph.nodes:
            for i in n.inputs:
                if i is not None:
                    consumers_left[i] = consumers_left.get(i, 0) + 1
    wanted = set(graph.outputs.values())
    from_constants = set(graph.constants)  # operands computed from constants alone: computed once, cached
    for node in graph.nodes:
        folded = all(i is None or i in from_constants for i in node.inputs)
        if folded:
            from_constants.update(node.outputs)
            hits = [cache.get(o) for o in node.outputs]
            if all(h is not None and h.shape == tuple(graph.operands[o].shape) for h, o in zip(hits, node.outputs)):
                values.update(zip(node.outputs, hits))
                _release(node, values, consumers_left, wanted, keep)
                continue
        entry = KERNELS.get(node.op)
        if entry is None:
            raise UnsupportedError(f"reference: no kernel for {node.label}", node=node.name,
                                   reason=no_entry_reason("reference", node.op))
        args = [None if i is None else values[i] for i in node.inputs]
        outs = [graph.operands[o] for o in node.outputs]
        try:
            with np.errstate(all="ignore"):  # IEEE results (inf, NaN) are the point, not a warning
                results = entry.lower(args, dict(node.attributes), outs)
                results = [np.asarray(r) for r in results]
                for o, desc, r in zip(node.outputs, outs, results):
                    if tuple(r.shape) != tuple(desc.shape):
                        raise BackendError(
                            f"reference: {node.label} produced {list(r.shape)}, expected {list(desc.shape)}"
                        )
                    keep_dtype = desc.info.is_integer or not float64
                    values[o] = _load(r.astype(_np_dtype(desc.dtype)), float64) if keep_dtype else r.astype(np.float64)
        except (ValueError, IndexError, TypeError, FloatingPointError) as e:
            raise BackendError(f"reference: {node.label} failed: {e}") from e
        if folded:
            cache.update({o: values[o] for o in node.outputs})  # type: ignore[misc]
        _release(node, values, consumers_left, wanted, keep)
    if keep:
        return {k: v for k, v in values.items() if v is not None}
    return {out: values[op] for out, op in graph.outputs.items()}  # type: ignore[misc]


def _release(node: Any, values: dict[str, Any], consumers_left: dict[str, int], wanted: set[str], keep: bool) -> None:
    """Drop the node's inputs that no later node reads (unless every value is kept)."""
    if keep:
        return
    for i in node.inputs:
        if i is not None:
            consumers_left[i] -= 1
            if consumers_left[i] == 0 and i not in wanted:
                values.pop(i, None)


def _np_dtype(dtype: str) -> str:
    """The numpy dtype holding values of ``dtype`` (4-bit types are held unpacked, one per byte)."""
    return {"int4": "int8", "uint4": "uint8"}.get(dtype, dtype)


def _load(arr: np.ndarray, float64: bool) -> np.ndarray:
    if arr.dtype.kind == "f":
        return arr.astype(np.float64 if float64 else arr.dtype)
    return arr


class ReferenceSession(Session):
    """Runs the graph with numpy on the host, computing floats in float64 and rounding the outputs.

    ``precision="float32"`` runs the same kernels on float32 data instead: about twice as fast, for bulk
    work on the host (embedding a corpus); float64 stays the default because it is the oracle.
    """

    backend = "reference"

    def __init__(self, graph: Graph, **options: Any) -> None:
        t0 = time.perf_counter()
        check_options("reference", options, ("device", "precision"))
        if options.get("device") not in (None, "cpu"):  # never pretend: the reference runs on the host CPU only
            raise BackendError(f"reference: runs on the host CPU; device={options['device']!r} is for webnn and hybrid")
        self.precision = options.get("precision", "float64")
        if self.precision not in ("float64", "float32"):
            raise BackendError(f"reference: precision must be 'float64' or 'float32', got {self.precision!r}")
        self._constants: dict[str, np.ndarray] = {}
        super().__init__(graph, **options)
        missing = [n for n in graph.nodes if n.op not in KERNELS]
        if missing:
            raise UnsupportedError(
                f"reference: no kernel for {', '.join(n.label for n in missing)}", node=missing[0].name,
                reason=no_entry_reason("reference", missing[0].op))
        self.stats["compile_ms"] = (time.perf_counter() - t0) * 1e3

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        if kwargs:
            raise BackendError(f"reference: run takes no option {next(iter(kwargs))!r}")
        graph = self.specialized(bindings)
        results = evaluate(graph, inputs, float64=self.precision == "float64", constants=self._constants)
        out: dict[str, Tensor] = {}
        for name, arr in results.items():
            desc = graph.operands[graph.outputs[name]]
            with np.errstate(all="ignore"):
                a = np.asarray(arr).astype(_np_dtype(desc.dtype), order="C")  # (ascontiguousarray makes 0-d 1-d)
                t = Tensor(a, dtype=desc.dtype) if desc.info.packed else Tensor(a)
            t.backend, t.device = "reference", "cpu"
            out[name] = t
        return out

    def device_info(self) -> dict[str, Any]:
        return {"type": "cpu", "name": f"numpy {np.__version__} ({self.precision})"}

    def _close(self) -> None:
        self._constants.clear()
