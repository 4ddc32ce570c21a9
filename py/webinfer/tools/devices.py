"""``webinfer devices``: what the browser offers (isolation, JSPI, WebGPU adapter, WebNN contexts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webinfer.tools.harness import Browser, HarnessTimeout

PROBE = "ms => import('/devices.mjs').then(m => m.probe(ms))"


def probe_devices(browser: Browser, timeout: float = 60.0) -> dict[str, Any]:
    """Run ``webinfer/web/devices.mjs`` in a fresh tab of ``browser``; the report as a dict."""
    page = browser.open_blank()
    try:
        # Each browser call is bounded in the page; this bounds the whole probe.
        page.set_default_timeout(timeout * 1000)
        try:
            report: dict[str, Any] = page.evaluate(PROBE, int(timeout * 1000 / 4))
        except Exception as exc:  # playwright raises its own Error for a page that died
            raise HarnessTimeout(f"probing devices failed or timed out after {timeout:g} s: {exc}") from exc
    finally:
        page.close()
    assert browser.chromium is not None
    return {
        "browser": {
            "path": str(browser.chromium.path),
            "source": browser.chromium.source,
            "version": browser.version,
            "profile": browser.profile,
        },
        **report,
    }


def _context_line(name: str, context: dict[str, Any]) -> str:
    if not context.get("created"):
        return f"  {name:<9} not created: {context.get('error', '?')}"
    limits = context["limits"]
    size = limits.get("maxTensorByteLength")
    size_text = f"{size / 2**30:g} GiB" if size else "?"
    return (
        f"  {name:<9} created: {limits['opCount']} ops, preferredInputLayout "
        f"{limits.get('preferredInputLayout')}, maxTensorByteLength {size_text}"
    )


def format_report(report: dict[str, Any]) -> str:
    """The report as a few human-readable lines."""
    browser = report["browser"]
    lines = [
        f"browser: {browser['version']} ({browser['source']}) {browser['path']}",
        f"profile: {browser['profile']}",
        f"crossOriginIsolated: {report['crossOriginIsolated']}   JSPI: {report['jspi']}",
    ]
    gpu = report["webgpu"]
    if gpu.get("available"):
        adapter = gpu["adapter"]
        name = " ".join(
            part for part in (adapter["vendor"], adapter["architecture"], adapter["description"]) if part
        )
        lines.append(f"WebGPU: {name or '(no adapter info)'}; fallback adapter: {adapter['isFallbackAdapter']}")
        lines.append(f"  features: {', '.join(gpu['features']) or '(none)'}")
        lines.append("  limits: " + ", ".join(f"{k} {v}" for k, v in gpu["limits"].items()))
    else:
        lines.append(f"WebGPU: unavailable: {gpu.get('error')}")
    webnn = report["webnn"]
    if webnn.get("error"):
        lines.append(f"WebNN: unavailable: {webnn['error']}")
    else:
        lines.append("WebNN contexts:")
        lines.extend(_context_line(name, ctx) for name, ctx in webnn["contexts"].items())
    return "\n".join(lines)


def page_device(runner: Callable[[str], Any], backend: str) -> str:
    """What runs ``backend`` in the page ("WebGPU adapter google swiftshader ..."), from a one-op session's info."""
    try:
        return str(runner(DEVICE_PROBE.format(backend=backend)))
    except Exception as e:  # a report still stands without a device name
        return f"browser (device unknown: {type(e).__name__})"


DEVICE_PROBE = """
import webinfer as wi
from webinfer.web.describe import device_summary as _summary
_g = wi.GraphBuilder(); _x = _g.input("x", "float32", [1])
_s = wi.compile(_g.build({{"y": _g.identity(_x)}}), backend={backend!r})
_d = _summary(_s.info()); _s.close()
_d
"""
