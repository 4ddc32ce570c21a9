"""``webinfer demo --query``: builds (here: reuses) the data, runs the page headless, prints the hits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.tools.cli import main

pytestmark = pytest.mark.browser


def test_demo_query_prints_hits_backend_device_and_timings(
    pytestconfig: pytest.Config, demo_data: Path, corpus_modules: tuple[str, ...], site_roots: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from webinfer.tools.chromium import BrowserNotFound, find_chromium

    browser = pytestconfig.getoption("webinfer_browser")
    try:
        find_chromium(browser)
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    argv = ["demo", "--query", "remove a directory tree", "--backend", "webnn", "-k", "5", "--json",
            "--build-dir", str(demo_data), "--modules", ",".join(corpus_modules), "--timeout", "300"]
    if browser:
        argv += ["--browser", browser]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    state = json.loads(captured.out)
    result = state["result"]
    assert [f"{h['module']}.{h['name']}" for h in result["hits"]][0] == "shutil.rmtree"
    assert len(result["hits"]) == 5
    assert result["backend"] == "webnn" and result["device"]
    assert set(result["timings"]) >= {"tokenize_ms", "run_ms", "score_ms", "total_ms"}
    assert state["build"]["corpus"]["cached"] is True  # the fixture's data was reused, not rebuilt
