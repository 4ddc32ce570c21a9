"""The BERT sentence encoders (``minilm``, ``block``, ``tiny``) as a model for ``webinfer bench --compare``.

Cases (labels):

- ``webinfer-<backend>`` for each browser backend of ``webinfer.backends`` (webnn with a ``cpu`` context;
  webgpu; hybrid) on webinfer's converted graph;
- ``ort-<ep>`` — onnxruntime-web on its ``webnn`` (deviceType cpu), ``wasm`` and ``webgpu`` EPs, on the
  plain torch export — and ``ort-<ep>-opt``, the same on the ORT-optimized file (``ort.optimize_onnx``).

Pairs say what each ratio isolates: on the same runtime (WebNN's TFLite CPU backend) webinfer's graph vs
ORT's; on ORT, the plain export vs the ORT-optimized file (the converter); on ORT's graph, wasm kernels vs
WebNN (the runtime); and the overall ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import backends
from .compare import Array, Case, ModelSpec, Pair
from .errors import BenchError
from .inputs import input_bytes, token_lengths
from .models import OUTPUT, PreparedModel, prepare_model, reference_outputs
from .placement import case_placement

#: The webinfer backends that run in the page (the host's reference backend is timed by plain ``webinfer bench``).
BROWSER_BACKENDS = backends.names(browser=True)
ORT_EPS = ("webnn", "wasm", "webgpu")
DEVICES = ("cpu", "gpu", "npu")


def compile_options(backend: str, batch: int, seq: int, device: str | None = None,
                    place: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``webinfer.compile`` options for a bench case (plans and graphs built for its shape at compile)."""
    opts: dict[str, Any] = {"bindings": {"batch": batch, "seq": seq}}
    if backend == "webgpu":
        opts["device"] = "gpu"
    elif backend == "webnn":
        opts["device"] = device or "cpu"
    elif backend == "hybrid":
        if device is not None:  # else: the WebNN context is made from the WebGPU device
            opts["device"] = device
        if place:
            opts["place"] = dict(place)
    return opts


RUNTIMES = {
    "webgpu": "webinfer on WebGPU (here: SwiftShader, a CPU)",
    "webnn": "webinfer on WebNN (cpu context: TFLite CPU)",
    "hybrid": "webinfer hybrid (WebNN + WebGPU islands)",
}


class EncoderSpec(ModelSpec):
    """A BERT encoder at one ``batch`` × ``seq``: inputs, the float64 reference, the webinfer and ORT-web cases."""

    def __init__(self, model: str = "minilm", batch: int = 1, seq: int = 128, cache: Path | None = None,
                 ort_level: str = "extended", ort_threads: int | None = None, gpu_runs: int | None = 1,
                 gpu_warmup: int | None = 0, place: Mapping[str, str] | None = None, log: Any = None) -> None:
        if batch < 1 or seq < 2:
            raise BenchError(f"bench: batch must be ≥ 1 and seq ≥ 2 ([CLS] and [SEP]), got {batch} × {seq}")
        self.prepared: PreparedModel = prepare_model(model, cache, log)
        self.name = model
        self.root = self.prepared.root
        self.batch, self.seq = batch, seq
        self.ort_level = ort_level
        self.ort_threads = ort_threads
        self.gpu_runs, self.gpu_warmup = gpu_runs, gpu_warmup
        self.place = dict(place or {})
        self.log = log
        self._reference: dict[str, Any] | None = None
        self._onnx: dict[str, dict[str, Any]] = {}

    # -- what the driver asks -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        m = self.prepared
        return {"name": m.name, "layers": m.layers, "hidden": m.hidden, "batch": self.batch, "seq": self.seq,
                "tokens": sum(token_lengths(self.batch, self.seq)), "onnx": self._onnx}

    def inputs(self) -> dict[str, Array]:
        data = input_bytes(self.batch, self.seq, self.prepared.vocab_size)
        return {k: Array("int64", (self.batch, self.seq), v) for k, v in data.items()}

    def reference(self) -> dict[str, Any]:
        if self._reference is None:
            data = input_bytes(self.batch, self.seq, self.prepared.vocab_size)
            self._reference = {OUTPUT: reference_outputs(self.prepared, data, self.batch, self.seq)}
        return self._reference

    def cases(self) -> list[Case]:
        cases = [self.webinfer_case(b) for b in BROWSER_BACKENDS]
        for ep in ORT_EPS:
            cases += [self.ort_case(ep, optimized=False), self.ort_case(ep, optimized=True)]
        return cases

    def pairs(self) -> list[Pair]:
        lv = self.ort_level
        return [
            Pair("ort-webnn", "webinfer-webnn", "graph: ORT's graph (plain export) vs webinfer's, both on WebNN"),
            Pair("ort-webnn-opt", "webinfer-webnn", f"graph: ORT-optimized ({lv}) vs webinfer's, both on WebNN"),
            Pair("ort-webnn", "ort-webnn-opt", f"converter: plain export vs ORT-optimized ({lv}), ORT on WebNN"),
            Pair("ort-wasm", "ort-wasm-opt", f"converter: plain export vs ORT-optimized ({lv}), ORT on wasm"),
            Pair("ort-webgpu", "ort-webgpu-opt", f"converter: plain export vs ORT-optimized ({lv}), ORT on WebGPU"),
            Pair("ort-wasm", "ort-webnn", "runtime: ORT's wasm kernels vs WebNN (TFLite), same plain export"),
            Pair("ort-wasm-opt", "ort-webnn-opt", f"runtime: ORT's wasm kernels vs WebNN, same ORT-optimized ({lv})"),
            Pair("ort-wasm", "webinfer-webnn", "overall: ORT wasm (plain) vs webinfer WebNN"),
            Pair("ort-wasm-opt", "webinfer-webnn", f"overall: ORT wasm (ORT-optimized {lv}) vs webinfer WebNN"),
            Pair("ort-webnn", "webinfer-hybrid", "overall: ORT WebNN (plain) vs webinfer hybrid"),
            Pair("webinfer-hybrid", "webinfer-webnn", "webinfer: hybrid's cost over plain WebNN"),
            Pair("ort-webgpu", "webinfer-webgpu", "overall: ORT WebGPU (plain) vs webinfer WebGPU (SwiftShader)"),
            Pair("ort-webgpu-opt", "webinfer-webgpu", f"overall: ORT WebGPU (ORT-optimized {lv}) vs webinfer WebGPU"),
        ]

    def prepare(self, cases: list[Case]) -> None:
        """Write the files the selected cases fetch: the ONNX export, the ORT-optimized file, ORT's bundles."""
        from . import ort

        ort_cases = [c for c in cases if c.runner == ort.RUNNER]
        if not ort_cases:
            return
        plain = ort.export_onnx(self.prepared, self.log)
        self._onnx["plain"] = {"file": plain.name, "ops": ort.onnx_ops(plain)}
        if any(c.facts.get("optimized") for c in ort_cases):
            optimized = ort.optimize_onnx(plain, self.ort_level, self._dims(), self.log)
            self._onnx["optimized"] = {"file": optimized.name, "level": self.ort_level, "ops": ort.onnx_ops(optimized)}
        for bundle in {ort.BUNDLES[c.facts["ep"]] for c in ort_cases}:
            ort.stage_ort(self.root, bundle)

    def finish_case(self, case: Case, report: dict[str, Any]) -> None:
        case_placement(case, report)

    # -- the cases ----------------------------------------------------------------------------------
    def _dims(self) -> dict[str, int]:
        return {"batch": self.batch, "seq": self.seq}

    def webinfer_case(self, backend: str) -> Case:
        """webinfer's graph compiled for ``backend`` at this shape."""
        place = self.place if backend == "hybrid" else None
        slow = backend == "webgpu"
        return Case(
            label=f"webinfer-{backend}", runner="webinfer", runtime=RUNTIMES.get(backend, f"webinfer on {backend}"),
            params={"graph": self.prepared.url + "model.json", "backend": backend, "outputs": [OUTPUT],
                    "options": compile_options(backend, self.batch, self.seq, place=place)},
            runs=self.gpu_runs if slow else None, warmup=self.gpu_warmup if slow else None,
            facts={"backend": backend, "graph": "webinfer's converter"},
        )

    def ort_case(self, ep: str, optimized: bool) -> Case:
        """onnxruntime-web on ``ep`` with the plain export or the ORT-optimized file."""
        from . import ort

        plain = self.prepared.root / "onnx" / f"{self.name}.onnx"
        return ort.make_case(ep, optimized, plain, self.root, self._dims(), self.ort_level, self.ort_threads,
                             self.gpu_runs, self.gpu_warmup)


__all__ = ["BROWSER_BACKENDS", "DEVICES", "ORT_EPS", "EncoderSpec", "compile_options"]
