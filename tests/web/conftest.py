"""Fixtures for the demo/REPL tests: the demo data (real MiniLM, a small corpus), a Chromium per module,
a plain static file server, and where screenshots go (``artifacts/``, gitignored)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from webinfer.tools.project import Roots, project_root
from webinfer.tools.pytest_plugin import started_browser

T = TypeVar("T")

#: The test corpus: enough modules that the expected hits have real competition (os.rmdir, os.removedirs
#: for "remove a directory tree"), small enough to embed in a few seconds.
TEST_MODULES = ("shutil", "os", "os.path", "urllib.parse", "math", "json")


@pytest.fixture(scope="session")
def corpus_modules() -> tuple[str, ...]:
    """The modules of the test corpus (pass them to anything that builds demo data, so it is reused)."""
    return TEST_MODULES


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``artifacts/`` in the checkout: screenshots of the pages under test."""
    path = project_root() / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo build directory: all-MiniLM-L6-v2 (float16) and the corpus of TEST_MODULES."""
    from webinfer.models.minilm import ModelFilesNotFound, minilm_path
    from webinfer.tools.demo import build_demo_data

    try:
        minilm_path()
    except ModelFilesNotFound as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("demo-data")
    build_demo_data(out, modules=TEST_MODULES)
    return out


@pytest.fixture(scope="session")
def site_roots() -> Roots:
    """The checkout's pages, Pyodide dist and wheels; skips when `make setup` has not made them."""
    try:
        roots = Roots.discover()
        roots.pyodide_version()
        roots.webinfer_wheel()
    except (OSError, ValueError) as exc:
        pytest.skip(f"no Pyodide dist or wheel here ({exc}); run `make setup`")
    return roots


@pytest.fixture(scope="module")
def demo_browser(pytestconfig: pytest.Config, demo_data: Path, site_roots: Roots) -> Iterator[Any]:
    """One headless Chromium per module, its server serving the demo data at /models/."""
    roots = Roots(web=site_roots.web, pyodide=site_roots.pyodide, wheels=site_roots.wheels, models=demo_data)
    with started_browser(pytestconfig, roots) as browser:
        yield browser


@pytest.fixture(scope="module")
def drive(demo_browser: Any) -> Callable[[Callable[[Any], Awaitable[T]]], T]:
    """``drive(work)`` runs ``work(context)`` (async Playwright, on the harness's loop) in the module's browser."""

    def run(work: Callable[[Any], Awaitable[T]]) -> T:
        return demo_browser.runner.call(work(demo_browser.context))  # type: ignore[no-any-return]

    return run


@pytest.fixture(scope="module")
def static_server() -> Iterator[Callable[[Path], str]]:
    """Serve directories with Python's plain ``http.server`` (no COOP/COEP headers); gives their base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    def serve(directory: Path) -> str:
        handler = functools.partial(Quiet, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
