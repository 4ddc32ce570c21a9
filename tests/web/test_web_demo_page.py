"""The demo page end to end, in headless Chromium: queries embedded in the browser return the expected hits.

The expected top hits were checked on the host against the test corpus (TEST_MODULES) with the same model:
"remove a directory tree" → shutil.rmtree (0.81; os.removedirs 0.71 next), "square root of a number" →
math.sqrt (0.77; math.isqrt 0.66 next). Screenshots go to artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from webinfer.tools.demo import demo_state
from webinfer.tools.site import build_site

pytestmark = pytest.mark.browser

READY = "() => window.demoState && (window.demoState.ready || window.demoState.error)"


def top(state: dict[str, Any]) -> str:
    hit = state["result"]["hits"][0]
    return f"{hit['module']}.{hit['name']}"


@pytest.fixture(scope="module")
def served(drive: Callable[..., Any], demo_browser: Any, artifacts: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """One demo page on the webinfer server (isolated), opened with ?q=…&backend=webnn; and its first state."""
    url = f"{demo_browser.server.url}/index.html?" + urlencode({"q": "remove a directory tree", "backend": "webnn"})

    async def open_page(context: Any) -> tuple[Any, dict[str, Any]]:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_function("() => window.demoState.result || window.demoState.error", timeout=300_000)
        await page.screenshot(path=str(artifacts / "demo-webnn.png"), full_page=True)
        return page, await page.evaluate("() => window.demoState")

    page, state = drive(open_page)
    yield page, state
    drive(lambda _context: page.close())


def test_query_in_the_url_gives_the_expected_top_hit(served: tuple[Any, dict[str, Any]]) -> None:
    page, state = served
    assert state["error"] is None, state["error"]
    result = state["result"]
    assert result["query"] == "remove a directory tree"
    assert top(state) == "shutil.rmtree", result["hits"][:3]
    assert result["hits"][0]["line"] == "Recursively delete a directory tree."
    assert result["backend"] == "webnn" and result["device"].startswith("WebNN")
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True) and 0.5 < scores[0] <= 1.0001 and len(scores) == 10
    for key in ("tokenize_ms", "run_ms", "score_ms", "total_ms"):
        assert result["timings"][key] >= 0
    assert state["isolated"] is True and state["firstResultSeconds"] > 0
    assert 40e6 < state["weights"]["bytes"] < 55e6 and state["boot"]["seconds"] > 0  # not the classifier's files


def test_the_page_shows_the_hits_and_the_run(served: tuple[Any, dict[str, Any]], drive: Callable[..., Any]) -> None:
    page, _ = served

    async def read(_context: Any) -> dict[str, Any]:
        return {
            "names": await page.locator(".hit .qualname").all_inner_texts(),
            "backend": await page.inner_text("#fact-backend"),
            "total": await page.inner_text("#fact-total"),
            "progress": await page.inner_text("#progress-text"),
        }

    shown = drive(read)
    assert shown["names"][0] == "shutil.rmtree" and len(shown["names"]) == 10
    assert shown["backend"] == "webnn" and shown["progress"].startswith("ready")
    assert re.fullmatch(r"[\d.]+ m?s in Python, [\d.]+ m?s round trip", shown["total"]), shown["total"]  # s under load


def test_backend_picker_shows_what_the_browser_supports(served: tuple[Any, dict[str, Any]],
                                                        drive: Callable[..., Any]) -> None:
    page, state = served

    async def buttons(_context: Any) -> list[dict[str, Any]]:
        return await page.evaluate("""() => [...document.querySelectorAll('.backend')].map((b) => ({
            name: b.dataset.backend, disabled: b.disabled, checked: b.getAttribute('aria-checked'),
            note: b.querySelector('.note').textContent }))""")

    shown = {b["name"]: b for b in drive(buttons)}
    assert set(shown) == {"webgpu", "webnn", "hybrid"}
    for name, button in shown.items():
        assert button["disabled"] is (not state["support"][name]["ok"]) and button["note"]
    assert shown["webnn"]["checked"] == "true"


def test_typing_a_query_searches(served: tuple[Any, dict[str, Any]], drive: Callable[..., Any],
                                 artifacts: Path) -> None:
    page, _ = served

    async def ask(_context: Any) -> dict[str, Any]:
        await page.fill("#query", "square root of a number")
        await page.press("#query", "Enter")
        await page.wait_for_function("() => window.demoState.result.query === 'square root of a number'",
                                     timeout=60_000)
        await page.screenshot(path=str(artifacts / "demo-typed-query.png"), full_page=True)
        return await page.evaluate("() => window.demoState")

    state = drive(ask)
    assert top(state) == "math.sqrt", state["result"]["hits"][:3]


def test_reindex_in_the_browser_agrees_with_the_host(served: tuple[Any, dict[str, Any]],
                                                    drive: Callable[..., Any]) -> None:
    page, _ = served

    async def reindex(_context: Any) -> dict[str, Any]:
        await page.select_option("#reindex-count", "32")
        await page.click("#reindex")
        await page.wait_for_function("() => window.demoState.reindex", timeout=300_000)
        return await page.evaluate("() => window.demoState.reindex")

    r = drive(reindex)
    assert r["count"] == 32 and r["per_second"] > 0 and r["backend"] == "webnn"
    assert r["min_cosine"] > 0.999  # the host's rows are stored as float16


@pytest.mark.parametrize("backend", ["webgpu", "hybrid"])
def test_switching_backend_gives_the_same_top_hit(served: tuple[Any, dict[str, Any]], drive: Callable[..., Any],
                                                  backend: str) -> None:
    page, state = served
    if not state["support"][backend]["ok"]:
        pytest.skip(f"{backend} is not available in this browser: {state['support'][backend]['note']}")

    async def switch(_context: Any) -> dict[str, Any]:
        await page.fill("#query", "remove a directory tree")
        await page.click(f".backend[data-backend={backend}]")
        await page.wait_for_function(
            f"""() => (window.demoState.ready && window.demoState.backend === '{backend}'
                       && window.demoState.result.backend === '{backend}') || window.demoState.error""",
            timeout=300_000)
        return await page.evaluate("() => window.demoState")

    state = drive(switch)
    assert state["error"] is None, state["error"]
    assert top(state) == "shutil.rmtree" and state["result"]["backend"] == backend


def test_a_browser_without_webgpu_greys_it_out_with_the_reason(demo_browser: Any, drive: Callable[..., Any]) -> None:
    url = f"{demo_browser.server.url}/index.html?" + urlencode({"q": "remove a directory tree"})

    async def without_webgpu(context: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        page = await context.new_page()
        await page.add_init_script("delete Navigator.prototype.gpu")
        try:
            await page.goto(url)
            await page.wait_for_function("() => window.demoState.result || window.demoState.error", timeout=300_000)
            buttons = await page.evaluate("""() => [...document.querySelectorAll('.backend')].map((b) => ({
                name: b.dataset.backend, disabled: b.disabled, note: b.querySelector('.note').textContent }))""")
            return await page.evaluate("() => window.demoState"), buttons
        finally:
            await page.close()

    state, buttons = drive(without_webgpu)
    shown = {b["name"]: b for b in buttons}
    if not state["support"]["webnn"]["ok"]:
        pytest.skip("this browser has no WebNN either")
    assert shown["webgpu"]["disabled"] and "navigator.gpu is missing" in shown["webgpu"]["note"]
    # hybrid runs every node on WebNN then (as webinfer.backends says): offered, with what it lacks
    assert not shown["hybrid"]["disabled"] and shown["hybrid"]["note"].startswith("WebNN only; WebGPU: ")
    assert not shown["webnn"]["disabled"]
    assert state["result"]["backend"] == "webnn" and top(state) == "shutil.rmtree"


def test_weights_come_from_the_cache_api_on_the_next_visit(demo_browser: Any, drive: Callable[..., Any],
                                                           served: tuple[Any, dict[str, Any]]) -> None:
    url = f"{demo_browser.server.url}/index.html?" + urlencode({"q": "square root of a number", "backend": "webnn"})
    state = drive(lambda context: demo_state(context, url, timeout=300))
    assert top(state) == "math.sqrt"
    assert state["weights"]["cache"] is True and state["weights"]["cachedBytes"] == state["weights"]["bytes"]


@pytest.fixture(scope="module")
def static_site(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, site_roots: Any,
                corpus_modules: tuple[str, ...], static_server: Callable[[Path], str]) -> str:
    """A built site served by Python's plain ``http.server``: no COOP/COEP, so not cross-origin isolated."""
    site = tmp_path_factory.mktemp("static") / "site"
    build_site(site, roots=site_roots, build_dir=demo_data, modules=corpus_modules)
    return static_server(site)


def test_built_site_works_from_a_plain_static_server(static_site: str, drive: Callable[..., Any],
                                                     artifacts: Path) -> None:
    """No server logic and no isolation: the page still answers."""
    url = f"{static_site}/index.html?" + urlencode({"q": "remove a directory tree", "backend": "webnn"})
    state = drive(lambda context: demo_state(context, url, timeout=300,
                                             screenshot=artifacts / "demo-static-site.png"))
    assert state["error"] is None, state["error"]
    assert state["isolated"] is False
    assert top(state) == "shutil.rmtree"


def test_built_sites_repl_stops_a_loop_without_isolation(static_site: str, drive: Callable[..., Any]) -> None:
    """Without SharedArrayBuffer there is no interrupt buffer nor blocking input(): Stop replaces the worker,
    input() raises EOFError; each says why."""

    async def session(context: Any) -> dict[str, Any]:
        page = await context.new_page()
        try:
            await page.goto(f"{static_site}/repl.html")
            await page.wait_for_function("() => window.replState.ready || window.replState.error", timeout=180_000)
            await page.locator("#code").fill("while True: pass")
            await page.locator("#code").press("Control+Enter")
            await page.wait_for_function("() => window.replState.busy")
            await page.click("#stop")
            await page.wait_for_function("() => window.replState.ready && window.replState.runs === 1",
                                         timeout=180_000)
            await page.locator("#code").fill("6 * 7")
            await page.locator("#code").press("Control+Enter")
            await page.wait_for_function("() => window.replState.runs === 2 && !window.replState.busy")
            await page.locator("#code").fill("input('name? ')")
            await page.locator("#code").press("Control+Enter")
            await page.wait_for_function("() => window.replState.runs === 3 && !window.replState.busy")
            return {"state": await page.evaluate("() => window.replState"),
                    "text": await page.inner_text("#transcript")}
        finally:
            await page.close()

    got = drive(session)
    assert got["state"]["interruptible"] is False and got["state"]["restarts"] == 1, got["state"]
    assert "not cross-origin isolated: Stop restarts Python" in got["text"]
    assert "Stopped: started a new Python" in got["text"]
    assert "\n42\n" in got["text"], got["text"][-1000:]
    assert "EOFError: input() cannot wait for your typing here: this page is not cross-origin isolated" \
        in got["text"], got["text"][-1000:]
