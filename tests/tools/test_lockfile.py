"""The served Pyodide lock: only what we serve, with sha256 recomputed, webinfer added."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from webinfer.tools import lockfile
from webinfer.tools.fetch import PypiWheel
from webinfer.tools.lockfile import build_lock, prepare_env_wheels, stage_wheels
from webinfer.tools.project import LOCK_NAME, Roots, SetupNeeded, env_wheels_dir
from webinfer.tools.wheels import WheelError


def make_wheel(path: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid pure wheel."""
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        whl.writestr(f"{name}/__init__.py", "")
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        whl.writestr(f"{dist}/METADATA", metadata + "".join(f"Requires-Dist: {r}\n" for r in requires))
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


@pytest.fixture
def served(tmp_path: Path, upstream: Path) -> Roots:
    """A wheels folder as `webinfer setup` leaves it: micropip, packaging, webinfer and the lock."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, version in (("micropip", "0.11.1"), ("packaging", "26.1"), ("webinfer", "0.1.0")):
        make_wheel(wheels, name, version)
    build_lock(upstream, wheels, "314.0.7").to_json(wheels / LOCK_NAME)
    return Roots(web=tmp_path, pyodide=tmp_path, wheels=wheels)


def test_the_users_wheels_join_the_lock_with_their_requirements(tmp_path: Path, served: Roots) -> None:
    users = tmp_path / "dist"
    users.mkdir()
    helper = make_wheel(users, "helper", "1.0")
    mine = make_wheel(users, "my_pkg", "0.2", requires=("webinfer", "helper>=1", "numpy; extra == 'host'"))
    staged = stage_wheels(served, [mine, helper], tmp_path / "staged")
    assert staged.wheels == tmp_path / "staged" and staged.packages == ("helper", "my-pkg")
    lock = json.loads((staged.wheels / LOCK_NAME).read_text())["packages"]
    assert set(lock) == {"micropip", "packaging", "webinfer", "helper", "my-pkg"}
    assert sorted(lock["my-pkg"]["depends"]) == ["helper", "webinfer"]  # the extra's numpy is not needed
    assert lock["my-pkg"]["sha256"] == sha256(staged.wheels / mine.name)
    for entry in lock.values():
        assert (staged.wheels / entry["file_name"]).is_file()
    assert json.loads((served.wheels / LOCK_NAME).read_text())["packages"].keys() == {
        "micropip", "packaging", "webinfer"}  # the shared folder is left alone


def test_a_requirement_outside_the_lock_is_named(tmp_path: Path, served: Roots) -> None:
    mine = make_wheel(tmp_path, "my_pkg", "0.2", requires=("requests>=2",))
    with pytest.raises(WheelError, match="requests.*is not in this distribution.*Pass its pure wheel too"):
        stage_wheels(served, [mine], tmp_path / "staged")


def test_a_wheel_of_a_served_package_is_refused(tmp_path: Path, served: Roots) -> None:
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(WheelError, match="micropip is served already"):
        stage_wheels(served, [make_wheel(other, "micropip", "0.12")], tmp_path / "staged")


@pytest.fixture
def env_cache(tmp_path: Path, upstream: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty WEBINFER_CACHE whose pypi/ holds (fake) pinned micropip and packaging wheels, and a Pyodide dir."""
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "cache"))
    pypi = tmp_path / "cache" / "pypi"
    pypi.mkdir(parents=True)
    pins = []
    for name, version in (("micropip", "0.11.1"), ("packaging", "26.1")):
        wheel = make_wheel(pypi, name, version)
        pins.append(PypiWheel(name, version, sha256(wheel), f"https://example.invalid/{wheel.name}"))
    monkeypatch.setattr(lockfile, "PYODIDE_WHEELS", tuple(pins))
    pyodide = tmp_path / "pyodide"
    pyodide.mkdir()
    (pyodide / "package.json").write_text(json.dumps({"version": "314.0.7"}))
    (pyodide / LOCK_NAME).write_text(upstream.read_text())
    return pyodide


def test_installed_layout_builds_the_environments_wheels_once(env_cache: Path) -> None:
    folder = prepare_env_wheels(env_cache)
    assert folder == env_wheels_dir() and folder.parent.name == "envs"
    lock = json.loads((folder / LOCK_NAME).read_text())
    webinfer = lock["packages"]["webinfer"]
    assert webinfer["sha256"] == sha256(folder / webinfer["file_name"])
    assert {"micropip", "packaging"} <= set(lock["packages"]) and lock["info"]["version"] == "314.0.7"
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert prepare_env_wheels(env_cache) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps  # current: nothing rewritten


def test_installed_layout_rebuilds_when_the_installed_files_change(env_cache: Path) -> None:
    folder = prepare_env_wheels(env_cache)
    (folder / "webinfer-0.0.1-py3-none-any.whl").write_bytes(b"an older install's wheel")
    data = json.loads((folder / LOCK_NAME).read_text())
    data["packages"]["webinfer"]["sha256"] = "0" * 64  # as if the installed package had changed since
    (folder / LOCK_NAME).write_text(json.dumps(data))
    prepare_env_wheels(env_cache)
    lock = json.loads((folder / LOCK_NAME).read_text())["packages"]["webinfer"]
    assert lock["sha256"] == sha256(folder / lock["file_name"])
    assert [p.name for p in folder.glob("webinfer-*.whl")] == [lock["file_name"]]


def test_installed_layout_without_setup_says_what_to_run(env_cache: Path, tmp_path: Path) -> None:
    for wheel in (tmp_path / "cache" / "pypi").iterdir():
        wheel.unlink()
    with pytest.raises(SetupNeeded, match=r"micropip-0.11.1-py3-none-any.whl .*is not in .*webinfer setup"):
        prepare_env_wheels(env_cache)
