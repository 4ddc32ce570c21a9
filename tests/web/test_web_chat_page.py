"""The chat page end to end in headless Chromium, on a tiny random Llama (byte-level vocabulary, written as GGUF and
converted like SmolLM2), so a page loads in seconds: the download (Cache API, sha256), the backend picker, the
headless path of ``webinfer demo --generate`` (``chat_state``), and — on every backend that runs CausalLM in the
page — greedy text equal to the host reference backend's, tokens/s, Stop, and the backend and device that ran it.

Until a browser backend lowers the LLM ops (dequantize_linear, rms_normalization, scatter_nd, ...), loading fails
with an UnsupportedError naming them: the page must show that error (never a fake reply), and the generation tests
skip saying so.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from webinfer.tools.project import Roots
from webinfer.tools.pytest_plugin import started_browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from llm_samples import write_tiny_gguf  # noqa: E402

pytestmark = pytest.mark.browser

PROMPT = "Hello, world"
NEW_TOKENS = 6
STOP_TOKENS = 200  # a reply long enough to be stopped (the tiny model's context is 256)
#: The tiny model continues this with one text piece per token (after others it emits bytes that are no UTF-8 text
#: for a while, and the page gets no piece, hence no Stop check, until they form characters).
STOP_PROMPT = "aaaa"
BACKENDS = ("webnn", "webgpu")
STATE = "() => JSON.parse(JSON.stringify(window.chatState))"
SETTLED = "(b) => { const s = window.chatState; return s.backend === b && (s.ready || s.error) && !s.busy; }"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models root like the demo's, with only the chat page's model: a tiny random Llama converted from GGUF."""
    pytest.importorskip("gguf")
    from webinfer.tools.convert import convert_gguf

    root = tmp_path_factory.mktemp("chat-models")
    gguf = write_tiny_gguf(root / "tiny.gguf", seed=3, byte_level=True)
    convert_gguf(root / "tiny", source=gguf)
    files = {f"tiny/{p.name}": {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in sorted((root / "tiny").iterdir())}
    (root / "demo.json").write_text(json.dumps({"format": "webinfer-demo", "version": 1, "llm": "tiny/",
                                                "files": files}))
    return root


@pytest.fixture(scope="module")
def reference(tiny_models: Path) -> dict[str, Any]:
    """The host reference backend's greedy continuation of PROMPT (raw) and of PROMPT as a chat message."""
    from webinfer.models import CausalLM

    with CausalLM.load(str(tiny_models / "tiny"), backend="reference") as lm:
        raw = lm.generate(PROMPT, NEW_TOKENS)
        chat = lm.chat([{"role": "user", "content": PROMPT}], NEW_TOKENS)
    return {"raw": raw.text, "chat": chat.text}


@pytest.fixture(scope="module")
def chat_browser(pytestconfig: pytest.Config, tiny_models: Path, site_roots: Roots) -> Iterator[Any]:
    roots = Roots(web=site_roots.web, pyodide=site_roots.pyodide, wheels=site_roots.wheels, models=tiny_models)
    with started_browser(pytestconfig, roots) as browser:
        yield browser


@pytest.fixture(scope="module")
def chat(chat_browser: Any, artifacts: Path) -> Iterator[dict[str, Any]]:
    """One chat page (?prompt= sends PROMPT raw once ready, as `webinfer demo --generate` does), then each backend
    picked in turn; what the page showed after each."""
    from webinfer.tools.demo import chat_state, generate_query

    url = f"{chat_browser.server.url}/chat.html?{generate_query(PROMPT, BACKENDS[0], NEW_TOKENS, chat=False)}"

    async def run(context: Any) -> dict[str, Any]:
        first = await chat_state(context, url, timeout=600, screenshot=artifacts / "chat-generate.png")
        page = await context.new_page()
        await page.goto(f"{chat_browser.server.url}/chat.html?{urlencode({'backend': BACKENDS[0], 'max': NEW_TOKENS})}")
        states: dict[str, Any] = {}
        for n, backend in enumerate(BACKENDS):
            if n:
                await page.click(f'.backend[data-backend="{backend}"]')
            await page.wait_for_function(SETTLED, arg=backend, timeout=600_000, polling=200)
            state = await page.evaluate(STATE)
            if state["ready"]:
                await page.fill("#prompt", PROMPT)
                await page.select_option("#mode", "chat")
                await page.click("#send")
                await page.wait_for_function("(n) => window.chatState.replies >= n && !window.chatState.busy",
                                             arg=state["replies"] + 1, timeout=600_000, polling=200)
                state = await page.evaluate(STATE)
            states[backend] = state
        if states[BACKENDS[-1]]["ready"]:  # Stop, during a long raw reply
            await page.fill("#max-tokens", str(STOP_TOKENS))
            await page.select_option("#mode", "raw")
            await page.fill("#prompt", STOP_PROMPT)
            replies = states[BACKENDS[-1]]["replies"]
            await page.click("#send")
            await page.wait_for_function("() => window.chatState.live && window.chatState.live.tokens >= 2",
                                         timeout=600_000, polling=50)
            await page.click("#stop")
            await page.wait_for_function("(n) => window.chatState.replies > n && !window.chatState.busy",
                                         arg=replies, timeout=600_000, polling=200)
            stopped = await page.evaluate(STATE)
        else:
            stopped = None
        await page.screenshot(path=str(artifacts / "chat-page.png"), full_page=True)
        await page.close()
        return {"generate": first, "backends": states, "stopped": stopped}

    yield chat_browser.runner.call(run(chat_browser.context))


def _runs_causal_lm(state: dict[str, Any]) -> None:
    """Skip (saying why) when the page could not load the model on its backend because the backend lacks the ops."""
    error = state.get("error") or ""
    if not state.get("ready") and ("UnsupportedError" in error or "has no entry for op" in error):
        last = [line for line in error.splitlines() if line.strip()][-1].strip()
        pytest.skip(f"{state.get('backend')} does not run CausalLM in the page yet: {last}")


def test_the_page_downloads_the_model_and_lists_the_backends(chat: dict[str, Any], tiny_models: Path) -> None:
    state = chat["generate"]
    manifest = json.loads((tiny_models / "demo.json").read_text())
    assert state["weights"]["bytes"] == sum(f["bytes"] for f in manifest["files"].values())
    assert set(state["backendNames"]) == {"webgpu", "webnn", "hybrid"} and state["isolated"] is True
    assert state["boot"]["seconds"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_either_runs_the_model_or_says_which_ops_it_lacks(chat: dict[str, Any], backend: str) -> None:
    state = chat["backends"][backend]
    assert state["backend"] == backend
    if state["ready"]:
        assert state["compile"]["backend"] == backend and state["device"]
    else:  # an honest error, naming what is missing; nothing pretends to have answered
        assert state["error"] and state["result"] is None
        assert "UnsupportedError" in state["error"] or "has no entry for op" in state["error"], state["error"][-500:]


def test_demo_generate_gives_the_reference_text(chat: dict[str, Any], reference: dict[str, Any]) -> None:
    state = chat["generate"]
    _runs_causal_lm(state)
    assert not state["error"], state["error"]
    result = state["result"]
    assert result["text"] == reference["raw"] and result["mode"] == "raw"
    assert result["backend"] == BACKENDS[0] and result["device"]
    assert result["new_tokens"] == NEW_TOKENS and result["decode_tokens_per_s"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_chat_reply_equals_the_reference_and_says_what_ran_it(chat: dict[str, Any], reference: dict[str, Any],
                                                              backend: str) -> None:
    state = chat["backends"][backend]
    _runs_causal_lm(state)
    assert not state["error"], state["error"]
    result = state["result"]
    assert result["text"] == reference["chat"] and result["mode"] == "chat"
    assert result["backend"] == backend and result["device"] == state["device"]
    assert result["prefill_tokens_per_s"] > 0 and result["timings"]["first_token_ms"] > 0


def test_the_page_never_shows_a_reply_it_did_not_generate(chat: dict[str, Any]) -> None:
    for state in [chat["generate"], *chat["backends"].values()]:
        if not state["ready"]:
            assert state["result"] is None and state["replies"] == 0


def test_format_generation_prints_text_and_rates(chat: dict[str, Any]) -> None:
    from webinfer.tools.demo import format_generation

    state = chat["generate"]
    _runs_causal_lm(state)
    text = format_generation(state)
    assert state["result"]["text"] in text and "tokens/s" in text and f"backend: {BACKENDS[0]}" in text


def test_stop_ends_a_reply_early(chat: dict[str, Any]) -> None:
    stopped = chat.get("stopped")
    if stopped is None:
        _runs_causal_lm(chat["backends"][BACKENDS[-1]])
        pytest.skip("no backend ran the model")
    assert stopped["result"]["finish_reason"] == "stopped" and stopped["result"]["new_tokens"] < STOP_TOKENS
