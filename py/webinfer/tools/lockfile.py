"""Write the Pyodide lock file served beside the wheels.

Pyodide's own lock names wheels on a CDN this machine cannot reach, with hashes that differ from
PyPI's copies; Chromium's subresource-integrity check then refuses them without raising. So the
served lock keeps only the packages we serve (from ``wheels/``), with their sha256 recomputed, and
adds webinfer's own wheel. ``python -m webinfer.tools.lockfile`` runs it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pyodide_lock import PackageSpec, PyodideLockSpec
from pyodide_lock.spec import InfoSpec
from pyodide_lock.utils import add_wheels_to_spec, update_package_sha256

from webinfer.tools.project import LOCK_NAME, Roots

#: Packages taken from Pyodide's lock (their pure wheels come from PyPI via ``pip download``).
PYODIDE_PACKAGES = ("micropip", "packaging")


def _one_wheel(wheels: Path, name: str) -> Path:
    found = sorted(wheels.glob(f"{name}-*-py3-none-any.whl"))
    if len(found) != 1:
        names = [p.name for p in found] or "none"
        raise FileNotFoundError(f"expected one {name} wheel in {wheels}, found {names}")
    return found[0]


def _known_fields(entry: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    # Pyodide 314's lock has keys (``tool``) that pyodide-lock 0.1 (the last for Python 3.11)
    # does not model; they carry nothing Pyodide needs at load time.
    return {key: value for key, value in entry.items() if key in fields}


def build_lock(pyodide_lock: Path, wheels: Path, pyodide_version: str) -> PyodideLockSpec:
    """The lock for what ``wheels`` holds: Pyodide's entries with fresh sha256, plus webinfer."""
    data = json.loads(pyodide_lock.read_text())
    info = {"version": pyodide_version, **data["info"]}
    packages = {}
    for name in PYODIDE_PACKAGES:
        spec = PackageSpec(**_known_fields(data["packages"][name], PackageSpec.model_fields))
        wheel = wheels / spec.file_name
        if not wheel.is_file():
            raise FileNotFoundError(
                f"{wheel} is missing: Pyodide's lock pins {name} {spec.version} "
                "(run `make setup`, which downloads it with pip)"
            )
        packages[name] = update_package_sha256(spec, wheel)
    base = PyodideLockSpec(info=InfoSpec(**_known_fields(info, InfoSpec.model_fields)), packages=packages)
    return add_wheels_to_spec(base, [_one_wheel(wheels, "webinfer")], base_path=wheels)


def write_lock(roots: Roots) -> Path:
    """Write ``wheels/pyodide-lock.json`` for ``roots`` and return its path."""
    spec = build_lock(roots.pyodide / LOCK_NAME, roots.wheels, roots.pyodide_version())
    out = roots.wheels / LOCK_NAME
    spec.to_json(out, indent=1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: write the lock for the checkout (or ``--root``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="checkout root (default: this checkout)")
    args = parser.parse_args(argv)
    out = write_lock(Roots.discover(args.root))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
