"""``backend="hybrid"``: WebNN islands and WebGPU islands, each an ordinary session, run in order.

The WebNN islands share one MLContext — made from the WebGPU device when there is one, so that
MLTensors could move to WebGPU on the device (``createExportableTensor`` + ``exportToGPU``). Whether
that really works is probed once at compile; where it does not (this Chromium's TFLite backend has
no WebGPU interop) values cross by readback through the host, and ``info()`` says so, with the
partition, the crossings and the bytes moved per run.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from typing import Any

from ... import ffi
from ...errors import BackendError, UnsupportedError
from ...ir.graph import Graph, Node
from ...tensor import Tensor
from ..contract import NodeDescs, entry_supports
from ..session import Session, check_options
from .partition import Partition, partition

OPTIONS = ("place", "prefer", "device", "power_preference", "accelerated", "interop", "webgpu", "webnn", "bindings")


def webgpu_device(webgpu_options: Mapping[str, Any]) -> Any:
    """The WebGPU device the WebGPU islands will run on (the WebGPU backend shares one per page)."""
    from ..webgpu import runtime as webgpu_runtime

    power = webgpu_options.get("power_preference", "high-performance")
    return webgpu_runtime.get_device(power, webgpu_options.get("precision") == "float16")


class HybridSession(Session):
    """Runs each island with its backend's session; values cross between them once per run."""

    backend = "hybrid"

    def __init__(self, graph: Graph, **options: Any) -> None:
        check_options("hybrid", options, OPTIONS)
        super().__init__(graph, **options)
        from ..webnn.planner import Checker
        from ..webnn.session import WebNNContext, WebNNSession, runtime

        t0 = time.perf_counter()
        self.islands_sessions: list[Session] = []
        self.interop: dict[str, Any] = {"asked": options.get("interop", "auto")}
        self.transfer = "readback"
        self.context: WebNNContext | None = None
        try:
            want_interop = options.get("interop", "auto") and options.get("device") is None
            device, no_webgpu, gpu_limits = None, None, None
            if want_interop:
                try:
                    gpu = webgpu_device(options.get("webgpu") or {})
                    device, gpu_limits = gpu.js, gpu.facts.get("limits")
                except BackendError as e:  # no WebGPU here: WebNN may still run every node; info() says why
                    no_webgpu = str(e)
                    self.interop["webgpu_unavailable"] = no_webgpu
            use_gpu_device = device is not None
            self.context = WebNNContext.open(
                options.get("device"), options.get("power_preference"), options.get("accelerated"),
                gpu_device=device if use_gpu_device else None,
            )
            self.interop.update(self._probe_interop(runtime(), device if use_gpu_device else None))
            checker = Checker(self.context.limits)
            from .. import get_backend

            gpu_table = get_backend("webgpu").op_table() or {}

            def webnn_reason(node: Node) -> str | None:
                descs = [None if i is None else graph.operands[i] for i in node.inputs]
                return checker.node(node, descs, [graph.operands[o] for o in node.outputs]).reason

            def webgpu_reason(node: Node) -> str | None:
                if no_webgpu is not None:
                    return no_webgpu
                return entry_supports(gpu_table, "webgpu", node, NodeDescs.of(graph, node), gpu_limits)

            self.partition: Partition = partition(
                graph, {"webnn": webnn_reason, "webgpu": webgpu_reason}, options.get("place"),
                options.get("prefer", "webnn"),
            )
            for island in self.partition.islands:
                sub = island.subgraph(graph)
                extra: dict[str, Any] = {}
                if options.get("bindings") and not sub.is_static:  # build now for these dims
                    extra["bindings"] = {k: v for k, v in options["bindings"].items() if k in sub.symbols}
                if island.backend == "webnn":
                    sess: Session = WebNNSession(sub, context=self.context, **{**(options.get("webnn") or {}), **extra})
                else:
                    from .. import compile as compile_backend

                    sess = compile_backend(sub, "webgpu", **{**(options.get("webgpu") or {}), **extra})
                self.islands_sessions.append(sess)
        except BaseException:
            self._close()
            raise
        self.stats["compile_ms"] = (time.perf_counter() - t0) * 1e3
        self._last_bindings: dict[str, int] = {}
        self._keep = self._keep_on_device()

    def _keep_on_device(self) -> list[bool]:
        """Per island: leave its outputs in GPU buffers (a WebGPU island read only by WebGPU islands)."""
        readers: dict[str, set[str]] = {}
        for island in self.partition.islands:
            for name in island.inputs:
                readers.setdefault(name, set()).add(island.backend)
        graph_outputs = set(self.graph.outputs.values())
        return [
            island.backend == "webgpu"
            and all(readers.get(o, set()) <= {"webgpu"} and o not in graph_outputs for o in island.outputs)
            for island in self.partition.islands
        ]

    def _probe_interop(self, rt: Any, device: Any) -> dict[str, Any]:
        assert self.context is not None
        if device is None:
            why = self.interop.get("webgpu_unavailable") or "the WebNN context was not made from the WebGPU device"
            return {"context_from_webgpu_device": False, "works": False, "reason": why}
        result = ffi.run_sync(rt.probeInterop(self.context.handle, device))
        works = bool(result.ok)
        if works:
            self.transfer = "device"
        return {"context_from_webgpu_device": True, "works": works, "reason": str(result.reason)}

    # -- running -----------------------------------------------------------------------------------
    def _island_inputs(self, env: Mapping[str, Tensor], names: list[str]) -> dict[str, Tensor]:
        return {name: env[name] for name in names}

    def _run(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        steps = self._islands(inputs, bindings, kwargs)
        try:
            step = next(steps)
            while True:
                sess, feeds, extra = step
                try:
                    out = sess.run(feeds, **extra)
                except Exception as e:  # back into the body, which names the island
                    step = steps.throw(e)
                else:
                    step = steps.send(out)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _run_async(self, inputs: dict[str, Tensor], bindings: dict[str, int], **kwargs: Any) -> dict[str, Tensor]:
        steps = self._islands(inputs, bindings, kwargs)
        try:
            step = next(steps)
            while True:
                sess, feeds, extra = step
                try:
                    out = await sess.run_async(feeds, **extra)
                except Exception as e:
                    step = steps.throw(e)
                else:
                    step = steps.send(out)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _islands(self, inputs: dict[str, Tensor], bindings: dict[str, int],
                 kwargs: Mapping[str, Any]) -> Generator[tuple[Session, dict[str, Tensor], dict[str, Any]],
                                                        dict[str, Tensor], dict[str, Tensor]]:
        """The one body of run and run_async: yields (island session, its inputs, run options) and takes its
        outputs back, island by island (the caller runs it, blocking or awaiting); returns the graph outputs."""
        if kwargs:
            raise BackendError(f"hybrid: run takes no option {next(iter(kwargs))!r}")
        env: dict[str, Tensor] = dict(inputs)
        timings = []
        for island, sess, keep in zip(self.partition.islands, self.islands_sessions, self._keep):
            t0 = time.perf_counter()
            extra = {"keep_on_device": True} if keep else {}
            with _island_errors(island):
                out = yield sess, self._island_inputs(env, island.inputs), extra
            env.update(out)
            timings.append(round((time.perf_counter() - t0) * 1e3, 3))
        self.stats["island_ms"] = timings
        self._last_bindings = dict(bindings)
        return self._outputs(env)

    def _outputs(self, env: Mapping[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        for name, operand in self.graph.outputs.items():
            const = self.graph.constants.get(operand)
            shape = [int(d) for d in const.desc.shape] if const is not None else []
            out[name] = env[operand] if const is None else Tensor(bytes(const.data()), const.desc.dtype, shape)
        return out

    # -- reporting and cleanup ---------------------------------------------------------------------
    def _close(self) -> None:
        for sess in getattr(self, "islands_sessions", []):
            sess.close()
        if getattr(self, "context", None) is not None:
            self.context.destroy()  # type: ignore[union-attr]

    def placement(self) -> dict[str, str]:
        return dict(self.partition.placement)

    def device_info(self) -> dict[str, Any]:
        webgpu = next((s.device_info() for s in self.islands_sessions if s.backend != "webnn"), None)
        return {"webnn": self.context.report.as_dict() if self.context else None, "webgpu": webgpu}

    def info(self) -> dict[str, Any]:
        info = super().info()
        report = self.partition.report(self._last_bindings)
        info["hybrid"] = {
            **report,
            "why": dict(self.partition.why),
            "transfer": self.transfer,
            "interop": dict(self.interop),
            "bytes_moved_per_run": report["bytes_between_backends_per_run"],
            "islands_info": [
                {"island": i.label, "build_ms": s.stats.get("build_ms"), "compile_ms": s.stats.get("compile_ms"),
                 "last_run_ms": s.stats.get("last_run_ms")}
                for i, s in zip(self.partition.islands, self.islands_sessions)
            ],
        }
        return info


__all__ = ["HybridSession"]


class _island_errors:
    """Re-word an island's UnsupportedError so it names the hybrid island, not the backend it wraps."""

    def __init__(self, island: Any) -> None:
        self.island = island

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> None:
        if isinstance(err, UnsupportedError):
            label = f"island {self.island.label}"
            message = str(err).replace(" (use backend='hybrid' to run them on WebGPU)", "")
            raise UnsupportedError(f"hybrid: the {label} cannot run these input shapes: {message}",
                                   node=err.node, reason=err.reason) from err
