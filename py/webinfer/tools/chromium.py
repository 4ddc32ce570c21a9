"""Find a Chromium to drive, unpack the npm ``@sparticuz/chromium`` one, and the launch flags.

Search order (DESIGN.md): an explicit path or ``WEBINFER_CHROMIUM``; a Playwright-managed
Chromium; a checkout's ``node_modules/@sparticuz/chromium`` (brotli-compressed in the package,
unpacked once into the cache dir with its SwiftShader libraries beside the binary); the same
Chromium already unpacked in the cache (``webinfer setup`` puts it there); the system ``chromium``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import brotli

from webinfer.tools.fetch import SPARTICUZ, is_complete
from webinfer.tools.project import cache_dir, checkout_root

PROFILES = ("swiftshader", "hardware")

COMMON_FLAGS = (
    "--no-sandbox",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan,WebMachineLearningNeuralNetwork",
)

PROFILE_FLAGS = {
    # CPU-only machines: WebGPU on SwiftShader (Vulkan on the CPU), WebNN on the CPU backend.
    "swiftshader": ("--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"),
    # A real GPU/NPU: let Chromium pick the hardware adapter (Vulkan on Linux, ANGLE elsewhere).
    "hardware": ("--ignore-gpu-blocklist", "--enable-gpu-rasterization"),
}

SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserNotFound(RuntimeError):
    """No usable Chromium was found; the message lists every place that was tried."""


@dataclass(frozen=True)
class Chromium:
    """A Chromium executable and where it was found."""

    path: Path
    source: str  # "explicit", "env", "playwright", "sparticuz" (node_modules or the cache) or "system"


def launch_flags(profile: str) -> list[str]:
    """Command-line flags for ``profile`` (``swiftshader`` or ``hardware``)."""
    if profile not in PROFILE_FLAGS:
        raise ValueError(f"unknown browser profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return [*COMMON_FLAGS, *PROFILE_FLAGS[profile]]


def sparticuz_package(root: Path | None = None) -> Path | None:
    """Where ``npm ci`` puts ``@sparticuz/chromium`` in the checkout ``root`` (None: no checkout)."""
    root = root or checkout_root()
    return root / "node_modules" / "@sparticuz" / "chromium" if root is not None else None


def sparticuz_cache(cache: Path | None = None) -> Path:
    """Where the pinned ``@sparticuz/chromium`` is unpacked (from node_modules, or by ``webinfer setup``)."""
    return (cache or cache_dir()) / f"chromium-{SPARTICUZ.version}"


def unpack_sparticuz(package: Path, cache: Path | None = None) -> Path:
    """Unpack the package's Chromium and SwiftShader once; return the binary's path.

    The unpacked tree is keyed by the package version; a ``.complete`` marker is written last,
    so an interrupted unpack is redone rather than used.
    """
    version = json.loads((package / "package.json").read_text())["version"]
    target = (cache or cache_dir()) / f"chromium-{version}"
    binary = target / "chromium"
    if is_complete(target) and binary.is_file():
        return binary
    staging = target.with_name(f"{target.name}.partial{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    decompressor = brotli.Decompressor()
    with (package / "bin" / "chromium.br").open("rb") as src, (staging / "chromium").open("wb") as out:
        while chunk := src.read(1 << 20):
            out.write(decompressor.process(chunk))
    (staging / "chromium").chmod(0o755)
    libs = brotli.decompress((package / "bin" / "swiftshader.tar.br").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(libs)) as tar:
        tar.extractall(staging, filter="data")
    (staging / ".complete").write_text(version + "\n")
    if is_complete(target) and binary.is_file():  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        return binary
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return binary


def playwright_managed() -> str | None:
    """Playwright's own Chromium path (it may not be installed: offline, it usually is not)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        return pw.chromium.executable_path


def find_chromium(
    explicit: str | os.PathLike[str] | None = None,
    root: Path | None = None,
    managed: str | None = None,
) -> Chromium:
    """The first Chromium in the DESIGN.md order; raises :class:`BrowserNotFound`.

    ``managed`` is Playwright's ``chromium.executable_path`` when the caller already runs
    Playwright (saves starting its driver once more); otherwise it is looked up.
    """
    tried: list[str] = []
    for value, source in ((explicit, "explicit"), (os.environ.get("WEBINFER_CHROMIUM"), "env")):
        if value:
            path = Path(value)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise BrowserNotFound(f"{source} browser path {path} is not an executable file")
            return Chromium(path, source)
    managed = managed if managed is not None else playwright_managed()
    if managed and Path(managed).is_file():
        return Chromium(Path(managed), "playwright")
    tried.append("a Playwright-managed Chromium (`playwright install chromium`)")
    package = sparticuz_package(root)
    if package is not None:
        if (package / "bin" / "chromium.br").is_file():
            return Chromium(unpack_sparticuz(package), "sparticuz")
        tried.append(f"{package} (run `npm ci`)")
    cached = sparticuz_cache()
    if is_complete(cached) and (cached / "chromium").is_file():
        return Chromium(cached / "chromium", "sparticuz")
    tried.append(f"{cached} (@sparticuz/chromium {SPARTICUZ.version}, unpacked by `webinfer setup`)")
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return Chromium(Path(found), "system")
    tried.append("system " + "/".join(SYSTEM_NAMES) + " on PATH")
    raise BrowserNotFound(
        "no Chromium found; tried --browser/WEBINFER_CHROMIUM (unset), " + "; ".join(tried)
        + ". Run `webinfer setup` (it fetches @sparticuz/chromium, with WebNN and WebGPU), or pass --browser PATH"
    )


def missing_libraries(binary: Path) -> list[str]:
    """Shared libraries ``ldd`` reports as not found for ``binary`` (empty when all resolve)."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if "not found" in line]


def main(argv: list[str] | None = None) -> int:
    """``python -m webinfer.tools.chromium [--check-libs]``: print the Chromium found."""
    import argparse

    parser = argparse.ArgumentParser(description="find (and unpack) the Chromium the harness uses")
    parser.add_argument("--browser", help="explicit Chromium path")
    parser.add_argument(
        "--check-libs", action="store_true", help="exit 3 when ldd finds missing libraries"
    )
    args = parser.parse_args(argv)
    chromium = find_chromium(args.browser)
    print(chromium.path)
    if args.check_libs:
        missing = missing_libraries(chromium.path)
        if missing:
            print("missing libraries: " + " ".join(missing))
            return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
