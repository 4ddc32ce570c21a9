"""Where the served files live: the pages, the Pyodide runtime, the wheels + lock, models.

Two layouts, found without configuration:

- a **checkout** (``make setup``; webinfer installed editable from ``py/``): ``node_modules/pyodide``
  from ``npm ci``, ``wheels/`` built by ``make wheel``;
- an **installed** webinfer (``pip install webinfer[host]``, then ``webinfer setup``): the Pyodide runtime
  in the user cache (``~/.cache/webinfer/pyodide-<version>/``), and per Python environment a folder of
  wheels + lock (``~/.cache/webinfer/envs/<key>/``) holding a wheel rebuilt from the installed package
  (refreshed whenever the installed files change).

The pages ship inside the package (:data:`WEB_DIR`). Pyodide is looked for in this order:
``WEBINFER_PYODIDE`` (a folder with ``pyodide.mjs``), the checkout's ``node_modules/pyodide``, the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from webinfer.tools.fetch import PYODIDE, is_complete

LOCK_NAME = "pyodide-lock.json"
#: The pages (HTML, JS, CSS and the pages' Python) ship inside the package.
WEB_DIR = Path(__file__).resolve().parents[1] / "web"
SETUP_HINT = "run `webinfer setup`"


class SetupNeeded(FileNotFoundError):
    """Something ``webinfer setup`` (or ``make setup`` in a checkout) provides is missing; the message says what
    and which command to run."""


def checkout_root() -> Path | None:
    """The checkout this package runs from (``WEBINFER_ROOT`` wins), or None for an installed package."""
    env = os.environ.get("WEBINFER_ROOT")
    if env:
        return Path(env).resolve()
    source_tree = Path(__file__).resolve().parents[3]
    if (source_tree / "py" / "webinfer").is_dir() and (source_tree / "pyproject.toml").is_file():
        return source_tree
    return None


def project_root() -> Path:
    """The checkout, or (installed) the current directory: where ``models/`` and ``artifacts/`` are looked for."""
    return checkout_root() or Path.cwd().resolve()


def cache_dir() -> Path:
    """Per-user cache: ``WEBINFER_CACHE``, else ``$XDG_CACHE_HOME/webinfer``, else ``~/.cache/webinfer``."""
    env = os.environ.get("WEBINFER_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "webinfer"


def pyodide_cache() -> Path:
    """Where ``webinfer setup`` unpacks the pinned Pyodide runtime."""
    return cache_dir() / f"pyodide-{PYODIDE.version}"


def env_wheels_dir() -> Path:
    """The wheels + lock folder of this Python environment (installed layout), keyed by ``sys.prefix``."""
    key = hashlib.sha256(os.path.realpath(sys.prefix).encode()).hexdigest()[:16]
    return cache_dir() / "envs" / key


def setup_command() -> str:
    """What to run to set up: ``make setup`` in a checkout, ``webinfer setup`` otherwise."""
    return "run `make setup` (or `webinfer setup`)" if checkout_root() else SETUP_HINT


def find_pyodide(checkout: Path | None = None) -> Path:
    """The Pyodide runtime folder, in the module's search order; :class:`SetupNeeded` naming every place tried."""
    env = os.environ.get("WEBINFER_PYODIDE")
    if env:
        if not (Path(env) / "pyodide.mjs").is_file():
            raise SetupNeeded(f"WEBINFER_PYODIDE={env} is not a Pyodide runtime folder (no pyodide.mjs in it)")
        return Path(env)
    tried = []
    if checkout is not None:
        modules = checkout / "node_modules" / "pyodide"
        if (modules / "pyodide.mjs").is_file():
            return modules
        tried.append(str(modules))
    cached = pyodide_cache()
    if is_complete(cached):
        return cached
    tried.append(str(cached))
    raise SetupNeeded(f"no Pyodide runtime (looked in {', '.join(tried)}; WEBINFER_PYODIDE unset): {setup_command()}")


@dataclass(frozen=True)
class Roots:
    """The directories the server exposes (every path read-only), and the user's packages the pages load."""

    web: Path
    pyodide: Path
    wheels: Path
    models: Path | None = None
    #: Lock entries (the user's own wheels, ``--wheel``) every page loads after webinfer.
    packages: tuple[str, ...] = ()

    @classmethod
    def discover(cls, root: Path | None = None, models: Path | None = None) -> Roots:
        """The roots of this checkout (``root``) or this installed webinfer; :class:`SetupNeeded` when not set up.

        Installed: the environment's wheel folder is (re)built here when the installed files changed.
        """
        checkout = root or checkout_root()
        pyodide = find_pyodide(checkout)
        if checkout is not None:
            wheels = checkout / "wheels"
        else:
            from webinfer.tools.lockfile import prepare_env_wheels

            wheels = prepare_env_wheels(pyodide)
        models = models or (checkout or Path.cwd().resolve()) / "models"
        return cls(web=WEB_DIR, pyodide=pyodide, wheels=wheels, models=models if models.is_dir() else None)

    def pyodide_version(self) -> str:
        """The version of the Pyodide dist, from its ``package.json``."""
        try:
            data = json.loads((self.pyodide / "package.json").read_text())
        except FileNotFoundError:
            raise SetupNeeded(f"no Pyodide runtime at {self.pyodide}: {setup_command()}") from None
        return str(data["version"])

    def webinfer_wheel(self) -> str:
        """File name of the webinfer wheel listed in the served lock file."""
        lock = self.wheels / LOCK_NAME
        try:
            data = json.loads(lock.read_text())
        except FileNotFoundError:
            raise SetupNeeded(f"no lock file at {lock}: {setup_command()}") from None
        try:
            return str(data["packages"]["webinfer"]["file_name"])
        except KeyError:
            raise ValueError(f"{lock} has no 'webinfer' entry: {setup_command()}") from None
