"""``webinfer build-site`` and ``webinfer demo``'s data build (host side; the pages are tested in the browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.tools.cli import main
from webinfer.tools.demo import DEMO_MANIFEST, build_demo_data, format_state
from webinfer.tools.project import Roots
from webinfer.tools.site import CONFIG_NAME, SiteError, build_site


def test_demo_data_is_reused_when_current(demo_data: Path, corpus_modules: tuple[str, ...]) -> None:
    again = build_demo_data(demo_data, modules=corpus_modules)
    assert again["model"] == {"cached": True} and again["corpus"]["cached"] is True
    manifest = json.loads((demo_data / DEMO_MANIFEST).read_text())
    assert manifest["model"] == "minilm/" and manifest["corpus"] == "stdlib/corpus.json"
    for name, facts in manifest["files"].items():
        assert (demo_data / name).stat().st_size == facts["bytes"] and len(facts["sha256"]) == 64
    encoder = json.loads((demo_data / "minilm" / "encoder.json").read_text())
    assert encoder["weights_dtype"] == "float16"  # half the download


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, site_roots: Roots,
         corpus_modules: tuple[str, ...]) -> Path:
    out = tmp_path_factory.mktemp("site") / "public"
    build_site(out, roots=site_roots, build_dir=demo_data, modules=corpus_modules)
    return out


def test_site_is_self_contained_with_relative_urls(site: Path, site_roots: Roots) -> None:
    config = json.loads((site / CONFIG_NAME).read_text())
    version = site_roots.pyodide_version()
    assert config["pyodideIndexURL"] == f"pyodide/{version}/" and config["modelsURL"] == "models/"
    for key in ("lockFileURL", "wheel"):
        assert not config[key].startswith(("/", "http")) and (site / config[key]).is_file()
    for name in ("index.html", "repl.html", "boot.mjs", "demo.mjs", "demo.py", "repl.py", "repl-worker.mjs",
                 "demo.css", ".nojekyll"):
        assert (site / name).is_file(), name
    assert not (site / "harness.html").exists()
    for name in ("pyodide.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        assert (site / "pyodide" / version / name).is_file()
    lock = json.loads((site / "wheels" / "pyodide-lock.json").read_text())
    for package in lock["packages"].values():
        assert (site / "wheels" / package["file_name"]).is_file()
    demo = json.loads((site / "models" / DEMO_MANIFEST).read_text())
    for name, facts in demo["files"].items():
        assert (site / "models" / name).stat().st_size == facts["bytes"]


def test_site_replaces_its_own_output_but_not_a_foreign_directory(
    site: Path, tmp_path: Path, site_roots: Roots, demo_data: Path, corpus_modules: tuple[str, ...]
) -> None:
    (site / "stale.txt").write_text("from an older build")
    build_site(site, roots=site_roots, build_dir=demo_data, modules=corpus_modules)
    assert not (site / "stale.txt").exists()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="not a site built by webinfer"):
        build_site(tmp_path, roots=site_roots, build_dir=demo_data, modules=corpus_modules)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_build_site_command(tmp_path: Path, demo_data: Path, site_roots: Roots, corpus_modules: tuple[str, ...],
                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build-site", str(tmp_path / "out"), "--build-dir", str(demo_data),
                 "--modules", ",".join(corpus_modules), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["corpus_lines"] > 100 and summary["bytes"]["models"] > 40e6


def test_demo_command_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--query", "--backend", "--port", "--json", "--build-dir", "--modules"):
        assert option in text


def test_format_state_prints_hits_backend_device_and_timings() -> None:
    state = {
        "result": {"query": "remove a directory tree", "tokens": 6, "backend": "webnn", "device": "WebNN context",
                   "hits": [{"score": 0.81, "module": "shutil", "name": "rmtree", "kind": "function",
                             "line": "Recursively delete a directory tree."},
                            {"score": 0.5, "module": "builtins", "name": "str.split", "kind": "method",
                             "line": "Split."}],
                   "timings": {"tokenize_ms": 0.1, "run_ms": 15.3, "score_ms": 1.2, "total_ms": 18.4},
                   "roundTripMs": 23.0},
        "boot": {"seconds": 4.1}, "weights": {"bytes": 46e6, "seconds": 1.3},
        "compile": {"timings": {"load_ms": 900, "scorer_ms": 200, "warmup_ms": 1100}}, "firstResultSeconds": 9.5,
    }
    text = format_state(state)
    assert "0.810  shutil.rmtree" in text and "str.split" in text and "builtins.str.split" not in text
    assert "backend: webnn" in text and "model run 15.3 ms" in text and "first result 9.5 s" in text
