"""Import ONNX models (host only: needs the ``onnx`` package, ``pip install 'webinfer[onnx]'``).

    import webinfer as wi
    graph = wi.importers.onnx.load("model.onnx")          # -> wi.Graph (validated)
    problems = wi.importers.onnx.check("model.onnx")      # [] or every node that cannot be imported, with why

Opsets 13-21 (a later opset imports when each node's op is unchanged apart from new types). Initializers become
constants read on demand (external data too, from files next to the model). Shape subgraphs fold to constants;
``dim_param`` dims stay symbolic. ``webinfer convert --from onnx MODEL.onnx -o DIR`` writes graph JSON + safetensors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ...errors import GraphError

if TYPE_CHECKING:
    from ...ir.graph import Graph
    from .importer import Unsupported

__all__ = ["check", "load", "supported_ops"]

_INSTALL = "importing ONNX needs the onnx package: pip install 'webinfer[onnx]'"


def _importer(source: str | os.PathLike[str] | bytes):  # type: ignore[no-untyped-def]
    try:
        from .importer import Importer
        from .model import read_model
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "onnx":
            raise GraphError(_INSTALL) from None
        raise
    model, base = read_model(source)
    label = os.path.basename(os.fspath(source)) if not isinstance(source, (bytes, bytearray, memoryview)) else ""
    return Importer(model, base, source=label)


def load(source: str | os.PathLike[str] | bytes) -> Graph:
    """The webinfer Graph of an ONNX model (a path, or the file's bytes).

    Raises ``OnnxUnsupportedError`` (a ``webinfer.UnsupportedError``) listing every node that cannot be imported,
    before converting anything, and ``webinfer.GraphError`` naming the node for a malformed model.
    """
    return _importer(source).run()  # type: ignore[no-any-return]


def check(source: str | os.PathLike[str] | bytes) -> list[Unsupported]:
    """Every node of the model that cannot be imported (op type, version, node name, reason); [] when all can."""
    from .importer import OnnxUnsupportedError

    try:
        imp = _importer(source)
        imp._order()
        imp._collect_types()
        imp._check_support(imp._order())
    except OnnxUnsupportedError as e:
        return e.unsupported
    return []


def supported_ops() -> list[str]:
    """The ONNX op types (default domain) the importer has a converter for."""
    from .ops import CONVERTERS

    return sorted(CONVERTERS)
