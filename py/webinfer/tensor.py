"""Tensor: a dtype, a shape and the data, on the host (bytes) or on a device (a backend's buffer).

Works without numpy (the browser has none): data is kept as little-endian bytes, and converts from
numpy arrays, ``array.array``, memoryviews, bytes and nested lists (``webinfer.ir.hostdata``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from .errors import InputError
from .ir.dtypes import dtype_info
from .ir.hostdata import nest, pack, to_data, unpack, unpack_array
from .ir.operand import fmt_shape

if sys.byteorder != "little":  # pragma: no cover - every platform Pyodide and our hosts run on
    raise ImportError("webinfer needs a little-endian machine")


class DeviceData(Protocol):
    """What a backend's device-resident tensor storage provides."""

    backend: str
    device: str

    def read(self) -> bytes: ...

    def release(self) -> None: ...


def _np() -> Any:
    try:
        import numpy

        return numpy
    except ImportError:
        return None


class Tensor:
    """A dtype, a shape and data; ``.numpy()``, ``.tolist()``, ``.tobytes()`` give it back.

    ``Tensor(value, dtype=None, shape=None)`` accepts a numpy array, ``array.array``, memoryview,
    bytes (dtype required; shape defaults to 1-D), a nested list or a scalar, or another Tensor.
    """

    __slots__ = ("dtype", "shape", "_data", "_device", "backend", "device")

    def __init__(self, value: Any, dtype: str | None = None, shape: Sequence[int] | None = None) -> None:
        self._device: DeviceData | None = None
        self.backend: str | None = None
        self.device: str | None = None
        if dtype is not None:
            dtype_info(dtype, where="Tensor")
        data, dt, shp = to_data(value, dtype, shape)
        self.dtype: str = dt
        self.shape: tuple[int, ...] = shp
        self._data: bytes | None = data

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def full(cls, shape: Sequence[int], value: float, dtype: str = "float32") -> Tensor:
        """A tensor of ``shape`` filled with ``value``."""
        n = math.prod(shape)
        return cls(pack([value], dtype) * n, dtype=dtype, shape=shape)

    @classmethod
    def zeros(cls, shape: Sequence[int], dtype: str = "float32") -> Tensor:
        return cls(bytes(dtype_info(dtype).nbytes(math.prod(shape))), dtype=dtype, shape=shape)

    @classmethod
    def from_device(cls, dtype: str, shape: Sequence[int], storage: DeviceData) -> Tensor:
        """A tensor whose data stays in a backend's device buffer until read."""
        t = cls.__new__(cls)
        t.dtype, t.shape, t._data, t._device = dtype, tuple(shape), None, storage
        t.backend, t.device = storage.backend, storage.device
        return t

    # -- views -------------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return dtype_info(self.dtype).nbytes(self.size)

    @property
    def on_device(self) -> bool:
        return self._data is None and self._device is not None

    @property
    def storage(self) -> DeviceData | None:
        return self._device

    def tobytes(self) -> bytes:
        """The data as little-endian bytes (read back from the device if it lives there)."""
        if self._data is None:
            if self._device is None:
                raise InputError("Tensor: its device storage was released")
            self._data = self._device.read()
        return self._data

    def memoryview(self) -> memoryview:
        return memoryview(self.tobytes())

    def tolist(self) -> Any:
        """Nested Python lists (a scalar for rank 0)."""
        flat = unpack(self.tobytes(), self.dtype, self.size)
        return nest(flat, self.shape)

    def numpy(self) -> Any:
        """A numpy array (needs numpy); packed int4/uint4 come back unpacked, as int8/uint8."""
        np = _np()
        if np is None:
            raise ImportError("Tensor.numpy() needs numpy; use .tolist() or .tobytes() where numpy is missing")
        if dtype_info(self.dtype).packed:
            return unpack_array(np.frombuffer(self.tobytes(), np.uint8), self.dtype, self.shape)
        return np.frombuffer(self.tobytes(), dtype=np.dtype(self.dtype).newbyteorder("<")).reshape(self.shape).copy()

    def release(self) -> None:
        """Free device storage now (the tensor keeps host data it already read)."""
        if self._device is not None:
            self._device.release()
            self._device = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        where = f", on {self.backend}:{self.device}" if self.backend else ""
        return f"Tensor({self.dtype}{fmt_shape(self.shape)}{where})"


def as_tensor(value: Any, dtype: str | None = None, where: str = "input") -> Tensor:
    """``value`` as a Tensor (unchanged if it already is one)."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == dtype):
        return value
    try:
        return Tensor(value, dtype=dtype)
    except InputError as e:
        raise InputError(str(e).replace("Tensor:", f"{where}:", 1)) from None
