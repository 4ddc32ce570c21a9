"""The served Pyodide lock: only what we serve, with sha256 recomputed, webinfer added."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from webinfer.tools.lockfile import build_lock


def make_wheel(path: Path, name: str, version: str) -> Path:
    """A minimal valid pure wheel."""
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        whl.writestr(f"{name}/__init__.py", "")
        whl.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        whl.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{dist}/RECORD", "")
    return path / f"{name}-{version}-py3-none-any.whl"


def upstream_entry(name: str, version: str) -> dict[str, object]:
    # Shaped like Pyodide 314's lock, including the `tool` key pyodide-lock 0.1 does not model.
    return {
        "name": name, "version": version, "file_name": f"{name}-{version}-py3-none-any.whl",
        "install_dir": "site", "sha256": "0" * 64, "package_type": "package",
        "imports": [name], "depends": [], "unvendored_tests": False, "tool": {},
    }


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    lock = {
        "info": {"abi_version": "2026_0", "arch": "wasm32", "platform": "emscripten_5_0_3", "python": "3.14.2"},
        "packages": {
            "micropip": upstream_entry("micropip", "0.11.1"),
            "packaging": upstream_entry("packaging", "26.1"),
            "numpy": upstream_entry("numpy", "2.3.0"),
        },
    }
    path = tmp_path / "pyodide-lock.json"
    path.write_text(json.dumps(lock))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lock_has_served_wheels_with_real_hashes(tmp_path: Path, upstream: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [make_wheel(wheels, *nv) for nv in (("micropip", "0.11.1"), ("packaging", "26.1"), ("webinfer", "0.1.0"))]
    spec = build_lock(upstream, wheels, "314.0.7")
    assert set(spec.packages) == {"micropip", "packaging", "webinfer"}  # numpy is not served
    for wheel in built:
        entry = spec.packages[wheel.name.split("-")[0]]
        assert entry.file_name == wheel.name
        assert entry.sha256 == sha256(wheel)
    assert spec.packages["webinfer"].imports == ["webinfer"]
    assert spec.info.python == "3.14.2"


def test_missing_pyodide_wheel_names_the_fix(tmp_path: Path, upstream: Path) -> None:
    make_wheel(tmp_path, "webinfer", "0.1.0")
    with pytest.raises(FileNotFoundError, match="micropip.*make setup"):
        build_lock(upstream, tmp_path, "314.0.7")


def test_two_webinfer_wheels_are_an_error(tmp_path: Path, upstream: Path) -> None:
    for name, version in (("micropip", "0.11.1"), ("packaging", "26.1"), ("webinfer", "0.1.0"), ("webinfer", "0.2.0")):
        make_wheel(tmp_path, name, version)
    with pytest.raises(FileNotFoundError, match="expected one webinfer wheel"):
        build_lock(upstream, tmp_path, "314.0.7")
