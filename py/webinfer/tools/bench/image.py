"""Image classifiers as bench models: EfficientNet-Lite0 (and a tiny conv net for tests) against onnxruntime-web
running the very same ONNX file.

- ``efficientnet-lite0``: ``webinfer convert --model efficientnet-lite0`` into ``<bench root>/efficientnet-lite0/``
  (the torch export ``model.onnx`` and webinfer's graph imported from it: 49 conv2d, 33 clamp (ReLU6), 9 add, ...).
- ``convnet-tiny``: a seeded random conv net written with ``onnx.helper`` (stem conv, two inverted-residual blocks
  with depthwise 3×3 and 5×5 convs, a residual add, a max pool, ReLU6, global average pool, gemm) at 32×32, for
  tests; imported through the same ONNX importer.

Inputs are the sample photos of ``tests/data/images`` (CC0), preprocessed on the host as the classifier does, in
rows cycling through (photo, mirrored photo). The check compares logits with the host reference (cosine per row,
max abs difference relative to the largest logit) and the top-5 classes of every row.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compare import Array, Case, ModelSpec, Pair
from .errors import BenchError
from .models import bench_root

IMAGE_MODELS = ("efficientnet-lite0", "convnet-tiny")
INPUT, OUTPUT = "pixels", "logits"
STAMP = "bench-stamp.json"
TOP_K = 5


@dataclass(frozen=True)
class PreparedImageModel:
    """An image model ready to bench: the converted directory (graph + ``model.onnx``) and its input size."""

    name: str
    build: Path
    root: Path
    size: int
    classes: int
    summary: Mapping[str, Any]

    @property
    def url(self) -> str:
        """The converted directory's URL path on the local server."""
        return f"/models/{self.build.relative_to(self.root).as_posix()}/"

    @property
    def onnx(self) -> Path:
        return self.build / "model.onnx"


def _code_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _stamp(name: str) -> dict[str, Any]:
    """What decides a converted model's files: webinfer's version, the converter's code, the weights."""
    from ... import __version__
    from ...importers import onnx as onnx_importer
    from ...models import efficientnet
    from .. import convert

    code = [Path(convert.__file__ or ""), Path(efficientnet.__file__ or ""), Path(__file__),
            *sorted(Path(onnx_importer.__file__ or "").parent.rglob("*.py"))]
    stamp: dict[str, Any] = {"webinfer": __version__, "code": _code_hash(code)}
    if name == "efficientnet-lite0":
        w = efficientnet.weights_path()
        stamp["weights"] = [w.name, w.stat().st_size]
    return stamp


def prepare_image_model(name: str, cache: Path | None = None,
                        log: Callable[[str], None] | None = None) -> PreparedImageModel:
    """Convert ``name`` into the bench root once (reused while its weights and the converter are unchanged)."""
    if name not in IMAGE_MODELS:
        raise BenchError(f"bench: unknown image model {name!r}; choose one of {', '.join(IMAGE_MODELS)}")
    root = bench_root(cache)
    build = root / name
    try:
        stamp = _stamp(name)
    except (FileNotFoundError, ModuleNotFoundError) as e:
        raise BenchError(f"bench: {name} needs its weights and converters: {e} (pip install -e '.[dev]')") from None
    stamp_file = build / STAMP
    if not (stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp):
        if log:
            log(f"converting {name} into {build} (once; cached until the weights or the converter change)")
        tmp = build.with_name(build.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        if name == "efficientnet-lite0":
            from ..convert import convert_efficientnet

            summary = convert_efficientnet(tmp)
        else:
            summary = _convert_tiny(tmp)
        keep = {k: summary[k] for k in ("nodes", "ops", "parameters") if k in summary}
        (tmp / "bench-summary.json").write_text(json.dumps(keep) + "\n")
        if build.exists():
            shutil.rmtree(build)
        tmp.rename(build)
        stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
    summary = json.loads((build / "bench-summary.json").read_text())
    size, classes = (224, 1000) if name == "efficientnet-lite0" else (TINY_SIZE, TINY_CLASSES)
    return PreparedImageModel(name, build, root, size, classes, summary)


# -- the tiny conv net (tests) ------------------------------------------------------------------------------

TINY_SIZE, TINY_CLASSES = 32, 10


def tiny_onnx(seed: int = 0) -> Any:
    """A small EfficientNet-like ONNX model (opset 17, batch as ``batch``) with seeded random weights: stem conv
    (stride 2, TF-"same" pads), an inverted-residual block (1×1 expand, depthwise 3×3, 1×1 project, residual add),
    a max pool, a strided block with a depthwise 5×5, a 1×1 head, ReLU6 (Clip) after every expand/depthwise/stem/head
    conv, a global average pool, flatten and gemm."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits: list[Any] = []
    nodes: list[Any] = []

    def weight(name: str, shape: tuple[int, ...], fan_in: int) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * (2.0 / fan_in) ** 0.5)
                                             .astype(np.float32), name))
        return name

    def bias(name: str, n: int) -> str:
        inits.append(numpy_helper.from_array((0.1 * rng.standard_normal(n)).astype(np.float32), name))
        return name

    def conv(x: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1,
             pads: tuple[int, int, int, int] = (0, 0, 0, 0), relu6: bool = True) -> str:
        n = len(nodes)
        w = weight(f"w{n}", (cout, cin // group, k, k), cin // group * k * k)
        b = bias(f"b{n}", cout)
        y = f"conv{n}"
        nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride],
                                      group=group, pads=list(pads)))
        if not relu6:
            return y
        nodes.append(helper.make_node("Clip", [y, "zero", "six"], [f"clip{n}"]))
        return f"clip{n}"

    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
              numpy_helper.from_array(np.array(6.0, np.float32), "six")]
    x = conv("pixels", 3, 8, 3, 2, pads=(0, 0, 1, 1))  # 32 -> 16
    y = conv(x, 8, 24, 1)
    y = conv(y, 24, 24, 3, 1, group=24, pads=(1, 1, 1, 1))
    y = conv(y, 24, 8, 1, relu6=False)
    nodes.append(helper.make_node("Add", [y, x], ["res"]))
    nodes.append(helper.make_node("MaxPool", ["res"], ["pool"], kernel_shape=[3, 3], strides=[1, 1],
                                  pads=[1, 1, 1, 1]))
    y = conv("pool", 8, 24, 1)
    y = conv(y, 24, 24, 5, 2, group=24, pads=(1, 1, 2, 2))  # 16 -> 8
    y = conv(y, 24, 16, 1, relu6=False)
    y = conv(y, 16, 32, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [y], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], axis=1))
    w, b = weight("fc_w", (TINY_CLASSES, 32), 32), bias("fc_b", TINY_CLASSES)
    nodes.append(helper.make_node("Gemm", ["flat", w, b], [OUTPUT], transB=1))
    graph = helper.make_graph(
        nodes, "convnet-tiny", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", 3, TINY_SIZE,
                                                                                           TINY_SIZE])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", TINY_CLASSES])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="webinfer-bench")
    onnx.checker.check_model(model)
    return model


def _convert_tiny(out: Path) -> dict[str, Any]:
    import onnx

    from ...format import save
    from ...importers.onnx import load

    out.mkdir(parents=True, exist_ok=True)
    onnx.save(tiny_onnx(), str(out / "model.onnx"))
    graph = load(out / "model.onnx")
    save(graph, str(out / "model.json"), weights=str(out / "model.safetensors"))
    ops: dict[str, int] = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    params = sum(c.desc.size for c in graph.constants.values())
    return {"nodes": len(graph.nodes), "ops": ops, "parameters": params}


# -- inputs ---------------------------------------------------------------------------------------------------


def photos_dir() -> Path:
    """The sample photos (``tests/data/images`` of the checkout)."""
    from ..project import project_root

    return project_root() / "tests" / "data" / "images"


def image_rows(batch: int, size: int) -> tuple[bytes, list[str]]:
    """``batch`` preprocessed images as float32 NCHW bytes ``[batch, 3, size, size]`` and what each row is:
    the sample photos, then the same mirrored, cycling."""
    import numpy as np
    from PIL import Image

    from ...models.efficientnet import preprocessing
    from ...models.preprocess import prepare

    files = sorted(photos_dir().glob("*.jpg"))
    if not files:
        raise BenchError(f"bench: no sample photos in {photos_dir()} (the image models' inputs)")
    config = {**preprocessing(), "crop": size, "resize_shorter": round(size * 256 / 224), "layout": "nchw"}
    planes = []
    for f in files:
        with Image.open(f) as im:
            rgb = im.convert("RGB")
            data = prepare(rgb.tobytes(), rgb.width, rgb.height, 3, config)
        planes.append(np.frombuffer(data, "<f4").reshape(3, size, size))
    variants = [(p, f.name) for p, f in zip(planes, files)] + [(p[:, :, ::-1], f"{f.name} mirrored")
                                                                for p, f in zip(planes, files)]
    rows = [variants[i % len(variants)] for i in range(batch)]
    data = np.ascontiguousarray(np.stack([r for r, _ in rows]), dtype="<f4").tobytes()
    return data, [name for _, name in rows]


def top_k(logits: Any, k: int = TOP_K) -> list[list[int]]:
    """Per row, the indices of the ``k`` largest logits, largest first."""
    import numpy as np

    a = np.asarray(logits, dtype=np.float64)
    return [list(map(int, np.argsort(-row, kind="stable")[:k])) for row in a.reshape(a.shape[0], -1)]


# -- the bench model -------------------------------------------------------------------------------------------


class ImageSpec(ModelSpec):
    """An image classifier at one batch size: the photos, the float64 reference, the webinfer and ORT-web cases."""

    #: logits of float32 runtimes vs the float64 reference: cosine per row, max |Δ| relative to the largest logit
    min_cosine = 0.99999
    max_rel_diff = 1e-3

    def __init__(self, model: str = "efficientnet-lite0", batch: int = 1, cache: Path | None = None,
                 ort_level: str = "extended", ort_threads: int | None = None, gpu_runs: int | None = 1,
                 gpu_warmup: int | None = 0, place: Mapping[str, str] | None = None, log: Any = None) -> None:
        if batch < 1:
            raise BenchError(f"bench: batch must be ≥ 1, got {batch}")
        self.prepared = prepare_image_model(model, cache, log)
        self.name = model
        self.root = self.prepared.root
        self.batch = batch
        self.ort_level, self.ort_threads = ort_level, ort_threads
        self.gpu_runs, self.gpu_warmup = gpu_runs, gpu_warmup
        self.place = dict(place or {})
        self.log = log
        self._rows: tuple[bytes, list[str]] | None = None
        self._reference: dict[str, Any] | None = None
        self._onnx: dict[str, dict[str, Any]] = {}

    def _pixels(self) -> tuple[bytes, list[str]]:
        if self._rows is None:
            self._rows = image_rows(self.batch, self.prepared.size)
        return self._rows

    def describe(self) -> dict[str, Any]:
        s = self.prepared.summary
        convs = (s.get("ops") or {}).get("conv2d")
        return {"name": self.name, "batch": self.batch, "image": [3, self.prepared.size, self.prepared.size],
                "title": f"{self.name} ({s.get('nodes')} nodes, {convs} conv2d, {s.get('parameters'):,} parameters), "
                         f"batch {self.batch} × 3 × {self.prepared.size} × {self.prepared.size}",
                "rows": self._pixels()[1], "graph": dict(s), "onnx": self._onnx,
                "reference_top5": top_k(self.reference()[OUTPUT])}

    def inputs(self) -> dict[str, Array]:
        size = self.prepared.size
        return {INPUT: Array("float32", (self.batch, 3, size, size), self._pixels()[0])}

    def reference(self) -> dict[str, Any]:
        if self._reference is None:
            import numpy as np

            from ... import load
            from ...backends.reference import evaluate
            from ...tensor import Tensor

            graph = load(str(self.prepared.build / "model.json")).specialize({"batch": self.batch})
            x = Tensor(self._pixels()[0], dtype="float32", shape=list(self.inputs()[INPUT].shape))
            self._reference = {OUTPUT: np.asarray(evaluate(graph, {INPUT: x})[OUTPUT])}
        return self._reference

    def check(self, case: Case, outputs: Mapping[str, Array]) -> dict[str, Any]:
        """Logits vs the reference (cosine, max |Δ| relative to the largest |logit|) and top-5 per row."""
        import numpy as np

        ref = self.reference()[OUTPUT]
        self.max_abs_diff = self.max_rel_diff * float(np.abs(ref).max())
        result = super().check(case, outputs)
        got = outputs.get(OUTPUT)
        if got is not None and got.dtype == "float32" and result["ok"]:
            mine = top_k(np.frombuffer(got.data, "<f4").reshape(ref.shape))
            want = top_k(ref)
            same_set = [set(a) == set(b) and a[0] == b[0] for a, b in zip(mine, want)]
            result["top5"] = {"rows": len(want), "same_order": sum(a == b for a, b in zip(mine, want)),
                              "same_top1_and_set": sum(same_set), "got": mine}
            result["ok"] = all(same_set)
        return result

    def cases(self) -> list[Case]:
        from . import ort
        from .encoder import BROWSER_BACKENDS, RUNTIMES

        cases = [Case(label=f"webinfer-{b}", runner="webinfer", runtime=RUNTIMES.get(b, f"webinfer on {b}"),
                      params={"graph": self.prepared.url + "model.json", "backend": b, "outputs": [OUTPUT],
                              "options": self.compile_options(b)},
                      runs=self.gpu_runs if b == "webgpu" else None,
                      warmup=self.gpu_warmup if b == "webgpu" else None,
                      facts={"backend": b, "graph": "webinfer's ONNX import of model.onnx"})
                 for b in BROWSER_BACKENDS]
        if "webnn" in BROWSER_BACKENDS:  # the same without the layout pass: what planning NHWC once is worth
            cases.append(Case(label="webinfer-webnn-nchw", runner="webinfer",
                              runtime="webinfer on WebNN with the graph's NCHW layout (layout='keep')",
                              params={"graph": self.prepared.url + "model.json", "backend": "webnn",
                                      "outputs": [OUTPUT], "options": {**self.compile_options("webnn"),
                                                                       "layout": "keep"}},
                              facts={"backend": "webnn", "graph": "webinfer's ONNX import, NCHW as imported"}))
        for ep in ort.EPS:
            for optimized in (False, True):
                cases.append(ort.make_case(ep, optimized, self.prepared.onnx, self.root, {"batch": self.batch},
                                           self.ort_level, self.ort_threads, self.gpu_runs, self.gpu_warmup,
                                           plain_text="the same model.onnx webinfer imported"))
        return cases

    def compile_options(self, backend: str, device: str | None = None) -> dict[str, Any]:
        """``webinfer.compile`` options (built for this batch at compile)."""
        from .encoder import compile_options

        opts = compile_options(backend, self.batch, 0, device, self.place if backend == "hybrid" else None)
        opts["bindings"] = {"batch": self.batch}
        return opts

    def pairs(self) -> list[Pair]:
        lv = self.ort_level
        return [
            Pair("best:webinfer-*", "best:ort-*", "goal: webinfer's fastest case ÷ ORT-web's fastest case "
                 "(each round's fastest; goal ≤ 0.8)"),
            Pair("ort-webnn", "webinfer-webnn", "graph + glue: ORT's WebNN EP vs webinfer, both on WebNN (TFLite)"),
            Pair("ort-webnn-opt", "webinfer-webnn", f"ORT-optimized ({lv}) on ORT's WebNN EP vs webinfer WebNN"),
            Pair("ort-wasm", "webinfer-webnn", "overall: ORT wasm vs webinfer WebNN"),
            Pair("ort-wasm-opt", "webinfer-webnn", f"overall: ORT wasm (ORT-optimized {lv}) vs webinfer WebNN"),
            Pair("ort-wasm", "ort-webnn", "runtime: ORT's wasm kernels vs WebNN, same model.onnx"),
            Pair("ort-webnn", "webinfer-hybrid", "overall: ORT WebNN vs webinfer hybrid"),
            Pair("webinfer-hybrid", "webinfer-webnn", "webinfer: hybrid's cost over plain WebNN"),
            Pair("webinfer-webnn-nchw", "webinfer-webnn", "layout: NCHW as imported (the browser transposes around "
                 "every conv) vs planned in NHWC once"),
            Pair("ort-webgpu", "webinfer-webgpu", "overall: ORT WebGPU vs webinfer WebGPU (SwiftShader)"),
            Pair("ort-webgpu-opt", "webinfer-webgpu", f"ORT WebGPU (ORT-optimized {lv}) vs webinfer WebGPU"),
        ]

    def prepare(self, cases: list[Case]) -> None:
        """The ORT-optimized file and ORT's bundles for the selected ORT cases (the plain file is model.onnx)."""
        from . import ort

        ort_cases = [c for c in cases if c.runner == ort.RUNNER]
        if not ort_cases:
            return
        self._onnx["plain"] = {"file": self.prepared.onnx.name, "ops": ort.onnx_ops(self.prepared.onnx)}
        if any(c.facts.get("optimized") for c in ort_cases):
            optimized = ort.optimize_onnx(self.prepared.onnx, self.ort_level, {"batch": self.batch}, self.log)
            self._onnx["optimized"] = {"file": optimized.name, "level": self.ort_level,
                                       "ops": ort.onnx_ops(optimized)}
        for bundle in {ort.BUNDLES[c.facts["ep"]] for c in ort_cases}:
            ort.stage_ort(self.root, bundle)

    def finish_case(self, case: Case, report: dict[str, Any]) -> None:
        from .placement import case_placement

        case_placement(case, report)


__all__ = ["IMAGE_MODELS", "INPUT", "OUTPUT", "ImageSpec", "PreparedImageModel", "image_rows", "photos_dir",
           "prepare_image_model", "tiny_onnx", "top_k"]
