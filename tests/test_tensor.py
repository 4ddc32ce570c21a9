"""Tensor: every accepted input kind, round trips, and clear errors."""

from __future__ import annotations

import array
import math
import struct

import numpy as np
import pytest

from webinfer import Tensor
from webinfer.errors import InputError
from webinfer.ir.dtypes import DTYPES, PACKED_TYPES, pack_nibbles, unpack_nibbles

NUMPY_DTYPES = ["float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"]
assert set(NUMPY_DTYPES) | set(PACKED_TYPES) == set(DTYPES)


def sample(dtype: str) -> np.ndarray:
    info = np.finfo(dtype) if dtype.startswith("float") else np.iinfo(dtype)
    if dtype.startswith("float"):
        return np.array([[0.0, -1.5, float(info.max)], [np.inf, -np.inf, float(info.tiny)]], dtype=dtype)
    return np.array([[0, 1, info.max], [info.min, 7, info.max - 1]], dtype=dtype)


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_round_trip(dtype: str) -> None:
    a = sample(dtype)
    t = Tensor(a)
    assert t.dtype == dtype and t.shape == (2, 3) and t.size == 6 and t.nbytes == a.nbytes
    assert t.tobytes() == a.astype(a.dtype.newbyteorder("<")).tobytes()
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.numpy().dtype == a.dtype
    np.testing.assert_array_equal(np.asarray(t.tolist(), dtype=dtype), a)
    again = Tensor(t.tolist(), dtype=dtype)
    assert again.tobytes() == t.tobytes() and again.shape == t.shape
    assert Tensor(t.tobytes(), dtype=dtype, shape=[2, 3]).tobytes() == t.tobytes()
    assert Tensor(t).tobytes() == t.tobytes()
    np.testing.assert_array_equal(np.asarray(t), a)


@pytest.mark.parametrize("dtype", PACKED_TYPES)
def test_packed_4bit(dtype: str) -> None:
    """int4/uint4: two per byte, element 2i in the low nibble (WebNN/ONNX), ceil(n/2) bytes; unpacked views."""
    lo, hi = (-8, 7) if dtype == "int4" else (0, 15)
    values = [[lo, hi, 1], [2, hi - 1, lo + 1], [3, 0, 5]]  # 9 elements: an odd count leaves half a byte
    t = Tensor(values, dtype=dtype)
    assert t.shape == (3, 3) and t.nbytes == 5 and len(t.tobytes()) == 5
    first = t.tobytes()[0]
    assert first & 0xF == lo & 0xF and first >> 4 == hi & 0xF  # element 0 low, element 1 high
    assert t.tolist() == values
    a = t.numpy()
    assert a.dtype == (np.int8 if dtype == "int4" else np.uint8) and a.tolist() == values
    assert Tensor(a, dtype=dtype).tobytes() == t.tobytes()
    assert Tensor(t.tobytes(), dtype=dtype, shape=[3, 3]).tolist() == values
    assert Tensor(t.tobytes(), dtype=dtype).shape == (10,)  # raw bytes default to 2 elements a byte
    assert Tensor.zeros([5], dtype).nbytes == 3
    with pytest.raises(InputError, match=f"value {hi + 1} is out of range for {dtype}"):
        Tensor([hi + 1], dtype=dtype)
    with pytest.raises(InputError, match=f"values out of range for {dtype}"):
        Tensor(np.array([lo - 1]), dtype=dtype)
    with pytest.raises(InputError, match=f"3 bytes of packed {dtype}, but shape \\[7\\] \\(7 elements\\) needs 4"):
        Tensor(b"abc", dtype=dtype, shape=[7])
    with pytest.raises(InputError, match="integers only"):
        Tensor(np.array([1.5]), dtype=dtype)


def test_nibble_helpers_match_numpy() -> None:
    rng = np.random.default_rng(0)
    for signed in (False, True):
        for n in (0, 1, 2, 33, 1001):
            v = rng.integers(-8, 8, n) if signed else rng.integers(0, 16, n)
            packed = pack_nibbles([int(x) for x in v], signed)
            nib = (v & 0xF).astype(np.uint8)
            nib = np.concatenate([nib, np.zeros(n % 2, np.uint8)])
            assert packed == (nib[0::2] | (nib[1::2] << 4)).tobytes()
            assert unpack_nibbles(packed, n, signed) == v.tolist()


def test_numpy_special_cases() -> None:
    assert Tensor(np.float64(2.5)).dtype == "float32"  # float64 is taken as float32
    assert Tensor(np.array([1e300])).tolist() == [math.inf]
    assert Tensor(np.array([True, False])).tolist() == [1, 0]
    assert Tensor(np.array([1.0, 2.0], ">f4")).tolist() == [1.0, 2.0]  # big-endian data is made little-endian
    t = Tensor(np.arange(6, dtype=np.int32).reshape(2, 3).T)  # non-contiguous
    assert t.shape == (3, 2) and t.tolist() == [[0, 3], [1, 4], [2, 5]]
    assert Tensor(np.array([1, 2], np.int64), dtype="int8").dtype == "int8"
    assert Tensor(np.array([1, 2], np.int64), dtype="float16").tolist() == [1.0, 2.0]
    assert Tensor(np.zeros((0, 3), np.float32)).shape == (0, 3)
    with pytest.raises(InputError, match=r"Tensor: values out of range for int8 \[-128, 127\]"):
        Tensor(np.array([1, 300]), dtype="int8")
    with pytest.raises(InputError, match="a float32 array cannot be taken as int32"):
        Tensor(np.array([1.5], np.float32), dtype="int32")
    with pytest.raises(InputError, match="numpy dtype complex128 is not supported"):
        Tensor(np.array([1j]))
    with pytest.raises(InputError, match="numpy dtype int16 is not supported"):
        Tensor(np.array([1], np.int16))


@pytest.mark.parametrize(
    "code, dtype", [("f", "float32"), ("b", "int8"), ("B", "uint8"), ("i", "int32"), ("I", "uint32"), ("q", "int64"),
                    ("Q", "uint64"), ("l", "int64"), ("L", "uint64")]
)
def test_array_array(code: str, dtype: str) -> None:
    a = array.array(code, [1, 2, 3])
    t = Tensor(a)
    assert t.dtype == dtype and t.shape == (3,) and t.tolist() == [1, 2, 3]
    assert Tensor(a, shape=[3, 1]).shape == (3, 1)
    mv = Tensor(memoryview(a), dtype=dtype)
    assert mv.dtype == dtype and mv.tolist() == [1, 2, 3]
    if code != "B":  # a typed memoryview names its dtype ('B' is plain bytes: dtype= needed)
        assert Tensor(memoryview(a)).dtype == dtype


def test_array_array_conversions() -> None:
    assert Tensor(array.array("d", [1.5, 1e300])).tolist() == [1.5, math.inf]  # float64 -> float32
    assert Tensor(array.array("q", [1, -2]), dtype="int32").tolist() == [1, -2]
    assert Tensor(array.array("f", [1.5]), dtype="float16").tolist() == [1.5]
    with pytest.raises(InputError, match=r"value 3000000000 is out of range for int32"):
        Tensor(array.array("q", [3_000_000_000]), dtype="int32")
    with pytest.raises(InputError, match="array.array of int16 is not supported"):
        Tensor(array.array("h", [1]))


def test_memoryviews() -> None:
    buf = struct.pack("<4f", 1, 2, 3, 4)
    typed = memoryview(buf).cast("f", [2, 2])
    t = Tensor(typed)
    assert t.dtype == "float32" and t.shape == (2, 2) and t.tolist() == [[1, 2], [3, 4]]
    assert Tensor(typed, dtype="float16").tolist() == [[1, 2], [3, 4]]
    half = memoryview(np.array([0.5, -2.0], np.float16))  # format 'e' (Python cannot cast to it itself)
    assert Tensor(half).dtype == "float16" and Tensor(half).tolist() == [0.5, -2.0]
    assert Tensor(memoryview(np.array([[True], [False]]))).tolist() == [[1], [0]]
    assert Tensor(memoryview(struct.pack("<2d", 1, 2)).cast("d")).dtype == "float32"
    raw = memoryview(bytearray(buf))
    assert Tensor(raw, dtype="int32", shape=[4]).tolist() == list(struct.unpack("<4i", buf))
    with pytest.raises(InputError, match="raw bytes need dtype="):
        Tensor(raw)
    assert Tensor(raw, dtype="float32").shape == (4,)
    with pytest.raises(InputError, match="memoryview format 'h' is not supported"):
        Tensor(memoryview(struct.pack("<2h", 1, 2)).cast("h"))


def test_bytes_with_dtype_and_shape() -> None:
    data = struct.pack("<3q", -1, 0, 2**40)
    t = Tensor(data, dtype="int64", shape=[3])
    assert t.tolist() == [-1, 0, 2**40] and t.tobytes() == data and bytes(t.memoryview()) == data
    assert Tensor(bytearray(data), dtype="uint8", shape=[24]).shape == (24,)
    with pytest.raises(InputError, match=r"Tensor: 24 bytes of int64 hold 3 elements, shape \[2, 2\] needs 4"):
        Tensor(data, dtype="int64", shape=[2, 2])
    with pytest.raises(InputError, match="5 bytes is not a whole number of int32 elements|hold"):
        Tensor(b"12345", dtype="int32", shape=[1])
    assert Tensor(data, dtype="int64").shape == (3,)
    with pytest.raises(InputError, match="raw bytes need dtype="):
        Tensor(data)
    with pytest.raises(InputError, match="5 bytes is not a whole number of int32 elements"):
        Tensor(b"12345", dtype="int32")
    with pytest.raises(InputError, match="has a negative dim"):
        Tensor(data, dtype="int64", shape=[-3])


def test_nested_lists_and_scalars() -> None:
    assert Tensor([[1.0, 2.0], [3.0, 4.0]]).dtype == "float32"
    assert Tensor([[1, 2], [3, 4]]).dtype == "int64"  # token ids
    assert Tensor([True, False]).dtype == "uint8"
    assert Tensor([1, 2.5]).dtype == "float32"
    assert Tensor([np.int32(3), 4]).dtype == "int64"
    t = Tensor(3.5)
    assert t.shape == () and t.tolist() == 3.5 and t.numpy().shape == ()
    assert Tensor(7, dtype="uint8").tolist() == 7
    assert Tensor([]).shape == (0,) and Tensor([[], []]).shape == (2, 0)
    assert Tensor([1e300, -1e300]).tolist() == [math.inf, -math.inf]
    assert Tensor([70000.0, 1.0], dtype="float16").tolist() == [math.inf, 1.0]
    assert Tensor([1, 2, 3, 4], dtype="int32", shape=[2, 2]).tolist() == [[1, 2], [3, 4]]
    assert Tensor((1, 2)).shape == (2,)
    nan = Tensor([math.nan], dtype="float16").tolist()[0]
    assert math.isnan(nan)


def test_list_errors() -> None:
    with pytest.raises(InputError, match=r"ragged nested list: item 0 has shape \[2\], item 1 has \[1\]"):
        Tensor([[1, 2], [3]])
    with pytest.raises(InputError, match="ragged"):
        Tensor([[1, 2], 3])
    with pytest.raises(InputError, match=r"value 128 is out of range for int8 \[-128, 127\]"):
        Tensor([1, 128], dtype="int8")
    with pytest.raises(InputError, match=r"value -1 is out of range for uint32"):
        Tensor([-1], dtype="uint32")
    with pytest.raises(InputError, match="1.5 is not an integer, but the dtype is int32"):
        Tensor([1.5], dtype="int32")
    with pytest.raises(InputError, match="'a' \\(str\\) is not a number"):
        Tensor(["a"])
    with pytest.raises(InputError, match="nested lists deeper than the maximum rank 8"):
        Tensor([[[[[[[[[1]]]]]]]]])
    with pytest.raises(InputError, match="cannot make a tensor from dict"):
        Tensor({"a": 1})
    with pytest.raises(Exception, match="unknown dtype 'float64'"):
        Tensor([1.0], dtype="float64")


def test_other_constructors_and_repr() -> None:
    assert Tensor.full([2], 1.5).tolist() == [1.5, 1.5]
    assert Tensor.zeros([2, 2], "int8").tolist() == [[0, 0], [0, 0]]
    t = Tensor([1.0])
    assert repr(t) == "Tensor(float32[1])" and not t.on_device and t.storage is None
    with pytest.raises(InputError, match="value is a float32 Tensor but dtype int32 was asked"):
        Tensor(t, dtype="int32")


def test_device_tensors_read_lazily() -> None:
    class Storage:
        backend, device = "fake", "gpu0"
        reads = 0
        released = False

        def read(self) -> bytes:
            self.reads += 1
            return struct.pack("<2f", 1.0, 2.0)

        def release(self) -> None:
            self.released = True

    s = Storage()
    t = Tensor.from_device("float32", [2], s)
    assert t.on_device and repr(t) == "Tensor(float32[2], on fake:gpu0)" and s.reads == 0
    assert t.tolist() == [1.0, 2.0] and t.tolist() == [1.0, 2.0] and s.reads == 1
    t.release()
    assert s.released and t.tolist() == [1.0, 2.0]
    gone = Tensor.from_device("float32", [2], Storage())
    gone.release()
    with pytest.raises(InputError, match="device storage was released"):
        gone.tobytes()
