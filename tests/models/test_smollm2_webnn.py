"""The real SmolLM2-135M-Instruct (Q4_1) on WebNN in the page, loaded from a URL the way a page loads it: converted on
the host (``webinfer convert --model gguf``), served at /models/ by the harness, fetched file by file.

Greedy "The capital of France is" continues with " Paris" (what ``transformers`` and the reference backend say,
tests/models/test_smollm2.py), the weights were folded once and never sat whole in the wasm heap, and steady
decode builds no MLGraph. About 20 s in the page here (load ~10 s, of it ~5 s folding the weights).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webinfer.tools.pytest_plugin import BrowserPy, setting, started_browser  # own browser: serves the model

PROMPT = "The capital of France is"
GGUF_TENSOR_BYTES = 96_576_768


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from webinfer.models.llama import ModelFilesNotFound, smollm2_path
    from webinfer.tools.convert import convert_gguf

    try:
        smollm2_path()
    except ModelFilesNotFound as e:
        pytest.skip(str(e))
    out = tmp_path_factory.mktemp("models")
    convert_gguf(out / "smollm2")
    return out


@pytest.fixture(scope="module")
def page(pytestconfig: pytest.Config, models: Path) -> Iterator[Any]:
    from webinfer.tools.project import Roots

    found = Roots.discover()
    roots = Roots(web=found.web, pyodide=found.pyodide, wheels=found.wheels, models=models)
    with started_browser(pytestconfig, roots) as browser:
        py = BrowserPy(browser, timeout=max(setting(pytestconfig, "timeout") or 0, 240))
        try:
            py.run("""
                from webinfer import ffi
                from webinfer.models import CausalLM
                heap_before = ffi.heap_bytes()
                lm = CausalLM.load("/models/smollm2/", backend="webnn")
                heap_loaded = ffi.heap_bytes()
                lm.backend_name
            """)
            yield py
        finally:
            py.close()


def test_greedy_answers_paris(page: Any) -> None:
    got = page.run(f"r = lm.generate({PROMPT!r}, max_new_tokens=8); [r.text, r.backend, r.finish_reason]")
    text, backend, _ = got
    print(f"\nSmolLM2 on webnn: {PROMPT!r} -> {text!r}")
    assert backend == "webnn" and text.startswith(" Paris"), got


def test_weights_came_file_by_file_and_were_folded_once(page: Any) -> None:
    got = page.run("""
        info = lm.info()
        [heap_before, heap_loaded, info["metadata"]["weights_fetch"], info["session"]["webnn"]["weights"]]
    """)
    heap_before, heap_loaded, fetch, weights = got
    print(f"\nwasm heap {heap_before / 2**20:.0f} -> {heap_loaded / 2**20:.0f} MiB loading; fetch {fetch}; "
          f"folded {weights['bytes_on_device'] / 2**20:.0f} MiB in {weights['prologue_graphs']} graphs")
    # every weight byte was copied into Python once, a file at a time: the heap grew by far less than the weights
    assert fetch["copied_bytes"] >= GGUF_TENSOR_BYTES and fetch["fetches"] <= 3 * 3
    assert heap_loaded - heap_before < GGUF_TENSOR_BYTES
    assert weights["folded"] == 211 and weights["computed_from_bytes"] < weights["bytes_on_device"]


def test_steady_decode_builds_no_graph(page: Any) -> None:
    got = page.run(f"""
        lm.generate({PROMPT!r}, max_new_tokens=2)
        before = dict(lm.session.stats)
        r = lm.generate({PROMPT!r}, max_new_tokens=12)
        after = dict(lm.session.stats)
        [before["builds"], after["builds"], after["readback_bytes"] - before["readback_bytes"], len(r.ids)]
    """)
    builds_before, builds_after, readback, n = got
    assert builds_after == builds_before
    assert readback == n * 49152 * 4  # one logits row a step, nothing else

