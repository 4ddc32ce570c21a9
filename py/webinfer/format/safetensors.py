"""Pure-Python safetensors: a validating, lazy reader and a writer whose files match the reference library's.

The Rust ``safetensors`` wheel does not exist for Pyodide, so webinfer reads and writes the format itself:
an 8-byte little-endian header length, a JSON header (``{key: {dtype, shape, data_offsets}}`` plus an
optional ``__metadata__`` of strings) padded with spaces to a multiple of 8, then the tensors' bytes.

The reader applies the reference library's rules (tensors contiguous from offset 0 in offset order — no
gaps, no overlaps — the data section exactly covering the rest of the file, sizes matching dtype × shape,
header at most 100,000,000 bytes) and is stricter in two ways: duplicate keys and nesting deeper than
the JSON limit are refused. It never allocates from a size it has not checked against the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import WeightsError
from ..ir.dtypes import BY_SAFETENSORS, DTYPES
from .jsontext import parse_json
from .sources import BytesLike, ByteSource, SourceLike, open_source

HEADER_LENGTH_BYTES = 8
MAX_HEADER_BYTES = 100_000_000  # the reference library's limit
MAX_INDEX = 2**64 - 1  # offsets and sizes are u64 in the reference library

# Every dtype the reference library knows, in its order (the writer sorts by it, widest first), with
# bits per element. webinfer computes with the ones in ir.dtypes; the others are only measured.
ST_DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
_ORDER = {name: i for i, name in enumerate(ST_DTYPE_BITS)}
_WHY_NOT = {"BF16": "bfloat16", "F64": "float64", "BOOL": "bool", "I16": "int16", "U16": "uint16", "C64": "complex64"}


@dataclass(frozen=True)
class TensorInfo:
    """One header entry: key, safetensors dtype, shape, and byte offsets within the data section."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin

    def webinfer_dtype(self, where: str = "") -> str:
        """The webinfer dtype name; a WeightsError naming the tensor for dtypes webinfer cannot compute with."""
        dt = BY_SAFETENSORS.get(self.dtype)
        if dt is None:
            long = _WHY_NOT.get(self.dtype, self.dtype.lower())
            raise WeightsError(
                f"{where}tensor {self.key!r} has dtype {self.dtype} ({long}), which webinfer does not support; "
                f"convert it to one of {', '.join(d.safetensors for d in DTYPES.values())}"
            )
        return dt.name


def _shape_text(dims: Sequence[int]) -> str:
    """A shape for messages, shortened when a hostile header makes it long."""
    if len(dims) <= 10:
        return str(list(dims))
    return "[" + ", ".join(map(str, dims[:8])) + f", ... ({len(dims)} dims)]"


def _u64(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WeightsError(f"{where} must be a non-negative integer, got {json.dumps(value)[:40]}")
    if not 0 <= value <= MAX_INDEX:
        raise WeightsError(f"{where} is {value}, out of range [0, 2**64)")
    return value


def _entry(key: str, entry: Any, name: str) -> TensorInfo:
    """Validate one header entry (unknown fields are ignored, as the reference library does)."""
    where = f"{name}: tensor {key!r}"
    if not isinstance(entry, dict):
        raise WeightsError(f"{where}: expected an object with dtype, shape and data_offsets")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise WeightsError(f"{where}: missing {field!r}")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in ST_DTYPE_BITS:
        raise WeightsError(f"{where}: unknown dtype {json.dumps(dtype)[:40]}; known: {', '.join(ST_DTYPE_BITS)}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list):
        raise WeightsError(f"{where}: shape must be a list of sizes")
    if not isinstance(offsets, list) or len(offsets) != 2:
        raise WeightsError(f"{where}: data_offsets must be [begin, end]")
    for i, d in enumerate(shape):  # the message is only built for a bad dim (shapes may be long)
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= MAX_INDEX:
            _u64(d, f"{where}: shape[{i}]")
    dims = tuple(shape)
    begin = _u64(offsets[0], f"{where}: data_offsets[0]")
    end = _u64(offsets[1], f"{where}: data_offsets[1]")
    count = 1
    for d in dims:  # checked multiplication, as the reference library does
        count *= d
        if count > MAX_INDEX:
            raise WeightsError(f"{where}: shape {_shape_text(dims)} has more than 2**64 elements")
    bits = count * ST_DTYPE_BITS[dtype]
    if bits > MAX_INDEX:
        raise WeightsError(f"{where}: shape {_shape_text(dims)} of {dtype} is larger than 2**64 bits")
    if bits % 8:
        raise WeightsError(f"{where}: {count} elements of {dtype} do not end on a byte boundary")
    if end < begin:
        raise WeightsError(f"{where}: data_offsets [{begin}, {end}] end before they begin")
    if end - begin != bits // 8:
        raise WeightsError(
            f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes, "
            f"but {dtype} {_shape_text(dims)} needs {bits // 8}"
        )
    return TensorInfo(key, dtype, dims, begin, end)


class SafetensorsFile:
    """A safetensors file whose header has been read and fully validated; tensors are read on demand.

    ``SafetensorsFile(source)`` takes bytes, a path, a seekable binary file object or a ByteSource.
    ``tensors`` maps key -> TensorInfo (in offset order), ``metadata`` is the ``__metadata__`` dict or None,
    ``read(key)`` returns a tensor's raw little-endian bytes.
    """

    def __init__(self, source: SourceLike, name: str | None = None) -> None:
        self.source: ByteSource = open_source(source, name)
        self.name = self.source.name
        size = self.source.size
        if size < HEADER_LENGTH_BYTES:
            raise WeightsError(f"{self.name}: truncated: {size} bytes, too short for a safetensors file")
        n = int.from_bytes(self.source.read(0, HEADER_LENGTH_BYTES), "little")
        if n > MAX_HEADER_BYTES:
            raise WeightsError(
                f"{self.name}: header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes "
                "(corrupt, or not safetensors)"
            )
        if HEADER_LENGTH_BYTES + n > size:
            raise WeightsError(
                f"{self.name}: header length {n} runs past the end of the file ({size} bytes): truncated or corrupt"
            )
        header = parse_json(self.source.read(HEADER_LENGTH_BYTES, n), f"{self.name}: header",
                            error=WeightsError, max_bytes=MAX_HEADER_BYTES)
        if not isinstance(header, dict):
            raise WeightsError(f"{self.name}: header must be a JSON object, got {type(header).__name__}")
        meta = header.pop("__metadata__", None)
        if meta is not None:
            if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
                raise WeightsError(f"{self.name}: __metadata__ must be an object of strings")
        self.metadata: dict[str, str] | None = meta
        infos = sorted((_entry(k, v, self.name) for k, v in header.items()), key=lambda t: (t.begin, t.end))
        expected = 0
        previous: TensorInfo | None = None
        for info in infos:
            if info.begin != expected:
                if info.begin < expected:
                    assert previous is not None
                    raise WeightsError(
                        f"{self.name}: tensor {info.key!r} (bytes {info.begin}..{info.end}) overlaps "
                        f"tensor {previous.key!r} (bytes {previous.begin}..{previous.end})"
                    )
                raise WeightsError(
                    f"{self.name}: tensor {info.key!r} starts at {info.begin}, but the data before it ends at "
                    f"{expected}: the reference library refuses gaps"
                )
            expected = info.end
            previous = info
        self.header_length = n
        self.data_start = HEADER_LENGTH_BYTES + n
        self.size = size
        total = self.data_start + expected
        if total > size:
            raise WeightsError(
                f"{self.name}: truncated: the header describes {total} bytes, the file has {size}"
            )
        if total < size:
            raise WeightsError(
                f"{self.name}: {size - total} trailing bytes after the last tensor "
                f"(file is {size} bytes, {total} expected)"
            )
        self.tensors: dict[str, TensorInfo] = {t.key: t for t in infos}

    def __contains__(self, key: object) -> bool:
        return key in self.tensors

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def info(self, key: str) -> TensorInfo:
        """The header entry for ``key``; a WeightsError naming the file if there is none."""
        try:
            return self.tensors[key]
        except (KeyError, TypeError):
            raise WeightsError(f"{self.name}: no tensor {key!r} in the file") from None

    def read(self, key: str) -> memoryview:
        """The raw bytes of tensor ``key``."""
        info = self.info(key)
        return self.source.read(self.data_start + info.begin, info.nbytes)

    def loader(self, key: str) -> Callable[[], memoryview]:
        """A function reading tensor ``key`` when called (for ``Constant(loader=...)``)."""
        self.info(key)
        return lambda: self.read(key)

    def sha256(self) -> str:
        return self.source.sha256()

    def __repr__(self) -> str:
        return f"SafetensorsFile({self.name!r}, {len(self.tensors)} tensors, {self.size} bytes)"


# -- writing ------------------------------------------------------------------------------------------

TensorData = BytesLike | Callable[[], BytesLike]
TensorEntry = tuple[str, Sequence[int], TensorData]  # (dtype, shape, bytes or a function giving them)


def _st_dtype(dtype: str, key: str) -> str:
    if dtype in DTYPES:
        return DTYPES[dtype].safetensors
    if dtype in ST_DTYPE_BITS:
        return dtype
    raise WeightsError(f"tensor {key!r}: unknown dtype {dtype!r}")


def layout(
    tensors: Mapping[str, TensorEntry], metadata: Mapping[str, str] | None = None
) -> tuple[bytes, list[tuple[str, TensorData, int]]]:
    """The padded header and the (key, data, nbytes) list in file order, as the reference library lays them out:
    widest dtype first (keeps every tensor aligned), then by key."""
    entries = []
    for key, (dtype, shape, data) in tensors.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise WeightsError(f"tensor key {key!r} is not allowed")
        st = _st_dtype(dtype, key)
        dims = [int(d) for d in shape]
        count = 1
        for d in dims:
            if d < 0:
                raise WeightsError(f"tensor {key!r}: negative dim in {dims}")
            count *= d
        if count * ST_DTYPE_BITS[st] % 8:
            raise WeightsError(f"tensor {key!r}: {count} elements of {st} do not fill whole bytes")
        entries.append((key, st, dims, data, count * ST_DTYPE_BITS[st] // 8))
    entries.sort(key=lambda e: (-_ORDER[e[1]], e[0]))
    header: dict[str, Any] = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise WeightsError("safetensors __metadata__ must map strings to strings")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for key, st, dims, _, nbytes in entries:
        header[key] = {"dtype": st, "shape": dims, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    try:
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise WeightsError(f"a tensor key or metadata string cannot be encoded as UTF-8: {e}") from None
    text += b" " * (-len(text) % 8)
    if len(text) > MAX_HEADER_BYTES:
        raise WeightsError(f"the header would be {len(text)} bytes, over the limit of {MAX_HEADER_BYTES}")
    return len(text).to_bytes(HEADER_LENGTH_BYTES, "little") + text, [(e[0], e[3], e[4]) for e in entries]


def write(
    out: BinaryIO, tensors: Mapping[str, TensorEntry], metadata: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Stream a safetensors file into ``out``; returns its size and sha256 (hex)."""
    head, order = layout(tensors, metadata)
    h = hashlib.sha256(head)
    out.write(head)
    size = len(head)
    for key, data, nbytes in order:
        raw = data() if callable(data) else data
        view = memoryview(raw).cast("B")
        if view.nbytes != nbytes:
            raise WeightsError(f"tensor {key!r}: {view.nbytes} bytes given, {nbytes} expected for its dtype and shape")
        out.write(view)
        h.update(view)
        size += nbytes
    return size, h.hexdigest()


def to_bytes(tensors: Mapping[str, TensorEntry], metadata: Mapping[str, str] | None = None) -> bytes:
    """A whole safetensors file in memory."""
    import io

    buf = io.BytesIO()
    write(buf, tensors, metadata)
    return buf.getvalue()


def save_file(
    tensors: Mapping[str, TensorEntry], path: str, metadata: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Write a safetensors file at ``path``; returns its size and sha256 (hex)."""
    with open(path, "wb") as f:
        return write(f, tensors, metadata)


def load_file(source: SourceLike, name: str | None = None) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    """Every tensor of a safetensors file as (webinfer dtype, shape, bytes) — for tests and small files."""
    st = SafetensorsFile(source, name)
    return {k: (t.webinfer_dtype(f"{st.name}: "), t.shape, bytes(st.read(k))) for k, t in st.tensors.items()}
