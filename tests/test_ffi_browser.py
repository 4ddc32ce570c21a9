"""webinfer.ffi inside Pyodide: JSPI run_sync, WebNN dictionaries, zero-copy GPU upload, no leaks."""

from __future__ import annotations

import pytest

from webinfer.tools.harness import PageError
from webinfer.tools.pytest_plugin import BrowserPy

pytestmark = pytest.mark.browser


def test_in_browser_with_jspi(browser_py: BrowserPy) -> None:
    assert browser_py.run("from webinfer import ffi\n[ffi.in_browser(), ffi.jspi_available()]") == [True, True]


def test_run_sync_blocks_on_a_promise(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        import js
        from webinfer import ffi
        ffi.run_sync(js.eval("new Promise(resolve => setTimeout(() => resolve(42), 20))"))
        """
    )
    assert value == 42


def test_run_sync_raises_js_errors_as_python(browser_py: BrowserPy) -> None:
    with pytest.raises(PageError, match="nope") as error:
        browser_py.run(
            """
            import js
            from webinfer import ffi
            ffi.run_sync(js.eval("Promise.reject(new Error('nope'))"))
            """
        )
    assert "JsException" in error.value.traceback


def test_run_sync_without_jspi_names_the_way_out(browser_py: BrowserPy) -> None:
    browser_py.run("1")  # make sure the page is booted
    message = browser_py.js(
        """() => {
            try {
                window.webinferHarness.getPyodide().runPython(
                    "import js\\nfrom webinfer import ffi\\nffi.run_sync(js.Promise.resolve(1))");
                return "no error";
            } catch (error) { return error.message; }
        }"""
    )
    assert "JSPIUnavailable" in message
    assert "runPythonAsync" in message


def test_to_js_dict_makes_plain_objects_for_webnn(browser_py: BrowserPy) -> None:
    value = browser_py.run(
        """
        import js
        from webinfer import ffi
        obj = ffi.to_js_dict({"deviceType": "cpu", "nested": {"a": [1, 2]}})
        context = ffi.run_sync(js.navigator.ml.createContext(ffi.to_js_dict({"deviceType": "cpu"})))
        limits = context.opSupportLimits()
        [js.Object.getPrototypeOf(obj) == js.Object.prototype, list(js.Object.keys(obj.nested)),
         limits.preferredInputLayout in ("nchw", "nhwc")]
        """
    )
    assert value == [True, ["a"], True]


UPLOAD = """
import array, js
from webinfer import ffi
adapter = ffi.run_sync(js.navigator.gpu.requestAdapter())
device = ffi.run_sync(adapter.requestDevice())
before = ffi.ledger.live()
buf = ffi.create_buffer(device, 64, ffi.STORAGE | ffi.COPY_SRC | ffi.COPY_DST, "test")
ffi.upload(device, buf, array.array("f", [1.5, -2.0, 3.25, 4.0]))
ffi.upload(device, buf, bytes(range(16)), offset=16)
ffi.upload(device, buf, memoryview(bytearray(b"\\xee" * 8)), offset=32)
data = ffi.read_buffer(device, buf, 48)
ffi.destroy_buffer(buf)
after = ffi.ledger.live()
"""


def test_upload_then_read_back(browser_py: BrowserPy) -> None:
    browser_py.run(UPLOAD)
    floats = browser_py.run("array.array('f', data[:16]).tolist()")
    assert floats == [1.5, -2.0, 3.25, 4.0]
    assert browser_py.run("list(data[16:32])") == list(range(16))
    assert browser_py.run("list(data[32:40])") == [0xEE] * 8


def test_upload_leaves_no_live_proxies_or_buffers(browser_py: BrowserPy) -> None:
    browser_py.run(UPLOAD)
    before, after = browser_py.run("[before, after]")
    assert after == {**before, "buffer": 0, "proxy": 0}
    assert browser_py.run("ffi.ledger.snapshot()['created']['proxy']") >= 3


def test_upload_checks_alignment(browser_py: BrowserPy) -> None:
    browser_py.run(UPLOAD)
    with pytest.raises(PageError, match="multiples of 4"):
        browser_py.run("buf2 = ffi.create_buffer(device, 16, ffi.COPY_DST)\nffi.upload(device, buf2, b'abc')")
    browser_py.run("ffi.destroy_buffer(buf2)")
