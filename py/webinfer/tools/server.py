"""The local web server: pages, the Pyodide dist, the lock and wheels, and model files.

Every response carries the headers that make a page cross-origin isolated (COOP/COEP, and CORP
for assets), so SharedArrayBuffer works. Only GET and HEAD are served, and a path that tries to
leave its root (``..``, encoded or not, backslashes, absolute paths, symlinks out) gets a 404.
A request head (target and headers) over :data:`MAX_REQUEST_HEAD` bytes gets a 431.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webinfer.tools.project import Roots

log = logging.getLogger("webinfer.server")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: The most bytes of request target plus headers served (h11 alone enforces its limit only on a head
#: that arrives in pieces: one sent in a single write of up to ~256 KiB got through).
MAX_REQUEST_HEAD = 16 * 1024

#: Types mimetypes gets wrong or does not know on every platform.
MEDIA_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".safetensors": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
    ".wgsl": "text/plain; charset=utf-8",
}

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

#: The Pyodide dist is mounted under its version, so it can be cached for good.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Pages, wheels, the lock and models change in place: the browser revalidates (ETag → 304).
REVALIDATE = "no-cache"


def media_type(path: str) -> str:
    """The Content-Type for a served file name."""
    ext = os.path.splitext(path)[1].lower()
    return MEDIA_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


class AssetFiles(StaticFiles):
    """StaticFiles with our MIME table and a Cache-Control policy per mount."""

    def __init__(self, *, directory: str | os.PathLike[str], cache_control: str, html: bool = False):
        super().__init__(directory=directory, html=html, check_dir=False)
        self.cache_control = cache_control

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=media_type(str(full_path)),
            headers={"Cache-Control": self.cache_control},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


def is_unsafe_path(path: str) -> bool:
    """True for a decoded request path that could step outside a served root."""
    if "\\" in path or "\x00" in path or path.startswith("//"):
        return True
    return any(part in ("..", ".") for part in path.split("/"))


def request_head_size(scope: Scope) -> int:
    """Bytes of a request's target and headers, roughly as they came on the wire."""
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string") or b"")
    return target + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class RequestGuard:
    """ASGI middleware: GET/HEAD only (405 otherwise), 431 for oversized heads, 404 for traversal attempts.

    ASGI servers percent-decode ``path``, so ``%2e%2e`` arrives here as ``..``. StaticFiles also
    checks realpath/commonpath per file, which catches symlinks leaving the root.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            response: Response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        elif request_head_size(scope) > MAX_REQUEST_HEAD:
            response = PlainTextResponse(
                "Request Header Fields Too Large", status_code=431, headers={"Connection": "close"}
            )
        elif is_unsafe_path(scope["path"]):
            response = PlainTextResponse("Not Found", status_code=404)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


class IsolationHeaders:
    """ASGI middleware: COOP/COEP/CORP (and nosniff) on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ISOLATION_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(roots: Roots) -> Starlette:
    """The ASGI app serving ``roots``.

    Layout: ``/`` web pages, ``/pyodide/<version>/`` the Pyodide dist, ``/wheels/`` the lock and
    wheels, ``/models/`` model files, ``/webinfer-config.json`` the URLs a page needs to boot and the
    lock entries (the user's wheels) it loads after webinfer.
    """
    pyodide_version = roots.pyodide_version()
    pyodide_url = f"/pyodide/{pyodide_version}/"

    async def config(request: Request) -> JSONResponse:
        try:
            wheel = roots.webinfer_wheel()
        except (OSError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        body = {
            "pyodideIndexURL": pyodide_url,
            "lockFileURL": "/wheels/pyodide-lock.json",
            "wheel": "/wheels/" + wheel,
            "modelsURL": "/models/",
            "packages": list(roots.packages),
        }
        return JSONResponse(body, headers={"Cache-Control": REVALIDATE})

    routes = [
        Route("/webinfer-config.json", config, methods=["GET", "HEAD"]),
        Mount(pyodide_url, AssetFiles(directory=roots.pyodide, cache_control=IMMUTABLE)),
        Mount("/wheels", AssetFiles(directory=roots.wheels, cache_control=REVALIDATE)),
    ]
    if roots.models is not None:
        routes.append(Mount("/models", AssetFiles(directory=roots.models, cache_control=REVALIDATE)))
    routes.append(Mount("/", AssetFiles(directory=roots.web, cache_control=REVALIDATE, html=True)))
    app = Starlette(routes=routes)
    app.add_middleware(RequestGuard)
    app.add_middleware(IsolationHeaders)
    return app


def is_loopback(host: str) -> bool:
    """True for a name or address that only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to a public address


def warn_if_exposed(host: str) -> bool:
    """Log a warning (and return True) when ``host`` is not a loopback address."""
    if is_loopback(host):
        return False
    log.warning(
        "binding %s: the server (pages, wheels, model files) is reachable from other machines; "
        "use --host 127.0.0.1 to keep it local",
        host,
    )
    return True


#: uvicorn options every webinfer server uses: h11 (whatever else is installed), with our head limit.
UVICORN_OPTIONS: dict[str, Any] = {"http": "h11", "h11_max_incomplete_event_size": MAX_REQUEST_HEAD}


def serve(roots: Roots, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``roots`` in the foreground until interrupted."""
    warn_if_exposed(host)
    uvicorn.run(create_app(roots), host=host, port=port, log_level="info", **UVICORN_OPTIONS)


@dataclass
class RunningServer:
    """A server started by :func:`background_server`."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def background_server(roots: Roots, host: str = "127.0.0.1") -> Iterator[RunningServer]:
    """Serve ``roots`` from a thread on a free port of ``host``; yields its base URL."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(roots), log_level="warning", lifespan="off", **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="webinfer-server", daemon=True
    )
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the webinfer server thread exited before it started")
            threading.Event().wait(0.01)
        netloc = f"[{host}]" if ":" in host else host
        yield RunningServer(url=f"http://{netloc}:{port}", server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
