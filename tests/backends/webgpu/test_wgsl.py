"""Every WGSL shader the planner writes is well-typed: a static check that always runs, and naga's validator
(through ``wgpu``, on whatever host adapter it finds: llvmpipe, lavapipe, SwiftShader's Vulkan) when present.

The graphs: a tiny BERT (the real model's structure: one QKV buffer read by q @ kᵀ both vectorized and
element-wise, a mask epilogue, float16 weights), the transformer block, a small EfficientNet-like conv net (every
conv kernel), and every runnable op case, each planned with both matmul tilings.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webinfer as wi
from webinfer.backends.webgpu.kernels.matmul import TILINGS
from webinfer.backends.webgpu.planner import DEFAULT_LIMITS, DeviceFacts, Planner

HERE = Path(__file__).parent
BERT_CFG = {"vocab_size": 64, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1,
            "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "hidden_act": "gelu"}

_BINDING = re.compile(r"var<storage, (read|read_write)> (b\d+): array<([^>]+>?)>;")
_LOADER = re.compile(r"fn (ldv?)(\d+)\((\w+): u32\) -> ([\w<>]+) \{ return (.*); \}")
_STORE = re.compile(r"\b(b\d+)\[[^\]]*\] = ")


def _plan_sources(graph: wi.Graph, tiling: str, f16: bool = False) -> list[tuple[str, str]]:
    p = Planner(graph, DeviceFacts(dict(DEFAULT_LIMITS), f16, tiling), lambda n: graph.constants[n].data()).plan()
    return [(pl["label"], pl["code"]) for pl in p.spec["pipelines"]]


def tiny_bert(weights_dtype: str = "float16") -> wi.Graph:
    from webinfer.models import build_bert
    from webinfer.models.bert import expected_shapes

    rng = np.random.default_rng(3)
    w = {k: rng.normal(0, 0.5, size=s).astype(np.float32) for k, s in expected_shapes(BERT_CFG).items()}
    return build_bert(w, BERT_CFG, weights_dtype=weights_dtype).specialize({"batch": 2, "seq": 5})


def _graphs() -> Iterator[tuple[str, wi.Graph]]:
    ns: dict[str, Any] = {}
    exec(compile((HERE / "models_src.py").read_text(), "models_src.py", "exec"), ns)
    yield "tiny bert f16 weights", tiny_bert("float16")
    yield "tiny bert f32 weights", tiny_bert("float32")
    yield "block", ns["build_block"](32, 8, 4)
    yield "mlp", ns["build_mlp"](16).specialize({"batch": 3})
    conv: dict[str, Any] = {}
    exec(compile((HERE.parent / "convnet_src.py").read_text(), "convnet_src.py", "exec"), conv)
    yield "conv net (1×1 as matmul, depthwise 3×3/5×5, direct stem, fused epilogues)", conv["build_convnet"](batch=2)


def _case_graphs() -> Iterator[tuple[str, wi.Graph]]:
    """Every runnable op case WebGPU accepts (int64 arithmetic, for one, is refused before any WGSL)."""
    from webinfer.backends.webgpu.planner import check_graph
    from webinfer.ir.opcases import CASES
    from webinfer.tools.conformance import _attrs_json, case_graph

    for case in CASES:
        if not case.runnable:
            continue
        descs = [None if d is None else [d.dtype, list(d.shape)] for d in case.inputs]
        g = case_graph(case.op, descs, _attrs_json(dict(case.attrs)))
        try:
            check_graph(g)
        except wi.UnsupportedError:
            continue
        yield case.id, g.specialize(dict(case.bind)) if case.bind else g


def all_sources() -> dict[str, str]:
    """Distinct WGSL source -> a label saying where it came from."""
    out: dict[str, str] = {}
    for name, g in [*_graphs(), *_case_graphs()]:
        for tiling in TILINGS:
            for label, code in _plan_sources(g, tiling):
                out.setdefault(code, f"{name} / {tiling} / {label}")
    return out


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return all_sources()


def type_errors(code: str) -> list[str]:
    """Loaders and stores that do not fit their binding's declared element type (scalar or vec4)."""
    decl = {name: (elem, access) for access, name, elem in _BINDING.findall(code)}
    errors = []
    for kind, b, param, ret, body in _LOADER.findall(code):
        name = f"b{b}"
        if name not in decl:
            errors.append(f"{kind}{b} reads undeclared {name}")
            continue
        elem = decl[name][0]
        vec = elem.startswith("vec4<")
        if kind == "ldv":
            if not vec or ret != elem or body != f"{name}[{param}]":
                errors.append(f"ldv{b} -> {ret} reads {name}: array<{elem}> as {body!r}")
        elif vec and not body.startswith(f"{name}[{param} >> 2u][{param} & 3u]"):
            errors.append(f"ld{b} -> {ret} reads {name}: array<{elem}> as {body!r} (not per component)")
        elif not vec and f"{name}[{param} >> 2u][" in body:
            errors.append(f"ld{b} indexes scalar {name}: array<{elem}> twice")
    for name in _STORE.findall(code):
        elem, access = decl.get(name, ("?", "?"))
        if access != "read_write" or elem.startswith("vec4<"):
            errors.append(f"stores into {name}: array<{elem}> ({access})")
    return errors


def test_the_qkv_buffer_is_read_both_ways_in_q_at_k_transposed() -> None:
    """The bug this file guards against: one buffer, read vectorized (q) and per element (kᵀ, strided)."""
    srcs = _plan_sources(tiny_bert(), "workgroup")
    code = next(c for label, c in srcs if label.startswith("matmul_1+add_2"))
    m = re.search(r"(b\d+): array<vec4<f32>>", code)
    assert m, code
    assert f"fn ld{m.group(1)[1:]}(e: u32) -> f32 {{ return {m.group(1)}[e >> 2u][e & 3u]; }}" in code
    assert not type_errors(code)


def test_static_check_catches_a_scalar_loader_on_a_vec4_binding() -> None:
    bad = ("@group(0) @binding(3) var<storage, read> b3: array<vec4<f32>>;\n"
           "fn ld3(e: u32) -> f32 { return b3[e]; }\n")
    assert type_errors(bad) == ["ld3 -> f32 reads b3: array<vec4<f32>> as 'b3[e]' (not per component)"]


def test_every_shader_declares_what_its_loaders_read(sources: dict[str, str]) -> None:
    assert len(sources) > 100
    bad = {where: errs for code, where in sources.items() if (errs := type_errors(code))}
    assert not bad, bad


# ---- naga, through wgpu-native, when the host has it ------------------------------------------------------
def _naga_device() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import wgpu
    except Exception as e:  # not installed, or no native library for this platform
        pytest.skip(f"wgpu (naga) is not importable here: {type(e).__name__}: {e}")
    icd = Path.home() / ".cache" / "webinfer"
    if "VK_ICD_FILENAMES" not in os.environ:  # SwiftShader's Vulkan from the unpacked Chromium, if any
        found = sorted(icd.glob("chromium-*/vk_swiftshader_icd.json"))
        if found:
            os.environ["VK_ICD_FILENAMES"] = str(found[-1])
    try:
        adapter = wgpu.gpu.request_adapter_sync(power_preference="low-power")
        if adapter is None:
            pytest.skip("wgpu found no adapter on this host (no Vulkan/GL driver)")
        return adapter.request_device_sync()
    except Exception as e:
        pytest.skip(f"wgpu could not open a device: {type(e).__name__}: {e}")


def test_naga_validates_every_shader(sources: dict[str, str]) -> None:
    device = _naga_device()
    failures = []
    for code, where in sources.items():
        if "enable f16;" in code:  # needs shader-f16; planned only with f16=True, which these plans are not
            continue
        try:
            device.create_shader_module(code=code)
        except Exception as e:
            failures.append(f"{where}: {str(e)[:600]}")
    assert not failures, "\n\n".join(failures[:5]) + f"\n({len(failures)} shaders rejected)"
