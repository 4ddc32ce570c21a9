"""Random access to the bytes of a weights file, wherever they are: in memory, at a path, or behind a
seekable binary file object. Every failure is a ``WeightsError`` naming the file.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, BinaryIO, Union

from ..errors import WeightsError

CHUNK = 1 << 20  # bytes read at a time when hashing or reading files

BytesLike = bytes | bytearray | memoryview
SourceLike = Union["ByteSource", BytesLike, str, "os.PathLike[str]", BinaryIO]  # noqa: UP007 - ByteSource is defined below


class ByteSource:
    """The bytes of one file: its ``size``, ``read(offset, length)`` and ``sha256()``."""

    name: str
    size: int

    def read(self, offset: int, length: int) -> memoryview:
        """Exactly ``length`` bytes from ``offset``; a WeightsError if the file is shorter (truncated)."""
        raise NotImplementedError

    def sha256(self) -> str:
        """SHA-256 of the whole file, read in chunks (never all at once unless it is already in memory)."""
        h = hashlib.sha256()
        for offset in range(0, self.size, CHUNK):
            h.update(self.read(offset, min(CHUNK, self.size - offset)))
        return h.hexdigest()

    def _short(self, offset: int, length: int, got: int) -> WeightsError:
        return WeightsError(
            f"{self.name}: truncated: needed bytes {offset}..{offset + length} but the file ends at {offset + got}"
        )


class MemorySource(ByteSource):
    """Bytes already in memory (e.g. fetched once in the browser); reads are zero-copy views."""

    def __init__(self, data: BytesLike, name: str) -> None:
        try:
            self._view = memoryview(data).cast("B")
        except TypeError as e:
            raise WeightsError(f"{name}: cannot use {type(data).__name__} as bytes: {e}") from None
        self.name = name
        self.size = self._view.nbytes

    def read(self, offset: int, length: int) -> memoryview:
        part = self._view[offset : offset + length]
        if part.nbytes != length:
            raise self._short(offset, length, part.nbytes)
        return part

    def sha256(self) -> str:
        return hashlib.sha256(self._view).hexdigest()


class PathSource(ByteSource):
    """A file on disk, opened for each read so that nothing stays open between lazy loads."""

    def __init__(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        self.path = os.fspath(path)
        self.name = name or os.path.basename(self.path)
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise WeightsError(f"{self.name}: cannot open {self.path}: {e.strerror or e}") from None
        if not os.path.isfile(self.path):
            raise WeightsError(f"{self.name}: {self.path} is not a regular file")
        self.size = st.st_size

    def read(self, offset: int, length: int) -> memoryview:
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                data = _read_exactly(f, length)
        except OSError as e:
            raise WeightsError(f"{self.name}: cannot read {self.path}: {e.strerror or e}") from None
        if len(data) != length:
            raise self._short(offset, length, len(data))
        return memoryview(data)

    def sha256(self) -> str:
        h = hashlib.sha256()
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except OSError as e:
            raise WeightsError(f"{self.name}: cannot read {self.path}: {e.strerror or e}") from None
        return h.hexdigest()


class StreamSource(ByteSource):
    """A seekable binary file object (``open(..., 'rb')``, ``io.BytesIO``, or your own ``io.RawIOBase``)."""

    def __init__(self, stream: Any, name: str) -> None:
        self.stream = stream
        self.name = name
        try:
            self.size = int(stream.seek(0, os.SEEK_END))
        except (OSError, ValueError, AttributeError, TypeError) as e:
            raise WeightsError(f"{name}: the file object is not seekable: {e}") from None

    def read(self, offset: int, length: int) -> memoryview:
        try:
            self.stream.seek(offset)
            data = _read_exactly(self.stream, length)
        except (OSError, ValueError, AttributeError, TypeError) as e:
            raise WeightsError(f"{self.name}: cannot read the file object: {e}") from None
        if len(data) != length:
            raise self._short(offset, length, len(data))
        return memoryview(data)


def _read_exactly(f: Any, length: int) -> bytes:
    """Up to ``length`` bytes, looping over short reads; fewer only at end of file."""
    parts = []
    left = length
    while left > 0:
        chunk = f.read(min(left, 64 * CHUNK))
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"read() returned {type(chunk).__name__}, expected bytes")
        parts.append(bytes(chunk))
        left -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def open_source(obj: SourceLike, name: str | None = None) -> ByteSource:
    """A ByteSource for bytes-like data, a path, or a seekable binary file object."""
    label = name or (os.path.basename(os.fspath(obj)) if isinstance(obj, (str, os.PathLike)) else "weights")
    if isinstance(obj, ByteSource):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return MemorySource(obj, label)
    if isinstance(obj, (str, os.PathLike)):
        return PathSource(obj, label)
    if hasattr(obj, "read") and hasattr(obj, "seek"):
        return StreamSource(obj, label)
    raise WeightsError(
        f"{label}: cannot read weights from a {type(obj).__name__}; give bytes, a path or a seekable binary file"
    )
