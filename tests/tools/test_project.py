"""Where the served files are found: the Pyodide search order, the checkout vs the installed layout, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.tools import project
from webinfer.tools.project import WEB_DIR, Roots, SetupNeeded, cache_dir, checkout_root, find_pyodide


def fake_pyodide(folder: Path, version: str = "314.0.7", complete: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyodide.mjs").write_text("export {};")
    (folder / "package.json").write_text(json.dumps({"version": version}))
    if complete:
        (folder / ".complete").write_text("pyodide.tgz\n")
    return folder


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("WEBINFER_PYODIDE", "WEBINFER_ROOT", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_pages_ship_in_the_package() -> None:
    assert (WEB_DIR / "harness.html").is_file() and WEB_DIR.parent.name == "webinfer"


def test_this_checkout_is_found_and_webinfer_root_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WEBINFER_ROOT", raising=False)
    assert checkout_root() == Path(__file__).resolve().parents[2]
    monkeypatch.setenv("WEBINFER_ROOT", str(tmp_path))
    assert checkout_root() == tmp_path.resolve()


def test_cache_dir_honours_webinfer_cache_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("WEBINFER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "webinfer"


def test_pyodide_search_order(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = clean / "checkout"
    cached = fake_pyodide(clean / "cache" / "pyodide-314.0.7", complete=True)
    assert find_pyodide(checkout) == cached  # 3. the cache (webinfer setup)
    modules = fake_pyodide(checkout / "node_modules" / "pyodide")
    assert find_pyodide(checkout) == modules  # 2. the checkout's node_modules (npm ci)
    explicit = fake_pyodide(clean / "mine")
    monkeypatch.setenv("WEBINFER_PYODIDE", str(explicit))
    assert find_pyodide(checkout) == explicit  # 1. WEBINFER_PYODIDE


def test_no_pyodide_says_what_to_run(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pyodide(clean / "cache" / "pyodide-314.0.7")  # an interrupted unpack (no .complete) does not count
    monkeypatch.setattr(project, "checkout_root", lambda: None)  # as installed from a wheel
    with pytest.raises(SetupNeeded) as error:
        find_pyodide(None)
    assert str(error.value) == (
        f"no Pyodide runtime (looked in {clean / 'cache' / 'pyodide-314.0.7'}; WEBINFER_PYODIDE unset): "
        "run `webinfer setup`")
    monkeypatch.setenv("WEBINFER_PYODIDE", str(clean))
    with pytest.raises(SetupNeeded, match="is not a Pyodide runtime folder"):
        find_pyodide(None)


def test_discover_a_checkout(clean: Path) -> None:
    checkout = clean / "checkout"
    modules = fake_pyodide(checkout / "node_modules" / "pyodide")
    (checkout / "models").mkdir()
    roots = Roots.discover(checkout)
    assert roots == Roots(web=WEB_DIR, pyodide=modules, wheels=checkout / "wheels", models=checkout / "models")
    with pytest.raises(SetupNeeded, match="no lock file at .*make setup"):
        roots.webinfer_wheel()
