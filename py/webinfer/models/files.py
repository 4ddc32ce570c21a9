"""The files of a converted model: a local directory, or a URL prefix (``fetch`` in the page, urllib on the host).

Shared by ``SentenceEncoder.load`` and ``CausalLM.load``: a manifest names the graph and the tokenizer,
the graph JSON lists its safetensors files, and every name must be a plain file name next to the manifest.

In the page, weights files are fetched as JS ArrayBuffers, outside the wasm heap (``FetchedSource``): loading
checks each one's size and sha256 and keeps only its header; a constant's bytes are copied into Python when a
backend first needs them, and at most one fetched file is held at a time (``FetchSlot``: the next one read
replaces it; a file needed again is fetched again, from the browser's cache). So the weights never sit whole
in the wasm heap: a backend that uploads constants chunk by chunk and drops them (``Constant.unload``) holds
about one chunk.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ..errors import GraphError, InputError, WebinferError, WeightsError
from ..format.safetensors import HEADER_LENGTH_BYTES, MAX_HEADER_BYTES
from ..format.sources import ByteSource
from ..ir.graph import Graph


def in_browser() -> bool:
    return sys.platform == "emscripten"


def is_url(s: str) -> bool:
    """http(s) URLs; in the page also any path not in Pyodide's file system (fetched relative to the page)."""
    return s.startswith(("http://", "https://")) or (in_browser() and not os.path.exists(s))


def plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and len(name) <= 255


class ModelFiles:
    """Reads the files of one converted model; errors say ``who`` was loading and, for a missing manifest,
    ``hint`` (how to make one)."""

    def __init__(self, path_or_url: str | os.PathLike[str], who: str, manifest: str, hint: str = "") -> None:
        base = os.fspath(path_or_url)
        if not isinstance(base, str) or not base:
            raise InputError(f"{who}: expected a directory or URL, got {path_or_url!r}")
        self.who, self.manifest, self.hint = who, manifest, hint
        self.is_url = is_url(base)
        self.slot = FetchSlot()  # the one weights file held while loading from a URL in the page
        if not self.is_url and os.path.isfile(base):
            base = os.path.dirname(os.path.abspath(base))  # the manifest itself was given
        elif self.is_url and base.endswith("/" + manifest):
            base = base[: -len(manifest)]
        if self.is_url and not base.endswith("/"):
            base += "/"
        self.base = base

    def where(self, name: str) -> str:
        return self.base + name if self.is_url else os.path.join(self.base, name)

    def _hint(self, name: str) -> str:
        return self.hint if name == self.manifest else ""

    def read(self, name: str) -> bytes:
        if self.is_url:
            import urllib.request

            try:
                with urllib.request.urlopen(self.where(name)) as r:
                    return bytes(r.read())
            except OSError as e:
                raise WebinferError(f"{self.who}: cannot fetch {self.where(name)}: {e}{self._hint(name)}") from None
        try:
            with open(self.where(name), "rb") as f:
                return f.read()
        except OSError as e:
            raise WebinferError(
                f"{self.who}: cannot read {self.where(name)}: {e.strerror or e}{self._hint(name)}"
            ) from None

    async def read_async(self, name: str) -> bytes:
        if self.is_url and in_browser():
            from .. import ffi

            try:
                return bytes(await ffi.fetch_bytes(self.where(name)))
            except Exception as e:  # noqa: BLE001 - an HTTP status (FFIError) or a JS fetch failure (JsException)
                reason = str(e).replace(f"fetch {self.where(name)}: ", "")
                raise WebinferError(
                    f"{self.who}: cannot fetch {self.where(name)}: {reason}{self._hint(name)}") from None
        return self.read(name)

    def read_json(self, name: str) -> Any:
        return parse_json(self.read(name), self.where(name))

    def load_graph(self, name: str) -> Graph:
        from ..format import load

        if not self.is_url:
            return load(self.where(name))
        doc = self.read(name)
        return self._graph_from_bytes(doc, {f: self.read(f) for f in weight_files(doc, self.where(name))}, name)

    async def load_graph_async(self, name: str, stream_weights: bool = False) -> Graph:
        """The graph at ``name``; from a URL in the page with ``stream_weights``, its weights files are
        ``FetchedSource`` s (never whole in the wasm heap), else fetched whole into memory."""
        if not self.is_url:
            return self.load_graph(name)
        doc = await self.read_async(name)
        if stream_weights and in_browser():  # each file fetched here (size, sha256, header), its tensors when used
            sources = []
            for f, size in weight_sizes(doc, self.where(name)).items():
                source = FetchedSource(self.where(f), f, size, self.slot)
                await source.prefetch()
                sources.append(source)
            return self._graph_from_bytes(doc, {s.name: s for s in sources}, name)
        weights = {f: await self.read_async(f) for f in weight_files(doc, self.where(name))}
        return self._graph_from_bytes(doc, weights, name)

    @staticmethod
    def _graph_from_bytes(doc: bytes, weights: dict[str, Any], name: str) -> Graph:
        from ..format import load_bytes

        return load_bytes(doc, weights=weights, name=name)


class FetchSlot:
    """Holds the JS ArrayBuffer of at most one fetched weights file, and counts the fetches (for ``info()``)."""

    def __init__(self) -> None:
        self.holder: FetchedSource | None = None
        self.buffer: Any = None
        self.stats: dict[str, int] = {"fetches": 0, "fetched_bytes": 0, "copied_bytes": 0}

    def hold(self, source: FetchedSource, buffer: Any) -> None:
        self.holder, self.buffer = source, buffer  # the previous buffer is dropped (JS frees it)
        self.stats["fetches"] += 1
        self.stats["fetched_bytes"] += source.size

    def release(self) -> None:
        self.holder, self.buffer = None, None


class FetchedSource(ByteSource):
    """A weights file at a URL, read in the page without bringing it whole into the wasm heap: ``prefetch`` checks
    its size and takes its sha256 and header; ``read`` copies only the bytes asked for, fetching the file (through
    JSPI) into the shared ``slot`` when it is not the one held there."""

    def __init__(self, url: str, name: str, size: int, slot: FetchSlot) -> None:
        self.url, self.name, self.size, self.slot = url, name, size, slot
        self._digest: str | None = None
        self._head = b""  # the length prefix and the JSON header: read at load, kept

    async def _fetch(self) -> Any:
        from .. import ffi

        try:
            buffer = await ffi.fetch_buffer(self.url)
        except Exception as e:  # noqa: BLE001 - an HTTP status (FFIError) or a JS fetch failure (JsException)
            raise WeightsError(f"{self.name}: cannot fetch {self.url}: {e}") from None
        got = int(buffer.byteLength)
        if got != self.size:
            raise WeightsError(f"{self.name}: {got} bytes fetched from {self.url}, but the graph records {self.size}: "
                               "not the file it was saved with")
        self.slot.hold(self, buffer)
        return buffer

    async def prefetch(self) -> None:
        """Fetch the file once: its sha256 (checked by the loader) and its header, kept; the body stays in the slot."""
        from .. import ffi

        buffer = await self._fetch()
        self._digest = await ffi.buffer_sha256(buffer)
        if self.size >= HEADER_LENGTH_BYTES:
            n = int.from_bytes(ffi.buffer_bytes(buffer, 0, HEADER_LENGTH_BYTES), "little")
            self._head = ffi.buffer_bytes(buffer, 0, min(self.size, HEADER_LENGTH_BYTES + min(n, MAX_HEADER_BYTES)))

    def _buffer(self) -> Any:
        if self.slot.holder is not self:
            from .. import ffi

            return ffi.run_sync(self._fetch())
        return self.slot.buffer

    def read(self, offset: int, length: int) -> memoryview:
        if offset + length <= len(self._head):
            return memoryview(self._head)[offset : offset + length]
        if offset + length > self.size:
            raise self._short(offset, length, max(0, self.size - offset))
        from .. import ffi

        data = ffi.buffer_bytes(self._buffer(), offset, length)
        self.slot.stats["copied_bytes"] += length
        return memoryview(data)

    def sha256(self) -> str:
        if self._digest is None:
            from .. import ffi

            ffi.run_sync(self.prefetch())
        assert self._digest is not None
        return self._digest


def parse_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise GraphError(f"{where}: not valid JSON: {e}") from None


def read_manifest(data: bytes, where: str, fmt: str, what: str) -> dict[str, Any]:
    """A converted model's manifest: JSON of format ``fmt``, version 1, naming its graph and tokenizer files."""
    manifest = parse_json(data, where)
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise GraphError(f"{where}: not a {what} manifest (\"format\": {fmt!r} expected)")
    if manifest.get("version") != 1:
        raise GraphError(f"{where}: manifest version {manifest.get('version')!r} is not supported (1 expected)")
    for key in ("graph", "tokenizer"):
        name = manifest.get(key)
        if not isinstance(name, str) or not plain_name(name):
            raise GraphError(f"{where}: {key!r} must name a file next to the manifest, got {name!r}")
    return manifest


def weight_sizes(doc: bytes, where: str) -> dict[str, int]:
    """The safetensors files a graph document refers to and their recorded sizes (checked again by the loader)."""
    names = weight_files(doc, where)
    entries = json.loads(doc)["weights"] if names else {}
    sizes = {}
    for name in names:
        size = entries[name].get("size") if isinstance(entries[name], dict) else None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise GraphError(f"{where}: weights file {name!r} has no valid size")
        sizes[name] = size
    return sizes


def weight_files(doc: bytes, where: str) -> list[str]:
    """The safetensors files a graph document refers to (checked again, fully, by the loader)."""
    try:
        files = json.loads(doc).get("weights") or {}
    except (ValueError, AttributeError, UnicodeDecodeError) as e:
        raise GraphError(f"{where}: not a graph document: {e}") from None
    names = [f for f in files if isinstance(f, str) and plain_name(f)]
    if len(names) != len(files):
        raise GraphError(f"{where}: weights file names must be plain file names next to the graph")
    return names


__all__ = ["FetchSlot", "FetchedSource", "ModelFiles", "in_browser", "is_url", "parse_json", "plain_name",
           "read_manifest", "weight_files", "weight_sizes"]
