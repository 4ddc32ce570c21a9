"""CausalLM: text generation with a KV cache — the same code on CPython (reference backend) and in Pyodide.

    lm = CausalLM.load("model.gguf", backend="reference")      # a GGUF file (converted in memory), or
    lm = CausalLM.load("out/smollm2")                           # a `webinfer convert --model gguf` directory/URL
    r = lm.generate("The capital of France is", max_new_tokens=16)   # greedy: r.text, r.ids, r.timings
    for piece in lm.stream("Once upon a time", temperature=0.8, seed=1): print(piece, end="")
    lm.chat([{"role": "user", "content": "Hi"}]); lm.logits(ids)

One compiled graph (``webinfer.models.llama``) runs every step: the prompt (prefill, padded to a bucket
of T tokens; prompts longer than ``prefill_chunk`` run chunk by chunk through the cache) and then one
token per decode step, against a key/value cache of C slots (a capacity bucket). Both are symbolic dims of
the one graph, so a backend compiles once per (T, C) bucket and never per token: steady decode runs the
same shapes every step, and a step's cost follows C, which is at most twice the tokens it needs
(``info()["compiles"]`` counts the shapes each backend was asked to compile).
The cache lives in ``_KVCache``: the tensors a step returns are fed to the next one as they are, so a
backend that keeps its outputs on the device keeps the cache there too (only the logits row is read).
Growing past a capacity bucket pads the cache into the next one with a small graph on the same backend.
"""

from __future__ import annotations

import array
import os
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from .. import ffi
from ..backends import compile as compile_graph
from ..backends.session import Session
from ..errors import GraphError, InputError
from ..ir.builder import GraphBuilder
from ..ir.graph import Graph
from ..tensor import Tensor
from .files import ModelFiles, in_browser, is_url, read_manifest
from .llama import LlamaConfig
from .sampling import Sampler

MANIFEST = "llm.json"
MANIFEST_FORMAT = "webinfer-causal-lm"
GRAPH_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
SHARD_BYTES = 32 << 20  # weights files of at most 32 MiB: fetched and uploaded one at a time
MIN_CAPACITY = 64
MIN_PREFILL = 16
PREFILL_CHUNK = 512  # longer prompts run in chunks of this many tokens: attention scores stay [.., 512, C]
FINISH_REASONS = ("eos", "stop", "length", "context")


class Tokenizer(Protocol):
    """What CausalLM needs from a tokenizer: text <-> token ids (special tokens in the text recognized)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


def buckets(limit: int, smallest: int) -> list[int]:
    """Powers of two from ``smallest`` up to ``limit``, and ``limit`` itself."""
    out, b = [], smallest
    while b < limit:
        out.append(b)
        b *= 2
    return out + [limit]


def bucket(n: int, sizes: Sequence[int]) -> int:
    """The smallest size >= n."""
    for s in sizes:
        if s >= n:
            return s
    raise InputError(f"{n} is more than the largest bucket {sizes[-1]}")


@dataclass
class Generation:
    """One generate() result: the new ``text`` (None without a tokenizer) and token ``ids`` (the end-of-sequence
    token included when it came), why it ended, ``timings``, and the backend and device that ran it."""

    text: str | None
    ids: list[int]
    prompt_ids: list[int]
    finish_reason: str = "length"
    timings: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    device: str | None = None
    logits: list[array.array] | None = None  # with keep_logits=True: the logits each new token was chosen from

    def __str__(self) -> str:
        return self.text if self.text is not None else " ".join(map(str, self.ids))


class _KVCache:
    """The key/value cache of one sequence: per layer, ``past_{key,value}_{l}`` ``[kv_heads, C, head_dim]``.

    It holds the tensors the last step returned, as the backend returned them (host arrays on the
    reference backend, device buffers where the backend keeps its outputs on the device), and feeds them
    to the next step unchanged. All cache handling lives here.
    """

    def __init__(self, config: LlamaConfig, capacity: int) -> None:
        self.config = config
        self.capacity = capacity
        shape = (config.num_kv_heads, capacity, config.head_dim)
        zeros = Tensor.zeros(shape, "float32")
        self.names = [(f"past_{k}_{i}", f"present_{k}_{i}") for i in range(config.num_layers) for k in ("key", "value")]
        self.tensors: dict[str, Tensor] = {past: zeros for past, _ in self.names}

    def feeds(self) -> dict[str, Tensor]:
        return dict(self.tensors)

    def update(self, outputs: Mapping[str, Tensor]) -> None:
        """Take the step's present tensors as the next step's past ones (releasing device buffers replaced)."""
        for past, present in self.names:
            old, new = self.tensors[past], outputs[present]
            self.tensors[past] = new
            if old is not new and old.on_device:
                old.release()

    def release(self) -> None:
        for t in self.tensors.values():
            if t.on_device:
                t.release()
        self.tensors.clear()


Request = tuple[str, Any, Any]  # ("run", session, feeds) -> outputs | ("piece", text, None) -> None


class CausalLM:
    """A decoder-only language model (Llama architecture), its tokenizer and one compiled step graph."""

    def __init__(
        self,
        graph: Graph,
        config: LlamaConfig,
        tokenizer: Tokenizer | None = None,
        *,
        backend: str = "auto",
        metadata: Mapping[str, Any] | None = None,
        **compile_options: Any,
    ) -> None:
        if not isinstance(graph, Graph):
            raise GraphError(f"CausalLM: expected a webinfer Graph, got {type(graph).__name__}")
        _check_graph(graph, config)
        self.graph = graph
        self.config = config
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        self.context_length = config.context_length
        eos = self.metadata.get("eos_token_ids", [])
        pad: Any = self.metadata.get("pad_token_id", eos[0] if isinstance(eos, list) and eos else 0)
        bos = self.metadata.get("bos_token_id")
        vocab = config.vocab_size
        if not isinstance(eos, list) or not all(_token(t, vocab) for t in eos) or not _token(pad, vocab) or not (
                bos is None or _token(bos, vocab)):
            raise GraphError(f"CausalLM: special tokens bos {bos!r}, eos {eos!r}, pad {pad!r} must be token ids in "
                             f"[0, {vocab})")
        self.bos_token_id: int | None = bos
        self.eos_token_ids: set[int] = set(eos)
        self.pad_token_id: int = pad
        self.capacities = buckets(self.context_length, min(MIN_CAPACITY, self.context_length))
        self.prefill_buckets = buckets(self.context_length, min(MIN_PREFILL, self.context_length))
        self.prefill_chunk = PREFILL_CHUNK
        self.backend_name = backend
        self.compile_options = compile_options
        t0 = time.perf_counter()
        self.session: Session = compile_graph(graph, backend, **compile_options)
        self._grow_sessions: dict[tuple[int, int], Session] = {}
        self._shapes: list[tuple[int, int, int]] = []  # (T, C, R) bindings the step session was run with
        self._steps_since_compile = 0
        self.last: Generation | None = None
        self.stats: dict[str, Any] = {"compile_ms": (time.perf_counter() - t0) * 1e3, "generations": 0,
                                      "prefill_runs": 0, "decode_runs": 0, "grows": 0}

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def load(cls, source: str | os.PathLike[str], backend: str = "auto", *, tokenizer: Tokenizer | None = None,
             **options: Any) -> CausalLM:
        """A GGUF file (read and converted in memory, weights still low-bit), or a ``webinfer convert --model
        gguf`` directory (a path, or a URL in the page: fetched through JSPI; ``load_async`` needs none)."""
        path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else source
        if not isinstance(path, str) or not path:
            raise InputError(f"CausalLM.load: expected a GGUF file, a directory or a URL, got {source!r}")
        if _is_gguf(path):
            return cls.from_gguf(path, backend, tokenizer=tokenizer, **options)
        files = _files(path)
        if files.is_url and in_browser():
            from .. import ffi

            return ffi.run_sync(cls.load_async(path, backend, tokenizer=tokenizer,  # type: ignore[no-any-return]
                                               **options))
        manifest = _read_manifest(files.read(MANIFEST), files.where(MANIFEST))
        graph = files.load_graph(manifest["graph"])
        fields = files.read_json(manifest["tokenizer"])
        return cls._from_manifest(graph, manifest, fields, files.base, backend, tokenizer, options)

    @classmethod
    async def load_async(cls, source: str | os.PathLike[str], backend: str = "auto", *,
                         tokenizer: Tokenizer | None = None, **options: Any) -> CausalLM:
        """``load`` for the browser's event loop: files come with ``fetch`` (awaited, no JSPI needed)."""
        path = os.fspath(source)
        if _is_gguf(path):
            return cls.from_gguf(path, backend, tokenizer=tokenizer, **options)
        files = _files(path)
        manifest = _read_manifest(await files.read_async(MANIFEST), files.where(MANIFEST))
        graph = await files.load_graph_async(manifest["graph"], stream_weights=True)
        from .files import parse_json

        fields = parse_json(await files.read_async(manifest["tokenizer"]), files.where(manifest["tokenizer"]))
        lm = cls._from_manifest(graph, manifest, fields, files.base, backend, tokenizer, options)
        files.slot.release()  # the backend has what it needs; the last fetched file goes
        if files.slot.stats["fetches"]:
            lm.metadata["weights_fetch"] = files.slot.stats  # live: later re-reads count too
        return lm

    @classmethod
    def from_gguf(cls, path: str | os.PathLike[str], backend: str = "auto", *, tokenizer: Tokenizer | None = None,
                  **options: Any) -> CausalLM:
        """Build the model from a GGUF file: the graph references the file's tensors, repacked when first used."""
        from .llama import load_gguf

        graph, config, fields, weights = load_gguf(path)
        meta = model_facts(fields, config, source=os.path.basename(os.fspath(path)))
        meta["gguf_tensor_bytes"] = weights.tensor_bytes
        return cls(graph, config, tokenizer or make_tokenizer(fields, meta), backend=backend, metadata=meta, **options)

    @classmethod
    def _from_manifest(cls, graph: Graph, manifest: dict[str, Any], fields: Any, base: str, backend: str,
                       tokenizer: Tokenizer | None, options: dict[str, Any]) -> CausalLM:
        config = LlamaConfig.from_dict(manifest["config"])
        meta = {k: v for k, v in manifest.items() if k not in ("format", "version", "graph", "tokenizer", "config")}
        meta["loaded_from"] = base
        if tokenizer is None and isinstance(fields, dict):
            tokenizer = make_tokenizer(fields, meta)
        return cls(graph, config, tokenizer, backend=backend, metadata=meta, **options)

    # -- generation ----------------------------------------------------------------------------------------
    def generate(self, prompt: str | Sequence[int], max_new_tokens: int = 64, *, temperature: float = 0.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                 stop: str | Sequence[str] | None = None, keep_logits: bool = False) -> Generation:
        """Continue ``prompt`` (text, or token ids) by up to ``max_new_tokens`` tokens; greedy at temperature 0.

        Stops early at the end-of-sequence token or when the text contains a ``stop`` string (the text is
        cut before it). The result says why it ended (eos, stop, length, context) and how long each step took;
        ``keep_logits=True`` also keeps the logits each token was chosen from (``result.logits``).
        """
        result = self._new_result()
        if keep_logits:
            result.logits = []
        for _ in self._drive(self._steps(result, prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)):
            pass
        return result

    def stream(self, prompt: str | Sequence[int], max_new_tokens: int = 64, *, temperature: float = 0.0,
               top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
               stop: str | Sequence[str] | None = None) -> Iterator[str]:
        """``generate``, yielding the text as it is decoded (pieces join to ``self.last.text``); sync (JSPI
        in the page). Arguments are checked here, before the first piece."""
        result = self._new_result()
        steps = self._steps(result, prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)
        next(steps)  # runs the checks now: the first request is only made after them
        return self._drive(steps, primed=True)

    def stream_async(self, prompt: str | Sequence[int], max_new_tokens: int = 64, *, temperature: float = 0.0,
                     top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                     stop: str | Sequence[str] | None = None) -> AsyncIterator[str]:
        """``stream`` for the browser's event loop (``Session.run_async``: no JSPI needed)."""
        result = self._new_result()
        steps = self._steps(result, prompt, max_new_tokens, temperature, top_k, top_p, seed, stop)
        next(steps)
        return self._drive_async(steps)

    async def generate_async(self, prompt: str | Sequence[int], max_new_tokens: int = 64, **kwargs: Any) -> Generation:
        """``generate`` through ``Session.run_async``."""
        async for _ in self.stream_async(prompt, max_new_tokens, **kwargs):
            pass
        assert self.last is not None
        return self.last

    def chat(self, messages: Sequence[Mapping[str, str]], max_new_tokens: int = 256, **kwargs: Any) -> Generation:
        """Apply the model's chat template to ``messages`` ([{"role": ..., "content": ...}]) and generate the
        assistant's reply (stopping at the end-of-turn token)."""
        return self.generate(self.chat_prompt(messages), max_new_tokens, **kwargs)

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt text the chat template makes of ``messages`` (with the assistant turn opened)."""
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
            raise InputError("chat: messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"),
                                                                                                   str):
                raise InputError(f"chat: messages[{i}] must be a dict with string 'role' and 'content'")
        template = self.metadata.get("chat_template")
        if not isinstance(template, str):
            raise InputError("chat: this model has no chat template")
        return render_chat(template, messages, self.metadata)

    def logits(self, ids: Sequence[int], *, all_positions: bool = False) -> Tensor:
        """The next-token logits after ``ids`` (float32 ``[vocab]``), or every position's (``[len(ids), vocab]``)."""
        prompt = self._check_ids(ids)
        steps = self._prefill_only(prompt, all_positions)
        reply: Any = None
        while True:
            try:
                _, sess, feeds = steps.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply = self._run(sess, feeds)

    # -- info ----------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Which backend and device run the model, its facts, the buckets, what was compiled, the last timings."""
        sess = self.session.info()
        return {
            "backend": sess.get("backend"),
            "device": sess.get("device"),
            "model": self.metadata.get("model"),
            "config": self.config.to_dict(),
            "context_length": self.context_length,
            "capacity_buckets": list(self.capacities),
            "prefill_buckets": list(self.prefill_buckets),
            "compiles": {
                "step_shapes": len(self._shapes),  # (T, C, R) bindings: what a backend compiles or specializes for
                "grow_graphs": len(self._grow_sessions),
                "shapes": [list(s) for s in self._shapes],
                "steps_since_last_compile": self._steps_since_compile,
            },
            "stats": dict(self.stats),
            "last": None if self.last is None else {"finish_reason": self.last.finish_reason,
                                                    "timings": {k: v for k, v in self.last.timings.items()
                                                                if k != "steps_ms"}},
            "metadata": {k: v for k, v in self.metadata.items() if k != "chat_template"},
            "wasm_heap_bytes": ffi.heap_bytes(),  # in the page: the wasm heap's size, which only grows (its peak)
            "session": sess,
        }

    def close(self) -> None:
        """Free the sessions' device resources."""
        self.session.close()
        for s in self._grow_sessions.values():
            s.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        c = self.config
        return (f"<CausalLM {self.metadata.get('model') or 'llama'} {c.num_layers} layers, hidden {c.hidden_size}, "
                f"context {c.context_length}, backend={self.session.backend}>")

    # -- the step loop (sans I/O: yields run requests, so the sync and async drivers share it) -------------------
    def _new_result(self) -> Generation:
        self.last = result = Generation(None, [], [])
        return result

    def _drive(self, steps: Generator[Request, Any, None], primed: bool = False) -> Iterator[str]:
        reply: Any = None
        if not primed:
            next(steps)
        while True:
            try:
                kind, a, b = steps.send(reply)
            except StopIteration:
                return
            if kind == "run":
                reply = self._run(a, b)
            else:
                reply = None
                yield a

    async def _drive_async(self, steps: Generator[Request, Any, None]) -> AsyncIterator[str]:
        reply: Any = None
        while True:
            try:
                kind, a, b = steps.send(reply)
            except StopIteration:
                return
            if kind == "run":
                reply = await a.run_async(b, **self._run_options(a))
            else:
                reply = None
                yield a

    def _run(self, sess: Session, feeds: dict[str, Any]) -> dict[str, Tensor]:
        return sess.run(feeds, **self._run_options(sess))

    def _run_options(self, sess: Session) -> dict[str, Any]:
        """Run options: where the backend can (``Session.device_outputs``), every output stays on the device — the
        cache is fed back from there, and only the logits are read back."""
        return {"keep_on_device": True} if sess.device_outputs else {}

    def _check_ids(self, ids: Sequence[int]) -> list[int]:
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise InputError(f"expected a prompt string or a list of token ids, got {type(ids).__name__}")
        out = []
        for i, t in enumerate(ids):
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < self.config.vocab_size:
                raise InputError(f"token ids[{i}] is {t!r}; ids are integers in [0, {self.config.vocab_size})")
            out.append(t)
        if not out:
            raise InputError("the prompt is empty: give at least one token (or non-empty text)")
        if len(out) > self.context_length:
            raise InputError(f"the prompt has {len(out)} tokens, more than the context of {self.context_length}")
        return out

    def _prompt_ids(self, prompt: str | Sequence[int]) -> list[int]:
        if isinstance(prompt, str):
            if not prompt:
                raise InputError("the prompt is empty: give non-empty text (or token ids)")
            if self.tokenizer is None:
                why = self.metadata.get("tokenizer_error") or "this CausalLM has no tokenizer"
                raise InputError(f"{why}: pass token ids, or load it with tokenizer=")
            return self._check_ids(self.tokenizer.encode(prompt))
        return self._check_ids(prompt)

    def _step_feeds(self, ids: Sequence[int], positions: Sequence[int], rows: Sequence[int],
                    cache: _KVCache) -> dict[str, Any]:
        t = len(ids)
        key = (t, cache.capacity, len(rows))
        if key not in self._shapes:
            self._shapes.append(key)
            self._steps_since_compile = 0
        else:
            self._steps_since_compile += 1
        feeds: dict[str, Any] = {
            "input_ids": Tensor(array.array("i", ids).tobytes(), dtype="int32", shape=(1, t)),
            "positions": Tensor(array.array("i", positions).tobytes(), dtype="int32", shape=(t,)),
            "logit_rows": Tensor(array.array("i", rows).tobytes(), dtype="int32", shape=(len(rows),)),
        }
        feeds.update(cache.feeds())
        return feeds

    def _new_cache(self, prompt: Sequence[int]) -> _KVCache:
        """A cache just big enough for the prompt's first chunk: decode steps cost what the cache holds, so it
        starts small and grows (one copy per doubling) rather than being sized for the whole generation."""
        first = bucket(min(len(prompt), self.prefill_chunk), self.prefill_buckets)
        return _KVCache(self.config, bucket(first, self.capacities))

    def _prefill(self, prompt: list[int], cache: _KVCache, all_rows: bool) -> Generator[Request, Any, list[Tensor]]:
        """Run the prompt through the cache in chunks of at most ``prefill_chunk`` tokens, each padded to a bucket;
        returns each chunk's logits (its last row, or with ``all_rows`` every row)."""
        n, outs = len(prompt), []
        for start in range(0, n, self.prefill_chunk):
            chunk = prompt[start : start + self.prefill_chunk]
            k = len(chunk)
            t = bucket(k, self.prefill_buckets)
            if start + t > self.context_length:  # the bucket would run past the context: exactly the tokens left
                t = k
            if start + t > cache.capacity:
                yield from self._grow(cache, bucket(start + t, self.capacities))
            # padding tokens sit at positions start+k..start+t-1 (< capacity): masked for every real token, and
            # overwritten by the real token that later takes each of those positions
            ids = chunk + [self.pad_token_id] * (t - k)
            rows = list(range(k)) if all_rows else [k - 1]
            out = yield ("run", self.session, self._step_feeds(ids, list(range(start, start + t)), rows, cache))
            cache.update(out)
            outs.append(out["logits"])
        return outs

    def _prefill_only(self, prompt: list[int], all_positions: bool) -> Generator[Request, Any, Tensor]:
        cache = self._new_cache(prompt)
        try:
            outs = yield from self._prefill(prompt, cache, all_positions)
        finally:
            cache.release()
        rows = len(prompt) if all_positions else 1
        data = b"".join(o.tobytes() for o in outs) if all_positions else outs[-1].tobytes()
        t = Tensor(data, dtype="float32", shape=(rows, self.config.vocab_size) if all_positions
                   else (self.config.vocab_size,))
        t.backend, t.device = outs[-1].backend, outs[-1].device
        _release(outs)
        return t

    def _grow(self, cache: _KVCache, capacity: int) -> Generator[Request, Any, None]:
        """Pad every cache tensor to ``capacity`` slots with a small graph on the same backend (compiled once
        per pair of buckets), so the cache stays where the backend keeps it."""
        key = (cache.capacity, capacity)
        sess = self._grow_sessions.get(key)
        if sess is None:  # on the step session's device (its context), so the cache moves without a copy
            c = self.config
            g = GraphBuilder()
            x = g.input("x", "float32", [c.num_kv_heads, cache.capacity, c.head_dim])
            y = g.pad(x, beginning_padding=[0, 0, 0], ending_padding=[0, capacity - cache.capacity, 0])
            sess = self._grow_sessions[key] = self.session.compile_sibling(g.build({"y": y}))
        for past, _ in cache.names:
            out = yield ("run", sess, {"x": cache.tensors[past]})
            old, cache.tensors[past] = cache.tensors[past], out["y"]
            if old.on_device:
                old.release()
        cache.capacity = capacity
        self.stats["grows"] += 1

    def _steps(self, result: Generation, prompt: str | Sequence[int], max_new_tokens: int, temperature: float,
               top_k: int, top_p: float, seed: int | None,
               stop: str | Sequence[str] | None) -> Generator[Request, Any, None]:
        """The whole generation as a generator of requests; its first ``next()`` only checks the arguments."""
        t_start = time.perf_counter()
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        sampler = Sampler(temperature, top_k, top_p, seed)
        stops = _check_stop(stop)
        if stops and self.tokenizer is None:
            raise InputError("stop strings need a tokenizer (to decode the text); this CausalLM has none")
        prompt_ids = self._prompt_ids(prompt)
        yield ("checked", None, None)  # stream()/stream_async() return here: the arguments were good
        n = len(prompt_ids)
        timings: dict[str, Any] = {"tokenize_s": time.perf_counter() - t_start, "prompt_tokens": n,
                                   "steps_ms": [], "sample_s": 0.0, "readback_s": 0.0, "grow_s": 0.0}
        result.prompt_ids, result.timings = prompt_ids, timings
        budget = min(max_new_tokens, self.context_length - n + 1)  # the last token needs no step of its own
        cache = self._new_cache(prompt_ids)
        self.stats["generations"] += 1
        text_ids: list[int] = []
        emitted = 0
        t_decode: float | None = None
        try:
            t0 = time.perf_counter()
            chunks = yield from self._prefill(prompt_ids, cache, False)
            logits = chunks.pop()
            _release(chunks)  # earlier chunks' logits: never read
            result.backend, result.device = logits.backend, logits.device
            row: array.array[float] | None = _read_row(logits, timings)  # an async backend's prefill ends here
            timings["prefill_s"] = time.perf_counter() - t0
            timings["steps_ms"].append(timings["prefill_s"] * 1e3)
            self.stats["prefill_runs"] += 1
            t_decode = time.perf_counter()
            while True:
                if row is None:
                    row = _read_row(logits, timings)
                ts = time.perf_counter()
                token = sampler(row)
                if result.logits is not None:
                    result.logits.append(row)
                timings["sample_s"] += time.perf_counter() - ts
                row = None
                if not result.ids:
                    timings["first_token_s"] = time.perf_counter() - t_start
                result.ids.append(token)
                if token in self.eos_token_ids:
                    result.finish_reason = "eos"
                else:
                    text_ids.append(token)
                    if self.tokenizer is not None:
                        text = self.tokenizer.decode(text_ids)
                        cut = _first_stop(text, stops)
                        if cut is not None:
                            text, result.finish_reason = text[:cut], "stop"
                        result.text = text
                        end = len(text) if cut is not None else _safe_end(text, stops)
                        if end > emitted:
                            yield ("piece", text[emitted:end], None)
                            emitted = end
                if result.finish_reason in ("eos", "stop"):
                    break
                position = n + len(result.ids) - 1
                if len(result.ids) >= budget:
                    result.finish_reason = "length" if len(result.ids) >= max_new_tokens else "context"
                    break
                if position >= cache.capacity:
                    tg = time.perf_counter()
                    yield from self._grow(cache, bucket(position + 1, self.capacities))
                    timings["grow_s"] += time.perf_counter() - tg
                t0 = time.perf_counter()
                out = yield ("run", self.session, self._step_feeds([token], [position], [0], cache))
                timings["steps_ms"].append((time.perf_counter() - t0) * 1e3)
                self.stats["decode_runs"] += 1
                cache.update(out)
                logits = out["logits"]
            if self.tokenizer is not None and result.text is not None and len(result.text) > emitted:
                yield ("piece", result.text[emitted:], None)  # what was held back (a partial stop string, a
                # character still missing bytes) once nothing more comes
            if result.text is None and self.tokenizer is not None:
                result.text = ""
        finally:
            cache.release()
            decode_steps = len(timings["steps_ms"]) - 1
            timings["decode_s"] = time.perf_counter() - t_decode if t_decode is not None else 0.0
            timings["decode_tokens"] = decode_steps
            rate = decode_steps / timings["decode_s"] if decode_steps and timings["decode_s"] else None
            timings["tokens_per_s"] = rate
            timings["new_tokens"] = len(result.ids)
            timings["total_s"] = time.perf_counter() - t_start
            timings["capacity"] = cache.capacity


def _read_row(logits: Tensor, timings: dict[str, Any]) -> array.array[float]:
    """The one readback of a step. Where the backend keeps its outputs on the device and runs asynchronously, this
    is also where the step's compute is waited for (``readback_s``), so it belongs to that step's time."""
    ts = time.perf_counter()
    row = array.array("f", logits.tobytes())
    logits.release()
    timings["readback_s"] += time.perf_counter() - ts
    return row


def _release(tensors: Any) -> None:
    """Free the device storage of ``tensors`` (a no-op for host tensors; also after a read, which keeps a copy)."""
    for t in tensors:
        t.release()


def _token(t: Any, vocab: int) -> bool:
    return isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab


def _check_graph(graph: Graph, c: LlamaConfig) -> None:
    """The step graph and the config agree (a converted directory's manifest could say otherwise)."""
    want = {"input_ids": ("int32", (1, "T")), "positions": ("int32", ("T",)), "logit_rows": ("int32", ("R",))}
    for i in range(c.num_layers):
        for kind in ("key", "value"):
            want[f"past_{kind}_{i}"] = ("float32", (c.num_kv_heads, "C", c.head_dim))
    for name, (dtype, shape) in want.items():
        desc = graph.inputs.get(name)
        if desc is None or desc.dtype != dtype or desc.shape != shape:
            raise GraphError(f"CausalLM: the graph's input {name!r} is {desc}, but the config needs "
                             f"{dtype}{list(shape)}: not a webinfer.models.llama step graph for this config")
    if len(graph.inputs) != len(want):
        extra = sorted(set(graph.inputs) - set(want))
        raise GraphError(f"CausalLM: the graph takes inputs the model cannot give: {extra[:3]}")
    logits = graph.operands[graph.outputs["logits"]] if "logits" in graph.outputs else None
    if logits is None or logits.shape != ("R", c.vocab_size):
        raise GraphError(f"CausalLM: the graph's output 'logits' is {logits}, the config needs [R, {c.vocab_size}]")


def _check_stop(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, Sequence) or not all(isinstance(s, str) and s for s in items):
        raise InputError(f"stop must be a non-empty string or a list of them, got {stop!r}")
    return list(items)


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _safe_end(text: str, stops: Sequence[str]) -> int:
    """How much of ``text`` can be shown: not a trailing U+FFFD (a character whose bytes are still coming) nor a
    tail that may be the start of a stop string."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":
        end -= 1
    for s in stops:
        for k in range(min(len(s) - 1, end), 0, -1):
            if text[end - k : end] == s[:k]:
                end -= k
                break
    return end


# -- converted directories -------------------------------------------------------------------------------------

def _is_gguf(path: str) -> bool:
    if path.lower().endswith(".gguf"):
        if is_url(path):
            raise InputError(f"CausalLM.load: {path} is a GGUF at a URL; the page loads converted models "
                             "(`webinfer convert --model gguf -o DIR`, then load DIR's URL)")
        return True
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    return False


_HINT = " — no converted model there: `webinfer convert --model gguf -o DIR` writes one"


def _files(path: str) -> ModelFiles:
    return ModelFiles(path, "CausalLM.load", MANIFEST, _HINT)


def _read_manifest(data: bytes, where: str) -> dict[str, Any]:
    manifest = read_manifest(data, where, MANIFEST_FORMAT, "causal-LM")
    if not isinstance(manifest.get("config"), dict):
        raise GraphError(f"{where}: 'config' must be an object with the model's dimensions")
    return manifest


def model_facts(fields: Mapping[str, Any], config: LlamaConfig, source: str = "") -> dict[str, Any]:
    """The manifest facts CausalLM reads: special tokens, template, context (from the GGUF tokenizer fields)."""
    eos = fields.get("eos_token_id")
    facts: dict[str, Any] = {
        "model": source,
        "bos_token_id": fields.get("bos_token_id"),
        "eos_token_ids": [eos] if isinstance(eos, int) else [],
        "pad_token_id": fields.get("padding_token_id", eos if isinstance(eos, int) else 0),
        "context_length": config.context_length,
    }
    if isinstance(fields.get("chat_template"), str):
        facts["chat_template"] = fields["chat_template"]
    return facts


def save_causal_lm(out_dir: str | os.PathLike[str], graph: Graph, config: LlamaConfig, fields: Mapping[str, Any],
                   *, metadata: Mapping[str, Any] | None = None, shard_bytes: int = SHARD_BYTES) -> dict[str, Any]:
    """Write a directory ``CausalLM.load`` reads: ``llm.json``, the graph JSON, its safetensors shards (weights
    still low-bit) and the tokenizer fields. Returns file role -> path(s)."""
    import json

    from ..format import save

    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    facts = model_facts(fields, config)
    facts.update(metadata or {})
    plain = {k: v for k, v in facts.items() if isinstance(v, (str, int, float, bool))}
    graph_path = os.path.join(out, GRAPH_FILE)
    shards = save(graph, graph_path, weights=WEIGHTS_FILE, metadata={"producer": "webinfer", **plain,
                                                                      "config": config.to_dict()},
                  shard_bytes=shard_bytes)
    tok_path = os.path.join(out, TOKENIZER_FILE)
    with open(tok_path, "w", encoding="utf-8") as f:
        json.dump(dict(fields), f, ensure_ascii=False)
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "graph": GRAPH_FILE, "tokenizer": TOKENIZER_FILE,
                "config": config.to_dict(), "capacity_buckets": buckets(config.context_length, MIN_CAPACITY),
                "prefill_buckets": buckets(config.context_length, MIN_PREFILL),
                "weights_files": [os.path.basename(p) for p in shards], **facts}
    man_path = os.path.join(out, MANIFEST)
    with open(man_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return {"manifest": man_path, "graph": graph_path, "weights": shards, "tokenizer": tok_path}


def make_tokenizer(fields: Mapping[str, Any], meta: dict[str, Any] | None = None) -> Tokenizer | None:
    """The byte-level BPE tokenizer the GGUF tokenizer fields describe; None when the file has none or an unusable
    one (the reason goes to ``meta["tokenizer_error"]``): then text prompts need ``tokenizer=``, ids always work."""
    if not fields.get("tokens"):
        return None
    from .bpe import BPETokenizer

    gguf = {("tokenizer." if k == "chat_template" else "tokenizer.ggml.") + k: v
            for k, v in fields.items() if k not in ("format", "version")}  # llama.tokenizer_fields' keys
    try:  # llama.cpp's pre-tokenizer for `pre` smollm (digits split first): how the model was trained, and what
        # SmolLM2's own tokenizer.json and wllama do; transformers' GGUF tokenizer differs on ~7% of texts (README)
        return BPETokenizer(gguf, pre_tokenizer="llama.cpp")
    except (ValueError, TypeError, KeyError) as e:
        if meta is not None:
            meta["tokenizer_error"] = f"the model's tokenizer cannot be used: {e}"
        return None


def render_chat(template: str, messages: Sequence[Mapping[str, str]], facts: Mapping[str, Any]) -> str:
    """The model's chat template applied to ``messages``, the assistant's turn opened (rendered without jinja2 by
    ``webinfer.models.chat_template``; an unknown template is an InputError saying what to do)."""
    from .chat_template import render_chat as render

    try:
        return render(messages, template, add_generation_prompt=True)
    except ValueError as e:  # UnknownChatTemplate included
        raise InputError(f"chat: {e}") from None


__all__ = ["CausalLM", "Generation", "MANIFEST", "Tokenizer", "bucket", "buckets", "make_tokenizer", "model_facts",
           "render_chat", "save_causal_lm"]
