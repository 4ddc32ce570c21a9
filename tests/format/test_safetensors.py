"""The pure-Python safetensors reader/writer: interop with the reference library both ways, byte-identical
output, the reader's validation rules (matched against the reference library), lazy reads from every source."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webinfer.errors import WeightsError
from webinfer.format import SafetensorsFile
from webinfer.format import safetensors as ours

np = pytest.importorskip("numpy")
st_numpy = pytest.importorskip("safetensors.numpy")
st_rust = pytest.importorskip("safetensors._safetensors_rust")

NUMPY_DTYPES = ["float32", "float16", "int32", "uint32", "int64", "uint64", "int8", "uint8"]


def _arrays() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for i, dt in enumerate(NUMPY_DTYPES):
        info = np.finfo(dt) if dt.startswith("float") else np.iinfo(dt)
        a = rng.uniform(-100, 100, size=(3, 5)).astype(dt) if dt.startswith("float") else rng.integers(
            info.min, info.max, size=(2, 3, 2), dtype=dt, endpoint=True)
        out[f"t{i}_{dt}"] = a
    out["f32_special"] = np.array([np.inf, -np.inf, np.nan, -0.0, np.finfo("float32").max], dtype="float32")
    out["scalar"] = np.array(1.5, dtype="float32")
    out["empty"] = np.zeros((0, 4), dtype="int64")
    out["unicodé \"key\" 🚀"] = np.arange(3, dtype="uint8")
    return out


def _entries(arrays: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v.dtype), v.shape, v.tobytes()) for k, v in arrays.items()}


def _blob(header: Any, data: bytes = b"", pad: bool = True, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def _theirs_accepts(blob: bytes) -> bool:
    try:
        st_rust.deserialize(blob)
        return True
    except Exception:  # noqa: BLE001 - the reference library's error type varies
        return False


def _ours_accepts(blob: bytes) -> bool:
    try:
        SafetensorsFile(blob)
        return True
    except WeightsError:
        return False


def test_writer_output_is_byte_identical_to_reference() -> None:
    arrays = _arrays()
    assert ours.to_bytes(_entries(arrays)) == st_numpy.save(arrays)
    meta = {"format": "pt"}
    assert ours.to_bytes(_entries(arrays), metadata=meta) == st_numpy.save(arrays, metadata=meta)


def test_reference_reads_ours() -> None:
    arrays = _arrays()
    back = st_numpy.load(ours.to_bytes(_entries(arrays), metadata={"k": "v"}))
    assert set(back) == set(arrays)
    for k, a in arrays.items():
        assert back[k].dtype == a.dtype and back[k].shape == a.shape
        assert back[k].tobytes() == a.tobytes()


def test_ours_reads_reference(tmp_path: Any) -> None:
    arrays = _arrays()
    blob = st_numpy.save(arrays, metadata={"producer": "ref"})
    path = tmp_path / "ref.safetensors"
    path.write_bytes(blob)
    for source in (blob, bytearray(blob), memoryview(blob), str(path), path, io.BytesIO(blob)):
        f = SafetensorsFile(source)
        assert f.metadata == {"producer": "ref"}
        assert set(f.tensors) == set(arrays)
        for k, a in arrays.items():
            info = f.info(k)
            assert info.webinfer_dtype() == str(a.dtype) and info.shape == a.shape
            assert bytes(f.read(k)) == a.tobytes()
    assert ours.load_file(blob)["scalar"] == ("float32", (), struct.pack("<f", 1.5))


def test_every_reference_dtype_header_is_readable_and_unsupported_ones_are_named() -> None:
    arrays = {"b": np.array([True, False]), "d": np.arange(3, dtype="float64"), "h": np.arange(2, dtype="int16")}
    f = SafetensorsFile(st_numpy.save(arrays))
    assert f.info("d").dtype == "F64" and f.info("b").dtype == "BOOL"
    with pytest.raises(WeightsError, match=r"'d' has dtype F64 \(float64\)"):
        f.info("d").webinfer_dtype()
    bf16 = _blob({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, b"\0" * 8)
    assert _theirs_accepts(bf16)
    with pytest.raises(WeightsError, match=r"'w' has dtype BF16 \(bfloat16\), which webinfer does not support"):
        SafetensorsFile(bf16).info("w").webinfer_dtype()


U8 = {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}

# (case, file, what our message says); every one is also refused by the reference library
REJECTED = [
    ("empty file", b"", "too short"),
    ("short length", b"\x01\x00", "too short"),
    ("length over 100 MB", struct.pack("<Q", 100_000_001) + b"{}", "exceeds the limit"),
    ("length 2**64-1", struct.pack("<Q", 2**64 - 1) + b"{}", "exceeds the limit"),
    ("length past the end", struct.pack("<Q", 100) + b"{}      ", "runs past the end"),
    ("zero length", struct.pack("<Q", 0), "invalid JSON"),
    ("not an object", _blob(None, raw=b"[]"), "must be a JSON object"),
    ("not utf-8", _blob(None, raw=b'{"\xff":1}'), "not UTF-8"),
    ("nul padding", _blob(None, b"\0\0", raw=b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}' + b"\0" * 7), "invalid JSON"),
    ("unknown dtype", _blob({"a": {**U8, "dtype": "X"}}, b"\0\0"), "unknown dtype"),
    ("lowercase dtype", _blob({"a": {**U8, "dtype": "u8"}}, b"\0\0"), "unknown dtype"),
    ("missing shape", _blob({"a": {"dtype": "U8", "data_offsets": [0, 2]}}, b"\0\0"), "missing 'shape'"),
    ("negative dim", _blob({"a": {**U8, "shape": [-2]}}, b"\0\0"), "out of range"),
    ("float dim", _blob({"a": {**U8, "shape": [2.0]}}, b"\0\0"), "non-negative integer"),
    ("bool dim", _blob({"a": {**U8, "shape": [True, True]}}, b"\0\0"), "non-negative integer"),
    ("three offsets", _blob({"a": {**U8, "data_offsets": [0, 2, 3]}}, b"\0\0"), r"\[begin, end\]"),
    ("negative offset", _blob({"a": {**U8, "data_offsets": [-1, 1]}}, b"\0\0"), "out of range"),
    ("end before begin", _blob({"a": {**U8, "shape": [0], "data_offsets": [2, 0]}}, b"\0\0"), "end before they begin"),
    ("size vs dtype", _blob({"a": {**U8, "dtype": "F32"}}, b"\0\0"), "needs 8"),
    ("offsets past end", _blob({"a": {**U8, "data_offsets": [0, 2]}}, b"\0"), "truncated"),
    ("trailing bytes", _blob({"a": U8}, b"\0\0\0"), "trailing bytes"),
    ("gap", _blob({"a": U8, "b": {**U8, "data_offsets": [4, 6]}}, b"\0" * 6), "refuses gaps"),
    ("gap at start", _blob({"a": {**U8, "data_offsets": [2, 4]}}, b"\0" * 4), "refuses gaps"),
    ("overlap", _blob({"a": U8, "b": U8}, b"\0\0"), "overlaps"),
    ("partial overlap", _blob({"a": {**U8, "shape": [3], "data_offsets": [0, 3]}, "b": {**U8, "data_offsets": [1, 3]}}, b"\0" * 3), "overlaps"),
    ("huge shape", _blob({"a": {**U8, "shape": [2**40, 2**40]}}, b"\0\0"), "more than 2\\*\\*64 elements"),
    ("dim over u64", _blob({"a": {**U8, "shape": [2**64]}}, b"\0\0"), "out of range"),
    ("sub-byte", _blob({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0\0"), "byte boundary"),
    ("metadata not strings", _blob({"__metadata__": {"k": 1}}), "object of strings"),
    ("entry not an object", _blob({"a": [1]}), "expected an object"),
    ("trailing garbage", _blob(None, raw=b"{}xx"), "invalid JSON"),
]


@pytest.mark.parametrize("case,blob,message", REJECTED, ids=[c[0] for c in REJECTED])
def test_reader_rejects_like_the_reference(case: str, blob: bytes, message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        SafetensorsFile(blob, "w.safetensors")
    assert not _theirs_accepts(blob), f"the reference library accepts {case}; match it"


ACCEPTED = [
    ("empty header", _blob({})),
    ("unpadded", _blob({"a": U8}, b"\0\0", pad=False)),
    ("leading spaces", _blob(None, b"\0\0", raw=b'  {"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}')),
    ("unsorted entries", _blob({"b": {**U8, "data_offsets": [2, 4]}, "a": U8}, b"\0" * 4)),
    ("extra entry field", _blob({"a": {**U8, "x": 1}}, b"\0\0")),
    ("null metadata", _blob({"__metadata__": None})),
    ("zero-size tensors anywhere in order", _blob({"z": {**U8, "shape": [0], "data_offsets": [0, 0]}, "a": U8}, b"\0\0")),
    ("scalar", _blob({"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\0" * 4)),
]


@pytest.mark.parametrize("case,blob", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_reader_accepts_like_the_reference(case: str, blob: bytes) -> None:
    assert _theirs_accepts(blob)
    SafetensorsFile(blob)


def test_stricter_than_the_reference_on_duplicate_keys() -> None:
    """The reference library lets a later duplicate key win; a hostile file could hide a tensor that way."""
    entry = b'"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}'
    blob = _blob(None, b"\0\0", raw=b"{" + entry + b"," + entry + b"}")
    with pytest.raises(WeightsError, match="duplicate key 'a'"):
        SafetensorsFile(blob)


@pytest.mark.parametrize("length", [2**63, 2**64 - 1, 100_000_000, 99_999_999, 4096])
def test_lying_header_length_allocates_nothing(length: int) -> None:
    blob = struct.pack("<Q", length) + b'{"a":1}' + b" " * 1000
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError):
            SafetensorsFile(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_lying_header_length_on_a_stream_reads_nothing_big() -> None:
    class Counting(io.BytesIO):
        largest = 0

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            Counting.largest = max(Counting.largest, n)
            return super().read(n)

    with pytest.raises(WeightsError, match="runs past the end"):
        SafetensorsFile(Counting(struct.pack("<Q", 50_000_000) + b"{}"))
    assert Counting.largest <= 8


def test_lazy_reads_and_truncation_after_opening(tmp_path: Any) -> None:
    arrays = {"a": np.arange(1000, dtype="float32"), "b": np.arange(10, dtype="int8")}
    path = tmp_path / "w.safetensors"
    path.write_bytes(st_numpy.save(arrays))
    f = SafetensorsFile(path)
    load_b = f.loader("b")
    path.write_bytes(path.read_bytes()[:-5])  # the file shrinks after the header was checked
    with pytest.raises(WeightsError, match="truncated"):
        load_b()
    assert bytes(f.read("a")) == arrays["a"].tobytes()
    with pytest.raises(WeightsError, match="no tensor 'zz'"):
        f.read("zz")


def test_memory_source_reads_are_zero_copy() -> None:
    blob = bytearray(st_numpy.save({"a": np.arange(4, dtype="int32")}))
    view = SafetensorsFile(blob).read("a")
    assert isinstance(view, memoryview) and view.obj is blob


def test_bad_sources_are_weights_errors(tmp_path: Any) -> None:
    with pytest.raises(WeightsError, match="cannot open"):
        SafetensorsFile(tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="not a regular file"):
        SafetensorsFile(tmp_path)
    with pytest.raises(WeightsError, match="cannot read weights from a int"):
        SafetensorsFile(5)  # type: ignore[arg-type]


def test_writer_checks_sizes() -> None:
    with pytest.raises(WeightsError, match="3 bytes given, 4 expected"):
        ours.to_bytes({"a": ("float32", [1], b"abc")})
    with pytest.raises(WeightsError, match="not allowed"):
        ours.to_bytes({"__metadata__": ("float32", [0], b"")})


# -- agreement with the reference library on mutated headers ----------------------------------------------

_dims = st.lists(st.integers(0, 5) | st.sampled_from([2**40, 2**64, -1]), max_size=3)
_entry = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["U8", "I8", "F16", "F32", "I64", "BF16", "F64", "BOOL", "F4", "X"]),
        "shape": _dims,
        "data_offsets": st.lists(st.integers(0, 40) | st.sampled_from([-1, 2**64]), min_size=1, max_size=3),
    }
)


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "é"]), _entry, max_size=3), st.integers(0, 48),
       st.booleans())
def test_accepts_exactly_what_the_reference_accepts(header: dict[str, Any], data_len: int, pad: bool) -> None:
    blob = _blob(header, b"\x01" * data_len, pad=pad)
    assert _ours_accepts(blob) == _theirs_accepts(blob), (header, data_len)
