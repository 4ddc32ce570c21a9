"""The pinned browser-side artifacts webinfer needs, and fetching them without node or npm.

Pyodide's runtime and ``@sparticuz/chromium`` are npm tarballs, fetched from the npm registry over HTTPS
and checked against the ``integrity`` (sha512) that the checkout's ``package-lock.json`` records; the pure
``micropip`` and ``packaging`` wheels come from PyPI, checked against their sha256. npm's own cache
(``~/.npm/_cacache``, content-addressed by that same sha512) is used when it already holds a tarball, so a
machine that ran ``npm ci`` downloads nothing twice. Nothing here imports a heavy module.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NPM_REGISTRY = "https://registry.npmjs.org"
Log = Callable[[str], None]


class FetchError(RuntimeError):
    """A download failed or did not match its pinned hash; the message names the URL and what to do."""


@dataclass(frozen=True)
class NpmPackage:
    """One npm package pinned by version and ``integrity`` (as ``package-lock.json`` writes it)."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>"

    @property
    def tarball_url(self) -> str:
        """The registry's tarball URL (``@scope/name`` -> ``@scope/name/-/name-V.tgz``)."""
        return f"{NPM_REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def sha512(self) -> str:
        """The integrity's sha512 as hex."""
        algorithm, _, digest = self.integrity.partition("-")
        assert algorithm == "sha512", self.integrity
        return base64.b64decode(digest).hex()


@dataclass(frozen=True)
class PypiWheel:
    """One pure wheel from PyPI, pinned by file name and sha256."""

    name: str
    version: str
    sha256: str
    url: str

    @property
    def filename(self) -> str:
        """The wheel's file name (the last part of its URL)."""
        return self.url.rsplit("/", 1)[-1]


#: The Pyodide runtime (npm ``pyodide``): Python 3.14 in wasm. Same pin as the checkout's package-lock.json.
PYODIDE = NpmPackage(
    "pyodide",
    "314.0.7",
    "sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A==",
)
#: A Chromium with WebNN (TFLite) and WebGPU (SwiftShader) for Linux x86-64, brotli-compressed in the package.
SPARTICUZ = NpmPackage(
    "@sparticuz/chromium",
    "153.0.0",
    "sha512-jiGWqSvPMdu4+P9TilYqAR7yEGPEHINx+lCvE/NqNO/EHYzF/x1hUiI5T6ioVIt7dEy7n88byyT0vk+dnsgQwA==",
)
#: The pure wheels Pyodide needs to install webinfer, at the versions Pyodide 314.0.7's own lock pins.
PYODIDE_WHEELS = (
    PypiWheel(
        "micropip", "0.11.1", "768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3",
        "https://files.pythonhosted.org/packages/17/54/d737f98fe5da2fd3375de34e9231c56550eefdd33ae9b671a25070792430/"
        "micropip-0.11.1-py3-none-any.whl",
    ),
    PypiWheel(
        "packaging", "26.1", "5d9c0669c6285e491e0ced2eee587eaf67b670d94a19e94e3984a481aba6802f",
        "https://files.pythonhosted.org/packages/7a/c2/920ef838e2f0028c8262f16101ec09ebd5969864e5a64c4c05fad0617c56/"
        "packaging-26.1-py3-none-any.whl",
    ),
)


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class Progress:
    """Download progress (on stdout, among the other lines ``webinfer setup`` prints): one updating line on a
    terminal, else a line every 25%."""

    def __init__(self, label: str, total: int | None, stream: io.TextIOBase | None = None) -> None:
        self.label, self.total = label, total
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.next_mark = 25
        self.last = 0.0

    def update(self, done: int) -> None:
        """Report ``done`` bytes so far."""
        if not self.total:
            return
        percent = done * 100 // self.total
        now = time.monotonic()
        if self.tty and (now - self.last > 0.1 or done == self.total):
            self.last = now
            self.stream.write(f"\r  {self.label}: {percent:3d}% ({_megabytes(done)} of {_megabytes(self.total)})")
            if done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif not self.tty and percent >= self.next_mark:
            self.stream.write(f"  {self.label}: {percent}% ({_megabytes(done)} of {_megabytes(self.total)})\n")
            self.stream.flush()
            self.next_mark = percent // 25 * 25 + 25


def download(url: str, dest: Path, algorithm: str, digest: str, label: str = "", attempts: int = 3) -> Path:
    """Fetch ``url`` into ``dest`` (atomically: a ``.part`` file renamed at the end), checking its digest.

    Retries a dropped connection; a digest mismatch is a :class:`FetchError` at once (the file is removed).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + f".part{os.getpid()}")
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            hasher = hashlib.new(algorithm)
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                progress = Progress(label or dest.name, total)
                done = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    hasher.update(chunk)
                    done += len(chunk)
                    progress.update(done)
            break
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            error = exc
            part.unlink(missing_ok=True)
            time.sleep(1 + attempt)
    else:
        raise FetchError(f"could not download {url}: {error} (check the network or a proxy; "
                         "HTTPS_PROXY is honoured)") from None
    if hasher.hexdigest() != digest:
        part.unlink(missing_ok=True)
        raise FetchError(f"{url}: {algorithm} {hasher.hexdigest()[:16]}… does not match the pinned "
                         f"{digest[:16]}…; refusing it")
    os.replace(part, dest)
    return dest


def npm_cache_file(package: NpmPackage) -> Path | None:
    """npm's cached copy of ``package``'s tarball (``_cacache/content-v2/sha512/…``), when it holds one."""
    root = Path(os.environ.get("npm_config_cache") or Path.home() / ".npm") / "_cacache"
    digest = package.sha512
    path = root / "content-v2" / "sha512" / digest[:2] / digest[2:4] / digest[4:]
    return path if path.is_file() else None


def npm_tarball(package: NpmPackage, downloads: Path, say: Log) -> tuple[Path, bool]:
    """A verified tarball of ``package``: npm's cache, else ``downloads/``, else the registry.

    Returns the path and whether it is a temporary download (the caller removes it after unpacking).
    """
    cached = npm_cache_file(package)
    if cached is not None and file_digest(cached, "sha512") == package.sha512:
        say(f"  using npm's cached tarball {cached}")
        return cached, False
    dest = downloads / f"{package.name.replace('/', '+')}-{package.version}.tgz"
    say(f"  downloading {package.tarball_url}")
    download(package.tarball_url, dest, "sha512", package.sha512, label=dest.name)
    say(f"  sha512 matches the pin ({package.integrity[:20]}…)")
    return dest, True


def unpack_npm(tarball: Path, target: Path, members: Callable[[str], bool] | None = None) -> Path:
    """Unpack an npm tarball's ``package/`` into ``target`` (only the paths ``members`` accepts).

    Atomic: unpacked beside ``target``, a ``.complete`` marker written, then renamed into place.
    """
    staging = target.with_name(f"{target.name}.partial{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(tarball, "r:gz") as tar:
        chosen = []
        for member in tar.getmembers():
            if not member.name.startswith("package/") or not (member.isfile() or member.isdir()):
                continue
            relative = member.name.removeprefix("package/")
            if members is not None and not members(relative):
                continue
            member.name = relative
            chosen.append(member)
        tar.extractall(staging, members=chosen, filter="data")
    (staging / ".complete").write_text(tarball.name + "\n")
    if is_complete(target):  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        return target
    shutil.rmtree(target, ignore_errors=True)  # an interrupted unpack
    staging.rename(target)
    return target


def is_complete(target: Path) -> bool:
    """True when ``target`` was fully unpacked (its ``.complete`` marker exists)."""
    return (target / ".complete").is_file()


def pypi_wheel(wheel: PypiWheel, cache: Path, say: Log) -> Path:
    """The verified wheel in ``cache`` (downloaded from PyPI when missing or not matching its sha256)."""
    dest = cache / wheel.filename
    if dest.is_file() and file_digest(dest, "sha256") == wheel.sha256:
        return dest
    say(f"  downloading {wheel.url}")
    return download(wheel.url, dest, "sha256", wheel.sha256, label=wheel.filename)


__all__ = [
    "FetchError", "NpmPackage", "PYODIDE", "PYODIDE_WHEELS", "Progress", "PypiWheel", "SPARTICUZ", "download",
    "file_digest", "is_complete", "npm_cache_file", "npm_tarball", "pypi_wheel", "unpack_npm",
]
