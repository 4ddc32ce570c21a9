"""The demo page's Python (runs inside Pyodide): load the corpus and the encoder, search, re-index a sample.

The page's JS fetches the files (with the Cache API and a progress bar) into Pyodide's file system and
calls the methods of ``demo`` below; each returns a JSON string. Everything here is plain webinfer: the
query is embedded by a ``SentenceEncoder`` on the chosen backend, and the corpus is scored by a second
webinfer graph (``gemm`` of the query with the float16 corpus matrix) on the same backend.
"""

from __future__ import annotations

import heapq
import json
import math
import struct
import time
from collections.abc import Callable
from typing import Any

import webinfer as wi
from webinfer.models import SentenceEncoder
from webinfer.web.describe import device_summary

#: Queries are padded to a multiple of this many tokens, so a handful of input shapes serve every query
#: (backends build one plan per shape; WebNN's graph build takes ~1 s).
PAD_TO = 16
WARMUP_QUERY = "warm up the encoder"


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


class Demo:
    """State of the page: corpus entries and matrix, the encoder, and the scoring session."""

    def __init__(self) -> None:
        self.entries: list[list[str]] = []
        self.dimension = 0
        self.matrix: bytes = b""
        self.manifest: dict[str, Any] = {}
        self.enc: SentenceEncoder | None = None
        self.scorer: wi.Session | None = None
        self.backend: str | None = None

    # -- loading -------------------------------------------------------------------------------------------
    def load_corpus(self, manifest_json: str, embeddings: Any) -> str:
        """Take the corpus manifest (JSON text) and its float16 matrix (bytes or a JS Uint8Array)."""
        manifest = json.loads(manifest_json)
        data = embeddings.to_bytes() if hasattr(embeddings, "to_bytes") else bytes(embeddings)  # JS Uint8Array
        count, dim = int(manifest["count"]), int(manifest["dimension"])
        if len(data) != count * dim * 2:
            raise ValueError(f"corpus: {len(data)} bytes of embeddings, expected {count}x{dim} float16")
        self.manifest, self.entries, self.dimension, self.matrix = manifest, manifest["entries"], dim, data
        return json.dumps({"count": count, "dimension": dim, "python": manifest.get("python")})

    async def load_model(self, model_dir: str, backend: str) -> str:
        """Compile the encoder and the scorer for ``backend``; warm up one query shape. Returns timings."""
        self.close()
        t0 = time.perf_counter()
        enc = SentenceEncoder.load(model_dir, backend=backend, pad_to_multiple_of=PAD_TO)
        t1 = time.perf_counter()
        g = wi.GraphBuilder()
        query = g.input("query", "float32", [1, self.dimension])
        corpus = g.cast(g.constant(self.matrix, dtype="float16", shape=[len(self.entries), self.dimension]),
                        data_type="float32")
        self.scorer = wi.compile(g.build({"scores": g.gemm(query, corpus, b_transpose=True)}), backend=backend)
        t2 = time.perf_counter()
        self.enc, self.backend = enc, backend
        await self._search(WARMUP_QUERY, 1)  # builds the plans for the most common query shape
        t3 = time.perf_counter()
        info = enc.info()
        return json.dumps({
            "backend": info["backend"], "device": device_summary(info), "deviceInfo": info["device"],
            "timings": {"load_ms": _ms(t1 - t0), "scorer_ms": _ms(t2 - t1), "warmup_ms": _ms(t3 - t2),
                        "compile_ms": round(enc.stats.get("compile_ms", 0.0), 2)},
        }, default=str)

    def close(self) -> None:
        """Free the current sessions (before switching backend)."""
        for sess in (self.enc, self.scorer):
            if sess is not None:
                sess.close()
        self.enc = self.scorer = None

    # -- searching -----------------------------------------------------------------------------------------
    async def _search(self, query: str, k: int) -> tuple[list[tuple[float, int]], dict[str, float]]:
        assert self.enc is not None and self.scorer is not None, "load_model first"
        stats = self.enc.stats
        before = (stats["tokenize_ms"], stats["run_ms"])
        t0 = time.perf_counter()
        vec = await self.enc.encode_async([query])
        t1 = time.perf_counter()
        scores = (await self.scorer.run_async({"query": vec}))["scores"].tolist()[0]
        t2 = time.perf_counter()
        top = heapq.nlargest(k, zip(scores, range(len(scores))))
        t3 = time.perf_counter()
        timings = {
            "tokenize_ms": round(stats["tokenize_ms"] - before[0], 2),
            "run_ms": round(stats["run_ms"] - before[1], 2),
            "encode_ms": _ms(t1 - t0),
            "score_ms": _ms(t2 - t1),
            "rank_ms": _ms(t3 - t2),
            "total_ms": _ms(t3 - t0),
        }
        return top, timings

    async def search(self, query: str, k: int = 10) -> str:
        """The top ``k`` corpus lines for ``query``, with scores, timings, backend and device."""
        query = query.strip()
        if not query:
            return json.dumps({"query": query, "hits": [], "timings": {}})
        top, timings = await self._search(query, k)
        assert self.enc is not None
        info = self.enc.info()
        hits = [{"score": round(s, 4), "module": self.entries[i][0], "name": self.entries[i][1],
                 "kind": self.entries[i][2], "line": self.entries[i][3]} for s, i in top]
        tokens = len(self.enc.tokenize([query])[0])
        return json.dumps({"query": query, "tokens": tokens, "hits": hits, "timings": timings,
                           "backend": info["backend"], "device": device_summary(info)}, default=str)

    async def reindex(self, count: int, batch_size: int, progress: Callable[[int, int], Any] | None = None) -> str:
        """Embed ``count`` corpus lines here (every n-th line) and compare with the host's embeddings."""
        assert self.enc is not None
        step = max(1, len(self.entries) // max(1, count))
        picked = list(range(0, len(self.entries), step))[:count]
        texts = [f"{self.entries[i][1].rsplit('.', 1)[-1]}: {self.entries[i][3]}" for i in picked]
        t0 = time.perf_counter()
        rows: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            rows += (await self.enc.encode_async(texts[start : start + batch_size], batch_size=batch_size)).tolist()
            if progress is not None:
                progress(len(rows), len(texts))
        seconds = time.perf_counter() - t0
        cosines = [self._cosine_with_host(row, i) for row, i in zip(rows, picked)]
        return json.dumps({
            "count": len(texts), "seconds": round(seconds, 3), "per_second": round(len(texts) / seconds, 2),
            "batch_size": batch_size, "min_cosine": round(min(cosines), 6),
            "mean_cosine": round(sum(cosines) / len(cosines), 6), "backend": self.backend,
        })

    def _cosine_with_host(self, row: list[float], index: int) -> float:
        d = self.dimension
        host = struct.unpack_from(f"<{d}e", self.matrix, index * 2 * d)
        dot = sum(a * b for a, b in zip(row, host))
        return dot / (math.sqrt(sum(a * a for a in row)) * math.sqrt(sum(b * b for b in host)) or 1.0)


demo = Demo()
