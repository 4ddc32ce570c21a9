"""The REPL page end to end: snippets, multi-line input, top-level await, tracebacks, history."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.browser

SENTENCES = ["A man is playing a guitar.", "Someone is playing an instrument."]


@pytest.fixture(scope="module")
def repl(drive: Callable[..., Any], demo_browser: Any) -> Iterator[Any]:
    """The REPL page, booted."""

    async def open_page(context: Any) -> Any:
        page = await context.new_page()
        await page.goto(f"{demo_browser.server.url}/repl.html")
        await page.wait_for_function("() => window.replState.ready || window.replState.error", timeout=180_000)
        return page

    page = drive(open_page)
    assert drive(lambda _c: page.evaluate("() => window.replState.error ?? null")) is None
    yield page
    drive(lambda _context: page.close())


def transcript(drive: Callable[..., Any], page: Any) -> str:
    return str(drive(lambda _c: page.inner_text("#transcript")))


def wait_runs(page: Any, runs: int) -> Any:
    return page.wait_for_function(f"() => window.replState.runs >= {runs} && !window.replState.busy",
                                  timeout=300_000)


def test_banner_names_what_is_preloaded(repl: Any, drive: Callable[..., Any]) -> None:
    text = transcript(drive, repl)
    assert "Python 3.14" in text and "webinfer" in text and "BACKEND = '" in text and "MODEL_URL = 'http" in text


def test_cosine_snippet_prints_the_hosts_value(repl: Any, drive: Callable[..., Any], demo_data: Path,
                                               artifacts: Path) -> None:
    from webinfer.models import SentenceEncoder

    a, b = SentenceEncoder.load(demo_data / "minilm", backend="reference").encode(SENTENCES).numpy()
    expected = float(np.dot(a, b))

    async def run_snippet(_context: Any) -> None:
        runs = await repl.evaluate("() => window.replState.runs")
        await repl.click("text=Encode two sentences, print their cosine")
        await wait_runs(repl, runs + 1)

    drive(run_snippet)
    text = transcript(drive, repl)
    found = re.findall(r"^cosine: (-?\d\.\d{4})$", text, flags=re.M)
    assert found, text[-2000:]
    assert abs(float(found[-1]) - expected) < 1e-3, (found, expected)


def test_multiline_input_await_traceback_and_history(repl: Any, drive: Callable[..., Any], artifacts: Path) -> None:
    async def session(_context: Any) -> dict[str, Any]:
        area = repl.locator("#code")
        runs = await repl.evaluate("() => window.replState.runs")
        await area.click()
        # a block: Enter after the header and the body adds lines (auto-indented); an empty line runs it
        await area.type("total = 0")
        await area.press("Enter")
        await wait_runs(repl, runs + 1)
        await area.type("for i in range(4):")
        await area.press("Enter")
        await area.type("total += i * i")
        await area.press("Enter")
        mid = await repl.evaluate("() => ({runs: window.replState.runs, value: document.getElementById('code').value})")
        await area.press("Enter")
        await wait_runs(repl, runs + 2)
        await area.type("import asyncio; await asyncio.sleep(0.01); total")
        await area.press("Enter")
        await wait_runs(repl, runs + 3)
        await area.type("x = (1,")
        await area.press("Shift+Enter")  # always a new line
        await area.type("2)")
        await area.press("Enter")
        await wait_runs(repl, runs + 4)
        await area.type("{}['missing']")
        await area.press("Enter")
        await wait_runs(repl, runs + 5)
        await area.press("ArrowUp")
        recalled = await area.input_value()
        await area.press("ArrowUp")
        earlier = await area.input_value()
        await area.press("ArrowDown")
        await area.press("ArrowDown")
        after = await area.input_value()
        await repl.screenshot(path=str(artifacts / "repl.png"), full_page=True)
        return {"mid": mid, "runs": runs, "recalled": recalled, "earlier": earlier, "after": after,
                "state": await repl.evaluate("() => window.replState")}

    got = drive(session)
    assert got["mid"]["runs"] == got["runs"] + 1  # the block did not run at its body's Enter
    assert got["mid"]["value"] == "for i in range(4):\n    total += i * i\n    "
    text = transcript(drive, repl)
    assert ">>> for i in range(4):\n...     total += i * i\n" in text
    assert re.search(r"^14$", text, flags=re.M)  # the last expression's repr, after a top-level await
    assert "Traceback (most recent call last):" in text and "KeyError: 'missing'" in text
    assert 'File "<input-' in text and "eval_code_async" not in text  # starts at the user's code
    assert ">>> x = (1,\n... 2)\n" in text
    assert got["recalled"] == "{}['missing']" and got["earlier"] == "x = (1,\n2)"
    assert got["after"] == ""


def test_webgpu_snippet_and_a_webinfer_error_read_cleanly(repl: Any, drive: Callable[..., Any]) -> None:
    async def session(_context: Any) -> None:
        runs = await repl.evaluate("() => window.replState.runs")
        await repl.click("text=Build a tiny graph, run it on WebGPU")
        await wait_runs(repl, runs + 1)
        area = repl.locator("#code")
        await area.fill("g2 = wi.GraphBuilder(); g2.softmax(g2.input('q', 'float32', [2, 3]), axis=4)")
        await area.press("Enter")
        await wait_runs(repl, runs + 2)

    drive(session)
    text = transcript(drive, repl)
    # the result, the backend and device in one line, then where each node ran; not a dump of adapter features
    assert re.search(r"^\[\[0\.0, 3\.75\], \[0\.0, 7\.5\]\] on webgpu · \S", text, flags=re.M), text[-1500:]
    assert "texture-compression" not in text
    # a webinfer error: the user's line and the message naming op, node and axis; no frames inside webinfer
    tail = text.split("g2 = wi.GraphBuilder()")[-1]
    assert "softmax (node 'softmax_0'): axis 4 is out of range for rank 2" in tail
    assert "site-packages/webinfer" not in tail



async def type_and_run(page: Any, code: str) -> None:
    """Put ``code`` in the input and run it now (Ctrl+Enter), without waiting for it to finish."""
    await page.locator("#code").fill(code)
    await page.locator("#code").press("Control+Enter")


def test_python_runs_in_a_worker_with_webgpu_and_webnn(repl: Any, drive: Callable[..., Any]) -> None:
    async def session(_context: Any) -> None:
        runs = await repl.evaluate("() => window.replState.runs")
        await type_and_run(repl, "import js; print('in a worker:', not hasattr(js, 'document'))")
        await wait_runs(repl, runs + 1)
        await repl.click("text=Show devices")
        await wait_runs(repl, runs + 2)

    drive(session)
    text = transcript(drive, repl)
    assert re.search(r"^in a worker: True$", text, flags=re.M), text[-1500:]
    assert re.search(r"^WebGPU: \{.*'isFallbackAdapter'", text, flags=re.M), text[-1500:]
    assert "'cpu': True" in text.split("WebNN contexts:")[-1], text[-1500:]


def test_stop_interrupts_an_endless_loop_and_keeps_the_namespace(repl: Any, drive: Callable[..., Any],
                                                                 artifacts: Path) -> None:
    async def session(_context: Any) -> dict[str, Any]:
        runs = await repl.evaluate("() => window.replState.runs")
        await type_and_run(repl, "kept = 41")
        await wait_runs(repl, runs + 1)
        await type_and_run(repl, "n = 0\nwhile True:\n    n += 1")
        await repl.wait_for_function("() => window.replState.busy")
        await asyncio.sleep(1.0)
        # the tab stays responsive while Python spins: the page answers at once and Stop is enabled
        started = time.monotonic()
        responsive = await asyncio.wait_for(
            repl.evaluate("() => !document.getElementById('stop').disabled"), timeout=5)
        answered = time.monotonic() - started
        await repl.screenshot(path=str(artifacts / "repl-busy.png"), full_page=True)
        await repl.click("#stop")
        await wait_runs(repl, runs + 2)
        await type_and_run(repl, "kept + 1, n > 0")
        await wait_runs(repl, runs + 3)
        return {"responsive": responsive, "answered": answered,
                "state": await repl.evaluate("() => window.replState")}

    got = drive(session)
    assert got["responsive"] and got["answered"] < 2.0, got
    assert got["state"]["interruptible"] is True and got["state"]["restarts"] == 0, got["state"]
    text = transcript(drive, repl)
    assert "KeyboardInterrupt" in text.split("while True:")[-1], text[-1500:]
    assert re.search(r"^\(42, True\)$", text, flags=re.M), text[-1500:]  # same interpreter, same variables



def test_input_reads_the_line_typed_at_the_prompt_and_stop_interrupts_it(repl: Any,
                                                                          drive: Callable[..., Any]) -> None:
    async def answer(text: str) -> None:
        await repl.wait_for_function("() => window.replState.awaitingInput")
        await repl.locator("#code").fill(text)
        await repl.locator("#code").press("Enter")

    async def session(_context: Any) -> dict[str, Any]:
        runs = await repl.evaluate("() => window.replState.runs")
        await type_and_run(repl, "name = input('name? '); print('hello', name)")
        await answer("Ada Lovelace")
        await wait_runs(repl, runs + 1)
        await type_and_run(repl, "import sys; sys.stdin.readline()")
        await answer("héllo ✓")
        await wait_runs(repl, runs + 2)
        await type_and_run(repl, "input('again? ')")
        await repl.wait_for_function("() => window.replState.awaitingInput")
        await repl.click("#stop")
        await wait_runs(repl, runs + 3)
        await type_and_run(repl, "name")
        await wait_runs(repl, runs + 4)
        return await repl.evaluate("() => window.replState")  # type: ignore[no-any-return]

    state = drive(session)
    assert state["restarts"] == 0 and not state["awaitingInput"], state
    text = transcript(drive, repl)
    assert "name? Ada Lovelace\nhello Ada Lovelace\n" in text, text[-1500:]
    assert "'héllo ✓\\n'" in text, text[-1500:]  # sys.stdin reads the same channel, UTF-8 intact
    tail = text.split(">>> input('again? ')")[-1]
    assert "again? \nTraceback" in tail and "KeyboardInterrupt" in tail and "repl.py" not in tail, tail
    assert tail.rstrip().endswith("'Ada Lovelace'"), tail


def test_tab_completes_names_and_otherwise_indents(repl: Any, drive: Callable[..., Any]) -> None:
    async def session(_context: Any) -> dict[str, Any]:
        area = repl.locator("#code")
        runs = await repl.evaluate("() => window.replState.runs")
        await type_and_run(repl, "unique_name_xyz = 1; unique_name_xya = 2")
        await wait_runs(repl, runs + 1)
        await area.fill("unique_na")
        await area.press("Tab")
        await repl.wait_for_function("() => document.getElementById('code').value !== 'unique_na'")
        common = await area.input_value()
        await area.press("Tab")  # several choices: listed in the transcript
        await repl.wait_for_function("() => document.getElementById('transcript').textContent.includes('xya  ')")
        await area.fill("wi.GraphBui")
        await area.press("Tab")
        await repl.wait_for_function("() => document.getElementById('code').value !== 'wi.GraphBui'")
        attribute = await area.input_value()
        await area.fill("if True:\n")
        await area.press("Tab")
        indented = await area.input_value()
        await area.press("Shift+Tab")
        dedented = await area.input_value()
        focused = await repl.evaluate("() => document.activeElement.id")
        await area.fill("")
        return {"common": common, "attribute": attribute, "indented": indented, "dedented": dedented,
                "focused": focused}

    got = drive(session)
    assert got["common"] == "unique_name_xy", got
    assert "unique_name_xya  unique_name_xyz" in transcript(drive, repl)
    assert got["attribute"] in ("wi.GraphBuilder(", "wi.GraphBuilder()"), got  # 3.14 closes no-arg calls
    assert got["indented"] == "if True:\n    " and got["dedented"] == "if True:\n", got
    assert got["focused"] == "code"  # Tab never moves focus out of the input

def test_stop_restarts_python_blocked_outside_python(repl: Any, drive: Callable[..., Any]) -> None:
    """Python waiting in the browser never sees KeyboardInterrupt: Stop then gives a fresh interpreter."""

    async def session(_context: Any) -> dict[str, Any]:
        runs = await repl.evaluate("() => window.replState.runs")
        await type_and_run(repl, "from js import Atomics, Int32Array, SharedArrayBuffer\n"
                                 "Atomics.wait(Int32Array.new(SharedArrayBuffer.new(4)), 0, 0)")
        await repl.wait_for_function("() => window.replState.busy")
        await repl.locator("#code").press("Control+c")
        await wait_runs(repl, runs + 1)
        await repl.wait_for_function("() => window.replState.ready", timeout=180_000)
        await type_and_run(repl, "'kept' in globals(), 6 * 7")
        await wait_runs(repl, runs + 2)
        return await repl.evaluate("() => window.replState")  # type: ignore[no-any-return]

    state = drive(session)
    assert state["restarts"] == 1, state
    text = transcript(drive, repl)
    assert "Python did not stop within 3 s" in text and "started a new Python" in text, text[-1500:]
    assert re.search(r"^\(False, 42\)$", text, flags=re.M), text[-1500:]

def test_devices_page_summarizes_and_folds_the_full_report(drive: Callable[..., Any], demo_browser: Any,
                                                           artifacts: Path) -> None:
    async def open_devices(context: Any) -> dict[str, Any]:
        page = await context.new_page()
        try:
            await page.goto(f"{demo_browser.server.url}/devices.html")
            await page.wait_for_function("() => document.getElementById('report').textContent.length > 0",
                                         timeout=60_000)
            await page.screenshot(path=str(artifacts / "devices.png"), full_page=True)
            return {
                "rows": await page.eval_on_selector_all("#summary dt", "ds => ds.map(d => d.textContent)"),
                "height": await page.evaluate("() => document.documentElement.scrollHeight"),
                "folded": await page.evaluate("() => !document.querySelector('details.devices-json').open"),
                "report": await page.evaluate("() => JSON.parse(document.getElementById('report').textContent)"),
            }
        finally:
            await page.close()

    got = drive(open_devices)
    assert "WebGPU adapter" in got["rows"] and "WebNN cpu" in got["rows"], got["rows"]
    assert got["folded"] and got["height"] < 2000  # a summary, not thousands of lines of op limits
    assert got["report"]["webnn"]["contexts"]["cpu"]["created"] is True
