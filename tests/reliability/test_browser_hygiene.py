"""Resource hygiene in the page (issue 8 item 3): nothing grows over many runs or compile/close cycles.

Per backend (webgpu, webnn, hybrid): after a warm-up, 1,000 runs of one session and 100 compile → run →
close cycles leave the live GPU buffers, MLTensors, MLGraphs, MLContexts, webinfer's FFI proxies,
Pyodide's JsProxies/PyProxies and Python's tracked objects where they were, and the JS heap (exact
bytes after forced GC, over CDP) grows less than 64 KiB. ``-m slow`` runs 10,000 runs and 1,000 cycles.
What each count is: hygiene.py. The same figures as JSON: ``python tests/reliability/hygiene_report.py``.
"""

from __future__ import annotations

import json

import pytest
from hygiene import BACKENDS, EXACT, SETUP, js_heap, leaks, measure

from webinfer.tools.pytest_plugin import BrowserPy

HEAP_NOISE = 64 * 1024  # measured noise after warm-up: under 35 KiB per 1,000 runs or 100 cycles


@pytest.fixture(scope="module")
def page(browser_py: BrowserPy) -> BrowserPy:
    browser_py.run(SETUP, timeout=300)
    return browser_py


def _measure(page: BrowserPy, backend: str, runs: int, cycles: int, **warm: int) -> dict:
    m = measure(lambda code: page.run(code, timeout=1800), lambda: js_heap(page.page.cdp), backend, runs, cycles,
                **warm)
    print(f"\n{backend}: " + json.dumps({k: m[k] for k in ("session_open", "after_runs", "after_cycles",
                                                          "heap_growth_runs", "heap_growth_cycles")}))
    return m


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_and_compile_cycles_leak_nothing(page: BrowserPy, backend: str) -> None:
    m = _measure(page, backend, runs=1000, cycles=100)
    assert leaks(m, HEAP_NOISE) == []
    opened = m["session_open"]
    # the counters really count: an open session holds its buffers / tensors, and close gives them back
    if backend in ("webgpu", "hybrid"):
        assert opened["gpu_buffers"] > m["idle"]["gpu_buffers"]
    if backend in ("webnn", "hybrid"):
        assert opened["mltensors"] > 0 and opened["mlgraphs"] > 0 and opened["mlcontexts"] == 1
    assert all(m["after_cycles"][k] == m["idle"][k] for k in EXACT)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_thousand_runs_and_a_thousand_cycles_leak_nothing(page: BrowserPy, backend: str) -> None:
    # 10x the iterations, 2x the allowance: a leak must stay under 13 bytes an iteration to pass
    m = _measure(page, backend, runs=10_000, cycles=1000, warm_runs=2000, warm_cycles=200)
    assert leaks(m, 2 * HEAP_NOISE) == []


def test_the_leak_check_sees_a_leak(page: BrowserPy) -> None:
    """A session never closed, a proxy never destroyed and JS objects kept alive per run all show up."""
    page.run("""
        _kept = []
        def leaky_runs(sess, n):
            import js
            for _ in range(n):
                sess.run({"x": HYGIENE_DATA})
                _kept.append(js.Object.new())  # a JsProxy kept per run
        def leaky_cycles(backend, n):
            for _ in range(n):
                s = hygiene_compile(backend)
                s.run({"x": HYGIENE_DATA})
                _kept.append(s)  # never closed
                _kept.append(ffi.create_proxy(s))  # never destroyed
    """)

    def leaky(code: str) -> object:
        return page.run(code.replace("hygiene_runs(", "leaky_runs(").replace("hygiene_cycles(", "leaky_cycles("),
                        timeout=600)

    m = measure(leaky, lambda: js_heap(page.page.cdp), "webnn", runs=200, cycles=5, warm_runs=1, warm_cycles=1)
    problems = leaks(m, HEAP_NOISE)
    page.run("""
        for _x in _kept:
            if hasattr(_x, "close"):
                _x.close()
            elif hasattr(_x, "destroy"):
                ffi.destroy_proxy(_x)
        _kept.clear()
    """)
    text = "\n".join(problems)
    assert "js_refs" in text and "over 200 runs" in text
    assert "mltensors" in text and "mlcontexts" in text and "ffi_proxies" in text and "over 5 cycles" in text
