"""Host data to bytes: numpy arrays, ``array.array``, memoryviews, bytes, nested lists and numbers as
little-endian bytes of a dtype, with a shape — without numpy where it is missing (the browser).

The IR (``GraphBuilder.constant``) and ``webinfer.Tensor`` both convert through :func:`to_data`.
"""

from __future__ import annotations

import array
import math
import operator
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import InputError
from .dtypes import DTYPES, dtype_info, pack_nibbles, unpack_nibbles
from .operand import MAX_RANK, fmt_shape

_ARRAY_CODES = {  # array.array typecode -> dtype, by item size and signedness
    "f": "float32", "d": "float64", "b": "int8", "B": "uint8", "h": "int16", "H": "uint16",
    "i": None, "I": None, "l": None, "L": None, "q": "int64", "Q": "uint64",
}


def _np() -> Any:
    try:
        import numpy

        return numpy
    except ImportError:
        return None


def _int_code(itemsize: int, signed: bool) -> str:
    return {1: "b", 2: "h", 4: "i", 8: "q"}[itemsize] if signed else {1: "B", 2: "H", 4: "I", 8: "Q"}[itemsize]


def _array_dtype(a: array.array) -> str:
    code = a.typecode
    dt = _ARRAY_CODES.get(code)
    if dt is None and code in "iIlL":
        dt = ("int" if code.islower() else "uint") + str(a.itemsize * 8)
    return dt or f"array typecode {code!r}"


def _flatten(value: Any, where: str, depth: int = 0) -> tuple[list[Any], tuple[int, ...]]:
    """Flatten a nested list into values and a shape; ragged lists are an error."""
    if not isinstance(value, (list, tuple)):
        return [value], ()
    if depth >= MAX_RANK:
        raise InputError(f"{where}: nested lists deeper than the maximum rank {MAX_RANK}")
    if not value:
        return [], (0,)
    parts = [_flatten(v, where, depth + 1) for v in value]
    shape0 = parts[0][1]
    for i, (_, s) in enumerate(parts):
        if s != shape0:
            raise InputError(
                f"{where}: ragged nested list: item 0 has shape {fmt_shape(shape0)}, item {i} has {fmt_shape(s)}"
            )
    flat: list[Any] = []
    for vals, _ in parts:
        flat.extend(vals)
    return flat, (len(value),) + shape0


def pack(values: Sequence[Any], dtype: str, where: str = "tensor") -> bytes:
    """Pack Python numbers into little-endian bytes of ``dtype``, checking integer ranges."""
    info = dtype_info(dtype)
    if info.is_float:
        try:
            floats = [float(v) for v in values]
        except (TypeError, ValueError) as e:
            raise InputError(f"{where}: cannot convert to {dtype}: {e}") from None
        try:
            return struct.pack(f"<{len(floats)}{info.struct_code}", *floats)
        except (OverflowError, struct.error):  # finite values beyond the dtype's range round to ±inf
            return b"".join(_pack_float(v, info.struct_code) for v in floats)
    out = []
    for v in values:
        if isinstance(v, float):
            if not v.is_integer():
                raise InputError(f"{where}: {v!r} is not an integer, but the dtype is {dtype}")
            v = int(v)
        if isinstance(v, bool):
            v = int(v)
        if not isinstance(v, int):
            try:
                v = operator.index(v)
            except TypeError:
                raise InputError(f"{where}: {v!r} is not an integer, but the dtype is {dtype}") from None
        if not info.min <= v <= info.max:
            raise InputError(f"{where}: value {v} is out of range for {dtype} [{int(info.min)}, {int(info.max)}]")
        out.append(v)
    if info.packed:
        return pack_nibbles(out, info.kind == "int")
    return struct.pack(f"<{len(out)}{info.struct_code}", *out)


def _pack_float(v: float, code: str) -> bytes:
    try:
        return struct.pack(f"<{code}", v)
    except (OverflowError, struct.error):
        return struct.pack(f"<{code}", math.copysign(math.inf, v))


def unpack(data: bytes | memoryview, dtype: str, count: int | None = None) -> list[Any]:
    """Little-endian bytes of ``dtype`` into a flat list of Python numbers (``count`` of them for packed types)."""
    info = dtype_info(dtype)
    if info.packed:
        return unpack_nibbles(data, 2 * len(data) if count is None else count, info.kind == "int")
    n = len(data) // info.itemsize
    return list(struct.unpack(f"<{n}{info.struct_code}", data))


def _is_tensor(value: Any) -> bool:
    """A webinfer Tensor (or anything like one): a string ``dtype``, a ``shape`` and ``tobytes()``."""
    return isinstance(getattr(value, "dtype", None), str) and hasattr(value, "shape") and hasattr(value, "tobytes")


def to_data(value: Any, dtype: str | None = None,
            shape: Sequence[int] | None = None) -> tuple[bytes, str, tuple[int, ...]]:
    """Host data as (little-endian bytes, dtype, shape): a numpy array, ``array.array``, memoryview, bytes (dtype
    required), a nested list or a number, or a Tensor (anything with a string ``dtype``, ``shape`` and ``tobytes()``).
    Errors are InputErrors starting "Tensor:" (callers put their own name there)."""
    np = _np()
    if _is_tensor(value):
        data, dt, shp = value.tobytes(), value.dtype, tuple(value.shape)
        if dtype is not None and dtype != dt:
            raise InputError(f"Tensor: value is a {dt} Tensor but dtype {dtype} was asked; convert the data first")
    elif np is not None and isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        name = arr.dtype.name  # 'float32' for '>f4' too; bytes are made little-endian below
        if name == "bool":
            arr, name = arr.astype(np.uint8), "uint8"
        if dtype is not None and dtype_info(dtype).packed:
            return to_data(_packed_from_numpy(arr, dtype), dtype, shape if shape is not None else arr.shape)
        if dtype is not None and name != dtype:
            if arr.dtype.kind == "f" and dtype_info(dtype).is_float:
                with np.errstate(over="ignore"):  # beyond the dtype's range becomes ±inf, as in pack()
                    arr = arr.astype(dtype)
            elif arr.dtype.kind in "iu" and not dtype_info(dtype).is_float:
                info = dtype_info(dtype)
                if arr.size and (arr.min() < info.min or arr.max() > info.max):
                    raise InputError(f"Tensor: values out of range for {dtype} [{int(info.min)}, {int(info.max)}]")
                arr = arr.astype(dtype)
            elif arr.dtype.kind in "iu" and dtype_info(dtype).is_float:
                arr = arr.astype(dtype)
            else:
                raise InputError(f"Tensor: a {name} array cannot be taken as {dtype}")
            name = dtype
        if name == "float64" and dtype is None:
            with np.errstate(over="ignore"):
                arr, name = arr.astype(np.float32), "float32"
        if name not in DTYPES:
            raise InputError(f"Tensor: numpy dtype {name} is not supported; use one of {', '.join(DTYPES)}")
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        dt, shp = name, tuple(arr.shape)
    elif isinstance(value, array.array):
        name = _array_dtype(value)
        if name not in DTYPES and name != "float64":
            raise InputError(f"Tensor: array.array of {name} is not supported; use one of {', '.join(DTYPES)}")
        if (dtype is not None and dtype != name) or name == "float64":  # convert (float64 -> float32)
            return to_data(value.tolist(), dtype or "float32", shape)
        data, dt, shp = value.tobytes(), name, (len(value),)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        mv = memoryview(value)
        code = mv.format.lstrip("<=@")
        if code in ("B", "c"):  # plain bytes: reinterpret as dtype (and shape, default 1-D)
            if dtype is None:
                raise InputError("Tensor: raw bytes need dtype= (and shape=, default 1-D)")
            data, dt = mv.tobytes(), dtype
            info = dtype_info(dtype)
            shp = (len(data) * 8 // info.bits,) if info.packed else (len(data) // info.itemsize,)
        else:  # a typed memoryview (array.array, numpy without numpy, ...): its format names the dtype
            own = _memoryview_dtype(code, mv.itemsize)
            if own is None:
                raise InputError(f"Tensor: memoryview format {mv.format!r} is not supported")
            if own == dtype or (dtype is None and own in DTYPES):
                data, dt, shp = mv.tobytes(), own, tuple(mv.shape or ())
            else:  # float64 data, or another dtype asked: convert the values (ints range-checked)
                flat, shp = _flatten(mv.tolist(), "Tensor")
                dt = dtype or "float32"
                data = pack(flat, dt, "Tensor")
    elif isinstance(value, (list, tuple, int, float)) and not isinstance(value, bool) or isinstance(value, bool):
        flat, shp = _flatten(value, "Tensor")
        dt = dtype or _infer_list_dtype(flat)
        data = pack(flat, dt, "Tensor")
    else:
        raise InputError(
            f"Tensor: cannot make a tensor from {type(value).__name__}; give a numpy array, array.array, "
            "memoryview, bytes (with dtype and shape), a nested list or a number"
        )
    if shape is not None:
        try:
            shp2 = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise InputError(f"Tensor: shape must be a list of ints, got {shape!r}") from None
        if any(d < 0 for d in shp2):
            raise InputError(f"Tensor: shape {fmt_shape(shp2)} has a negative dim")
        n = math.prod(shp2)
        info = dtype_info(dt)
        if info.nbytes(n) != len(data):
            if info.packed:
                raise InputError(f"Tensor: {len(data)} bytes of packed {dt}, but shape {fmt_shape(shp2)} "
                                 f"({n} elements) needs {info.nbytes(n)}")
            raise InputError(
                f"Tensor: {len(data)} bytes of {dt} hold {len(data) // info.itemsize} elements, "
                f"shape {fmt_shape(shp2)} needs {n}"
            )
        shp = shp2
    if len(data) % dtype_info(dt).itemsize:
        raise InputError(f"Tensor: {len(data)} bytes is not a whole number of {dt} elements")
    return data, dt, tuple(shp)


def _packed_from_numpy(arr: Any, dtype: str) -> bytes:
    """An integer numpy array's values packed as ``dtype`` (int4/uint4), range-checked."""
    np = _np()
    info = dtype_info(dtype)
    if arr.dtype.kind not in "iub":
        raise InputError(f"Tensor: a {arr.dtype.name} array cannot be taken as {dtype} (integers only)")
    flat = np.ascontiguousarray(arr).reshape(-1).astype(np.int16)
    if flat.size and (flat.min() < info.min or flat.max() > info.max):
        raise InputError(f"Tensor: values out of range for {dtype} [{int(info.min)}, {int(info.max)}]")
    nib = (flat & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.concatenate([nib, np.zeros(1, np.uint8)])
    return bytes((nib[0::2] | (nib[1::2] << 4)).tobytes())


def unpack_array(packed: Any, dtype: str, shape: Sequence[int]) -> Any:
    """Packed int4/uint4 bytes (a numpy uint8 array) as an int8/uint8 array of ``shape`` (needs numpy)."""
    np = _np()
    b = np.asarray(packed, dtype=np.uint8).reshape(-1)
    both = np.empty(2 * b.size, np.uint8)
    both[0::2], both[1::2] = b & 0xF, b >> 4
    n = math.prod(shape)
    if dtype == "int4":
        return ((both[:n].astype(np.int8) ^ 8) - 8).astype(np.int8).reshape(tuple(shape))
    return both[:n].reshape(tuple(shape)).copy()


def _memoryview_dtype(code: str, itemsize: int) -> str | None:
    """The dtype of a typed memoryview's items (float64 is returned as such, to be converted)."""
    if code in ("l", "L", "q", "Q", "i", "I"):
        return ("int" if code.islower() else "uint") + str(itemsize * 8)
    return {"f": "float32", "d": "float64", "e": "float16", "b": "int8", "?": "uint8"}.get(code)


def _infer_list_dtype(flat: Iterable[Any]) -> str:
    kinds = set()
    for v in flat:
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif hasattr(v, "__index__"):
            kinds.add("int")
        elif hasattr(v, "__float__") and not isinstance(v, (str, bytes, complex)):
            kinds.add("float")
        else:
            raise InputError(f"Tensor: {v!r} ({type(v).__name__}) is not a number")
    if "float" in kinds or not kinds:
        return "float32"
    if kinds == {"bool"}:
        return "uint8"
    return "int64"


def nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


__all__ = ["nest", "pack", "to_data", "unpack"]
