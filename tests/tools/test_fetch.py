"""The pinned artifacts and fetching them: pins match the checkout's npm lock, downloads are checked and atomic,
npm's cache is reused, tarballs unpack atomically. No network: downloads read file:// URLs."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from webinfer.tools import fetch
from webinfer.tools.fetch import (
    PYODIDE,
    PYODIDE_WHEELS,
    SPARTICUZ,
    FetchError,
    NpmPackage,
    Progress,
    download,
    npm_cache_file,
    npm_tarball,
    unpack_npm,
)
from webinfer.tools.project import checkout_root

ROOT = Path(__file__).resolve().parents[2]


def test_npm_pins_match_the_checkouts_package_lock() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for package in (PYODIDE, SPARTICUZ):
        entry = lock[f"node_modules/{package.name}"]
        assert (entry["version"], entry["integrity"]) == (package.version, package.integrity)
        assert entry.get("resolved", package.tarball_url) == package.tarball_url


def test_wheel_pins_are_the_versions_pyodides_lock_names() -> None:
    pyodide = (checkout_root() or ROOT) / "node_modules" / "pyodide" / "pyodide-lock.json"
    if not pyodide.is_file():
        pytest.skip("no node_modules/pyodide here (make setup)")
    packages = json.loads(pyodide.read_text())["packages"]
    for wheel in PYODIDE_WHEELS:
        assert packages[wheel.name]["version"] == wheel.version
        assert packages[wheel.name]["file_name"] == wheel.filename


def test_tarball_urls() -> None:
    assert PYODIDE.tarball_url == "https://registry.npmjs.org/pyodide/-/pyodide-314.0.7.tgz"
    assert SPARTICUZ.tarball_url == "https://registry.npmjs.org/@sparticuz/chromium/-/chromium-153.0.0.tgz"


def make_package(tmp_path: Path, files: dict[str, bytes]) -> tuple[NpmPackage, Path]:
    """An npm tarball (members under package/) and a pin for it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "pkg-1.0.0.tgz"
    path.write_bytes(buffer.getvalue())
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    return NpmPackage("pkg", "1.0.0", integrity), path


def test_download_checks_the_digest_and_leaves_nothing_on_a_mismatch(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 1000)
    good = hashlib.sha256(b"x" * 1000).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert download(source.as_uri(), dest, "sha256", good) == dest
    assert dest.read_bytes() == b"x" * 1000
    with pytest.raises(FetchError, match="does not match the pinned"):
        download(source.as_uri(), tmp_path / "out" / "bad.bin", "sha256", "0" * 64)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]  # no .part, no bad.bin


def test_a_failed_download_names_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch.time, "sleep", lambda s: None)
    with pytest.raises(FetchError, match="could not download file:.*missing"):
        download((tmp_path / "missing").as_uri(), tmp_path / "x", "sha256", "0" * 64)


def test_progress_lines_without_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress("f.tgz", 4_000_000, stream=out)  # type: ignore[arg-type]
    for done in range(0, 4_000_001, 500_000):
        progress.update(done)
    assert out.getvalue().splitlines() == [
        "  f.tgz: 25% (1.0 MB of 4.0 MB)", "  f.tgz: 50% (2.0 MB of 4.0 MB)",
        "  f.tgz: 75% (3.0 MB of 4.0 MB)", "  f.tgz: 100% (4.0 MB of 4.0 MB)",
    ]


def test_npm_cache_is_used_when_it_holds_the_tarball(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package, tarball = make_package(tmp_path, {"a.txt": b"a"})
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm"))
    assert npm_cache_file(package) is None
    digest = package.sha512
    cached = tmp_path / "npm" / "_cacache" / "content-v2" / "sha512" / digest[:2] / digest[2:4] / digest[4:]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(tarball.read_bytes())
    said: list[str] = []
    assert npm_tarball(package, tmp_path / "downloads", said.append) == (cached, False)
    assert "npm's cached tarball" in said[0]


def test_unpack_npm_strips_package_and_marks_completion(tmp_path: Path) -> None:
    _, tarball = make_package(tmp_path, {"package.json": b"{}", "bin/chromium.br": b"br", "README.md": b"r"})
    target = unpack_npm(tarball, tmp_path / "out", members=lambda name: name != "README.md")
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        ".complete", "bin/chromium.br", "package.json"]
    assert not list(tmp_path.glob("out.partial*"))
    (target / "package.json").write_text("kept")  # a complete unpack is not redone by a late second process
    assert unpack_npm(tarball, target) == target and (target / "package.json").read_text() == "kept"


def test_unpack_npm_redoes_an_interrupted_unpack(tmp_path: Path) -> None:
    _, tarball = make_package(tmp_path, {"pyodide.mjs": b"export {};"})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "half").write_text("interrupted")  # no .complete marker
    target = unpack_npm(tarball, tmp_path / "out")
    assert (target / "pyodide.mjs").read_bytes() == b"export {};" and not (target / "half").exists()
