"""Making an MLContext, and saying honestly which one we got.

The current WebNN spec takes ``{powerPreference, accelerated}``; Chromium (≤ 15x) still takes
``deviceType: "cpu" | "gpu" | "npu"``; both accept ``createContext(gpuDevice)``. We send both
spellings (WebIDL ignores keys a browser does not know) and record what was asked, what was sent,
what the context reports (``accelerated`` where the browser exposes it) and whether its op limits
equal a plain CPU context's — the only evidence a page has of where the work really runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendError
from .limits import Limits

DEVICE_TYPES = ("cpu", "gpu", "npu")
POWER_PREFERENCES = ("default", "high-performance", "low-power")


@dataclass(frozen=True)
class ContextRequest:
    """What the user asked for: a device type, spec options, or a context made from a GPUDevice."""

    device: str | None = None
    power_preference: str | None = None
    accelerated: bool | None = None
    gpu_device: bool = False  # createContext(gpuDevice): share the WebGPU device

    def __post_init__(self) -> None:
        if self.device is not None and self.device not in DEVICE_TYPES:
            raise BackendError(f"webnn: device {self.device!r} is not one of {', '.join(DEVICE_TYPES)}")
        if self.power_preference is not None and self.power_preference not in POWER_PREFERENCES:
            raise BackendError(
                f"webnn: power_preference {self.power_preference!r} is not one of {', '.join(POWER_PREFERENCES)}"
            )
        if self.accelerated is not None and not isinstance(self.accelerated, bool):
            raise BackendError(f"webnn: accelerated must be true or false, got {self.accelerated!r}")
        if self.device == "cpu" and self.accelerated:
            raise BackendError("webnn: device='cpu' and accelerated=True contradict each other")

    def options(self) -> dict[str, Any]:
        """The MLContextOptions to send: Chromium's deviceType plus the current spec's keys."""
        opts: dict[str, Any] = {}
        if self.device is not None:
            opts["deviceType"] = self.device
        accelerated = self.accelerated
        if accelerated is None and self.device is not None:
            accelerated = self.device != "cpu"
        if accelerated is not None:
            opts["accelerated"] = accelerated
        power = self.power_preference
        if power is None and self.device == "npu":
            power = "low-power"  # the spec's way to hint at an NPU
        if power is not None:
            opts["powerPreference"] = power
        return opts

    def asked(self) -> dict[str, Any]:
        d = {"device": self.device, "power_preference": self.power_preference, "accelerated": self.accelerated,
             "gpu_device": self.gpu_device or None}
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class ContextReport:
    """What ``sess.info()['device']`` says about the context."""

    request: ContextRequest
    sent: Any  # the options dict, or "GPUDevice"
    accelerated: bool | None  # MLContext.accelerated, where the browser exposes it
    limits: Limits
    cpu_limits_equal: bool | None  # None: not compared (a cpu context was asked)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        req = self.request
        d: dict[str, Any] = {
            "type": "webnn",
            "asked": req.asked() or {"device": "default"},
            "created_with": self.sent,
            "context_accelerated": self.accelerated,
            "preferred_input_layout": self.limits.preferred_input_layout,
            "max_tensor_byte_length": self.limits.max_tensor_byte_length,
            "ops_in_limits": sum(1 for v in self.limits.raw.values() if isinstance(v, dict)) - 3,
            "int64": self.limits.supports_int64(),
            "features": {k: v or "works" for k, v in sorted(self.limits.features.items())},
            "same_limits_as_cpu_context": self.cpu_limits_equal,
            "note": self.note(),
        }
        d.update(self.extra)
        return d

    def device_label(self) -> str:
        """A short label for output tensors' ``.device``: what was asked, qualified by the evidence."""
        req = self.request
        asked = req.device or ("webgpu device" if req.gpu_device else "default")
        if self.accelerated is not None:
            if self.accelerated == (asked != "cpu"):
                return asked
            return f"{asked} asked, {'accelerated' if self.accelerated else 'cpu'}"
        if asked not in ("cpu", "default") and self.cpu_limits_equal:
            return f"{asked} asked, likely cpu"
        return asked

    def note(self) -> str:
        """One honest sentence on where the work runs."""
        req = self.request
        wanted = "a context from the WebGPU device" if req.gpu_device else (
            f"deviceType {req.device!r}" if req.device else "the default context")
        if self.accelerated is not None:
            where = "an accelerated device" if self.accelerated else "the CPU"
            return (f"asked for {wanted}; the browser reports "
                    f"MLContext.accelerated={str(self.accelerated).lower()} ({where})")
        if req.device in (None, "cpu") and not req.gpu_device:
            return f"asked for {wanted}; the browser does not say which device backs it"
        if self.cpu_limits_equal:
            return (f"asked for {wanted}; the browser does not say which device backs it, and its "
                    "opSupportLimits() are identical to a cpu context's, so on this build it likely runs on "
                    "the same CPU backend (not a GPU or NPU)")
        return (f"asked for {wanted}; the browser does not say which device backs it; its opSupportLimits() "
                "differ from a cpu context's, so it is a different backend")


def limits_from_json(text: str) -> Limits:
    """Limits from the JSON the runtime's ``limitsJSON(context)`` returns."""
    try:
        return Limits(json.loads(text))
    except ValueError as e:
        raise BackendError(f"webnn: opSupportLimits() gave unreadable JSON: {e}") from None


__all__ = ["ContextReport", "ContextRequest", "DEVICE_TYPES", "POWER_PREFERENCES", "limits_from_json"]
