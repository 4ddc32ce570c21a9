"""What the pages say ran a model: one line from a session's ``info()`` (the backend's own device report).

Shared by the pages' Python (demo.py, classify.py) and ``webinfer conformance``'s device line; runs in Pyodide
(imported from the installed wheel, ``webinfer.web.describe``) and on the host.
"""

from __future__ import annotations

from typing import Any


def device_summary(info: dict[str, Any]) -> str:
    """One line saying what ran a session, from its ``info()`` (the backend's own device report)."""
    return describe_device(info.get("backend"), info.get("device"))


def describe_device(backend: Any, device: Any) -> str:
    """One line for ``info()["device"]`` of ``backend`` (hybrid: its parts joined by " + ")."""
    if not isinstance(device, dict):
        return str(device)
    if backend == "hybrid":
        return " + ".join(describe_device(k, v) for k, v in device.items() if v) or "hybrid"
    if backend == "webnn" or device.get("type") == "webnn":
        asked = device.get("created_with") or device.get("asked") or {}
        how = asked if isinstance(asked, str) else ", ".join(f"{k}={v}" for k, v in asked.items()) or "default"
        text = f"WebNN context ({how}), {device.get('ops_in_limits', '?')} ops"
        if device.get("same_limits_as_cpu_context"):
            text += "; same limits as the CPU context: likely the browser's CPU backend"
        return text
    adapter: dict[str, Any] = device["adapter"] if isinstance(device.get("adapter"), dict) else {}
    words = [str(adapter[k]) for k in ("vendor", "architecture", "description", "device") if adapter.get(k)]
    name = " ".join(dict.fromkeys(words)) or str(device.get("name") or device.get("type") or "unknown")
    if device.get("is_fallback_adapter") or adapter.get("isFallbackAdapter"):
        name += " (software fallback adapter: WebGPU on the CPU)"
    return f"WebGPU adapter {name}"


__all__ = ["describe_device", "device_summary"]
