"""pytest plugin: run Python inside Pyodide in headless Chromium from a test.

- ``browser_py`` (module scope): a booted Pyodide page with webinfer installed.
  ``browser_py.run("code")`` returns the JSON value of the last expression, or raises
  :class:`~webinfer.tools.harness.PageError` carrying the page's traceback.
- ``webinfer_browser`` (session scope): the one Chromium process the pages share.

Tests that use either fixture are marked ``browser`` automatically. With no Chromium they skip
with the reason, unless ``--require-browser`` is given: then a skipped browser test fails, and
so does a session in which no browser test ran at all.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from webinfer.tools.harness import Browser, Page, RunResult
    from webinfer.tools.project import Roots

BROWSER_FIXTURES = frozenset({"browser_py", "webinfer_browser"})
_ran_browser_tests = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("webinfer", "webinfer browser tests")
    group.addoption(
        "--require-browser",
        action="store_true",
        help="fail (not skip) browser tests when no Chromium is found, and fail when none ran",
    )
    group.addoption("--webinfer-browser", metavar="PATH", help="Chromium executable for browser tests")
    group.addoption(
        "--webinfer-profile",
        default="swiftshader",
        choices=("swiftshader", "hardware"),
        help="browser profile for browser tests (default swiftshader)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs Python inside Pyodide in headless Chromium")
    config.stash[_ran_browser_tests] = 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if item.get_closest_marker("browser") is None:
        return report
    if report.skipped and not hasattr(report, "wasxfail") and item.config.getoption("require_browser"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"browser test skipped, but --require-browser is set: {reason}"
    elif report.when == "call" and not report.skipped:
        item.config.stash[_ran_browser_tests] += 1
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    no_browser_test = config.stash[_ran_browser_tests] == 0
    if config.getoption("require_browser") and no_browser_test and exitstatus in (0, 5):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if config.getoption("require_browser") and config.stash[_ran_browser_tests] == 0:
        terminalreporter.write_line(
            "FAILED: --require-browser is set but no browser test ran", red=True, bold=True
        )


class BrowserPy:
    """A Pyodide page for tests: ``run`` code, get values back, see the page's tracebacks."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._page: Page | None = None

    @property
    def page(self) -> Page:
        """The page, (re)opened and booted on first use or after a timeout broke it."""
        if self._page is None or self._page.broken:
            if self._page is not None:
                self._page.close()
            self._page = self.browser.open_page()
        return self._page

    def run_result(self, code: str, timeout: float = 120.0) -> RunResult:
        """Run ``code`` (dedented) in the page's shared namespace; never raises for page errors."""
        return self.page.run(textwrap.dedent(code), timeout=timeout)

    def run(self, code: str, timeout: float = 120.0) -> Any:
        """Run ``code``; the last expression's JSON value, or :class:`PageError`."""
        return self.run_result(code, timeout).raise_for_error()

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate JavaScript in the page (Playwright ``page.evaluate`` semantics)."""
        return self.page.evaluate_js(expression, arg)

    def close(self) -> None:
        if self._page is not None:
            self._page.close()
            self._page = None


@contextlib.contextmanager
def started_browser(config: pytest.Config, roots: Roots | None = None) -> Iterator[Browser]:
    """A started headless Chromium (``--webinfer-browser``, ``--webinfer-profile``) serving ``roots``, closed on
    exit; skips the test when there is no Chromium. For fixtures that need a browser of their own."""
    from webinfer.tools.chromium import BrowserNotFound
    from webinfer.tools.harness import Browser

    browser = Browser(
        browser_path=config.getoption("webinfer_browser"), profile=config.getoption("webinfer_profile"), roots=roots
    )
    try:
        browser.start()
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def webinfer_browser(pytestconfig: pytest.Config) -> Iterator[Browser]:
    """One headless Chromium (and local server) for the whole session; skips without Chromium."""
    with started_browser(pytestconfig) as browser:
        yield browser


@pytest.fixture(scope="module")
def browser_py(webinfer_browser: Browser) -> Iterator[BrowserPy]:
    """A Pyodide page with webinfer installed, shared by the tests of one module."""
    session = BrowserPy(webinfer_browser)
    try:
        yield session
    finally:
        session.close()
