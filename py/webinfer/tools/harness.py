"""Drive Python inside Pyodide in headless Chromium (Playwright).

``Browser`` owns one Chromium process, one browser context (one HTTP cache, so later pages boot
warm) and the local server; ``Page`` is one tab with Pyodide booted and webinfer installed::

    with Browser(profile="swiftshader") as browser:
        page = browser.open_page()
        result = page.run("import webinfer; webinfer.__version__")

The API is synchronous, but Playwright runs (async) on a private event loop in a thread of its
own: Playwright's sync API marks the caller's thread as running an asyncio loop for as long as
it lives, which breaks ``asyncio.run`` in the caller (e.g. host tests in the same session).

Output printed by the page's Python streams to the host as it runs (``on_output`` is called from
the harness thread); an exception in the page comes back as a failed :class:`RunResult`.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from playwright.async_api import BrowserContext, ConsoleMessage, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page as PlaywrightPage
from playwright.async_api import TimeoutError as PlaywrightTimeout

from webinfer.tools.chromium import Chromium, find_chromium, launch_flags
from webinfer.tools.lockfile import served_roots
from webinfer.tools.project import Roots
from webinfer.tools.server import RunningServer, background_server
from webinfer.tools.wheels import expand_wheels

T = TypeVar("T")
OutputCallback = Callable[[str, str], None]

DEFAULT_BOOT_TIMEOUT = 120.0
DEFAULT_RUN_TIMEOUT = 300.0
HARNESS_PAGE = "/harness.html"


class HarnessError(RuntimeError):
    """The harness could not do what it was asked (the page crashed, boot failed, ...)."""


class HarnessTimeout(HarnessError, TimeoutError):
    """A boot or run went past its time limit; the message names what was running."""


class PageError(Exception):
    """Python raised inside the page; ``traceback`` is the page's formatted traceback."""

    def __init__(self, type_name: str, traceback: str, exit_code: int = 1) -> None:
        super().__init__(traceback.rstrip() or type_name)
        self.type_name = type_name
        self.traceback = traceback
        self.exit_code = exit_code


class LoopThread:
    """An asyncio loop in a daemon thread; :meth:`call` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="webinfer-playwright", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop; its result (or exception) in the calling thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


@dataclass
class RunResult:
    """What one :meth:`Page.run` gave back."""

    ok: bool
    exit_code: int
    value: Any = None
    error_type: str | None = None
    traceback: str = ""
    seconds: float = 0.0

    def raise_for_error(self) -> Any:
        """The value, or :class:`PageError` when the page's Python raised."""
        if not self.ok:
            raise PageError(self.error_type or "Error", self.traceback, self.exit_code)
        return self.value


def print_output(stream: str, text: str) -> None:
    """Default output sink: the host's stdout/stderr (looked up per call, so capture works)."""
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def describe(source: str, filename: str) -> str:
    """A short name for a piece of code, for timeout and crash messages."""
    if not filename.startswith("<"):
        return filename
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return repr(first[:60] + ("…" if len(first) > 60 else ""))


class RawPage:
    """A plain tab on the local server, without Pyodide (for probes): evaluate JS, close."""

    def __init__(self, runner: LoopThread, page: PlaywrightPage) -> None:
        self._runner = runner
        self._page = page

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """Evaluate a JavaScript expression or function (Playwright ``page.evaluate``)."""
        return self._runner.call(self._page.evaluate(expression, arg))

    def set_default_timeout(self, milliseconds: float) -> None:
        """Playwright's default timeout for this tab's waits."""
        self._page.set_default_timeout(milliseconds)

    def close(self) -> None:
        """Close the tab."""
        try:
            self._runner.call(self._page.close())
        except PlaywrightError:
            pass


class Page:
    """One browser tab with Pyodide booted and webinfer installed. Made by :meth:`Browser.open_page`."""

    def __init__(self, browser: Browser, on_output: OutputCallback | None = None) -> None:
        self.browser = browser
        self.on_output = on_output or print_output
        self.console_errors: list[str] = []
        self.crashed = False
        self.broken: str | None = None
        self.timings: dict[str, float] = {}
        self._call = browser.runner.call
        self._page: PlaywrightPage = self._call(self._open())

    async def _open(self) -> PlaywrightPage:
        page = await self.browser.context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("crash", self._on_crash)
        await page.expose_function("__webinferOutput", lambda stream, text: self.on_output(stream, text))
        return page

    # -- events (called on the harness thread) -----------------------------------------------
    def _report(self, text: str) -> None:
        self.console_errors.append(text)
        print(f"[browser] {text}", file=sys.stderr, flush=True)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self._report(f"console.error: {message.text}")

    def _on_page_error(self, error: PlaywrightError) -> None:
        self._report(f"uncaught page error: {error}")

    def _on_crash(self, _page: object) -> None:
        self.crashed = True
        self._report("the page crashed")

    # -- jobs ---------------------------------------------------------------------------------
    async def _poll(self, start: str, arg: Any, timeout: float) -> dict[str, Any]:
        job = await self._page.evaluate(start, arg)
        await self._page.wait_for_function(
            "id => window.webinferHarness.done(id)", arg=job, timeout=timeout * 1000, polling="raf"
        )
        result: dict[str, Any] = await self._page.evaluate("id => window.webinferHarness.result(id)", job)
        return result

    async def _job(self, start: str, arg: Any, what: str, timeout: float) -> dict[str, Any]:
        """Start a page job, poll until it is done (bounded by ``timeout``), collect its result."""
        try:
            # wait_for_function enforces the timeout; the outer bound covers the evaluate calls,
            # which have none and hang when the page's thread is blocked.
            return await asyncio.wait_for(self._poll(start, arg, timeout), timeout + 10)
        except (PlaywrightTimeout, TimeoutError):  # asyncio.wait_for raises TimeoutError
            self.broken = f"timed out while running {what}"
            raise HarnessTimeout(
                f"timed out after {timeout:g} s while running {what} in the browser page "
                "(raise --timeout, or look for an endless loop or a promise that never settles)"
            ) from None
        except PlaywrightError as exc:
            self.broken = f"failed while running {what}"
            state = "crashed" if self.crashed else "failed"
            raise HarnessError(f"the browser page {state} while running {what}: {exc}") from None

    async def _boot(self, timeout: float) -> dict[str, Any]:
        try:
            await self._page.goto(self.browser.server.url + HARNESS_PAGE + "?noboot", timeout=timeout * 1000)
        except PlaywrightError as exc:
            raise HarnessError(f"could not open {HARNESS_PAGE}: {exc}") from None
        what = "the Pyodide boot (load Pyodide, micropip, install webinfer)"
        return await self._job("() => window.webinferHarness.startBoot()", None, what, timeout)

    def boot(self, timeout: float = DEFAULT_BOOT_TIMEOUT) -> dict[str, float]:
        """Open the harness page and boot Pyodide + webinfer; returns timings in seconds.

        ``openToImport`` is host-measured: from starting navigation to ``import webinfer`` done.
        """
        start = time.perf_counter()
        result = self._call(self._boot(timeout))
        if not result["ok"]:
            self.broken = "boot failed"
            raise HarnessError(f"booting Pyodide + webinfer failed:\n{result['traceback']}")
        self.timings = {**result["value"], "openToImport": time.perf_counter() - start}
        return self.timings

    def run(
        self,
        source: str,
        filename: str = "<exec>",
        timeout: float = DEFAULT_RUN_TIMEOUT,
        fresh: bool = False,
    ) -> RunResult:
        """Run Python ``source`` in the page (top-level ``await`` allowed; JSPI ``run_sync`` works).

        ``fresh`` runs it as a script in a new ``__main__`` namespace; otherwise every run of this
        page shares one namespace, like a REPL. The result carries the JSON value of the last
        expression, or the error type and traceback.
        """
        if self.broken:
            raise HarnessError(f"this page is unusable: it {self.broken}")
        start = time.perf_counter()
        result = self._call(
            self._job(
                "([s, f, fresh]) => window.webinferHarness.start(s, f, fresh)",
                [source, filename, fresh],
                describe(source, filename),
                timeout,
            )
        )
        return RunResult(
            ok=bool(result["ok"]),
            exit_code=int(result.get("exit", 0 if result["ok"] else 1)),
            value=result.get("value"),
            error_type=result.get("type"),
            traceback=result.get("traceback", ""),
            seconds=time.perf_counter() - start,
        )

    def eval(self, source: str, timeout: float = DEFAULT_RUN_TIMEOUT) -> Any:
        """Run ``source`` in the shared namespace; its last expression's value, or :class:`PageError`."""
        return self.run(source, timeout=timeout).raise_for_error()

    def evaluate_js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate a JavaScript expression or function in the page (Playwright semantics)."""
        return self._call(self._page.evaluate(expression, arg))

    def cdp(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> Any:
        """Send one Chrome DevTools Protocol command to this tab (``HeapProfiler.collectGarbage``, ...).

        Raises :class:`HarnessTimeout` when no answer comes within ``timeout`` seconds (``Page.crash``
        is never answered).
        """

        async def send() -> Any:
            session = await self.browser.context.new_cdp_session(self._page)
            try:
                return await asyncio.wait_for(session.send(method, params or {}), timeout)
            except TimeoutError:
                raise HarnessTimeout(f"no answer to DevTools command {method} within {timeout:g} s") from None
            finally:
                try:  # bounded: after Page.crash the detach is never answered
                    await asyncio.wait_for(session.detach(), 5)
                except (PlaywrightError, TimeoutError):
                    pass

        return self._call(send())

    def close(self) -> None:
        """Close the tab (its Pyodide, proxies and GPU objects go with it)."""
        try:
            self._call(self._page.close())
        except PlaywrightError:
            pass


@dataclass
class Browser:
    """One headless Chromium (with the local server) that pages are opened in.

    ``wheels``: the user's pure wheels (files, folders or glob patterns), installed in every page after webinfer.
    """

    browser_path: str | None = None
    profile: str = "swiftshader"
    roots: Roots | None = None
    headless: bool = True
    wheels: Sequence[str | Path] = ()
    chromium: Chromium | None = field(default=None, init=False)

    def start(self) -> Browser:
        """Start the server and Chromium; raises BrowserNotFound when there is no Chromium, SetupNeeded when
        Pyodide or the wheels are not set up, WheelError for a wheel the page cannot install."""
        flags = launch_flags(self.profile)
        self._stack = ExitStack()
        try:
            wheels = expand_wheels(self.wheels)
            roots = self._stack.enter_context(served_roots(self.roots or Roots.discover(), wheels))
            self.server: RunningServer = self._stack.enter_context(background_server(roots))
            self.runner = LoopThread()
            self._stack.callback(self.runner.stop)
            self._pw: Playwright = self.runner.call(self._start_playwright())
            self._stack.callback(lambda: self.runner.call(self._pw.stop()))
            self.chromium = find_chromium(self.browser_path, managed=self._pw.chromium.executable_path)
            # A persistent context has a disk cache, so V8 can cache Pyodide's compiled wasm:
            # pages after the first boot warm (~1 s faster). The profile is temporary.
            profile_dir = tempfile.mkdtemp(prefix="webinfer-chromium-")
            self._stack.callback(shutil.rmtree, profile_dir, ignore_errors=True)
            self.context: BrowserContext = self.runner.call(
                self._pw.chromium.launch_persistent_context(
                    profile_dir, executable_path=str(self.chromium.path), args=flags, headless=self.headless
                )
            )
            self._stack.callback(lambda: self.runner.call(self.context.close()))
        except BaseException:
            self.close()
            raise
        return self

    @staticmethod
    async def _start_playwright() -> Playwright:
        return await async_playwright().start()

    async def _product(self) -> str:
        page = self.context.pages[0] if self.context.pages else await self.context.new_page()
        session = await self.context.new_cdp_session(page)
        product: str = (await session.send("Browser.getVersion"))["product"]
        await session.detach()
        return product

    @property
    def version(self) -> str:
        """The browser's product and version, e.g. ``HeadlessChrome/153.0.8010.0``."""
        if not hasattr(self, "_version"):
            self._version: str = self.runner.call(self._product())
        return self._version

    @property
    def path(self) -> Path:
        """The Chromium executable in use."""
        assert self.chromium is not None, "Browser.start() first"
        return self.chromium.path

    def open_page(
        self,
        boot: bool = True,
        timeout: float = DEFAULT_BOOT_TIMEOUT,
        on_output: OutputCallback | None = None,
    ) -> Page:
        """A new tab; with ``boot`` (default) Pyodide is booted and webinfer installed."""
        page = Page(self, on_output)
        if boot:
            try:
                page.boot(timeout)
            except BaseException:
                page.close()
                raise
        return page

    def open_blank(self, path: str = HARNESS_PAGE + "?noboot") -> RawPage:
        """A plain tab on the local server, without Pyodide (for probes)."""

        async def open_tab() -> PlaywrightPage:
            page = await self.context.new_page()
            await page.goto(self.server.url + path)
            return page

        return RawPage(self.runner, self.runner.call(open_tab()))

    def close(self) -> None:
        """Close Chromium, Playwright, the harness thread and the server (reverse start order)."""
        stack = getattr(self, "_stack", None)
        if stack is not None:
            try:
                stack.close()
            except PlaywrightError:
                pass  # the browser was already gone

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_script(
    path: Path,
    browser_path: str | None = None,
    profile: str = "swiftshader",
    timeout: float = DEFAULT_RUN_TIMEOUT,
    prelude: str = "",
    wheels: Sequence[str | Path] = (),
) -> int:
    """Run a Python file in a fresh page (the user's ``wheels`` installed too); print its output and traceback;
    return its exit code."""
    source = path.read_text()
    with Browser(browser_path=browser_path, profile=profile, wheels=wheels) as browser:
        page = browser.open_page()
        if prelude:
            page.run(prelude, filename="<prelude>", timeout=timeout).raise_for_error()
        result = page.run(source, filename=str(path), timeout=timeout, fresh=True)
    if result.traceback:
        print(result.traceback.rstrip(), file=sys.stderr)
    return result.exit_code

