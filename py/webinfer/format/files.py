"""save/load: graph JSON and safetensors files on disk, in memory (the browser's fetched bytes), or as dicts.

Loading checks everything before returning — the document's size, nesting and schema, op names and
attributes, wiring, shapes and dtypes, inline values, each weights file's size, sha256 and header, and
every constant against its tensor — and raises ``GraphError`` / ``WeightsError`` naming what and where.
Constants stored in weights files stay lazy: their bytes are read when first used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any, Union

from ..errors import GraphError, WeightsError
from ..ir.graph import Graph
from .graph_json import INLINE_MAX_BYTES, Where, check_document, decode, encode, referenced_files
from .jsontext import MAX_DOCUMENT_BYTES, check_value, dumps, parse_json
from .safetensors import SafetensorsFile, write
from .schema import graph_validator
from .sources import BytesLike, ByteSource, PathSource, SourceLike, open_source

WeightsMap = Mapping[str, SourceLike]
PathLike = Union[str, "os.PathLike[str]"]


# -- writing ------------------------------------------------------------------------------------------


def _finish(doc: dict[str, Any], what: str) -> dict[str, Any]:
    """Drop an empty weights table and check the document we made: never write what load would refuse."""
    if not doc["weights"]:
        del doc["weights"]
    graph_validator().validate(doc, what=f"{what} (cannot be saved)", error=GraphError)
    return doc


def to_json(graph: Graph, *, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The graph as a JSON-ready dict with every constant inline (for small graphs and in-memory use)."""
    doc, _ = encode(graph, metadata=metadata)
    return _finish(doc, "graph")


def to_bytes(
    graph: Graph,
    *,
    weights: str | None = "model.safetensors",
    inline_max_bytes: int = INLINE_MAX_BYTES,
    metadata: Mapping[str, Any] | None = None,
    shard_bytes: int | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    """The graph JSON (UTF-8 bytes) and ``{weights file name: safetensors bytes}``, built in memory.

    ``weights=None`` puts every constant inline and returns no weights file; ``shard_bytes`` splits the
    weights into several files (see ``save``).
    """
    doc, shards = encode(graph, weights_file=weights, inline_max_bytes=inline_max_bytes, metadata=metadata,
                         shard_bytes=shard_bytes)
    files: dict[str, bytes] = {}
    for name, tensors in shards.items():
        buf = io.BytesIO()
        size, sha = write(buf, tensors)
        doc["weights"][name] = {"sha256": sha, "size": size}
        files[name] = buf.getvalue()
    text = dumps(_finish(doc, "graph")).encode("utf-8")
    if len(text) > MAX_DOCUMENT_BYTES:
        raise GraphError(f"the graph JSON would be {len(text)} bytes, over the load limit of {MAX_DOCUMENT_BYTES}; "
                         "put the constants in a weights file")
    return text, files


def _replace_atomically(path: str, write_fn: Any) -> Any:
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            result = write_fn(f)
        os.replace(tmp, path)
    except OSError as e:  # name the file the user asked for, not our temporary one
        raise GraphError(f"save: cannot write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return result


def save(
    graph: Graph,
    path: PathLike,
    weights: PathLike | None = None,
    *,
    inline_max_bytes: int = INLINE_MAX_BYTES,
    metadata: Mapping[str, Any] | None = None,
    shard_bytes: int | None = None,
) -> list[str]:
    """Write ``graph`` as graph JSON at ``path`` and its larger constants into the safetensors file ``weights``.

    ``weights`` is a file name placed next to the JSON (a path is allowed if it points into the JSON's
    folder); constants of at most ``inline_max_bytes`` bytes stay inline. ``weights=None`` writes one
    self-contained JSON file with every constant inline. ``shard_bytes`` splits the weights, in graph order,
    into files of at most that size (``model-00001-of-00004.safetensors``, ...; a larger tensor gets one of
    its own), so a page can stream them to the device one by one. Every file is replaced atomically.
    Returns the paths of the weights files written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    file_name = None
    if weights is not None:
        weights = os.fspath(weights)
        file_name = os.path.basename(weights)
        if os.path.dirname(weights) and os.path.dirname(os.path.abspath(weights)) != folder:
            raise GraphError(f"save: the weights file {weights!r} must be in the same folder as {path!r}")
    doc, shards = encode(graph, weights_file=file_name, inline_max_bytes=inline_max_bytes, metadata=metadata,
                         shard_bytes=shard_bytes)
    written = []
    for name, tensors in shards.items():
        size, sha = _replace_atomically(os.path.join(folder, name), lambda f, t=tensors: write(f, t))
        doc["weights"][name] = {"sha256": sha, "size": size}
        written.append(os.path.join(folder, name))
    text = dumps(_finish(doc, os.path.basename(path))).encode("utf-8")
    if len(text) > MAX_DOCUMENT_BYTES:
        raise GraphError(f"save: the graph JSON would be {len(text)} bytes, over the load limit of "
                         f"{MAX_DOCUMENT_BYTES}; pass weights='model.safetensors'")
    _replace_atomically(path, lambda f: f.write(text))
    return written


# -- reading ------------------------------------------------------------------------------------------


def _open_weights(
    doc: dict[str, Any],
    where: Where,
    weights: WeightsMap | None,
    weights_dir: PathLike | None,
    verify_hash: bool,
    allow_hash_mismatch: bool,
) -> dict[str, SafetensorsFile]:
    """Each referenced weights file, checked for size, sha256 and a valid header, in that order."""
    if weights is not None and not isinstance(weights, Mapping):
        raise WeightsError(f"{where.what}: weights must map file names to bytes, paths or file objects")
    files: dict[str, SafetensorsFile] = {}
    for name in referenced_files(doc, where):
        declared = doc["weights"][name]
        source: ByteSource
        if weights is not None and name in weights:
            source = open_source(weights[name], name)
        elif weights_dir is not None:
            source = PathSource(os.path.join(os.fspath(weights_dir), name), name)
        else:
            raise WeightsError(f"{where.what}: the graph needs the weights file {name!r}; "
                               f"pass weights={{{name!r}: bytes or path}} or weights_dir=")
        size = int(declared["size"])
        if source.size < size:
            raise WeightsError(f"{name}: truncated: {source.size} of the {size} bytes the graph records")
        if source.size > size:
            raise WeightsError(
                f"{name}: {source.size} bytes, but the graph records {size}: not the file it was saved with"
            )
        if verify_hash:
            actual = source.sha256()
            if actual != declared["sha256"] and not allow_hash_mismatch:
                raise WeightsError(
                    f"{name}: sha256 {actual} does not match the graph's {declared['sha256']}: the file is corrupt or "
                    "not the one the graph was saved with (pass allow_hash_mismatch=True to load it anyway)"
                )
        files[name] = SafetensorsFile(source, name)
    return files


def from_json(
    doc: Mapping[str, Any],
    *,
    weights: WeightsMap | None = None,
    weights_dir: PathLike | None = None,
    verify_hash: bool = True,
    allow_hash_mismatch: bool = False,
    name: str = "graph",
) -> Graph:
    """Check a graph JSON document (a dict, as ``json.load`` gives it) and build its Graph.

    ``weights`` maps the file names the document lists to bytes, paths or seekable file objects;
    files not in it are looked up in ``weights_dir``.
    """
    check_value(doc, name)
    return _from_checked(doc, name, weights, weights_dir, verify_hash, allow_hash_mismatch)


def _from_checked(doc: Any, name: str, weights: WeightsMap | None, weights_dir: PathLike | None,
                  verify_hash: bool, allow_hash_mismatch: bool) -> Graph:
    where = Where(name)
    check_document(doc, where)
    files = _open_weights(doc, where, weights, weights_dir, verify_hash, allow_hash_mismatch)
    return decode(doc, files, where)


def load_bytes(
    data: BytesLike | str,
    *,
    weights: WeightsMap | None = None,
    weights_dir: PathLike | None = None,
    verify_hash: bool = True,
    allow_hash_mismatch: bool = False,
    name: str = "graph",
) -> Graph:
    """Load graph JSON given as bytes or text (e.g. fetched in the browser), weights as ``{file name: bytes}``."""
    doc = parse_json(data, name)
    return _from_checked(doc, name, weights, weights_dir, verify_hash, allow_hash_mismatch)


def load(
    source: PathLike | Mapping[str, Any] | BytesLike,
    *,
    weights: WeightsMap | None = None,
    weights_dir: PathLike | None = None,
    verify_hash: bool = True,
    allow_hash_mismatch: bool = False,
) -> Graph:
    """Load and fully validate a graph: a path to graph JSON (weights beside it), a dict, or JSON bytes.

    ``verify_hash=False`` skips hashing the weights files (sizes and headers are still checked);
    ``allow_hash_mismatch=True`` hashes them but accepts a mismatch (e.g. weights you changed on purpose).
    """
    opts = dict(weights=weights, verify_hash=verify_hash, allow_hash_mismatch=allow_hash_mismatch)
    if isinstance(source, Mapping):
        return from_json(source, weights_dir=weights_dir, **opts)  # type: ignore[arg-type]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_bytes(source, weights_dir=weights_dir, **opts)  # type: ignore[arg-type]
    if not isinstance(source, (str, os.PathLike)):
        raise GraphError(f"load: expected a path, a dict or JSON bytes, got {type(source).__name__}")
    path = os.fspath(source)
    label = os.path.basename(path) or path
    try:
        size = os.stat(path).st_size
        if size > MAX_DOCUMENT_BYTES:
            raise GraphError(f"{label}: {size} bytes exceeds the limit of {MAX_DOCUMENT_BYTES} bytes for graph JSON")
        with open(path, "rb") as f:
            data = f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as e:
        raise GraphError(f"{label}: cannot read {path}: {e.strerror or e}") from None
    folder = weights_dir if weights_dir is not None else (os.path.dirname(path) or ".")
    return load_bytes(data, weights_dir=folder, name=label, **opts)  # type: ignore[arg-type]
