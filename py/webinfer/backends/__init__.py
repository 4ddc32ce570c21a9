"""Backends: each described once (:class:`~webinfer.backends.contract.Backend`); ``compile`` picks one by name.

:data:`BACKENDS` holds the descriptions. Everything that needs the list of backends reads it: the CLI's
choices (:func:`names`), ``webinfer conformance``, the README op table (``webinfer.tools.optable``), the
pages' backend picker (:func:`page_report`) and ``backend="auto"`` (:func:`choose`, the one place the
automatic choice is made).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import BackendError
from ..ir.graph import Graph
from .contract import Backend, NodeDescs, OpEntry, in_browser
from .session import Session

BUILTIN = (
    Backend("reference", "Reference", ("numpy",), "webinfer.backends.reference:ReferenceSession",
            ops="webinfer.backends.reference.kernels:KERNELS", ops_file="py/webinfer/backends/reference/kernels.py",
            summary="numpy on the host, computing in float64: the conformance oracle"),
    Backend("webgpu", "WebGPU", ("browser", "webgpu"), "webinfer.backends.webgpu:WebGPUSession",
            ops="webinfer.backends.webgpu.kernels:KERNELS",
            ops_file="py/webinfer/backends/webgpu/kernels/lowering.py (elementwise ops: kernels/elementwise.py)",
            summary="WGSL compute shaders planned in Python, run by one JS call", device_outputs=True),
    Backend("webnn", "WebNN", ("browser", "webnn"), "webinfer.backends.webnn:WebNNSession",
            ops="webinfer.backends.webnn.lowering:LOWERINGS", ops_file="py/webinfer/backends/webnn/lowering.py",
            summary="the browser's neural-network API (an MLGraph built once per shape set)"),
    Backend("hybrid", "Hybrid", ("browser", "webnn"), "webinfer.backends.hybrid:HybridSession",
            parts=("webnn", "webgpu"), summary="each node on WebNN where it can run, else on WebGPU"),
)

#: name -> description, the built-ins first; ``register_backend`` adds third-party ones.
BACKENDS: dict[str, Backend] = {b.name: b for b in BUILTIN}

#: ``backend="auto"`` in the page takes the first available of these (after the adapter rule in ``choose``).
AUTO_ORDER = ("webgpu", "webnn", "reference")


def register_backend(name: str, target: str | Backend) -> None:
    """Add a backend: a full :class:`Backend`, or just its session class as ``"module:Class"``."""
    if isinstance(target, Backend):
        if target.name != name:
            raise BackendError(f"register_backend: the description is named {target.name!r}, not {name!r}")
        BACKENDS[name] = target
    else:
        BACKENDS[name] = Backend(name, name, (), target)


def get_backend(name: str) -> Backend:
    """The description of backend ``name``; BackendError naming the choices when there is none."""
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(list(BACKENDS) + ['auto'])}") from None


def names(*, browser: bool | None = None) -> list[str]:
    """Backend names (for CLI choices); ``browser=True`` only those that run in the page, False only host ones."""
    return [b.name for b in BACKENDS.values() if browser is None or b.browser_only == browser]


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot be compiled for here, or None when it can (as far as can be told cheaply)."""
    reason = get_backend(name).unavailable_reason()
    return f"the {name} backend {reason}" if reason and name == "reference" else reason


def available_backends() -> list[str]:
    """Backend names that can be compiled for here: reference where numpy is, the others where the page has the API."""
    return [n for n in BACKENDS if BACKENDS[n].unavailable_reason() is None]


def choose(name: str = "auto") -> tuple[str, str | None]:
    """(backend, why "auto" chose it — None when ``name`` names one). The one place ``auto`` is decided.

    "auto" takes ``$WEBINFER_BACKEND`` when set (``webinfer run --backend``); on the host, reference; in the
    page, webgpu on a hardware adapter, webnn when the adapter is a software fallback (SwiftShader: the
    browser's WebNN CPU path is far faster) or missing; else the first available of :data:`AUTO_ORDER`.
    """
    if name != "auto":
        get_backend(name)
        return name, None
    chosen = os.environ.get("WEBINFER_BACKEND", "").strip()
    if chosen and chosen != "auto":
        if chosen not in BACKENDS:
            raise BackendError(f"compile: WEBINFER_BACKEND={chosen!r} is not a backend; "
                               f"choose one of {', '.join(list(BACKENDS) + ['auto'])}")
        return chosen, f"WEBINFER_BACKEND={chosen}"
    if not in_browser():
        return "reference", "on the host only the reference backend runs"
    reasons = {c: unavailable_reason(c) for c in AUTO_ORDER if c in BACKENDS}
    if reasons.get("webgpu") is None:
        adapter = _adapter()
        if adapter is None:
            reasons["webgpu"] = "navigator.gpu.requestAdapter() gave no adapter"
        elif reasons.get("webnn") is None:
            if adapter["software"]:
                return "webnn", (f"the WebGPU adapter is software ({adapter['vendor']} {adapter['architecture']}, "
                                 "fallback), so WebNN runs faster")
            return "webgpu", f"a hardware WebGPU adapter ({adapter['vendor']} {adapter['architecture']})"
    for candidate, reason in reasons.items():
        if reason is None:
            return candidate, f"first available of {', '.join(AUTO_ORDER)}"
    raise BackendError("compile: backend='auto' found none that can run here: "
                       + "; ".join(f"{c}: {r}" for c, r in reasons.items()))


def _adapter() -> dict[str, Any] | None:
    from .. import ffi

    return ffi.webgpu_adapter_summary()


def resolve_backend(name: str) -> str:
    """A backend name from ``name``; "auto" follows :func:`choose`."""
    return choose(name)[0]


def page_report() -> dict[str, Any]:
    """What a page's backend picker shows: each backend that runs in a page (or is available here), whether it
    is available (else why not), a short note, and what ``auto`` picks and why. JSON-able."""
    adapter = None
    if in_browser() and "webgpu" in BACKENDS and unavailable_reason("webgpu") is None:
        adapter = _adapter()

    def reason_of(b: Backend) -> str | None:
        reason = unavailable_reason(b.name)
        if reason is None and "webgpu" in b.needs and in_browser() and adapter is None:
            return "navigator.gpu.requestAdapter() gave no adapter"
        return reason

    entries = []
    for b in BACKENDS.values():
        reason = reason_of(b)
        if reason is not None and not b.browser_only:
            continue  # a host backend the page cannot have (reference: no numpy) is not offered
        note = reason or b.summary
        if reason is None and "webgpu" in b.needs and adapter is not None:
            note = " ".join(filter(None, (adapter["vendor"], adapter["architecture"]))) or "WebGPU adapter"
            note += " (software)" if adapter["software"] else ""
        elif reason is None and b.parts:
            gaps = {p: reason_of(BACKENDS[p]) for p in b.parts if p in BACKENDS}
            note = " + ".join(BACKENDS[p].title for p in gaps)
            if any(gaps.values()):
                have = [BACKENDS[p].title for p, r in gaps.items() if r is None]
                note = f"{' + '.join(have) or 'nothing'} only; " + "; ".join(
                    f"{BACKENDS[p].title}: {r}" for p, r in gaps.items() if r)
        entries.append({"name": b.name, "title": b.title, "available": reason is None, "note": note})
    try:
        backend, why = choose("auto")
        auto: dict[str, Any] = {"backend": backend, "why": why}
    except BackendError as e:
        auto = {"backend": None, "why": str(e)}
    return {"backends": entries, "auto": auto, "webgpu_adapter": adapter}


def page_report_json() -> str:
    """:func:`page_report` as JSON text (what the pages' JS reads)."""
    return json.dumps(page_report())


def compile(graph: Graph, backend: str = "auto", **options: Any) -> Session:
    """Compile ``graph`` for ``backend`` (one of :func:`names`, or "auto")."""
    if not isinstance(graph, Graph):
        raise BackendError(f"compile: expected a webinfer Graph, got {type(graph).__name__}")
    try:
        name, why = choose(backend)
    except BackendError as e:
        if str(e).startswith("compile:"):
            raise
        raise BackendError(f"compile: {e}") from None
    desc = BACKENDS[name]
    if desc.browser_only and not in_browser():
        raise BackendError(
            f"compile: backend {name!r} runs only in the browser (Pyodide with WebGPU/WebNN); here, on the "
            f"host, use backend='reference', or run the script in a page with `webinfer run SCRIPT.py --backend {name}`"
        )
    try:
        factory = desc.session_class()
    except BackendError as e:
        raise BackendError(f"compile: backend {name!r} cannot be loaded here: {e.__cause__ or e}") from e
    session: Session = factory(graph, **options)
    session.chosen_by = why
    return session


__all__ = [
    "AUTO_ORDER", "BACKENDS", "BUILTIN", "Backend", "NodeDescs", "OpEntry", "Session", "available_backends", "choose",
    "compile", "get_backend", "names", "page_report", "page_report_json", "register_backend", "resolve_backend",
    "unavailable_reason",
]
