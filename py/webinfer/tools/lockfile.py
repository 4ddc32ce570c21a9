"""The wheels folder the server serves at ``/wheels/``, and its Pyodide lock file.

Pyodide's own lock names wheels on a CDN this machine cannot reach, with hashes that differ from
PyPI's copies; Chromium's subresource-integrity check then refuses them without raising. So the
served lock keeps only the packages we serve, with their sha256 recomputed, and adds webinfer's own
wheel, plus the user's wheels (``--wheel``) when there are any, so their requirements resolve inside
the lock. Three folders get one:

- a checkout's ``wheels/`` (``make wheel`` builds webinfer's wheel; ``python -m webinfer.tools.lockfile``
  or ``webinfer setup`` writes the lock);
- an installed webinfer's environment folder in the cache (:func:`prepare_env_wheels`);
- a temporary folder per browser or server given the user's wheels (:func:`stage_wheels`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyodide_lock import PackageSpec, PyodideLockSpec
from pyodide_lock.spec import InfoSpec
from pyodide_lock.utils import add_wheels_to_spec, update_package_sha256

from webinfer.tools.fetch import PYODIDE_WHEELS, file_digest
from webinfer.tools.project import LOCK_NAME, Roots, SetupNeeded, cache_dir, env_wheels_dir, setup_command
from webinfer.tools.wheels import WheelError, WheelName, installed_wheel

#: Packages taken from Pyodide's lock (their pure wheels come from PyPI, pinned in webinfer.tools.fetch).
PYODIDE_PACKAGES = tuple(wheel.name for wheel in PYODIDE_WHEELS)


def pypi_cache() -> Path:
    """Where ``webinfer setup`` keeps the pure wheels it downloaded from PyPI."""
    return cache_dir() / "pypi"


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
            raise SetupNeeded(f"{wheel} is missing: Pyodide's lock pins {name} {spec.version} ({setup_command()}, "
                              "which downloads it from PyPI)")
        packages[name] = update_package_sha256(spec, wheel)
    base = PyodideLockSpec(info=InfoSpec(**_known_fields(info, InfoSpec.model_fields)), packages=packages)
    return add_wheels_to_spec(base, [_one_wheel(wheels, "webinfer")], base_path=wheels)


def _write_atomic(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}")
    part.write_bytes(data)
    os.replace(part, path)


def _write_spec(spec: PyodideLockSpec, path: Path) -> Path:
    part = path.with_name(f".{path.name}.{os.getpid()}")
    spec.to_json(part, indent=1)
    os.replace(part, path)
    return path


def write_lock(roots: Roots) -> Path:
    """Write ``pyodide-lock.json`` into ``roots.wheels`` and return its path."""
    spec = build_lock(roots.pyodide / LOCK_NAME, roots.wheels, roots.pyodide_version())
    return _write_spec(spec, roots.wheels / LOCK_NAME)


def copy_pyodide_wheels(dest: Path) -> list[Path]:
    """Copy the pinned pure wheels (micropip, packaging) from the PyPI cache into ``dest`` when not there yet."""
    copied = []
    for wheel in PYODIDE_WHEELS:
        target = dest / wheel.filename
        if target.is_file() and file_digest(target, "sha256") == wheel.sha256:
            continue
        source = pypi_cache() / wheel.filename
        if not source.is_file() or file_digest(source, "sha256") != wheel.sha256:
            raise SetupNeeded(f"{wheel.filename} (for Pyodide) is not in {pypi_cache()}: {setup_command()}")
        shutil.copyfile(source, target)
        copied.append(target)
    return copied


def _lock_entry(lock: Path, name: str) -> dict[str, Any] | None:
    try:
        entry: dict[str, Any] = json.loads(lock.read_text())["packages"][name]
        return entry
    except (OSError, ValueError, KeyError):
        return None


def prepare_env_wheels(pyodide: Path) -> Path:
    """This environment's served wheels folder (installed layout), brought up to date; returns its path.

    Copies micropip and packaging from the PyPI cache, rebuilds webinfer's wheel from the installed files
    (:func:`webinfer.tools.wheels.installed_wheel`, ~0.1 s) and rewrites the lock only when that wheel's
    sha256 or the Pyodide version changed. Concurrent callers write the same bytes (atomic replaces).
    """
    dest = env_wheels_dir()
    dest.mkdir(parents=True, exist_ok=True)
    copied = copy_pyodide_wheels(dest)
    name, data = installed_wheel()
    digest = hashlib.sha256(data).hexdigest()
    wheel = dest / name
    lock = dest / LOCK_NAME
    entry = _lock_entry(lock, "webinfer")
    version = json.loads((pyodide / "package.json").read_text())["version"]
    current = (entry is not None and entry.get("file_name") == name and entry.get("sha256") == digest
               and json.loads(lock.read_text())["info"].get("version") == version)
    if current and not copied and wheel.is_file() and file_digest(wheel, "sha256") == digest:
        return dest
    for old in dest.glob("webinfer-*.whl"):
        if old.name != name:
            old.unlink(missing_ok=True)
    _write_atomic(wheel, data)
    _write_spec(build_lock(pyodide / LOCK_NAME, dest, version), lock)
    about = {"python": sys.executable, "prefix": sys.prefix, "webinfer": name}
    (dest / "environment.json").write_text(json.dumps(about, indent=1) + "\n")
    return dest


def stage_wheels(roots: Roots, wheels: Sequence[Path], dest: Path) -> Roots:
    """``roots`` serving ``dest``: its wheels, the user's ``wheels`` (checked pure) and a lock naming them all.

    The user's requirements must resolve inside the lock (webinfer, micropip, packaging, or another wheel
    given); a :class:`~webinfer.tools.wheels.WheelError` names the one that does not.
    """
    lock = roots.wheels / LOCK_NAME
    base = PyodideLockSpec.from_json(lock) if lock.is_file() else None
    if base is None:
        raise SetupNeeded(f"no lock file at {lock}: {setup_command()}")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in base.packages.values():
        shutil.copyfile(roots.wheels / entry.file_name, dest / entry.file_name)
    served = {WheelName.parse(entry.file_name).name.lower().replace("_", "-") for entry in base.packages.values()}
    copies = []
    for path in wheels:
        project = WheelName.parse(path.name).name.lower().replace("_", "-")
        if project in served:
            raise WheelError(f"{path.name}: {project} is served already (webinfer's runtime); leave it out")
        copies.append(Path(shutil.copyfile(path, dest / path.name)))
    try:
        spec = add_wheels_to_spec(base, copies, base_path=dest)
    except RuntimeError as exc:  # pyodide-lock: "Requirement X from Y is not in this distribution."
        raise WheelError(f"a wheel's requirement cannot be installed in the page: {exc} Pass its pure wheel "
                         "too (--wheel / webinfer_wheels), or drop the requirement") from None
    _write_spec(spec, dest / LOCK_NAME)
    added = tuple(sorted(set(spec.packages) - set(base.packages)))
    return dataclasses.replace(roots, wheels=dest, packages=roots.packages + added)


@contextmanager
def served_roots(roots: Roots, wheels: Sequence[Path] = ()) -> Iterator[Roots]:
    """``roots``, or with the user's ``wheels`` staged (:func:`stage_wheels`) in a temporary folder removed on exit."""
    if not wheels:
        yield roots
        return
    with tempfile.TemporaryDirectory(prefix="webinfer-wheels-") as folder:
        yield stage_wheels(roots, wheels, Path(folder))


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
