"""What a result says about where it was measured: the machine and its load, the browser, the wheel."""

from __future__ import annotations

import hashlib
import os
import platform
import time
from typing import Any


def loadavg() -> tuple[float, ...]:
    """The 1, 5 and 15 minute load averages (empty where the platform has none)."""
    try:
        return os.getloadavg()
    except OSError:
        return ()


def machine_info(load_start: tuple[float, ...]) -> dict[str, Any]:
    """CPUs, platform and the load average at the start and now (the machine is shared: say how busy it was)."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in loadavg()],
    }


def wheel_info() -> dict[str, Any] | None:
    """Which webinfer wheel the pages install (file, sha256 prefix, build time): the code being measured."""
    from ..project import Roots

    roots = Roots.discover()
    try:
        path = roots.wheels / roots.webinfer_wheel()
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(path.stat().st_mtime))
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()[:16], "built_utc": built}


def browser_info(browser: Any, profile: str) -> dict[str, Any]:
    """The browser's version and path and the launch profile (swiftshader: WebGPU is SwiftShader, a CPU)."""
    return {"version": browser.version, "path": str(browser.path), "profile": profile}


__all__ = ["browser_info", "loadavg", "machine_info", "wheel_info"]
