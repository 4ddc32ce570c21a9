"""The local server: isolation headers, MIME types, caching, methods and path traversal."""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from webinfer.tools.project import Roots, SetupNeeded
from webinfer.tools.server import (
    IMMUTABLE,
    REVALIDATE,
    background_server,
    create_app,
    is_unsafe_path,
    media_type,
    warn_if_exposed,
)

SECRET = "top secret, outside every root"


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Roots:
    base = tmp_path_factory.mktemp("served")
    (base / "secret.txt").write_text(SECRET)
    web = base / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><p>index</p>")
    (web / "page.mjs").write_text("export const x = 1;")
    (web / "escape.txt").symlink_to(base / "secret.txt")
    (web / "linkdir").symlink_to(base)
    (web / "inside.txt").write_text("inside")
    (web / "alias.txt").symlink_to(web / "inside.txt")
    pyodide = base / "pyodide"
    pyodide.mkdir()
    (pyodide / "package.json").write_text(json.dumps({"version": "314.0.7"}))
    (pyodide / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    (pyodide / "pyodide.mjs").write_text("export {};")
    wheels = base / "wheels"
    wheels.mkdir()
    (wheels / "webinfer-0.1.0-py3-none-any.whl").write_bytes(b"PK\5\6" + b"\0" * 18)
    lock = {"info": {}, "packages": {"webinfer": {"file_name": "webinfer-0.1.0-py3-none-any.whl"}}}
    (wheels / "pyodide-lock.json").write_text(json.dumps(lock))
    models = base / "models"
    models.mkdir()
    (models / "m.safetensors").write_bytes(b"\x08\0\0\0\0\0\0\0{}      ")
    return Roots(web=web, pyodide=pyodide, wheels=wheels, models=models)


@pytest.fixture(scope="module")
def server(roots: Roots) -> Iterator[tuple[str, int]]:
    with background_server(roots) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


def request(server: tuple[str, int], path: str, method: str = "GET", headers: dict[str, str] | None = None):
    """Send ``path`` byte for byte (http.client does not normalize ``..``)."""
    conn = http.client.HTTPConnection(*server, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    ["/", "/page.mjs", "/pyodide/314.0.7/pyodide.asm.wasm", "/wheels/pyodide-lock.json", "/nope", "/../x"],
)
def test_every_response_is_cross_origin_isolated(server: tuple[str, int], path: str) -> None:
    response, _ = request(server, path)
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    assert response.getheader("Cross-Origin-Resource-Policy") == "same-origin"
    assert response.getheader("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/", "text/html", REVALIDATE),
        ("/page.mjs", "text/javascript", REVALIDATE),
        ("/pyodide/314.0.7/pyodide.asm.wasm", "application/wasm", IMMUTABLE),
        ("/pyodide/314.0.7/pyodide.mjs", "text/javascript", IMMUTABLE),
        ("/wheels/pyodide-lock.json", "application/json", REVALIDATE),
        ("/wheels/webinfer-0.1.0-py3-none-any.whl", "application/zip", REVALIDATE),
        ("/models/m.safetensors", "application/octet-stream", REVALIDATE),
    ],
)
def test_mime_types_and_cache_policy(server: tuple[str, int], path: str, content_type: str, cache: str) -> None:
    response, body = request(server, path)
    assert response.status == 200
    assert response.getheader("Content-Type").split(";")[0] == content_type
    assert response.getheader("Cache-Control") == cache
    assert body


def test_etag_revalidation_gives_304(server: tuple[str, int]) -> None:
    response, _ = request(server, "/wheels/pyodide-lock.json")
    etag = response.getheader("ETag")
    assert etag
    again, body = request(server, "/wheels/pyodide-lock.json", headers={"If-None-Match": etag})
    assert again.status == 304 and body == b""
    assert again.getheader("Cross-Origin-Embedder-Policy") == "require-corp"


def test_head_has_length_and_no_body(server: tuple[str, int]) -> None:
    response, body = request(server, "/pyodide/314.0.7/pyodide.asm.wasm", method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == "8"


def test_config_names_the_urls_a_page_needs(server: tuple[str, int]) -> None:
    response, body = request(server, "/webinfer-config.json")
    assert response.status == 200
    assert json.loads(body) == {
        "pyodideIndexURL": "/pyodide/314.0.7/",
        "lockFileURL": "/wheels/pyodide-lock.json",
        "wheel": "/wheels/webinfer-0.1.0-py3-none-any.whl",
        "modelsURL": "/models/",
        "packages": [],  # the user's wheels (--wheel): none here
    }


def test_symlink_inside_the_root_is_served(server: tuple[str, int]) -> None:
    response, body = request(server, "/alias.txt")
    assert (response.status, body) == (200, b"inside")


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/wheels/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/wheels/..%2f..%2fsecret.txt",
        "/pyodide/314.0.7/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/models/%2e%2e/secret.txt",
        "/escape.txt",
        "/linkdir/secret.txt",
        "/secret.txt%00.html",
    ],
)
def test_traversal_is_refused_with_404(server: tuple[str, int], path: str) -> None:
    response, body = request(server, path)
    assert response.status == 404
    assert SECRET.encode() not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(server: tuple[str, int], method: str) -> None:
    response, _ = request(server, "/", method=method)
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"


@pytest.mark.parametrize(
    ("path", "unsafe"),
    [("/a/b.txt", False), ("/a/../b", True), ("/./a", True), ("/a\\b", True), ("//abs", True), ("/a\x00", True)],
)
def test_is_unsafe_path(path: str, unsafe: bool) -> None:
    assert is_unsafe_path(path) is unsafe


def test_media_type_table() -> None:
    assert media_type("x.wasm") == "application/wasm"
    assert media_type("X.SAFETENSORS") == "application/octet-stream"
    assert media_type("a.whl") == "application/zip"


def test_missing_pyodide_dist_says_how_to_fix(tmp_path: Path) -> None:
    roots = Roots(web=tmp_path, pyodide=tmp_path / "none", wheels=tmp_path)
    with pytest.raises(SetupNeeded, match="webinfer setup"):
        create_app(roots)


def test_config_lists_the_users_packages(roots: Roots) -> None:
    with background_server(dataclasses.replace(roots, packages=("tinypkg",))) as running:
        host, port = running.url.removeprefix("http://").rsplit(":", 1)
        response, body = request((host, int(port)), "/webinfer-config.json")
    assert json.loads(body)["packages"] == ["tinypkg"]


def test_binding_beyond_loopback_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="webinfer.server"):
        assert warn_if_exposed("127.0.0.1") is False
        assert not caplog.records
        assert warn_if_exposed("0.0.0.0") is True
    assert "reachable from other machines" in caplog.text
