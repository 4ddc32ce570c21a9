"""Faults (issue 8 item 4): lost devices and contexts, crashed and hung pages.

- A lost WebGPU device or WebNN context (``device.destroy()`` / ``context.destroy()`` under a live
  session) gives a ``webinfer.BackendError`` that says so on the next run (sync and async, never a raw
  ``JsException``), closing the broken session frees what it held, and a new session works — for the
  webgpu, webnn and hybrid backends.
- A page that crashes or hangs is reported by the harness naming what it was running, the browser
  stays usable, and ``webinfer run`` exits non-zero (3 crash, 124 timeout) within its timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from webinfer.tools.harness import Browser, HarnessError, HarnessTimeout
from webinfer.tools.pytest_plugin import BrowserPy

SETUP = """
import json
import webinfer as wi
from webinfer import ffi
from webinfer.backends.webgpu import runtime as gpu_runtime
from webinfer.backends.webnn import WebNNContext, WebNNSession
from webinfer.backends.webnn.session import runtime as nn_runtime

def fault_graph():
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [4])
    return g.build({"y": g.mul(g.relu(g.sub(x, g.constant(1.0))), g.constant(2.0))})

G = fault_graph()
X = [1.0, -1.0, 3.0, 5.0]
WANT = [0.0, 0.0, 4.0, 8.0]

def outcome(call):
    try:
        value = call()
    except BaseException as e:
        return [type(e).__name__, str(e)]
    return ["ok", value]

async def outcome_async(make):
    try:
        value = await make()
    except BaseException as e:
        return [type(e).__name__, str(e)]
    return ["ok", value]

def live():
    nn = json.loads(str(nn_runtime().countersJSON()))
    return {"gpu_buffers": gpu_runtime.counters()["buffers"], "mltensors": nn["tensors"], "mlcontexts": nn["contexts"]}

def y_of(sess):
    return sess.run({"x": X})["y"].tolist()
"""


@pytest.fixture(scope="module")
def page(browser_py: BrowserPy) -> BrowserPy:
    browser_py.run(SETUP)
    return browser_py


def _assert_clear(result: list, *phrases: str) -> None:
    kind, message = result
    assert kind == "BackendError", result
    assert "JsException" not in message
    for phrase in phrases:
        assert phrase in message, message


def test_lost_webnn_context_is_a_clear_error_and_a_new_session_works(page: BrowserPy) -> None:
    got = page.run("""
        before = live()
        sess = wi.compile(G, backend="webnn")
        first = y_of(sess)
        sess.context.handle.destroy()  # the context is lost under a live session
        sync = outcome(lambda: y_of(sess))
        later = await outcome_async(lambda: sess.run_async({"x": X}))
        reason = sess.context.lost()
        sess.close()
        freed = live() == before
        fresh = wi.compile(G, backend="webnn")
        again = y_of(fresh)
        fresh.close()
        [first, sync, later, reason, freed, again]
    """)
    first, sync, later, reason, freed, again = got
    assert first == again == [0.0, 0.0, 4.0, 8.0]
    _assert_clear(sync, "webnn: run: the MLContext was lost", "destroy() called on MLContext",
                  "compile the graph again")
    _assert_clear(later, "the MLContext was lost")
    assert reason and "destroy()" in reason
    assert freed  # close() still gives back the tensors, graph and context of the broken session


def test_lost_shared_webnn_context(page: BrowserPy) -> None:
    got = page.run("""
        ctx = WebNNContext.open()
        sess = WebNNSession(G, context=ctx)
        y_of(sess)
        ctx.handle.destroy()
        err = outcome(lambda: y_of(sess))
        sess.close()
        ctx.destroy()
        [err, live()["mlcontexts"], live()["mltensors"]]
    """)
    err, contexts, tensors = got
    _assert_clear(err, "the MLContext was lost", "a shared WebNNContext must be opened again")
    assert (contexts, tensors) == (0, 0)


def test_lost_webgpu_device_async_and_device_tensors(page: BrowserPy) -> None:
    got = page.run("""
        sess = wi.compile(G, backend="webgpu")
        kept = sess.run({"x": X}, keep_on_device=True)["y"]
        sess.device.js.destroy()
        later = await outcome_async(lambda: sess.run_async({"x": X}))
        read = outcome(lambda: kept.tolist())
        sess.close()
        kept.release()
        fresh = wi.compile(G, backend="webgpu")
        again = y_of(fresh)
        fresh.close()
        [later, read, again, live()["gpu_buffers"]]
    """)
    later, read, again, buffers = got
    _assert_clear(later, "webgpu: run: the GPU device was lost", "compile the graph again")
    _assert_clear(read, "the GPU device holding this tensor was lost")
    assert again == [0.0, 0.0, 4.0, 8.0]
    assert buffers == 0


def test_lost_webgpu_device_under_a_hybrid_session(page: BrowserPy) -> None:
    got = page.run("""
        sess = wi.compile(G, backend="hybrid", place={"relu": "webgpu"})
        first = y_of(sess)
        islands = [s.backend for s in sess.islands_sessions]
        gpu_runtime.get_device().js.destroy()
        sync = outcome(lambda: y_of(sess))
        later = await outcome_async(lambda: sess.run_async({"x": X}))
        sess.close()
        fresh = wi.compile(G, backend="hybrid", place={"relu": "webgpu"})
        again = y_of(fresh)
        fresh.close()
        [first, islands, sync, later, again, live()]
    """)
    first, islands, sync, later, again, counts = got
    assert islands == ["webnn", "webgpu", "webnn"]
    assert first == again == [0.0, 0.0, 4.0, 8.0]
    for result in (sync, later):
        _assert_clear(result, "was lost", "compile the graph again")
    assert counts == {"gpu_buffers": 0, "mltensors": 0, "mlcontexts": 0}


def test_lost_webnn_context_under_a_hybrid_session(page: BrowserPy) -> None:
    got = page.run("""
        sess = wi.compile(G, backend="hybrid", place={"relu": "webgpu"})
        y_of(sess)
        sess.context.handle.destroy()
        err = outcome(lambda: y_of(sess))
        sess.close()
        fresh = wi.compile(G, backend="hybrid", place={"relu": "webgpu"})
        again = y_of(fresh)
        fresh.close()
        [err, again, live()]
    """)
    err, again, counts = got
    _assert_clear(err, "webnn: run: the MLContext was lost")
    assert again == [0.0, 0.0, 4.0, 8.0]
    assert counts == {"gpu_buffers": 0, "mltensors": 0, "mlcontexts": 0}


# -- the harness: crashed and hung pages -----------------------------------------------------------------
def test_a_page_crash_names_what_was_running(webinfer_browser: Browser) -> None:
    page = webinfer_browser.open_page(on_output=lambda stream, text: None)
    try:
        crash = threading.Timer(1.0, lambda: _crash(page))
        crash.start()
        with pytest.raises(HarnessError, match=r"the browser page crashed while running crash_me\.py") as error:
            page.run("import js\nawait js.eval('new Promise(() => {})')", filename="crash_me.py", timeout=60)
        crash.join()
        assert not isinstance(error.value, HarnessTimeout)
        assert page.crashed and page.broken
        with pytest.raises(HarnessError, match="unusable"):
            page.run("1")
    finally:
        page.close()
    fresh = webinfer_browser.open_page(on_output=lambda stream, text: None)  # the browser itself is fine
    try:
        assert fresh.run("1 + 1").value == 2
    finally:
        fresh.close()


def _crash(page: object) -> None:
    try:
        page.cdp("Page.crash", timeout=5)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - the target goes away mid-command
        pass


def test_a_busy_loop_times_out_naming_the_script(webinfer_browser: Browser) -> None:
    page = webinfer_browser.open_page(on_output=lambda stream, text: None)
    try:
        start = time.monotonic()
        with pytest.raises(HarnessTimeout, match=r"timed out after 3 s while running spin\.py"):
            page.run("while True:\n    pass\n", filename="spin.py", timeout=3)
        assert time.monotonic() - start < 3 + 15  # the harness's own bound, not a hang of its own
    finally:
        start = time.monotonic()
        page.close()
        assert time.monotonic() - start < 30  # closing a tab whose thread never yields does not hang
    fresh = webinfer_browser.open_page(on_output=lambda stream, text: None)
    try:
        assert fresh.run("1 + 1").value == 2
    finally:
        fresh.close()


# -- `webinfer run` ------------------------------------------------------------------------------------
BOOT_ALLOWANCE = 120  # starting Chromium and booting Pyodide on a loaded 2-core machine


def _webinfer_run(script: Path, browser: Browser, timeout: float) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "webinfer.tools.cli", "run", str(script), "--browser", str(browser.path),
               "--timeout", str(timeout)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_webinfer_run_exits_124_on_a_hang(webinfer_browser: Browser, tmp_path: Path) -> None:
    script = tmp_path / "spin.py"
    script.write_text("print('spinning', flush=True)\nwhile True:\n    pass\n")
    start = time.monotonic()
    proc = _webinfer_run(script, webinfer_browser, timeout=5)
    out, err = proc.communicate(timeout=5 + BOOT_ALLOWANCE)
    assert proc.returncode == 124, err
    assert "spinning" in out
    assert f"timed out after 5 s while running {script}" in err
    assert time.monotonic() - start < 5 + BOOT_ALLOWANCE


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _renderers(root: int) -> list[int]:
    """Chromium renderer processes started (indirectly) by process ``root``."""
    pids = []
    for pid in _descendants(root):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the renderer through /proc (Linux)")
def test_webinfer_run_exits_3_when_the_page_crashes(webinfer_browser: Browser, tmp_path: Path) -> None:
    """The renderer is killed (as the OOM killer would) while the script waits: exit 3, naming the script."""
    script = tmp_path / "waits.py"
    script.write_text("import js\nprint('ready', flush=True)\nawait js.eval('new Promise(() => {})')\n")
    proc = _webinfer_run(script, webinfer_browser, timeout=BOOT_ALLOWANCE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        renderers = _renderers(proc.pid)
        assert renderers, "no renderer process found under `webinfer run`"
        for pid in renderers:  # only processes this test started (descendants of its `webinfer run`)
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert f"the browser page crashed while running {script}" in err
