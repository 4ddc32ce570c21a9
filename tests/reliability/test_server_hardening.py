"""The local server under hostile requests (issue 8 item 2), beyond tests/tools/test_server.py.

Traversal that test_server.py does not try (double encoding, overlong UTF-8, dot variants, absolute
targets, symlinks out of every mount), methods on every mount, the loopback default of ``webinfer
serve`` and its warning, oversized request heads, content types of the real project files, and 200
concurrent requests (with idle connections held open) all served.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from webinfer.tools.project import Roots
from webinfer.tools.server import MAX_REQUEST_HEAD, background_server, is_loopback, warn_if_exposed

SECRET = "reliability secret, outside every served root"
BIG = 256 * 1024  # a model file big enough that 200 downloads overlap


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hardening")
    (base / "secret.txt").write_text(SECRET)
    web, pyodide, wheels, models = (base / name for name in ("web", "pyodide", "wheels", "models"))
    for folder in (web, pyodide, wheels, models):
        folder.mkdir()
    (web / "index.html").write_text("<!doctype html><p>index</p>")
    (web / "%2e%2e").mkdir()  # a real folder whose name is the encoded form: served only as itself
    (web / "%2e%2e" / "literal.txt").write_text("literal")
    (pyodide / "package.json").write_text(json.dumps({"version": "314.0.7"}))
    (pyodide / "pyodide.mjs").write_text("export {};")
    (pyodide / "escape.js").symlink_to(base / "secret.txt")
    (wheels / "pyodide-lock.json").write_text("{}")
    (wheels / "webinfer-0.1.0-py3-none-any.whl").write_bytes(b"PK\5\6" + b"\0" * 18)
    (wheels / "escape.whl").symlink_to(base / "secret.txt")
    (models / "m.safetensors").write_bytes(bytes(range(256)) * (BIG // 256))
    (models / "up").symlink_to(base)
    (models / "escape.safetensors").symlink_to(base / "secret.txt")
    return base


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[tuple[str, int]]:
    roots = Roots(web=base / "web", pyodide=base / "pyodide", wheels=base / "wheels", models=base / "models")
    with background_server(roots) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


def raw_request(server: tuple[str, int], head: bytes, timeout: float = 10) -> bytes:
    """Send ``head`` byte for byte; the whole response (or what came before the server closed)."""
    with socket.create_connection(server, timeout=timeout) as sock:
        sock.sendall(head)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def get(server: tuple[str, int], target: str, method: str = "GET", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return raw_request(server, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


TRAVERSALS = [
    "/%252e%252e/secret.txt",  # double encoding: decoded once it is the literal name '%2e%2e'
    "/wheels/%252e%252e%252fsecret.txt",
    "/..%255csecret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/wheels/.%2E/.%2E/secret.txt",
    "/./secret.txt",
    "/wheels/./../secret.txt",
    "/%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 for '.'
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/wheels\\..\\..\\secret.txt",
    "/models/..\\secret.txt",
    "/models/%5c..%5c..%5csecret.txt",
    "/..;/secret.txt",
    "/..%00/secret.txt",
    "/wheels//etc/passwd",
    "/wheels/%2fetc%2fpasswd",
    "/models//etc/passwd",
    "/etc/passwd",
    "/pyodide/314.0.7/escape.js",  # symlinks out of each mount
    "/wheels/escape.whl",
    "/models/escape.safetensors",
    "/models/up/secret.txt",
    "/models/up/web/index.html",  # even a file another mount serves
]


@pytest.mark.parametrize("target", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_traversal_is_refused_with_404(server: tuple[str, int], base: Path, target: str, method: str) -> None:
    response = get(server, target, method)
    assert status_of(response) == 404, response[:200]
    assert SECRET.encode() not in response


@pytest.mark.parametrize(
    "target",
    [
        "{secret}",  # the file's absolute path as the request path
        "/wheels{secret}",
        "http://localhost/../secret.txt",  # absolute-form targets
        "http://localhost/wheels/%2e%2e/secret.txt",
        "http://localhost{secret}",
    ],
)
def test_absolute_paths_are_refused(server: tuple[str, int], base: Path, target: str) -> None:
    response = get(server, target.format(secret=str(base / "secret.txt")))
    assert status_of(response) in (400, 404), response[:200]
    assert SECRET.encode() not in response


@pytest.mark.parametrize("target", ["../secret.txt", "secret.txt", "*"])
def test_targets_without_a_leading_slash_are_refused(server: tuple[str, int], target: str) -> None:
    response = get(server, target)
    assert status_of(response) in (400, 404), response[:200]
    assert SECRET.encode() not in response


def test_a_folder_literally_named_like_an_encoding_is_served_as_itself(server: tuple[str, int]) -> None:
    response = get(server, "/%252e%252e/literal.txt")  # decodes once, to the real folder '%2e%2e'
    assert status_of(response) == 200 and response.endswith(b"literal")


@pytest.mark.parametrize("target", ["/", "/webinfer-config.json", "/wheels/pyodide-lock.json", "/models/m.safetensors",
                                    "/pyodide/314.0.7/pyodide.mjs", "/../secret.txt"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "get", "FOO"])
def test_only_get_and_head_on_every_mount(server: tuple[str, int], target: str, method: str) -> None:
    response = get(server, target, method, {"Content-Length": "0"})
    assert status_of(response) == 405, response[:200]
    assert b"\r\nallow: get, head\r\n" in response.lower()


@pytest.mark.parametrize("size", [MAX_REQUEST_HEAD + 1024, 100 * 1024, 200 * 1024])
def test_an_oversized_header_sent_in_one_write_is_refused(server: tuple[str, int], size: int) -> None:
    """431 from our guard when the head arrives in one read; h11's 400 when the socket splits it."""
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    assert status_of(raw_request(server, head)) in (400, 431)
    if size <= 64 * 1024:  # one socket read: only the guard stands between this and a 200
        assert status_of(raw_request(server, head)) == 431


def test_an_oversized_target_gets_431(server: tuple[str, int]) -> None:
    assert status_of(get(server, "/?" + "q" * (100 * 1024))) == 431


def test_many_small_headers_are_refused(server: tuple[str, int]) -> None:
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n"
    assert status_of(raw_request(server, head)) in (400, 431)


def test_a_huge_header_in_pieces_is_cut_off(server: tuple[str, int]) -> None:
    """1 MiB of header, sent slowly: refused (400/431) or the connection closed, without reading it all."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
        sent = 0
        try:
            while sent < 1024 * 1024:
                sock.sendall(b"a" * 8192)
                sent += 8192
                time.sleep(0.001)
            sock.sendall(b"\r\n\r\n")
            response = sock.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            response = b""
    assert response == b"" or status_of(response) in (400, 431)


def test_a_normal_request_just_under_the_limit_is_served(server: tuple[str, int]) -> None:
    head = (b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Ok: "
            + b"a" * (MAX_REQUEST_HEAD - 200) + b"\r\n\r\n")
    assert status_of(raw_request(server, head)) == 200


@pytest.mark.parametrize(
    ("host", "exposed"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("[::1]", False), ("127.0.0.2", False),
     ("0.0.0.0", True), ("::", True), ("192.0.2.1", True), ("example.org", True)],
)
def test_which_hosts_warn(host: str, exposed: bool) -> None:
    assert is_loopback(host) is not exposed
    assert warn_if_exposed(host) is exposed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webinfer_serve_binds_loopback_by_default() -> None:
    port = free_port()
    command = [sys.executable, "-m", "webinfer.tools.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "Uvicorn running on" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line and proc.poll() is not None:
                break
            seen += line
        assert f"Uvicorn running on http://127.0.0.1:{port}" in seen, seen
        assert "reachable from other machines" not in seen
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/webinfer-config.json")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_webinfer_serve_warns_when_told_to_bind_wider() -> None:
    """192.0.2.1 (TEST-NET-1) is not this machine's, so the bind fails after the warning: nothing is exposed."""
    command = [sys.executable, "-m", "webinfer.tools.cli", "serve", "--host", "192.0.2.1", "--port", str(free_port())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    warning = "WARNING: binding 192.0.2.1: the server (pages, wheels, model files) is reachable from other machines"
    assert warning in done.stderr
    assert done.returncode != 0  # and it says it could not bind, rather than pretending to serve


# -- content types of the real project files (what the browser needs: wasm streaming, module scripts) ---
@pytest.fixture(scope="module")
def project_server() -> Iterator[tuple[tuple[str, int], Roots]]:
    try:
        roots = Roots.discover()
        roots.pyodide_version()
    except (OSError, ValueError) as e:
        pytest.skip(f"project roots are not set up (make setup): {e}")
    with background_server(roots) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        yield (host, int(port)), roots


def _head(server: tuple[str, int], path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*server, timeout=10)
    conn.request("HEAD", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_content_types_of_the_project_files(project_server: tuple[tuple[str, int], Roots]) -> None:
    server, roots = project_server
    version = roots.pyodide_version()
    expected = {
        "/": "text/html",
        "/harness.html": "text/html",
        "/harness.mjs": "text/javascript",
        f"/pyodide/{version}/pyodide.asm.wasm": "application/wasm",
        f"/pyodide/{version}/pyodide.mjs": "text/javascript",
        f"/pyodide/{version}/python_stdlib.zip": "application/zip",
        f"/pyodide/{version}/pyodide-lock.json": "application/json",
        "/wheels/pyodide-lock.json": "application/json",
        "/webinfer-config.json": "application/json",
    }
    wheels = sorted(p.name for p in roots.wheels.glob("*.whl"))
    if wheels:
        expected["/wheels/" + wheels[0]] = "application/zip"
    css = sorted(p.name for p in roots.web.glob("*.css"))
    if css:
        expected["/" + css[0]] = "text/css"
    got = {path: (_head(server, path).status, _head(server, path).getheader("Content-Type", "")) for path in expected}
    assert {p: (s, t.split(";")[0]) for p, (s, t) in got.items()} == {p: (200, t) for p, t in expected.items()}
    assert _head(server, "/").getheader("Content-Type") == "text/html; charset=utf-8"
    missing = _head(server, "/no-such-file.js")
    assert missing.status == 404 and missing.getheader("X-Content-Type-Options") == "nosniff"


# -- load ----------------------------------------------------------------------------------------------
CONCURRENT = 200


async def _fetch(server: tuple[str, int], path: str, requests: int) -> list[tuple[int, int]]:
    """``requests`` GETs of ``path`` on one keep-alive connection: (status, body length) each."""
    reader, writer = await asyncio.open_connection(*server)
    got = []
    try:
        for _ in range(requests):
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            got.append((int(status_line.split()[1]), len(body)))
    finally:
        writer.close()
        await writer.wait_closed()
    return got


async def _load(server: tuple[str, int], requests_each: int, idle: int) -> tuple[list[tuple[int, int]], float]:
    idlers = [await asyncio.open_connection(*server) for _ in range(idle)]  # slow clients that never send
    try:
        t0 = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(_fetch(server, "/models/m.safetensors", requests_each) for _ in range(CONCURRENT))),
            timeout=120,
        )
        seconds = time.perf_counter() - t0
    finally:
        for _, writer in idlers:
            writer.close()
    return [r for conn in results for r in conn], seconds


def test_200_concurrent_requests_are_all_served(server: tuple[str, int]) -> None:
    results, seconds = asyncio.run(_load(server, requests_each=2, idle=50))
    assert len(results) == 2 * CONCURRENT
    assert results == [(200, BIG)] * len(results)
    print(f"\n{len(results)} requests on {CONCURRENT} concurrent connections (+50 idle): {seconds:.2f} s")
    assert get(server, "/")[:15] == b"HTTP/1.1 200 OK"  # and it still serves afterwards


@pytest.mark.slow
def test_2000_concurrent_keep_alive_requests(server: tuple[str, int]) -> None:
    results, _ = asyncio.run(_load(server, requests_each=10, idle=200))
    assert results == [(200, BIG)] * (10 * CONCURRENT)


def test_the_harness_server_listens_on_loopback_only(server: tuple[str, int]) -> None:
    """background_server (what the harness and tests use) binds 127.0.0.1 unless told otherwise."""
    assert server[0] == "127.0.0.1"
