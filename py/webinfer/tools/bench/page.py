"""The page side of ``webinfer bench``: case runners that live in the Pyodide page and time themselves.

Imported inside the page (Pyodide: no numpy, no playwright). The host drives it one short call at a
time through the harness (``Page.eval``); every call answers JSON text::

    set_inputs(inputs_json)                    the model's inputs: {name: {dtype, shape, data (base64)}}
    await setup(label, runner, params_json)    make the case and run it once -> {timings_ms, info}
    await timed(label, runs, warmup)           ``warmup`` untimed runs, then ``runs`` timed -> [{"ms": ...}, ...]
    await outputs(label)                       the last run's outputs -> {name: {dtype, shape, data}}
    await call(label, method, args_json)       a runner's extra method (``WebinferRunner.profile``)
    await close(label); await close_all()

A *runner* knows how to set up and run one kind of case. ``runner`` names it:

- ``"webinfer"``: :class:`WebinferRunner` — a webinfer graph compiled for one backend;
- ``"js:<package>/<file.mjs>"`` or ``"js:/url/of/case.mjs"``: :class:`JsRunner` — a JS case module
  (shipped in a package, or served), e.g. ``js:webinfer.tools.bench/ort_case.mjs`` for onnxruntime-web;
- ``"python:<module>:<Class>"``: any class with the :class:`Runner` methods.

Each run is timed where it runs (``time.perf_counter`` here, ``performance.now()`` in JS: the same
clock in the page), so the host's round trips never count.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
from collections.abc import Mapping
from importlib import resources
from typing import Any, Protocol

from ... import ffi

#: One input or output: dtype, shape and the raw little-endian bytes.
Array = dict[str, Any]


class Runner(Protocol):
    """What a case runner does; ``__init__(label, params, inputs)`` takes the case's parameters and the inputs."""

    async def setup(self) -> dict[str, Any]:
        """Make the case (load, compile, create a session) and run it once: ``{"timings_ms": ..., "info": ...}``."""

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        """``warmup`` untimed runs, then ``runs`` timed ones: one record per run with at least ``ms``."""

    async def outputs(self) -> dict[str, Array]:
        """The last run's outputs by name: ``{dtype, shape, data}`` with data as base64 text."""

    async def close(self) -> None:
        """Free what the case holds."""


_INPUTS: dict[str, Array] = {}
_CASES: dict[str, Any] = {}
_GRAPHS: dict[str, Any] = {}  # graph URL -> (Graph, timings of its fetch and load): webinfer cases share one


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def _encode(dtype: str, shape: Any, data: bytes) -> Array:
    return {"dtype": dtype, "shape": list(shape), "data": base64.b64encode(data).decode()}


def set_inputs(inputs_json: str) -> str:
    """Keep the model's inputs (base64 in JSON) for every case set up after this; returns their names."""
    decoded = json.loads(inputs_json)
    _INPUTS.clear()
    for name, a in decoded.items():
        _INPUTS[name] = {"dtype": a["dtype"], "shape": list(a["shape"]), "data": base64.b64decode(a["data"])}
    return json.dumps(sorted(_INPUTS))


def _runner_class(runner: str) -> Any:
    if runner == "webinfer":
        return WebinferRunner
    if runner.startswith("js:"):
        return JsRunner
    if runner.startswith("python:"):
        module, _, name = runner[len("python:"):].rpartition(":")
        return getattr(importlib.import_module(module), name)
    raise ValueError(f"bench page: unknown runner {runner!r} (webinfer, js:<module>, python:<module>:<Class>)")


async def setup(label: str, runner: str, params_json: str) -> str:
    """Make case ``label`` with ``runner`` and run it once; JSON ``{timings_ms, info}``."""
    if label in _CASES:
        await close(label)
    params = json.loads(params_json)
    if runner.startswith("js:"):
        params = {**params, "module": runner[3:]}
    case = _runner_class(runner)(label, params, _INPUTS)
    _CASES[label] = case
    return json.dumps(await case.setup(), default=str)


def _case(label: str) -> Any:
    try:
        return _CASES[label]
    except KeyError:
        raise KeyError(f"bench page: no case {label!r} (set up: {', '.join(_CASES) or 'none'})") from None


async def timed(label: str, runs: int, warmup: int = 0) -> str:
    """Time ``runs`` runs of ``label`` after ``warmup`` untimed ones; JSON list of per-run records."""
    return json.dumps(await _case(label).timed(int(runs), int(warmup)))


async def outputs(label: str) -> str:
    """The last run's outputs of ``label`` (JSON)."""
    return json.dumps(await _case(label).outputs())


async def call(label: str, method: str, args_json: str = "{}") -> str:
    """Call one of the runner's extra methods (those it lists in ``EXTRA``) with keyword arguments."""
    case = _case(label)
    if method not in getattr(case, "EXTRA", ()):
        raise ValueError(f"bench page: {type(case).__name__} has no extra method {method!r}")
    return json.dumps(await getattr(case, method)(**json.loads(args_json)), default=str)


async def close(label: str) -> None:
    """Close case ``label`` (if it is set up)."""
    case = _CASES.pop(label, None)
    if case is not None:
        await case.close()


async def close_all() -> None:
    """Close every case and forget the shared graphs."""
    for label in list(_CASES):
        await close(label)
    _GRAPHS.clear()


async def time_tokenizer(url: str, texts: list[str], max_length: int) -> str:
    """Milliseconds the pure-Python WordPiece tokenizer takes for ``texts`` padded to ``max_length`` (JSON)."""
    from ...models.tokenizer import Tokenizer

    tok = Tokenizer.from_json(await ffi.fetch_bytes(url))
    start = time.perf_counter()
    tok.encode_batch(texts, max_length=max_length, truncation=True, padding="max_length")
    return json.dumps(_ms(start))


# -- webinfer ------------------------------------------------------------------------------------------


async def _graph(url: str) -> tuple[Any, dict[str, Any]]:
    """The graph at ``url`` (``model.json`` + its weights), fetched and loaded once per page."""
    if url not in _GRAPHS:
        from ...format import load_bytes

        start = time.perf_counter()
        base = url.rpartition("/")[0] + "/"
        doc = await ffi.fetch_bytes(url)
        weights = {f: await ffi.fetch_bytes(base + f) for f in (json.loads(doc).get("weights") or {})}
        fetch_ms = _ms(start)
        start = time.perf_counter()
        graph = load_bytes(doc, weights=weights, name=url.rpartition("/")[2])
        stats = {"weights_fetch": fetch_ms, "weights_load": _ms(start),
                 "weights_bytes": sum(len(w) for w in weights.values())}
        _GRAPHS[url] = (graph, stats)
        return graph, stats
    graph, stats = _GRAPHS[url]
    return graph, {**stats, "shared": True}


class WebinferRunner:
    """A webinfer graph compiled for one backend. Params: ``graph`` (URL of the graph JSON), ``backend``,
    ``options`` (``webinfer.compile`` keywords), ``outputs`` (names to read back; default: all)."""

    EXTRA = ("profile", "info")

    def __init__(self, label: str, params: Mapping[str, Any], inputs: Mapping[str, Array]) -> None:
        from ...tensor import Tensor

        self.label = label
        self.params = dict(params)
        self.feeds = {k: Tensor(a["data"], dtype=a["dtype"], shape=a["shape"]) for k, a in inputs.items()}
        self.sess: Any = None
        self.last: dict[str, Any] = {}

    async def setup(self) -> dict[str, Any]:
        import webinfer as wi

        graph, weights = await _graph(self.params["graph"])
        timings = {k: v for k, v in weights.items() if k != "weights_bytes"}
        start = time.perf_counter()
        self.sess = wi.compile(graph, self.params["backend"], **self.params.get("options", {}))
        timings["compile"] = _ms(start)
        first = self._once()
        timings["first_run"] = first["ms"]
        return {"timings_ms": timings, "first": first, "weights_bytes": weights["weights_bytes"],
                "info": await self.info()}

    def _once(self) -> dict[str, Any]:
        blocked = ffi.blocked_seconds()
        start = time.perf_counter()
        out = self.sess.run(self.feeds)
        rec: dict[str, Any] = {"ms": _ms(start), "js_wait_ms": (ffi.blocked_seconds() - blocked) * 1e3}
        stats = self.sess.stats
        last = stats.get("last_run")
        if isinstance(last, dict):
            rec.update({k: v for k, v in last.items() if isinstance(v, (int, float))})
        if stats.get("island_ms"):
            rec["island_ms"] = list(stats["island_ms"])
        wanted = self.params.get("outputs")
        self.last = {k: v for k, v in out.items() if not wanted or k in wanted}
        return rec

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        for _ in range(warmup):
            self._once()
        return [self._once() for _ in range(runs)]

    async def outputs(self) -> dict[str, Array]:
        return {k: _encode(t.dtype, t.shape, t.tobytes()) for k, t in self.last.items()}

    async def profile(self, repeats: int = 3) -> list[dict[str, Any]]:
        """WebGPU: every dispatch of the plan timed alone (``WebGPUSession.profile``)."""
        result: list[dict[str, Any]] = self.sess.profile(self.feeds, repeats=repeats)
        return result

    async def info(self) -> dict[str, Any]:
        """The session's backend, device, node placement (counted) and plan statistics."""
        info = self.sess.info()
        out = {k: info.get(k) for k in ("backend", "nodes", "plan", "gpu", "webnn", "precision", "tiling")}
        placement = info.get("placement") or {}
        counts: dict[str, int] = {}
        for where in placement.values():
            counts[str(where)] = counts.get(str(where), 0) + 1
        out["placement_counts"] = counts
        dev = info.get("device") or {}
        out["device"] = {k: v for k, v in dev.items() if k not in ("limits", "features")} if isinstance(dev, dict) \
            else dev
        if "hybrid" in info:
            h = info["hybrid"]
            out["hybrid"] = {k: h.get(k) for k in ("islands", "crossings", "transfer", "interop",
                                                   "bytes_moved_per_run", "islands_info")}
            out["island_plans"] = [s.info().get("plan") for s in getattr(self.sess, "islands_sessions", [])
                                   if s.backend == "webgpu"]
        return out

    async def close(self) -> None:
        if self.sess is not None:
            self.sess.close()
        self.last = {}


# -- JS case modules ---------------------------------------------------------------------------------------


async def _js_source(module: str) -> str:
    """A JS case module's text: ``package/file.mjs`` from an installed package, or a URL path on the server."""
    if module.startswith(("/", "http:", "https:")):
        return (await ffi.fetch_bytes(module)).decode()
    package, _, name = module.partition("/")
    return resources.files(package).joinpath(name).read_text()


class JsRunner:
    """A case in a JS module that exports ``setup(label, paramsJson, inputsJson)``, ``timed(label, runs,
    warmup)``, ``outputs(label)`` and ``close(label)``, each returning (a promise of) JSON text. Params:
    ``module`` (set from the runner name) and whatever the module reads."""

    def __init__(self, label: str, params: Mapping[str, Any], inputs: Mapping[str, Array]) -> None:
        self.label = label
        self.params = dict(params)
        self.inputs_json = json.dumps({k: _encode(a["dtype"], a["shape"], a["data"]) for k, a in inputs.items()})
        self.module: Any = None

    async def setup(self) -> dict[str, Any]:
        name = self.params["module"]
        self.module = ffi.import_module(await _js_source(name), "bench:" + name)
        result: dict[str, Any] = json.loads(str(await self.module.setup(self.label, json.dumps(self.params),
                                                                          self.inputs_json)))
        return result

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(str(await self.module.timed(self.label, runs, warmup)))
        return result

    async def outputs(self) -> dict[str, Array]:
        result: dict[str, Array] = json.loads(str(await self.module.outputs(self.label)))
        return result

    async def close(self) -> None:
        if self.module is not None:
            await self.module.close(self.label)


__all__ = [
    "Array", "JsRunner", "Runner", "WebinferRunner", "call", "close", "close_all", "outputs", "set_inputs", "setup",
    "time_tokenizer", "timed",
]
