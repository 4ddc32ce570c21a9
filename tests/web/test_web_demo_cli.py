"""``webinfer demo --query`` and ``--classify``: build (here: reuse) the data, run the page headless, print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.tools.cli import main

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_args(pytestconfig: pytest.Config, demo_data: Path, corpus_modules: tuple[str, ...],
              site_roots: object) -> list[str]:
    """The options every headless demo run here takes: the fixture's build dir and corpus, the test's Chromium."""
    from webinfer.tools.chromium import BrowserNotFound, find_chromium

    browser = pytestconfig.getoption("webinfer_browser")
    try:
        find_chromium(browser)
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    args = ["--build-dir", str(demo_data), "--modules", ",".join(corpus_modules), "--timeout", "300"]
    return args + (["--browser", browser] if browser else [])


def test_demo_query_prints_hits_backend_device_and_timings(demo_args: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--query", "remove a directory tree", "--backend", "webnn", "-k", "5", "--json", *demo_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    state = json.loads(captured.out)
    result = state["result"]
    assert [f"{h['module']}.{h['name']}" for h in result["hits"]][0] == "shutil.rmtree"
    assert len(result["hits"]) == 5
    assert result["backend"] == "webnn" and result["device"]
    assert set(result["timings"]) >= {"tokenize_ms", "run_ms", "score_ms", "total_ms"}
    assert state["build"]["corpus"]["cached"] is True  # the fixture's data was reused, not rebuilt


def test_demo_classify_prints_the_top_classes(demo_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``webinfer demo --classify IMAGE``: the page decodes the file given to its picker and classifies it."""
    from webinfer.tools.project import WEB_DIR

    image = str(WEB_DIR / "images" / "coffee.jpg")
    code = main(["demo", "--classify", image, "--backend", "webnn", "-k", "3", *demo_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0] == "image: coffee.jpg (600×400)" and "espresso (class 967)" in lines[1]
    assert len([line for line in lines if "(class " in line]) == 3
    assert "backend: webnn" in captured.out and "device: WebNN context" in captured.out
    assert "model run" in captured.out and "preprocess" in captured.out


def test_demo_classify_needs_an_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--classify", str(tmp_path / "nope.jpg")]) == 2
    assert "no such image" in capsys.readouterr().err
