"""Where the project's served files live: web pages, the Pyodide dist, wheels + lock, models."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = "pyodide-lock.json"
#: The pages (HTML, JS, CSS and the pages' Python) ship inside the package.
WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def project_root() -> Path:
    """The checkout that holds ``node_modules/`` and ``wheels/``.

    ``WEBINFER_ROOT`` wins; otherwise the checkout this package was installed from (editable
    install), else the current directory.
    """
    env = os.environ.get("WEBINFER_ROOT")
    if env:
        return Path(env).resolve()
    source_tree = Path(__file__).resolve().parents[3]
    if (source_tree / "py" / "webinfer").is_dir() and (source_tree / "pyproject.toml").is_file():
        return source_tree
    return Path.cwd().resolve()


def cache_dir() -> Path:
    """Per-user cache for unpacked browsers (``WEBINFER_CACHE`` or ``~/.cache/webinfer``)."""
    env = os.environ.get("WEBINFER_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "webinfer"


@dataclass(frozen=True)
class Roots:
    """The directories the server exposes; every path is served read-only."""

    web: Path
    pyodide: Path
    wheels: Path
    models: Path | None = None

    @classmethod
    def discover(cls, root: Path | None = None, models: Path | None = None) -> Roots:
        """Roots of a checkout laid out as ``make setup`` leaves it."""
        root = root or project_root()
        models = models or root / "models"
        return cls(
            web=WEB_DIR,
            pyodide=root / "node_modules" / "pyodide",
            wheels=root / "wheels",
            models=models if models.is_dir() else None,
        )

    def pyodide_version(self) -> str:
        """The version of the Pyodide dist, from its ``package.json``."""
        try:
            data = json.loads((self.pyodide / "package.json").read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no Pyodide dist at {self.pyodide} (run `make setup`, which runs `npm ci`)"
            ) from None
        return str(data["version"])

    def webinfer_wheel(self) -> str:
        """File name of the webinfer wheel listed in the served lock file."""
        lock = self.wheels / LOCK_NAME
        try:
            data = json.loads(lock.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no lock file at {lock} (run `make wheel`)") from None
        try:
            return str(data["packages"]["webinfer"]["file_name"])
        except KeyError:
            raise ValueError(f"{lock} has no 'webinfer' entry (run `make wheel`)") from None
