"""``webinfer setup``: fetches into an empty cache (reusing npm's cache), is idempotent, checks what it is given.

The Pyodide tarball comes from npm's cache when ``npm ci`` put it there (else from the registry); the
PyPI wheels from this checkout's ``wheels/`` or the user cache, copied in first, so no test downloads them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from webinfer.tools import chromium
from webinfer.tools.fetch import PYODIDE_WHEELS, file_digest
from webinfer.tools.setup import SetupError, run_setup, setup_chromium, setup_pyodide

ROOT = Path(__file__).resolve().parents[2]


def local_pypi_wheel(name: str) -> Path | None:
    for folder in (ROOT / "wheels", Path.home() / ".cache" / "webinfer" / "pypi"):
        if (folder / name).is_file():
            return folder / name
    return None


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache and an empty checkout (WEBINFER_ROOT) with no node_modules; the pinned PyPI wheels pre-copied."""
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WEBINFER_ROOT", str(tmp_path / "checkout"))
    monkeypatch.delenv("WEBINFER_PYODIDE", raising=False)
    monkeypatch.delenv("WEBINFER_CHROMIUM", raising=False)
    (tmp_path / "checkout").mkdir()
    (tmp_path / "cache" / "pypi").mkdir(parents=True)
    for wheel in PYODIDE_WHEELS:
        local = local_pypi_wheel(wheel.filename)
        if local is not None and file_digest(local, "sha256") == wheel.sha256:
            shutil.copyfile(local, tmp_path / "cache" / "pypi" / wheel.filename)
    return tmp_path


def test_setup_from_an_empty_cache_then_again(empty: Path) -> None:
    said: list[str] = []
    assert run_setup(with_browser=False, say=said.append) == 0
    text = "\n".join(said)
    pyodide = empty / "cache" / "pyodide-314.0.7"
    assert (pyodide / ".complete").is_file() and (pyodide / "pyodide.asm.wasm").is_file()
    assert "Pyodide 314.0.7: fetching npm pyodide@314.0.7" in text and "sha512" in text
    wheels = empty / "checkout" / "wheels"
    lock = json.loads((wheels / "pyodide-lock.json").read_text())
    assert set(lock["packages"]) == {"micropip", "packaging", "webinfer"}
    for entry in lock["packages"].values():
        assert file_digest(wheels / entry["file_name"], "sha256") == entry["sha256"]
    assert text.splitlines()[-1].startswith("ready in")

    said.clear()
    assert run_setup(with_browser=False, say=said.append) == 0
    again = "\n".join(said)
    assert f"Pyodide 314.0.7: cached {pyodide}" in again
    assert "downloading" not in again and "fetching" not in again  # idempotent: nothing fetched twice


def test_a_pyodide_of_another_version_is_refused(empty: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = empty / "other"
    other.mkdir()
    (other / "pyodide.mjs").write_text("")
    (other / "package.json").write_text(json.dumps({"version": "0.27.0"}))
    monkeypatch.setenv("WEBINFER_PYODIDE", str(other))
    with pytest.raises(SetupError, match="holds Pyodide 0.27.0; webinfer pins 314.0.7"):
        setup_pyodide(lambda _: None)


def test_a_given_browser_is_used_and_missing_libraries_exit_3(
    empty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = empty / "chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(chromium, "missing_libraries", lambda path: ["libnss3.so"])
    said: list[str] = []
    assert setup_chromium(str(exe), said.append) == (exe, ["libnss3.so"])
    assert said == [f"Chromium: using {exe} (explicit)"]
    said.clear()
    assert run_setup(str(exe), say=said.append) == 3
    assert "missing: libnss3.so" in said[-1] and "python -m playwright install-deps chromium" in said[-1]


def test_a_bad_browser_path_is_an_error_not_a_download(empty: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBINFER_CHROMIUM", str(empty / "no-such-chrome"))
    with pytest.raises(SetupError, match="no-such-chrome is not an executable file"):
        setup_chromium(None, lambda _: None)
