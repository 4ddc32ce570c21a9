"""The harness: boot, streamed output, values, tracebacks, exit codes, timeouts, page errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from webinfer.tools.harness import Browser, HarnessError, HarnessTimeout, Page, PageError, RunResult

pytestmark = pytest.mark.browser


class Output:
    def __init__(self) -> None:
        self.chunks: list[tuple[str, str, float]] = []

    def __call__(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text, time.perf_counter()))

    def text(self, stream: str) -> str:
        return "".join(text for s, text, _ in self.chunks if s == stream)


@pytest.fixture(scope="module")
def output() -> Output:
    return Output()


@pytest.fixture(scope="module")
def page(webinfer_browser: Browser, output: Output) -> Iterator[Page]:
    page = webinfer_browser.open_page(on_output=output)
    yield page
    page.close()


def test_boot_reports_timings(page: Page) -> None:
    assert {"loadPyodide", "micropip", "importWebinfer", "openToImport"} <= set(page.timings)
    assert 0 < page.timings["loadPyodide"] < page.timings["importWebinfer"] < page.timings["openToImport"]


def test_print_streams_while_the_script_runs(page: Page, output: Output) -> None:
    output.chunks.clear()
    source = (
        "import js, sys\nfrom pyodide.ffi import run_sync\n"
        "print('first')\n"
        "run_sync(js.eval('new Promise(r => setTimeout(r, 700))'))\n"
        "print('second')\nprint('to stderr', file=sys.stderr)\n"
    )
    start = time.perf_counter()
    result = page.run(source, filename="stream.py", fresh=True)
    end = time.perf_counter()
    assert result.ok and result.exit_code == 0
    assert output.text("stdout") == "first\nsecond\n"
    assert output.text("stderr") == "to stderr\n"
    first_at = next(at for _, text, at in output.chunks if "first" in text)
    assert first_at - start < end - first_at  # arrived before the script finished sleeping


def test_value_of_the_last_expression(page: Page) -> None:
    assert page.run("x = 20\n{'x': x + 1, 'l': [1.5, None, 'a']}").value == {"x": 21, "l": [1.5, None, "a"]}
    assert page.run("x").value == 20  # the page keeps one namespace between runs
    assert page.run("y = 1").value is None


def test_fresh_runs_get_their_own_main(page: Page) -> None:
    page.run("leak = 1")
    result = page.run("__name__, 'leak' in globals()", fresh=True)
    assert result.value == ["__main__", False]


def test_exception_gives_exit_1_and_the_script_traceback(page: Page) -> None:
    result = page.run("def f():\n    raise ValueError('boom')\n\nf()\n", filename="boom.py", fresh=True)
    assert not result.ok and result.exit_code == 1 and result.error_type == "ValueError"
    assert result.traceback.startswith("Traceback (most recent call last):\n  File \"boom.py\", line 4")
    assert "raise ValueError('boom')" in result.traceback
    assert result.traceback.rstrip().endswith("ValueError: boom")
    assert "_pyodide" not in result.traceback  # the harness's own frames are dropped


def test_raise_for_error(page: Page) -> None:
    with pytest.raises(PageError, match="ZeroDivisionError") as error:
        page.run("1/0").raise_for_error()
    assert error.value.type_name == "ZeroDivisionError"


@pytest.mark.parametrize(
    ("code", "exit_code"), [("sys.exit()", 0), ("sys.exit(0)", 0), ("sys.exit(3)", 3), ("sys.exit('bye')", 1)]
)
def test_sys_exit_sets_the_exit_code(page: Page, code: str, exit_code: int) -> None:
    result = page.run("import sys\n" + code, fresh=True)
    assert (result.exit_code, result.ok) == (exit_code, exit_code == 0)


def test_syntax_error(page: Page) -> None:
    result = page.run("def f(:\n  pass\n", filename="bad.py")
    assert result.error_type == "SyntaxError" and 'File "bad.py", line 1' in result.traceback
    assert "_pyodide" not in result.traceback


def test_unserializable_value_is_an_error(page: Page) -> None:
    result = page.run("object()")
    assert result.error_type == "TypeError" and "not JSON-serializable" in result.traceback


def test_console_errors_and_uncaught_errors_are_reported(page: Page, capsys: pytest.CaptureFixture[str]) -> None:
    page.run("import js\njs.console.error('visible problem')")
    page.evaluate_js("() => { setTimeout(() => { throw new Error('kaboom'); }, 0); }")
    page.run("import js\nfrom pyodide.ffi import run_sync\nrun_sync(js.eval('new Promise(r => setTimeout(r, 50))'))")
    assert any("visible problem" in e for e in page.console_errors)
    assert any("kaboom" in e for e in page.console_errors)
    assert "[browser] console.error: visible problem" in capsys.readouterr().err


def test_timeout_names_what_was_running(webinfer_browser: Browser) -> None:
    page = webinfer_browser.open_page(on_output=lambda s, t: None)
    try:
        with pytest.raises(HarnessTimeout, match=r"timed out after 1 s while running slow\.py"):
            page.run("import js\nawait js.eval('new Promise(() => {})')", filename="slow.py", timeout=1)
        with pytest.raises(HarnessError, match="unusable"):
            page.run("1")
    finally:
        page.close()


def test_run_result_defaults() -> None:
    assert RunResult(ok=True, exit_code=0, value=3).raise_for_error() == 3


def test_the_callers_thread_keeps_no_running_event_loop(page: Page) -> None:
    # Playwright's sync API would leave a "running" loop on this thread; host code needs asyncio.run.
    page.run("1")

    async def answer() -> int:
        return 42

    assert asyncio.run(answer()) == 42
