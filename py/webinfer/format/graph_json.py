"""Graph <-> graph JSON document (format v1), with every check the loader makes before a Graph exists.

``encode`` turns a Graph into a document plus the tensors that go to a weights file; ``decode`` checks a
document (schema, names, ops, attributes, wiring, shapes, dtypes, constant values and references) against
already-opened weights files and builds the Graph. File and byte handling lives in ``files.py``.
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..errors import GraphError, WebinferError, WeightsError
from ..ir.dtypes import DTYPES, pack_nibbles, unpack_nibbles
from ..ir.graph import Constant, Graph, Node
from ..ir.operand import OperandDesc, check_shape, fmt_shape
from ..ir.registry import get_op
from .jsontext import json_path
from .safetensors import SafetensorsFile, TensorEntry
from .schema import graph_validator

FORMAT_NAME = "webinfer-graph"
FORMAT_VERSION = 1
INLINE_MAX_BYTES = 256  # constants up to this size are written inline when a weights file is used

_NONFINITE_OUT = {math.inf: "inf", -math.inf: "-inf"}
_NONFINITE_IN = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


# -- encoding -----------------------------------------------------------------------------------------


def _json_float(v: float) -> float | str:
    if math.isnan(v):
        return "nan"
    return _NONFINITE_OUT.get(v, v)


def _json_attr(v: Any) -> Any:
    """An attribute value as JSON: tuples become lists, infinite floats the strings "inf"/"-inf"."""
    if isinstance(v, (tuple, list)):
        return [_json_attr(x) for x in v]
    if isinstance(v, float):
        return _json_float(v)
    return v


def encode_values(data: memoryview, dtype: str) -> list[Any]:
    """A constant's bytes as a flat JSON list (non-finite floats as "inf"/"-inf"/"nan")."""
    info = DTYPES[dtype]
    if info.packed:
        return unpack_nibbles(data, 2 * data.nbytes, info.kind == "int")  # (trimmed to the count by the caller)
    values = list(struct.unpack(f"<{data.nbytes // info.itemsize}{info.struct_code}", data))
    if info.is_float:
        return [v if math.isfinite(v) else _json_float(v) for v in values]
    return values


def _trim(inputs: tuple[str | None, ...]) -> list[str | None]:
    """Node inputs without trailing absent optional ones (readers pad them back)."""
    out = list(inputs)
    while out and out[-1] is None:
        out.pop()
    return out


def _node_names(graph: Graph) -> list[str]:
    """Node names for the document: the graph's, with unnamed nodes given fresh unique names."""
    taken = {n.name for n in graph.nodes if n.name}
    names = []
    for i, n in enumerate(graph.nodes):
        name = n.name
        if not name:
            k = i
            while f"{n.op}_{k}" in taken:
                k += 1
            name = f"{n.op}_{k}"
            taken.add(name)
        names.append(name)
    return names


def shard_name(weights_file: str, index: int, count: int) -> str:
    """``model.safetensors`` -> ``model-00002-of-00005.safetensors`` (the Hugging Face convention)."""
    stem, dot, ext = weights_file.rpartition(".")
    if not dot or not stem:
        stem, ext = weights_file, ""
    return f"{stem}-{index + 1:05d}-of-{count:05d}" + (f".{ext}" if ext else "")


def encode(
    graph: Graph,
    *,
    weights_file: str | None = None,
    inline_max_bytes: int = INLINE_MAX_BYTES,
    metadata: Mapping[str, Any] | None = None,
    shard_bytes: int | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, TensorEntry]]]:
    """The document for ``graph`` (its ``weights`` table still empty) and, per weights file, its tensors.

    With ``weights_file=None`` every constant is written inline; otherwise constants larger than
    ``inline_max_bytes`` go to the weights file, keyed by their constant name. With ``shard_bytes``, the
    tensors are split in graph order into files of at most that many bytes (a bigger tensor gets a file of
    its own) named ``<stem>-00001-of-0000N.<ext>``, so a page can fetch and upload them one at a time.
    """
    if shard_bytes is not None and (isinstance(shard_bytes, bool) or not isinstance(shard_bytes, int)
                                    or shard_bytes < 1):
        raise GraphError(f"shard_bytes must be a positive integer, got {shard_bytes!r}")
    if not isinstance(graph, Graph):
        raise GraphError(f"expected a webinfer Graph, got {type(graph).__name__}")
    constants: dict[str, Any] = {}
    tensors: dict[str, TensorEntry] = {}
    for name, const in graph.constants.items():
        desc = const.desc
        entry: dict[str, Any] = {"dataType": desc.dtype, "shape": list(desc.shape)}
        if weights_file is not None and desc.byte_length > inline_max_bytes:
            entry["weights"] = {"file": weights_file, "key": name}
            if desc.info.packed:  # safetensors has no 4-bit type: the packed bytes, as U8
                tensors[name] = ("uint8", (desc.byte_length,), const.data)
            else:
                tensors[name] = (desc.dtype, cast(tuple[int, ...], desc.shape), const.data)  # constants are static
        else:
            entry["value"] = encode_values(const.data(), desc.dtype)[: desc.size]
        constants[name] = entry
    files = _shards(constants, tensors, weights_file, shard_bytes)
    nodes = []
    for node, name in zip(graph.nodes, _node_names(graph)):
        attrs = get_op(node.op).normalize_attrs(node.attributes, name)
        nodes.append({
            "name": name,
            "op": node.op,
            "inputs": _trim(node.inputs),
            "attributes": {k: _json_attr(v) for k, v in attrs.items()},
            "outputs": list(node.outputs),
        })
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "inputs": {k: d.to_json() for k, d in graph.inputs.items()},
        "constants": constants,
        "weights": {},
        "nodes": nodes,
        "outputs": dict(graph.outputs),
    }
    meta = dict(metadata) if metadata is not None else dict(graph.metadata)
    if meta:
        doc["metadata"] = meta
    return doc, files


def _shards(constants: dict[str, Any], tensors: dict[str, TensorEntry], weights_file: str | None,
            shard_bytes: int | None) -> dict[str, dict[str, TensorEntry]]:
    """Assign the weights-file tensors to files (one, or shards in graph order) and point the constants there."""
    if weights_file is None or not tensors:
        return {}
    groups: list[list[str]] = [[]]
    size = 0
    for key, (dtype, shape, _) in tensors.items():
        n = DTYPES[dtype].nbytes(math.prod(shape))
        if shard_bytes is not None and groups[-1] and size + n > shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(key)
        size += n
    files: dict[str, dict[str, TensorEntry]] = {}
    for i, keys in enumerate(groups):
        name = weights_file if len(groups) == 1 else shard_name(weights_file, i, len(groups))
        files[name] = {k: tensors[k] for k in keys}
        for k in keys:
            constants[k]["weights"]["file"] = name
    return files


# -- decoding -----------------------------------------------------------------------------------------


class Where:
    """Prefixes errors with the document's name and a JSON path: ``m.json: nodes[3].attributes: ...``."""

    def __init__(self, what: str) -> None:
        self.what = what

    def graph(self, path: tuple[str | int, ...], message: str) -> GraphError:
        return GraphError(f"{self.what}: {json_path(path)}: {message}")

    def weights(self, path: tuple[str | int, ...], message: str) -> WeightsError:
        return WeightsError(f"{self.what}: {json_path(path)}: {message}")

    @contextlib.contextmanager
    def at(self, path: tuple[str | int, ...]) -> Iterator[None]:
        """Re-raise webinfer errors with the path; anything else becomes a GraphError marked internal."""
        try:
            yield
        except WebinferError as e:
            kind = WeightsError if isinstance(e, WeightsError) else GraphError
            raise kind(f"{self.what}: {json_path(path)}: {e}") from None
        except Exception as e:  # a bug in a check, not the document's fault: never let it escape raw
            raise GraphError(
                f"{self.what}: {json_path(path)}: internal error while checking ({type(e).__name__}: {e}); "
                "please report"
            ) from e


def _dims(shape: list[Any]) -> list[Any]:
    """JSON numbers like 2.0 are the integer 2 (the schema already said they are integers)."""
    return [int(d) if isinstance(d, float) else d for d in shape]


def decode_values(values: list[Any], desc: OperandDesc, where: Where, path: tuple[str | int, ...]) -> bytes:
    """An inline constant value (flat JSON list) as little-endian bytes, checked against dtype and shape."""
    count = desc.size
    if len(values) != count:
        raise where.graph(path, f"has {len(values)} values, but {desc} needs {count}")
    info = desc.info
    out: list[Any] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            if not info.is_float:
                raise where.graph(path + (i,), f"{v!r} is not an integer, but the dtype is {desc.dtype}")
            out.append(_NONFINITE_IN[v])
        elif info.is_float:
            try:
                out.append(float(v))
            except OverflowError:
                raise where.graph(path + (i,), f"{v} is too large for {desc.dtype}") from None
        else:
            if isinstance(v, float):
                if not v.is_integer():
                    raise where.graph(path + (i,), f"{v} is not an integer, but the dtype is {desc.dtype}")
                v = int(v)
            if not info.min <= v <= info.max:
                raise where.graph(path + (i,), f"{v} is out of range for {desc.dtype}")
            out.append(v)
    if info.packed:
        return pack_nibbles(out, info.kind == "int")
    try:
        return struct.pack(f"<{count}{info.struct_code}", *out)
    except (OverflowError, struct.error):
        for i, v in enumerate(out):  # find the value that does not fit (finite floats beyond the type's range)
            try:
                struct.pack(f"<{info.struct_code}", v)
            except (OverflowError, struct.error):
                raise where.graph(path + (i,), f"{values[i]} is out of range for {desc.dtype}") from None
        raise


def check_document(doc: Any, where: Where) -> None:
    """The schema check, after a friendlier message for documents of another format or version."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT_NAME:
        version = doc.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            shown = version if version < 2**31 else "(a huge number)"
            raise where.graph(("version",), f"format version {shown} is newer than this webinfer reads "
                                            f"({FORMAT_VERSION}); upgrade webinfer")
    graph_validator().validate(doc, what=where.what, error=GraphError)


def referenced_files(doc: dict[str, Any], where: Where) -> list[str]:
    """The weights files the constants use, each listed in the ``weights`` table, none listed but unused."""
    listed = doc.get("weights", {})
    used: dict[str, None] = {}
    for name, c in doc.get("constants", {}).items():
        if "weights" in c:
            f = c["weights"]["file"]
            if f not in listed:
                raise where.graph(("constants", name, "weights", "file"),
                                  f"{f!r} is not listed in the document's weights table")
            used[f] = None
    for f in listed:
        if f not in used:
            raise where.graph(("weights", f), "is listed but no constant refers to it")
    return list(used)


def decode(doc: dict[str, Any], files: Mapping[str, SafetensorsFile], where: Where) -> Graph:
    """Build the Graph from a schema-valid document and its opened weights files, checking everything."""
    inputs: dict[str, OperandDesc] = {}
    defined: dict[str, tuple[str | int, ...]] = {}  # operand name -> where the document defines it
    for name, spec in doc["inputs"].items():
        path = ("inputs", name)
        with where.at(path + ("shape",)):
            inputs[name] = OperandDesc(spec["dataType"], check_shape(_dims(spec["shape"]), "shape"))
        defined[name] = path
    constants = _decode_constants(doc.get("constants", {}), files, where, defined)
    nodes = _decode_nodes(doc["nodes"], where, defined)
    for out_name, operand in doc["outputs"].items():
        if operand not in defined:
            raise where.graph(("outputs", out_name), f"{operand!r} is not an input, constant or node output")
    try:
        with where.at(("nodes",)):
            graph = Graph(inputs, constants, nodes, dict(doc["outputs"]))
    except GraphError as e:  # the IR names the node; point at it in the document too
        msg = str(e)
        for i, node in enumerate(nodes):
            label = f"(node {node.name!r})"
            if label in msg:
                raise GraphError(msg.replace(f"{where.what}: nodes: ", f"{where.what}: nodes[{i}]: ", 1)) from None
        raise
    graph.metadata = dict(doc.get("metadata", {}))
    return graph


def _decode_constants(
    specs: dict[str, Any], files: Mapping[str, SafetensorsFile], where: Where, defined: dict[str, tuple[str | int, ...]]
) -> dict[str, Constant]:
    constants: dict[str, Constant] = {}
    for name, spec in specs.items():
        path: tuple[str | int, ...] = ("constants", name)
        if name in defined:
            raise where.graph(path, f"the name {name!r} is already used by {json_path(defined[name])}")
        defined[name] = path
        with where.at(path + ("shape",)):
            desc = OperandDesc(spec["dataType"], check_shape(_dims(spec["shape"]), "shape"))
        if "value" in spec:
            data = decode_values(spec["value"], desc, where, path + ("value",))
            with where.at(path):
                constants[name] = Constant(desc, data)
            continue
        ref = spec["weights"]
        st = files[ref["file"]]
        info = st.tensors.get(ref["key"])
        if info is None:
            raise where.weights(path + ("weights", "key"), f"no tensor {ref['key']!r} in {ref['file']}")
        with where.at(path + ("weights",)):
            dtype = info.webinfer_dtype(f"{ref['file']}: ")
        if desc.info.packed:  # stored as its packed bytes: U8 [ceil(n / 2)]
            if dtype != "uint8" or info.shape != (desc.byte_length,):
                raise where.weights(
                    path,
                    f"the document says {desc}, stored packed as uint8[{desc.byte_length}], but tensor "
                    f"{ref['key']!r} in {ref['file']} is "
                    f"{dtype}{fmt_shape(info.shape) if len(info.shape) <= 10 else f'[... {len(info.shape)} dims]'}",
                )
        elif dtype != desc.dtype or info.shape != desc.shape:
            raise where.weights(
                path,
                f"the document says {desc}, but tensor {ref['key']!r} in {ref['file']} is "
                f"{dtype}{fmt_shape(info.shape) if len(info.shape) <= 10 else f'[... {len(info.shape)} dims]'}",
            )
        constants[name] = Constant(desc, loader=st.loader(ref["key"]), source={"file": ref["file"], "key": ref["key"]})
    return constants


def renamed_attributes(spec: Any, given: Any, node: str) -> Any:
    """``given`` with attributes the op has renamed under their new names (files written before a rename keep
    their meaning: the pools' ``output_shape_rounding`` is read as ``rounding_type``); both names at once is
    an error naming the new one."""
    if not isinstance(given, dict) or not spec.renamed_attrs or not any(k in spec.renamed_attrs for k in given):
        return given
    out = {}
    for key, value in given.items():
        new = spec.renamed_attrs.get(key)
        if new is None:
            out[key] = value
        elif new in given:
            raise GraphError(f"{spec.name} (node {node!r}): attribute {key!r} is the old name of {new!r}; "
                             f"give only {new!r}")
        else:
            out[new] = value
    return out


def _decode_nodes(specs: list[Any], where: Where, defined: dict[str, tuple[str | int, ...]]) -> list[Node]:
    nodes: list[Node] = []
    node_names: dict[str, int] = {}
    for i, spec in enumerate(specs):
        path: tuple[str | int, ...] = ("nodes", i)
        name = spec["name"]
        if name in node_names:
            raise where.graph(path + ("name",), f"node name {name!r} is also used by nodes[{node_names[name]}]")
        node_names[name] = i
        with where.at(path + ("op",)):
            spec_op = get_op(spec["op"])
        with where.at(path + ("attributes",)):
            attrs = spec_op.normalize_attrs(renamed_attributes(spec_op, spec.get("attributes", {}), name), name)
        with where.at(path + ("outputs",)):
            expected = spec_op.num_outputs(attrs, len(spec["inputs"]))
        if expected != len(spec["outputs"]):  # checked before shape inference builds that many outputs
            raise where.graph(path + ("outputs",), f"{spec['op']} (node {name!r}) produces {expected} outputs, "
                                                   f"the node names {len(spec['outputs'])}")
        for j, out in enumerate(spec["outputs"]):
            if out in defined:
                raise where.graph(path + ("outputs", j), f"{out!r} is already defined by {json_path(defined[out])}")
            defined[out] = path + ("outputs", j)
        nodes.append(Node(spec["op"], tuple(spec["inputs"]), tuple(spec["outputs"]), attrs, name))
    for i, spec in enumerate(specs):
        for j, inp in enumerate(spec["inputs"]):
            if inp is not None and inp not in defined:
                raise where.graph(("nodes", i, "inputs", j), f"{inp!r} is not defined by any input, constant or node")
    return nodes
