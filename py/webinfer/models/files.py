"""The files of a converted model: a local directory, or a URL prefix (``fetch`` in the page, urllib on the host).

Shared by ``SentenceEncoder.load`` and ``CausalLM.load``: a manifest names the graph and the tokenizer,
the graph JSON lists its safetensors files, and every name must be a plain file name next to the manifest.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ..errors import GraphError, InputError, WebinferError
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

    async def load_graph_async(self, name: str) -> Graph:
        if not self.is_url:
            return self.load_graph(name)
        doc = await self.read_async(name)
        weights = {f: await self.read_async(f) for f in weight_files(doc, self.where(name))}
        return self._graph_from_bytes(doc, weights, name)

    @staticmethod
    def _graph_from_bytes(doc: bytes, weights: dict[str, bytes], name: str) -> Graph:
        from ..format import load_bytes

        return load_bytes(doc, weights=weights, name=name)


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


__all__ = ["ModelFiles", "in_browser", "is_url", "parse_json", "plain_name", "read_manifest", "weight_files"]
