"""``webinfer setup``: fetch what the browser side needs, once, saying what it does.

1. the Pyodide runtime (npm ``pyodide``, pinned with its sha512) into ``~/.cache/webinfer/pyodide-<v>/``,
   unless ``WEBINFER_PYODIDE`` or a checkout's ``node_modules/pyodide`` provides it;
2. a Chromium: an explicit one (``--browser``, ``WEBINFER_CHROMIUM``), a Playwright-managed one, or
   npm ``@sparticuz/chromium`` (WebNN and WebGPU; Linux x86-64) unpacked into the cache; then ``ldd``
   checks its system libraries (exit 3 when some are missing, with the command that installs them);
3. the pure wheels Pyodide needs (micropip, packaging; from PyPI, sha256 pinned), a wheel of this
   webinfer, and the Pyodide lock naming them (an installed webinfer: one folder per Python environment
   in the cache; a checkout: ``wheels/``).

Idempotent: what is there and verified is reused (npm's own cache too), so a second run downloads nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .cmdline import EXIT_FAILED, EXIT_HARNESS, Subparsers
from .fetch import PYODIDE, PYODIDE_WHEELS, SPARTICUZ, FetchError, Log, npm_tarball, pypi_wheel, unpack_npm
from .project import LOCK_NAME, SetupNeeded, cache_dir, checkout_root, find_pyodide, pyodide_cache

#: Files of the @sparticuz/chromium package that the unpacked browser needs.
SPARTICUZ_FILES = frozenset({"package.json", "bin/chromium.br", "bin/swiftshader.tar.br"})
EXIT_MISSING_LIBS = EXIT_HARNESS


class SetupError(RuntimeError):
    """A step cannot be done; the message says why and what to do instead."""


def setup_pyodide(say: Log) -> Path:
    """The Pyodide runtime folder: found (env, checkout, cache) or fetched into the cache."""
    try:
        found = find_pyodide(checkout_root())
    except SetupNeeded:
        found = None
    if found is not None:
        version = json.loads((found / "package.json").read_text())["version"]
        if version != PYODIDE.version:
            raise SetupError(f"{found} holds Pyodide {version}; webinfer pins {PYODIDE.version} (its micropip and "
                             "lock match that one): point WEBINFER_PYODIDE at that version, or unset it")
        where = "cached" if found == pyodide_cache() else "using"
        say(f"Pyodide {version}: {where} {found}")
        return found
    say(f"Pyodide {PYODIDE.version}: fetching npm {PYODIDE.name}@{PYODIDE.version}")
    tarball, temporary = npm_tarball(PYODIDE, cache_dir() / "downloads", say)
    target = unpack_npm(tarball, pyodide_cache())
    if temporary:
        tarball.unlink(missing_ok=True)
    say(f"  unpacked into {target}")
    return target


def _fetch_sparticuz(say: Log) -> Path:
    from .chromium import unpack_sparticuz

    say(f"Chromium: fetching npm {SPARTICUZ.name}@{SPARTICUZ.version} (WebNN on the CPU, WebGPU on SwiftShader)")
    tarball, temporary = npm_tarball(SPARTICUZ, cache_dir() / "downloads", say)
    with tempfile.TemporaryDirectory(prefix="webinfer-chromium-", dir=cache_dir()) as folder:
        package = unpack_npm(tarball, Path(folder) / "package", members=lambda name: name in SPARTICUZ_FILES)
        if temporary:
            tarball.unlink(missing_ok=True)
        say("  decompressing the browser (brotli) and its SwiftShader libraries")
        binary = unpack_sparticuz(package, cache_dir())
    say(f"  unpacked into {binary.parent}")
    return binary


def setup_chromium(explicit: str | None, say: Log) -> tuple[Path | None, list[str]]:
    """A Chromium (found, or @sparticuz/chromium fetched) and the system libraries it misses."""
    from .chromium import BrowserNotFound, find_chromium, missing_libraries

    try:
        found = find_chromium(explicit)
    except BrowserNotFound as exc:
        if explicit or os.environ.get("WEBINFER_CHROMIUM"):  # the path given is not a browser
            raise SetupError(str(exc)) from None
        found = None
    if found is not None and found.source != "system":
        say(f"Chromium: using {found.path} ({found.source})")
        binary = found.path
    elif sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64"):
        binary = _fetch_sparticuz(say)
    elif found is not None:
        say(f"Chromium: using the system's {found.path} (it may lack WebNN); no @sparticuz/chromium for "
            f"{sys.platform}/{platform.machine()}")
        binary = found.path
    else:
        raise SetupError(f"no Chromium to fetch for {sys.platform}/{platform.machine()} (@sparticuz/chromium is "
                         "Linux x86-64 only): run `python -m playwright install chromium`, or pass --browser PATH")
    missing = missing_libraries(binary) if shutil.which("ldd") else []
    return binary, missing


def setup_wheels(pyodide: Path, say: Log) -> Path:
    """The served wheels folder with micropip, packaging, webinfer and the lock; returns the lock's path."""
    from .lockfile import copy_pyodide_wheels, prepare_env_wheels, pypi_cache, write_lock
    from .project import Roots
    from .wheels import installed_wheel

    for wheel in PYODIDE_WHEELS:
        path = pypi_wheel(wheel, pypi_cache(), say)
        say(f"{wheel.name} {wheel.version} (for Pyodide): {path}")
    checkout = checkout_root()
    if checkout is None:
        folder = prepare_env_wheels(pyodide)
        lock = folder / LOCK_NAME
        wheel = json.loads(lock.read_text())["packages"]["webinfer"]["file_name"]
        say(f"webinfer: {folder / wheel} (a wheel of the installed package, {(folder / wheel).stat().st_size // 1000} "
            "kB; rebuilt whenever the installed files change)")
    else:
        folder = checkout / "wheels"
        folder.mkdir(exist_ok=True)
        copy_pyodide_wheels(folder)
        built = sorted(folder.glob("webinfer-*-py3-none-any.whl"))
        if not built:
            name, data = installed_wheel()
            (folder / name).write_bytes(data)
            built = [folder / name]
            say(f"webinfer: {built[0]} (zipped from {checkout / 'py' / 'webinfer'}; `make wheel` rebuilds it)")
        else:
            say(f"webinfer: {built[0]} (the checkout's; `make wheel` rebuilds it after a change under py/)")
        lock = write_lock(Roots.discover(checkout))
    say(f"lock: {lock}")
    return lock


def run_setup(browser: str | None = None, with_browser: bool = True, say: Log = print) -> int:
    """Every step; the exit code (0 ready, 3 Chromium lacks system libraries)."""
    start = time.perf_counter()
    cache_dir().mkdir(parents=True, exist_ok=True)
    say(f"webinfer setup: cache {cache_dir()}" + (f", checkout {checkout_root()}" if checkout_root() else ""))
    pyodide = setup_pyodide(say)
    missing: list[str] = []
    if with_browser:
        _, missing = setup_chromium(browser, say)
    setup_wheels(pyodide, say)
    if missing:
        say(f"Chromium needs system libraries that are missing: {' '.join(missing)}\n"
            "  install them (Debian/Ubuntu, as root): python -m playwright install-deps chromium")
        return EXIT_MISSING_LIBS
    say(f"ready in {time.perf_counter() - start:.1f} s. Try: webinfer devices · webinfer run SCRIPT.py "
        "[--wheel dist/PKG.whl] · pytest with the browser_py fixture")
    return 0


def _handler(args: argparse.Namespace) -> int:
    def say(text: str) -> None:
        print(text, flush=True)

    try:
        return run_setup(args.browser, with_browser=not args.no_browser, say=say)
    except (SetupError, SetupNeeded, FetchError, OSError) as exc:
        print(f"webinfer setup: {exc}", file=sys.stderr)
        return EXIT_FAILED


def register(subparsers: Subparsers) -> None:
    """``webinfer setup``: fetch Pyodide, a Chromium and the page's wheels (idempotent)."""
    parser = subparsers.add_parser(
        "setup",
        help="fetch the Pyodide runtime, a Chromium with WebNN/WebGPU and the page's wheels (once; idempotent)",
        description="Fetches the pinned Pyodide runtime and @sparticuz/chromium (npm registry, sha512 checked; "
        "npm's cache reused) into the user cache (WEBINFER_CACHE, else $XDG_CACHE_HOME/webinfer or "
        "~/.cache/webinfer), micropip and packaging (PyPI, sha256 checked), builds a wheel of this webinfer and "
        "the Pyodide lock. What is already there is reused. Exit 3: Chromium lacks system libraries (the "
        "command to install them is printed).",
    )
    parser.add_argument("--browser", metavar="PATH", help="use this Chromium (checked) instead of fetching one")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium step")
    parser.set_defaults(handler=_handler)


__all__ = ["SetupError", "register", "run_setup", "setup_chromium", "setup_pyodide", "setup_wheels"]
