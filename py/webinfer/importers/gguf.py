"""GGUF (llama.cpp's model format) in pure Python: a validating, lazy reader, and block repacking into
webinfer's low-bit constants. No numpy, so it runs in Pyodide too.

    f = GGUFFile("model.gguf")                  # header, metadata and tensor infos; no tensor data yet
    f.metadata["llama.block_count"]             # 30
    f.tensors["blk.0.attn_q.weight"]            # GGUFTensor(name, dims, type, offset, nbytes)
    raw = f.read("blk.0.attn_q.weight")         # that tensor's bytes, read on demand
    q, d, m = q4_1_to_uint4(raw)                # Q4_1 blocks -> uint4 (standard nibble order), f16 d, f16 m

The layout: ``GGUF`` magic, version (2 or 3), tensor count and metadata count (u64), the metadata
(key: string, type: u32, value), the tensor infos (name, n_dims, dims — innermost first —, ggml type,
offset), padding to ``general.alignment`` (default 32), then the tensor data. Every count, length, size
and offset is checked against the file's size before anything is read or allocated from it, so a
truncated or lying file is a ``WeightsError`` naming the file and what is wrong — never a crash, a hang
or a huge allocation.
"""

from __future__ import annotations

import array
import math
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import WeightsError
from ..format.sources import ByteSource, SourceLike, open_source

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_STRING_BYTES = 16 << 20  # a chat template is kilobytes; a 16 MiB string is a broken file
MAX_ARRAY_ITEMS = 4 << 20  # vocabularies and merge lists are < 1M entries
MAX_METADATA_ITEMS = 16 << 20  # all array elements together
MAX_ARRAY_DEPTH = 4
MAX_NAME_BYTES = 1024
MAX_DIMS = 8  # ggml itself has 4
MAX_ELEMENTS = 1 << 50
HEADER_CHUNK = 1 << 20

# ggml_type -> (name, elements per block, bytes per block): every type the format defines, so that any file's
# sizes can be checked; webinfer converts the ones in CONVERTIBLE.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
CONVERTIBLE = ("F32", "F16", "Q4_0", "Q4_1", "Q8_0")

# metadata value types: id -> (name, struct code or None for string/array)
VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("uint8", "B"), 1: ("int8", "b"), 2: ("uint16", "H"), 3: ("int16", "h"), 4: ("uint32", "I"),
    5: ("int32", "i"), 6: ("float32", "f"), 7: ("bool", "?"), 8: ("string", None), 9: ("array", None),
    10: ("uint64", "Q"), 11: ("int64", "q"), 12: ("float64", "d"),
}
_ARRAY_CODES = {"B": "B", "b": "b", "H": "H", "h": "h", "I": "I", "i": "i", "f": "f", "Q": "Q", "q": "q", "d": "d"}


@dataclass(frozen=True)
class GGUFTensor:
    """One tensor info: ``dims`` innermost first (as GGUF stores them), data ``offset`` within the data section."""

    name: str
    dims: tuple[int, ...]
    type_id: int
    offset: int
    nbytes: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES[self.type_id][0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Row-major shape, outermost first (``dims`` reversed): ``[rows, cols]`` for a weight matrix."""
        return tuple(reversed(self.dims))

    @property
    def elements(self) -> int:
        return math.prod(self.dims)

    def __str__(self) -> str:
        return f"{self.name} {self.type_name}{list(self.shape)}"


class _Cursor:
    """Sequential reads through a ByteSource, buffered, each checked against the end of the file."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.size = source.size
        self.pos = 0
        self._buf: memoryview = memoryview(b"")
        self._buf_at = 0

    def left(self) -> int:
        return self.size - self.pos

    def take(self, n: int, what: str) -> memoryview:
        if n > self.left():
            raise WeightsError(f"{self.source.name}: truncated: {what} needs {n} bytes at offset {self.pos}, "
                               f"but the file ends at {self.size}")
        start = self.pos - self._buf_at
        if start < 0 or start + n > len(self._buf):
            self._buf_at = self.pos
            self._buf = self.source.read(self.pos, min(max(n, HEADER_CHUNK), self.left()))
            start = 0
        self.pos += n
        return self._buf[start : start + n]

    def unpack(self, code: str, what: str) -> Any:
        return struct.unpack("<" + code, self.take(struct.calcsize(code), what))[0]

    def string(self, what: str, limit: int = MAX_STRING_BYTES) -> str:
        n = self.unpack("Q", f"the length of {what}")
        if n > limit:
            raise WeightsError(f"{self.source.name}: {what} is {n} bytes long, over the limit of {limit}")
        raw = self.take(n, what)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as e:
            raise WeightsError(
                f"{self.source.name}: {what} is not valid UTF-8 ({e.reason} at byte {e.start})") from None


    def strings(self, n: int, what: str) -> list[str]:
        """``n`` strings in a row (a vocabulary): decoded straight from the buffer where they lie in it."""
        out: list[str] = []
        append = out.append
        for i in range(n):
            buf, start = self._buf, self.pos - self._buf_at
            if 0 <= start and start + 8 <= len(buf):
                k = int.from_bytes(buf[start : start + 8], "little")
                end = start + 8 + k
                if k <= MAX_STRING_BYTES and end <= len(buf):
                    try:
                        append(str(buf[start + 8 : end], "utf-8"))
                        self.pos += 8 + k
                        continue
                    except UnicodeDecodeError:
                        pass  # the checked path below says where
            append(self.string(f"{what}[{i}]"))
        return out


class GGUFFile:
    """A GGUF file whose header, metadata and tensor infos have been read and checked; tensor data on demand.

    ``GGUFFile(source)`` takes a path, bytes or a seekable binary file (anything ``webinfer.format`` reads
    weights from). ``metadata`` maps key -> value (ints, floats, bools, strings, lists; numeric arrays as
    ``array.array``), ``value_types`` key -> GGUF type name, ``tensors`` name -> GGUFTensor in file order.
    """

    def __init__(self, source: SourceLike, name: str | None = None) -> None:
        self.source: ByteSource = open_source(source, name)
        self.name = self.source.name
        cur = _Cursor(self.source)
        if self.source.size < 4 or bytes(cur.take(4, "the magic")) != MAGIC:
            head = bytes(self.source.read(0, min(4, self.source.size)))
            raise WeightsError(f"{self.name}: not a GGUF file (it starts with {head!r}, not {MAGIC!r})")
        self.version = cur.unpack("I", "the version")
        if self.version not in VERSIONS:
            hint = " (a big-endian file?)" if self.version > 0xFFFF else ""
            raise WeightsError(f"{self.name}: GGUF version {self.version} is not supported{hint}; "
                               f"webinfer reads versions {', '.join(map(str, VERSIONS))}")
        n_tensors = cur.unpack("Q", "the tensor count")
        n_kv = cur.unpack("Q", "the metadata count")
        # the smallest metadata entry takes 13 bytes and the smallest tensor info 24: counts the file cannot
        # hold are lies, refused before anything is allocated for them
        if n_kv * 13 > cur.left():
            raise WeightsError(f"{self.name}: the header claims {n_kv} metadata entries, more than the "
                               f"{cur.left()} remaining bytes can hold")
        if n_tensors * 24 > cur.left():
            raise WeightsError(f"{self.name}: the header claims {n_tensors} tensors, more than the "
                               f"{cur.left()} remaining bytes can hold")
        self.metadata: dict[str, Any] = {}
        self.value_types: dict[str, str] = {}
        self._items = 0
        for i in range(n_kv):
            key = cur.string(f"metadata key {i}", MAX_NAME_BYTES)
            if key in self.metadata:
                raise WeightsError(f"{self.name}: metadata key {key!r} appears twice")
            type_id = cur.unpack("I", f"the type of metadata {key!r}")
            self.metadata[key] = self._value(cur, type_id, key, 0)
            self.value_types[key] = self._type_label(type_id, self.metadata[key])
        self.alignment = self._alignment()
        self.tensors: dict[str, GGUFTensor] = {}
        infos = [self._tensor_info(cur, i) for i in range(n_tensors)]
        self.data_start = -(-cur.pos // self.alignment) * self.alignment
        if self.data_start > self.source.size and infos:
            raise WeightsError(f"{self.name}: truncated: the tensor data would start at {self.data_start}, "
                               f"past the end of the file ({self.source.size} bytes)")
        data_size = max(0, self.source.size - self.data_start)
        previous: GGUFTensor | None = None
        for t in sorted(infos, key=lambda t: (t.offset, t.nbytes)):
            if t.offset + t.nbytes > data_size:
                raise WeightsError(
                    f"{self.name}: tensor {t.name!r} ({t.type_name}, {t.nbytes} bytes at data offset {t.offset}) "
                    f"runs past the end of the file: the data section holds {data_size} bytes (truncated?)")
            if previous is not None and t.offset < previous.offset + previous.nbytes:
                raise WeightsError(f"{self.name}: tensor {t.name!r} (bytes {t.offset}..{t.offset + t.nbytes}) "
                                   f"overlaps tensor {previous.name!r} (bytes {previous.offset}.."
                                   f"{previous.offset + previous.nbytes})")
            previous = t
        for t in infos:
            self.tensors[t.name] = t

    # -- parsing ---------------------------------------------------------------------------------------------
    def _value(self, cur: _Cursor, type_id: int, key: str, depth: int) -> Any:
        if type_id not in VALUE_TYPES:
            raise WeightsError(f"{self.name}: metadata {key!r} has unknown value type {type_id}")
        tname, code = VALUE_TYPES[type_id]
        if tname == "string":
            return cur.string(f"metadata {key!r}")
        if tname == "array":
            if depth >= MAX_ARRAY_DEPTH:
                raise WeightsError(f"{self.name}: metadata {key!r}: arrays nested deeper than {MAX_ARRAY_DEPTH}")
            item_type = cur.unpack("I", f"the item type of metadata {key!r}")
            n = cur.unpack("Q", f"the length of metadata {key!r}")
            if item_type not in VALUE_TYPES:
                raise WeightsError(f"{self.name}: metadata {key!r} is an array of unknown value type {item_type}")
            item_name, item_code = VALUE_TYPES[item_type]
            smallest = struct.calcsize(item_code) if item_code else (8 if item_name == "string" else 12)
            if n > MAX_ARRAY_ITEMS or n * smallest > cur.left():
                limit = f"the limit of {MAX_ARRAY_ITEMS}" if n > MAX_ARRAY_ITEMS else "the file holds"
                raise WeightsError(f"{self.name}: metadata {key!r} claims {n} {item_name} items, more than {limit}")
            self._items += n
            if self._items > MAX_METADATA_ITEMS:
                raise WeightsError(f"{self.name}: more than {MAX_METADATA_ITEMS} metadata array items in all")
            if item_code is not None and item_code != "?":  # numbers: one read, kept compact
                raw = cur.take(n * struct.calcsize(item_code), f"metadata {key!r}")
                values = array.array(_ARRAY_CODES[item_code])
                values.frombytes(raw)
                if sys.byteorder != "little":  # pragma: no cover
                    values.byteswap()
                return values
            if item_name == "string":
                return cur.strings(n, f"metadata {key!r}")
            return [self._value(cur, item_type, f"{key}[{i}]", depth + 1) for i in range(n)]
        assert code is not None
        if tname == "bool":
            byte = int(cur.take(1, f"metadata {key!r}")[0])
            if byte > 1:
                raise WeightsError(f"{self.name}: metadata {key!r} is a bool stored as {byte}, not 0 or 1")
            return bool(byte)
        return cur.unpack(code, f"metadata {key!r}")

    @staticmethod
    def _type_label(type_id: int, value: Any) -> str:
        name = VALUE_TYPES[type_id][0]
        if name == "array":
            if isinstance(value, array.array):
                item = next(n for n, c in VALUE_TYPES.values() if c == value.typecode)
                return f"array[{item}]"
            return "array"
        return name

    def _alignment(self) -> int:
        if "general.alignment" not in self.metadata:
            return DEFAULT_ALIGNMENT
        a = self.metadata["general.alignment"]
        if self.value_types["general.alignment"] != "uint32" or not 0 < a <= 1 << 16 or a & (a - 1):
            raise WeightsError(f"{self.name}: general.alignment must be a uint32 power of two (at most 65536), "
                               f"got {a!r} ({self.value_types['general.alignment']})")
        return int(a)

    def _tensor_info(self, cur: _Cursor, i: int) -> GGUFTensor:
        name = cur.string(f"the name of tensor {i}", MAX_NAME_BYTES)
        if name in self.tensors:
            raise WeightsError(f"{self.name}: tensor name {name!r} appears twice")
        where = f"{self.name}: tensor {name!r}"
        n_dims = cur.unpack("I", f"the rank of tensor {name!r}")
        if n_dims > MAX_DIMS:
            raise WeightsError(f"{where} has {n_dims} dims; at most {MAX_DIMS} are allowed")
        dims = tuple(cur.unpack("Q", f"dim {d} of tensor {name!r}") for d in range(n_dims))
        n = 1
        for d in dims:
            n *= d
            if n > MAX_ELEMENTS:
                raise WeightsError(f"{where}: dims {list(dims)} hold more than 2**50 elements")
        type_id = cur.unpack("I", f"the type of tensor {name!r}")
        offset = cur.unpack("Q", f"the data offset of tensor {name!r}")
        if type_id not in GGML_TYPES:
            raise WeightsError(f"{where} has unknown ggml type {type_id}")
        tname, block, size = GGML_TYPES[type_id]
        if dims and dims[0] % block:
            raise WeightsError(f"{where}: its rows of {dims[0]} elements are not whole {tname} blocks of {block}")
        if offset % self.alignment:
            raise WeightsError(f"{where}: data offset {offset} is not a multiple of the alignment {self.alignment}")
        t = GGUFTensor(name, dims, type_id, offset, n // block * size)
        self.tensors[name] = t  # (to detect duplicates; rebuilt in file order once all are checked)
        return t

    # -- access ----------------------------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def tensor(self, name: str) -> GGUFTensor:
        """The info of tensor ``name``; a WeightsError naming the file if there is none."""
        try:
            return self.tensors[name]
        except (KeyError, TypeError):
            raise WeightsError(f"{self.name}: no tensor {name!r} in the file") from None

    def read(self, name: str) -> memoryview:
        """The raw bytes of tensor ``name`` (ggml blocks as stored)."""
        t = self.tensor(name)
        return self.source.read(self.data_start + t.offset, t.nbytes)

    def get(self, key: str, kind: str, default: Any = ...) -> Any:
        """Metadata ``key`` checked to be of ``kind`` ("int", "float", "bool", "str", "strings", "ints");
        a missing key gives ``default`` when one is passed, else a WeightsError; a wrong type is always one."""
        if key not in self.metadata:
            if default is not ...:
                return default
            raise WeightsError(f"{self.name}: metadata {key!r} is missing")
        value, vtype = self.metadata[key], self.value_types[key]
        ok = {
            "int": vtype.startswith(("uint", "int")),
            "float": vtype in ("float32", "float64") or vtype.startswith(("uint", "int")),
            "bool": vtype == "bool",
            "str": vtype == "string",
            "strings": vtype == "array" and all(isinstance(v, str) for v in value),
            "ints": vtype.startswith("array[") and "int" in vtype,
        }.get(kind)
        if ok is None:
            raise ValueError(f"unknown kind {kind!r}")
        if not ok:
            raise WeightsError(f"{self.name}: metadata {key!r} is {vtype}, expected {kind}")
        return float(value) if kind == "float" else value

    def __repr__(self) -> str:
        return f"GGUFFile({self.name!r}, v{self.version}, {len(self.metadata)} metadata, {len(self.tensors)} tensors)"


# -- block repacking: ggml blocks -> webinfer low-bit constants (no numpy: strided slices and whole-row ops) ----

_LO = bytes(b & 0x0F for b in range(256))
_LO_HIGH = bytes((b & 0x0F) << 4 for b in range(256))
_HI = bytes(b >> 4 for b in range(256))
_HI_HIGH = bytes(b & 0xF0 for b in range(256))


def _or(a: bytes, b: bytes) -> bytes:
    """Bytewise a | b for equal lengths, through big ints (C speed, no Python loop per byte)."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def _blocks(raw: bytes | bytearray | memoryview, block_bytes: int, what: str) -> bytes:
    data = bytes(raw)
    if len(data) % block_bytes:
        raise WeightsError(f"{what}: {len(data)} bytes are not whole blocks of {block_bytes}")
    return data


def _pair(data: bytes, lo_off: int, hi_off: int, stride: int) -> bytes:
    """A little-endian 2-byte field of every block: its two bytes interleaved back together."""
    out = bytearray(2 * (len(data) // stride))
    out[0::2] = data[lo_off::stride]
    out[1::2] = data[hi_off::stride]
    return bytes(out)


def _ggml_nibbles_to_standard(data: bytes, q_off: int, stride: int) -> bytes:
    """ggml's 4-bit layout (byte j of a 32-block: element j low, element j+16 high) -> two per byte with
    element 2i low and 2i+1 high (WebNN/ONNX), block after block."""
    nb = len(data) // stride
    q = [data[q_off + j :: stride] for j in range(16)]
    out = bytearray(16 * nb)
    for i in range(16):
        if i < 8:  # elements 2i and 2i+1: the low nibbles of bytes 2i and 2i+1
            col = _or(q[2 * i].translate(_LO), q[2 * i + 1].translate(_LO_HIGH))
        else:  # elements 2i and 2i+1 >= 16: the high nibbles of bytes 2i-16 and 2i-15
            col = _or(q[2 * i - 16].translate(_HI), q[2 * i - 15].translate(_HI_HIGH))
        out[i::16] = col
    return bytes(out)


def q4_1_to_uint4(raw: bytes | bytearray | memoryview) -> tuple[bytes, bytes, bytes]:
    """Q4_1 blocks (f16 d, f16 m, 16 bytes of nibbles: w = d·q + m) -> (uint4 q packed, f16 d, f16 m).

    q keeps the blocks' element order (row-major for a [rows, cols] weight), d and m one value per block.
    """
    data = _blocks(raw, 20, "Q4_1 data")
    return _ggml_nibbles_to_standard(data, 4, 20), _pair(data, 0, 1, 20), _pair(data, 2, 3, 20)


def q4_0_to_int4(raw: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
    """Q4_0 blocks (f16 d, 16 bytes of nibbles: w = d·(q − 8)) -> (int4 q − 8 packed, f16 d)."""
    data = _blocks(raw, 18, "Q4_0 data")
    q = _ggml_nibbles_to_standard(data, 2, 18)
    flip = bytes(b ^ 0x88 for b in range(256))  # q - 8 as a two's-complement nibble is q ^ 8
    return q.translate(flip), _pair(data, 0, 1, 18)


def q8_0_to_int8(raw: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
    """Q8_0 blocks (f16 d, 32 int8 q: w = d·q) -> (int8 q, f16 d)."""
    data = _blocks(raw, 34, "Q8_0 data")
    nb = len(data) // 34
    q = bytearray(32 * nb)
    for j in range(32):
        q[j::32] = data[2 + j :: 34]
    return bytes(q), _pair(data, 0, 1, 34)


def permute_rows(data: bytes | bytearray | memoryview, row_bytes: int, order: Sequence[int]) -> bytes:
    """Rows of ``row_bytes`` each, reordered: output row i is input row ``order[i]``."""
    mv = memoryview(data)
    if mv.nbytes != row_bytes * len(order):
        raise WeightsError(f"permute_rows: {mv.nbytes} bytes are not {len(order)} rows of {row_bytes}")
    return b"".join(mv[r * row_bytes : (r + 1) * row_bytes] for r in order)


__all__ = [
    "CONVERTIBLE", "GGML_TYPES", "GGUFFile", "GGUFTensor", "permute_rows", "q4_0_to_int4", "q4_1_to_uint4",
    "q8_0_to_int8",
]
