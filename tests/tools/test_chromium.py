"""Finding and unpacking Chromium, and the profiles' flags (no browser is started)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import brotli
import pytest

from webinfer.tools import chromium
from webinfer.tools.chromium import BrowserNotFound, find_chromium, launch_flags, unpack_sparticuz


def test_swiftshader_profile_selects_the_swiftshader_adapter() -> None:
    flags = launch_flags("swiftshader")
    assert "--use-webgpu-adapter=swiftshader" in flags
    assert "--enable-unsafe-webgpu" in flags
    assert "--enable-features=Vulkan,WebMachineLearningNeuralNetwork" in flags
    assert "--disable-background-networking" in flags


def test_hardware_profile_leaves_the_adapter_to_chromium() -> None:
    flags = launch_flags("hardware")
    assert not any("swiftshader" in flag for flag in flags)
    assert "--enable-features=Vulkan,WebMachineLearningNeuralNetwork" in flags


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown browser profile 'gpu'"):
        launch_flags("gpu")


def fake_executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\necho Chromium 1.2.3\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WEBINFER_CHROMIUM, and an empty cache (not the user's, which may hold an unpacked Chromium)."""
    monkeypatch.delenv("WEBINFER_CHROMIUM", raising=False)
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "empty-cache"))


def test_explicit_path_wins(tmp_path: Path, no_env: None) -> None:
    exe = fake_executable(tmp_path / "chrome")
    found = find_chromium(exe, root=tmp_path, managed=str(exe) + "-not-used")
    assert (found.path, found.source) == (exe, "explicit")


def test_env_var_comes_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_executable(tmp_path / "chrome")
    monkeypatch.setenv("WEBINFER_CHROMIUM", str(exe))
    assert find_chromium(root=tmp_path, managed="").source == "env"


def test_explicit_path_must_be_executable(tmp_path: Path, no_env: None) -> None:
    with pytest.raises(BrowserNotFound, match="is not an executable file"):
        find_chromium(tmp_path / "missing", root=tmp_path, managed="")


def test_playwright_managed_before_node_modules(tmp_path: Path, no_env: None) -> None:
    exe = fake_executable(tmp_path / "pw-chrome")
    assert find_chromium(root=tmp_path, managed=str(exe)).source == "playwright"


def test_system_chromium_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_executable(bin_dir / "chromium")
    monkeypatch.setenv("PATH", str(bin_dir))
    found = find_chromium(root=tmp_path, managed=str(tmp_path / "not-installed"))
    assert (found.path, found.source) == (bin_dir / "chromium", "system")


def test_nothing_found_lists_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserNotFound) as error:
        find_chromium(root=tmp_path, managed="")
    message = str(error.value)
    for place in ("WEBINFER_CHROMIUM", "Playwright", "@sparticuz", "npm ci", "empty-cache", "chromium"):
        assert place in message
    assert "Run `webinfer setup`" in message


def fake_sparticuz(root: Path) -> Path:
    package = root / "node_modules" / "@sparticuz" / "chromium"
    (package / "bin").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"version": "153.0.0"}))
    (package / "bin" / "chromium.br").write_bytes(brotli.compress(b"#!/bin/sh\necho Chromium 153\n"))
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        data = b"fake vulkan"
        info = tarfile.TarInfo("libvk_swiftshader.so")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (package / "bin" / "swiftshader.tar.br").write_bytes(brotli.compress(tar_bytes.getvalue()))
    return package


def test_sparticuz_is_unpacked_once_with_swiftshader_beside_it(tmp_path: Path) -> None:
    package = fake_sparticuz(tmp_path)
    cache = tmp_path / "cache"
    binary = unpack_sparticuz(package, cache)
    assert binary == cache / "chromium-153.0.0" / "chromium"
    assert os.access(binary, os.X_OK)
    assert (binary.parent / "libvk_swiftshader.so").read_bytes() == b"fake vulkan"
    stamp = binary.stat().st_mtime_ns
    (package / "bin" / "chromium.br").write_bytes(b"corrupt: must not be read again")
    assert unpack_sparticuz(package, cache) == binary
    assert binary.stat().st_mtime_ns == stamp


def test_interrupted_unpack_is_redone(tmp_path: Path) -> None:
    package = fake_sparticuz(tmp_path)
    cache = tmp_path / "cache"
    (cache / "chromium-153.0.0").mkdir(parents=True)
    (cache / "chromium-153.0.0" / "chromium").write_text("half written")  # no .complete marker
    binary = unpack_sparticuz(package, cache)
    assert binary.read_text().startswith("#!/bin/sh")


def test_find_uses_node_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None) -> None:
    fake_sparticuz(tmp_path)
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "cache"))
    found = find_chromium(root=tmp_path, managed="")
    assert found.source == "sparticuz"
    assert found.path == tmp_path / "cache" / "chromium-153.0.0" / "chromium"


def test_the_cache_comes_after_node_modules_and_before_the_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env: None
) -> None:
    """An installed webinfer has no node_modules: `webinfer setup` unpacks @sparticuz/chromium into the cache."""
    cached = tmp_path / "empty-cache" / "chromium-153.0.0"
    cached.mkdir(parents=True)
    fake_executable(cached / "chromium")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_executable(bin_dir / "chromium")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(BrowserNotFound):  # no .complete marker: an interrupted unpack is not used
        find_chromium(root=tmp_path, managed="")
    (cached / ".complete").write_text("153.0.0\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    found = find_chromium(root=tmp_path, managed="")
    assert (found.path, found.source) == (cached / "chromium", "sparticuz")
    fake_sparticuz(tmp_path)  # a checkout's node_modules is looked at first (and unpacks into the same place)
    assert find_chromium(root=tmp_path, managed="").path == cached / "chromium"


def test_missing_libraries_parses_ldd(monkeypatch: pytest.MonkeyPatch) -> None:
    class Done:
        stdout = "\tlibnss3.so => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n\tlibgbm.so.1 => not found\n"

    monkeypatch.setattr(chromium.subprocess, "run", lambda *a, **k: Done())
    assert chromium.missing_libraries(Path("/x")) == ["libnss3.so", "libgbm.so.1"]
