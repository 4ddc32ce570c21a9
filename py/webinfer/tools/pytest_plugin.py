"""pytest plugin: run Python inside Pyodide in headless Chromium from a test.

- ``browser_py`` (module scope): a booted Pyodide page with webinfer installed (and the user's wheels).
  ``browser_py.run("code")`` returns the JSON value of the last expression, or raises
  :class:`~webinfer.tools.harness.PageError` carrying the page's traceback.
- ``webinfer_browser`` (session scope): the one Chromium process the pages share.

Settings, each a command-line option or an ini key (the option wins):

====================  =====================  ==============================================================
option                ini key                meaning
====================  =====================  ==============================================================
--webinfer-browser    webinfer_browser       Chromium executable (else WEBINFER_CHROMIUM, then found)
--webinfer-profile    webinfer_profile       swiftshader (default: WebGPU on the CPU) or hardware
--webinfer-backend    webinfer_backend       WEBINFER_BACKEND in every page (what backend="auto" picks)
--webinfer-timeout    webinfer_timeout       seconds for one browser_py.run (default 120)
--webinfer-wheels     webinfer_wheels        pure wheels, folders of them or globs, installed in every page
--require-browser     webinfer_require_browser  fail, not skip, without a browser; fail when none ran
====================  =====================  ==============================================================

Tests that use either fixture are marked ``browser`` automatically. With no Chromium (or nothing set
up: ``webinfer setup``) they skip with the reason, unless ``--require-browser`` is given: then a skipped
browser test fails, and so does a session in which no browser test ran at all. The plugin loads through
the ``webinfer`` entry point; ``-p webinfer.tools.pytest_plugin`` works too, and ``-p no:webinfer`` turns
it off.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from webinfer.tools.harness import Browser, Page, RunResult
    from webinfer.tools.project import Roots

BROWSER_FIXTURES = frozenset({"browser_py", "webinfer_browser"})
PROFILES = ("swiftshader", "hardware")
DEFAULT_TIMEOUT = 120.0
_ran_browser_tests = pytest.StashKey[int]()
_wheels = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("webinfer", "webinfer browser tests (each also an ini key: webinfer_browser, ...)")
    group.addoption(
        "--require-browser",
        action="store_true",
        default=None,
        help="fail (not skip) browser tests when no Chromium is found, and fail when none ran",
    )
    group.addoption("--webinfer-browser", metavar="PATH", help="Chromium executable for browser tests")
    group.addoption("--webinfer-profile", choices=PROFILES,
                    help="browser profile: swiftshader (default; WebGPU on the CPU) or hardware (the real GPU/NPU)")
    group.addoption("--webinfer-backend", metavar="B",
                    help="set WEBINFER_BACKEND in every page (the backend compile(backend='auto') takes)")
    group.addoption("--webinfer-timeout", type=float, metavar="S",
                    help=f"seconds one browser_py.run may take (default {DEFAULT_TIMEOUT:g})")
    group.addoption("--webinfer-wheels", action="append", metavar="PATH",
                    help="a pure wheel, a folder of wheels or a glob, installed in every page; repeatable")
    parser.addini("webinfer_browser", "Chromium executable for browser tests", default="")
    parser.addini("webinfer_profile", "browser profile: swiftshader or hardware", default="swiftshader")
    parser.addini("webinfer_backend", "WEBINFER_BACKEND in every page", default="")
    parser.addini("webinfer_timeout", "seconds one browser_py.run may take", default=str(DEFAULT_TIMEOUT))
    parser.addini("webinfer_wheels", "pure wheels, folders of wheels or globs installed in every page "
                  "(relative to the ini file)", type="paths", default=[])
    parser.addini("webinfer_require_browser", "as --require-browser", type="bool", default=False)


def setting(config: pytest.Config, name: str) -> Any:
    """A webinfer setting: the command-line option ``--webinfer-NAME`` when given, else the ini key
    ``webinfer_NAME``."""
    value = config.getoption(name if name == "require_browser" else f"webinfer_{name}")
    if value is None:
        value = config.getini(f"webinfer_{name}")
    if name == "timeout":
        return float(value)
    return value or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs Python inside Pyodide in headless Chromium")
    config.stash[_ran_browser_tests] = 0
    config.stash[_wheels] = []
    profile = setting(config, "profile")
    if profile not in PROFILES:
        raise pytest.UsageError(f"webinfer_profile = {profile}: choose one of {', '.join(PROFILES)}")
    wheels = setting(config, "wheels")
    if wheels:
        from webinfer.tools.wheels import WheelError, expand_wheels

        try:  # a wheel the page cannot install is a usage error, said once, before any test runs
            config.stash[_wheels] = expand_wheels(wheels)
        except WheelError as exc:
            raise pytest.UsageError(f"webinfer wheels: {exc}") from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if item.get_closest_marker("browser") is None:
        return report
    if report.skipped and not hasattr(report, "wasxfail") and setting(item.config, "require_browser"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"browser test skipped, but --require-browser is set: {reason}"
    elif report.when == "call" and not report.skipped:
        item.config.stash[_ran_browser_tests] += 1
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    no_browser_test = config.stash[_ran_browser_tests] == 0
    if setting(config, "require_browser") and no_browser_test and exitstatus in (0, 5):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if setting(config, "require_browser") and config.stash[_ran_browser_tests] == 0:
        terminalreporter.write_line(
            "FAILED: --require-browser is set but no browser test ran", red=True, bold=True
        )


class BrowserPy:
    """A Pyodide page for tests: ``run`` code, get values back, see the page's tracebacks.

    ``backend`` is set as ``WEBINFER_BACKEND`` in the page when it opens; ``timeout`` bounds each run.
    """

    def __init__(self, browser: Browser, backend: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.browser = browser
        self.backend = backend
        self.timeout = timeout
        self._page: Page | None = None

    @property
    def page(self) -> Page:
        """The page, (re)opened and booted on first use or after a timeout broke it."""
        if self._page is None or self._page.broken:
            if self._page is not None:
                self._page.close()
            self._page = self.browser.open_page()
            if self.backend:
                self._page.eval(f"import os\nos.environ['WEBINFER_BACKEND'] = {self.backend!r}")
        return self._page

    def run_result(self, code: str, timeout: float | None = None) -> RunResult:
        """Run ``code`` (dedented) in the page's shared namespace; never raises for page errors."""
        return self.page.run(textwrap.dedent(code), timeout=timeout or self.timeout)

    def run(self, code: str, timeout: float | None = None) -> Any:
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
    """A started headless Chromium (the browser, profile and wheels settings) serving ``roots``, closed on exit;
    skips the test when there is no Chromium or nothing is set up. For fixtures that need a browser of their own."""
    from webinfer.tools.chromium import BrowserNotFound
    from webinfer.tools.harness import Browser
    from webinfer.tools.project import SetupNeeded
    from webinfer.tools.wheels import WheelError

    wheels: list[Path] = config.stash.get(_wheels, [])
    browser = Browser(browser_path=setting(config, "browser"), profile=setting(config, "profile"), roots=roots,
                      wheels=wheels)
    try:
        browser.start()
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    except SetupNeeded as exc:
        pytest.skip(f"webinfer is not set up for browser tests: {exc}")
    except WheelError as exc:
        pytest.fail(f"webinfer wheels: {exc}", pytrace=False)
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
def browser_py(webinfer_browser: Browser, pytestconfig: pytest.Config) -> Iterator[BrowserPy]:
    """A Pyodide page with webinfer (and the configured wheels) installed, shared by the tests of one module."""
    session = BrowserPy(webinfer_browser, backend=setting(pytestconfig, "backend"),
                        timeout=setting(pytestconfig, "timeout"))
    try:
        yield session
    finally:
        session.close()
