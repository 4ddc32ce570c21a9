"""Graph format v1: a JSON document (with a shipped JSON Schema) plus safetensors weights, no numpy needed.

    import webinfer as wi
    wi.save(graph, "m.json", weights="m.safetensors")     # small constants stay inline in the JSON
    graph = wi.load("m.json")                             # validates everything; weights read lazily
    js, files = wi.format.to_bytes(graph, weights="m.safetensors")
    graph = wi.format.load_bytes(js, weights=files)       # the browser: bytes fetched once

See docs/graph-format.md for the layout and the limits.
"""

from .files import from_json, load, load_bytes, save, to_bytes, to_json
from .graph_json import FORMAT_NAME, FORMAT_VERSION, INLINE_MAX_BYTES
from .jsontext import MAX_DEPTH, MAX_DOCUMENT_BYTES
from .safetensors import MAX_HEADER_BYTES, SafetensorsFile, TensorInfo
from .schema import Validator, graph_schema

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "INLINE_MAX_BYTES", "MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_HEADER_BYTES",
    "SafetensorsFile", "TensorInfo", "Validator", "from_json", "graph_schema", "load", "load_bytes", "save",
    "to_bytes", "to_json",
]
