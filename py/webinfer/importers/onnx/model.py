"""Reading an ONNX file safely: the protobuf, its tensors (inline or external data), dtypes, shapes, attributes.

Every size is checked before anything is allocated from it: a tensor's dims against its data length, external
data against the file it lives in (which must lie next to the model: no absolute paths, no ``..`` escapes,
no symlinks out), attribute types against what the converter asks for. Failures are ``GraphError``s naming
the tensor, node or file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto

from ...errors import GraphError
from ...ir.operand import MAX_DIM, MAX_RANK

MAX_MODEL_BYTES = 2**31 - 1  # protobuf's own limit; bigger models keep their weights as external data
MIN_OPSET, MAX_OPSET = 13, 21  # the opsets the converters were written against (later ones: checked per node)

# ONNX element type -> webinfer dtype (bool is carried as uint8 0/1, as webinfer's comparisons give it)
DTYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.INT32: "int32",
    TensorProto.UINT32: "uint32",
    TensorProto.INT64: "int64",
    TensorProto.INT8: "int8",
    TensorProto.UINT8: "uint8",
    TensorProto.BOOL: "uint8",
}
# ONNX element type -> numpy dtype, for folding (wider than DTYPES: a shape computation may pass through int16)
NUMPY: dict[int, Any] = {
    TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16, TensorProto.DOUBLE: np.float64,
    TensorProto.INT8: np.int8, TensorProto.INT16: np.int16, TensorProto.INT32: np.int32, TensorProto.INT64: np.int64,
    TensorProto.UINT8: np.uint8, TensorProto.UINT16: np.uint16, TensorProto.UINT32: np.uint32,
    TensorProto.UINT64: np.uint64, TensorProto.BOOL: np.bool_,
}
# the TensorProto field holding each type's values when raw_data is not used, and that field's numpy dtype
_TYPED_FIELD: dict[int, tuple[str, Any]] = {
    TensorProto.FLOAT: ("float_data", np.float32), TensorProto.DOUBLE: ("double_data", np.float64),
    TensorProto.INT64: ("int64_data", np.int64), TensorProto.UINT64: ("uint64_data", np.uint64),
    TensorProto.UINT32: ("uint64_data", np.uint64),
    **{t: ("int32_data", np.int32) for t in (TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
                                             TensorProto.UINT16, TensorProto.UINT8, TensorProto.BOOL,
                                             TensorProto.FLOAT16)},
}


def type_name(elem_type: int) -> str:
    """``FLOAT``, ``DOUBLE``, ... (or the number, for a type this onnx version does not know)."""
    try:
        return str(TensorProto.DataType.Name(elem_type))
    except ValueError:
        return f"type {elem_type}"


def webinfer_dtype(elem_type: int, where: str) -> str:
    """The webinfer dtype of an ONNX element type; GraphError for the ones webinfer has none for (double, ...)."""
    try:
        return DTYPES[elem_type]
    except KeyError:
        raise GraphError(f"{where}: dtype {type_name(elem_type)} is not supported "
                         f"(supported: {', '.join(sorted({type_name(t) for t in DTYPES}))})") from None


def numpy_dtype(elem_type: int, where: str) -> Any:
    try:
        return NUMPY[elem_type]
    except KeyError:
        raise GraphError(f"{where}: dtype {type_name(elem_type)} is not supported") from None


def read_model(source: str | os.PathLike[str] | bytes) -> tuple[onnx.ModelProto, str | None]:
    """Parse an ONNX file (path) or its bytes, without loading external data; (model, directory of the file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, base, label = bytes(source), None, "ONNX model bytes"
    else:
        path = os.fspath(source)
        label = f"ONNX file {path!r}"
        try:
            size = os.path.getsize(path)
            if size > MAX_MODEL_BYTES:
                raise GraphError(f"{label} is {size:,} bytes; an ONNX protobuf is at most 2 GiB "
                                 "(bigger models keep weights as external data)")
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise GraphError(f"cannot read {label}: {e.strerror or e}") from None
        base = os.path.dirname(os.path.abspath(path))
    if not data:
        raise GraphError(f"{label} is empty")
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError (truncated, not a protobuf, nested too deep)
        raise GraphError(f"{label} is not a valid ONNX protobuf (truncated or another format?): "
                         f"{type(e).__name__}: {e}") from None
    if not model.HasField("graph"):
        raise GraphError(f"{label} has no graph (not an ONNX model?)")
    return model, base


def default_opset(model: onnx.ModelProto) -> int:
    """The model's version of the default ONNX domain; GraphError outside what the importer handles."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise GraphError("the ONNX model imports no version of the default domain (opset_import is empty)")
    v = versions[0]
    if v < MIN_OPSET:
        raise GraphError(f"the ONNX model uses opset {v}; webinfer imports opsets {MIN_OPSET}-{MAX_OPSET} "
                         f"(convert it first: onnx.version_converter.convert_version(model, {MIN_OPSET}))")
    if v > 1000:
        raise GraphError(f"the ONNX model claims opset {v}, which does not exist")
    return v


# ---- tensors ------------------------------------------------------------------------------------------------


@dataclass
class TensorData:
    """A tensor of the model (initializer or Constant value): dtype, dims, and a way to read its bytes or array."""

    name: str
    elem_type: int
    dims: tuple[int, ...]
    _bytes: Callable[[], bytes] | None = None  # little-endian bytes of the elements (raw or external)
    _array: Callable[[], np.ndarray] | None = None  # typed fields
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(self.dims)

    def array(self) -> np.ndarray:
        """The values as numpy (ONNX's dtype: bool stays bool)."""
        if "array" not in self._cache:
            if self._array is not None:
                arr = self._array()
            else:
                assert self._bytes is not None
                raw = self._bytes()
                arr = np.frombuffer(raw, dtype=np.dtype(NUMPY[self.elem_type]).newbyteorder("<")).reshape(self.dims)
            self._cache["array"] = arr
        return self._cache["array"]  # type: ignore[no-any-return]

    def raw(self) -> bytes | memoryview:
        """Little-endian element bytes in webinfer's layout (bool as uint8), read on demand."""
        if self._bytes is not None and self.elem_type != TensorProto.BOOL:
            return self._bytes()
        arr = self.array()
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        return np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"))).tobytes()


def check_dims(dims: Any, where: str) -> tuple[int, ...]:
    """Tensor dims: at most MAX_RANK of them, each in [0, MAX_DIM]."""
    dims = tuple(int(d) for d in dims)
    if len(dims) > MAX_RANK:
        raise GraphError(f"{where}: rank {len(dims)} exceeds the maximum {MAX_RANK}")
    for d in dims:
        if d < 0 or d > MAX_DIM:
            raise GraphError(f"{where}: dimension {d} is out of range [0, {MAX_DIM}]")
    return dims


def tensor_data(t: TensorProto, where: str, base_dir: str | None) -> TensorData:
    """Describe ``t`` and check its data against its dims; nothing is allocated from a claimed size."""
    where = f"{where} {t.name!r}" if t.name else where
    if t.HasField("segment"):
        raise GraphError(f"{where}: segmented tensors are not supported")
    elem = t.data_type
    if elem not in NUMPY:
        raise GraphError(f"{where}: dtype {type_name(elem)} is not supported")
    dims = check_dims(t.dims, where)
    count = math.prod(dims)
    itemsize = np.dtype(NUMPY[elem]).itemsize
    nbytes = count * itemsize
    td = TensorData(t.name, elem, dims)
    if t.data_location == TensorProto.EXTERNAL:
        td._bytes = _external_reader(t, where, base_dir, nbytes)
        return td
    if t.HasField("raw_data"):
        raw = t.raw_data
        if len(raw) != nbytes:
            raise GraphError(f"{where}: raw_data has {len(raw):,} bytes; dims {list(dims)} of "
                             f"{type_name(elem)} need {nbytes:,}")
        td._bytes = lambda: raw
        return td
    fname, fdtype = _TYPED_FIELD[elem]
    values = getattr(t, fname)
    if len(values) != count:
        raise GraphError(f"{where}: {fname} has {len(values):,} values; dims {list(dims)} need {count:,}")

    def typed() -> np.ndarray:
        arr = np.asarray(values, dtype=fdtype)
        if elem == TensorProto.FLOAT16:  # float16 values are stored as their bit patterns in int32_data
            return arr.astype(np.uint16).view(np.float16).reshape(dims)
        return arr.astype(NUMPY[elem]).reshape(dims)

    td._array = typed
    return td


def _external_reader(t: TensorProto, where: str, base_dir: str | None, nbytes: int) -> Callable[[], bytes]:
    """A reader of ``t``'s external data; the file must lie in the model's directory and hold the bytes."""
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise GraphError(f"{where}: its data is in an external file ({location!r}); load the model from a path")
    if not location or os.path.isabs(location) or "\\" in location or "\x00" in location:
        raise GraphError(f"{where}: external data location {location!r} must be a relative path next to the model")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else nbytes
    except ValueError:
        raise GraphError(f"{where}: external data offset/length are not integers: {info}") from None
    if offset < 0 or length != nbytes:
        raise GraphError(f"{where}: external data length {length:,} (offset {offset:,}); the dims need {nbytes:,}")
    root = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root:
        raise GraphError(f"{where}: external data location {location!r} points outside the model's directory")
    try:
        size = os.path.getsize(path)
    except OSError:
        raise GraphError(f"{where}: external data file {location!r} is missing next to the model") from None
    if offset + nbytes > size:
        raise GraphError(f"{where}: external data {location!r} has {size:,} bytes; offset {offset:,} + "
                         f"{nbytes:,} bytes runs past its end")

    def read() -> bytes:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(nbytes)
        if len(data) != nbytes:
            raise GraphError(f"{where}: external data {location!r} changed while reading")
        return data

    return read


# ---- attributes -----------------------------------------------------------------------------------------------

_ATTR_READERS: dict[int, tuple[str, Callable[[AttributeProto], Any]]] = {
    AttributeProto.FLOAT: ("float", lambda a: float(a.f)),
    AttributeProto.INT: ("int", lambda a: int(a.i)),
    AttributeProto.STRING: ("string", lambda a: a.s.decode("utf-8", "replace")),
    AttributeProto.TENSOR: ("tensor", lambda a: a.t),
    AttributeProto.FLOATS: ("floats", lambda a: [float(v) for v in a.floats]),
    AttributeProto.INTS: ("ints", lambda a: [int(v) for v in a.ints]),
    AttributeProto.STRINGS: ("strings", lambda a: [s.decode("utf-8", "replace") for s in a.strings]),
    AttributeProto.GRAPH: ("graph", lambda a: a.g),
    AttributeProto.GRAPHS: ("graphs", lambda a: list(a.graphs)),
    AttributeProto.SPARSE_TENSOR: ("sparse_tensor", lambda a: a.sparse_tensor),
}


def read_attributes(node: onnx.NodeProto, label: str) -> dict[str, tuple[str, Any]]:
    """name -> (kind, value) of a node's attributes; an attribute without a known type is an error."""
    out: dict[str, tuple[str, Any]] = {}
    for a in node.attribute:
        if a.ref_attr_name:
            raise GraphError(f"{label}: attribute {a.name!r} refers to a function attribute; only plain graphs import")
        reader = _ATTR_READERS.get(a.type)
        if reader is None:
            raise GraphError(f"{label}: attribute {a.name!r} has no valid type ({a.type})")
        if a.name in out:
            raise GraphError(f"{label}: attribute {a.name!r} is given twice")
        out[a.name] = (reader[0], reader[1](a))
    return out


def value_shape(vi: onnx.ValueInfoProto) -> tuple[int | None, list[int | str | None] | None]:
    """(element type, dims) of a declared value: dims are ints, dim_param names, or None (unknown); None if unranked."""
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None:
        return None, None
    elem = tt.elem_type if tt.elem_type else None
    if not tt.HasField("shape"):
        return elem, None
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return elem, dims


def model_metadata(model: onnx.ModelProto) -> Mapping[str, Any]:
    """What the graph's metadata records about its ONNX origin."""
    return {
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "ir_version": int(model.ir_version),
        "opset_import": {o.domain or "ai.onnx": int(o.version) for o in model.opset_import},
        "graph": model.graph.name,
    }
