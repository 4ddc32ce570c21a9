"""webinfer: run neural-network graphs from Python in the browser (WebNN, WebGPU) and on the host.

    import webinfer as wi
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 4])
    y = g.relu(g.matmul(x, g.constant(w)))
    sess = wi.compile(g.build({"y": y}), backend="reference")
    out = sess.run({"x": data})["y"]
"""

from . import importers
from .backends import available_backends, compile
from .backends.session import Session
from .errors import BackendError, GraphError, InputError, UnsupportedError, WebinferError, WeightsError
from .ir import DTYPES, Graph, GraphBuilder, Node, Operand, OperandDesc, all_ops, get_op
from .tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "BackendError", "DTYPES", "Graph", "GraphBuilder", "GraphError", "InputError", "Node", "Operand",
    "OperandDesc", "Session", "Tensor", "UnsupportedError", "WebinferError", "WeightsError", "all_ops",
    "available_backends", "compile", "get_op", "importers", "load", "save",
]


def save(graph: Graph, path: str, weights: str | None = None, **kwargs: object) -> None:
    """Write ``graph`` as graph JSON, its constants into a safetensors file (see webinfer.format)."""
    from .format import save as _save

    _save(graph, path, weights=weights, **kwargs)  # type: ignore[arg-type]


def load(path: str, **kwargs: object) -> Graph:
    """Read and fully validate a graph JSON file and its weights (see webinfer.format)."""
    from .format import load as _load

    return _load(path, **kwargs)  # type: ignore[arg-type]
