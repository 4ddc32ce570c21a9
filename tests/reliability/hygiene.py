"""Leak measurement in the page, shared by test_browser_hygiene.py and hygiene_report.py.

What is counted, in the page, after ``gc.collect()``:

- ``gpu_buffers``: GPUBuffers the WebGPU executor made and has not destroyed (``executor.js`` counters);
- ``mltensors``, ``mlgraphs``, ``mlcontexts``: the WebNN runtime's own counts (``runtime.mjs`` counters);
- ``ffi_proxies``: proxies made through ``webinfer.ffi.create_proxy`` and not destroyed (``ffi.ledger``);
- ``js_refs``: JS objects Python holds (Pyodide's hiwire table, every JsProxy alive);
- ``pyproxies``: Python objects JS holds (Pyodide's PyProxy allocation map, traced from SETUP on);
- ``py_objects``: objects the Python collector tracks (``len(gc.get_objects())``).

The JS heap is read from the host over CDP after two forced collections (``HeapProfiler.collectGarbage``,
then ``Runtime.getHeapUsage``): exact bytes, no ``--js-flags=--expose-gc`` and no quantized
``performance.memory`` needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BACKENDS = ("webgpu", "webnn", "hybrid")

#: Counts that must come back exactly; ``py_objects`` may wobble by a few (see ``py_objects_slack``).
EXACT = ("gpu_buffers", "mltensors", "mlgraphs", "mlcontexts", "ffi_proxies", "js_refs", "pyproxies")

SETUP = """
import gc, json
import pyodide_js
import webinfer as wi
from webinfer import ffi
from webinfer.backends.webgpu import runtime as _gpu_runtime
from webinfer.backends.webnn.session import runtime as _nn_runtime

pyodide_js._module.enable_pyproxy_allocation_tracing()

def _tiny_graph():
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [16])
    return g.build({"y": g.mul(g.relu(g.sub(x, g.constant(0.5))), g.constant(2.0))})

HYGIENE_GRAPH = _tiny_graph()
HYGIENE_DATA = [i / 16 for i in range(16)]
HYGIENE_WANT = [max(v - 0.5, 0.0) * 2.0 for v in HYGIENE_DATA]
# hybrid: sub on WebNN, relu on WebGPU, mul on WebNN (three islands, two crossings)
HYGIENE_OPTIONS = {"webgpu": {}, "webnn": {}, "hybrid": {"place": {"relu": "webgpu"}}}

def hygiene_counts():
    gc.collect()
    nn = json.loads(str(_nn_runtime().countersJSON()))
    return {"gpu_buffers": _gpu_runtime.counters()["buffers"], "mltensors": nn["tensors"], "mlgraphs": nn["graphs"],
            "mlcontexts": nn["contexts"], "ffi_proxies": ffi.ledger.live().get("proxy", 0),
            "js_refs": pyodide_js._module._hiwire_num_refs(), "pyproxies": pyodide_js._module.pyproxy_alloc_map.size,
            "py_objects": len(gc.get_objects())}

def hygiene_compile(backend):
    return wi.compile(HYGIENE_GRAPH, backend=backend, **HYGIENE_OPTIONS[backend])

def hygiene_runs(sess, n):
    for _ in range(n):
        y = sess.run({"x": HYGIENE_DATA})["y"]
    assert y.tolist() == HYGIENE_WANT, y.tolist()

def hygiene_cycles(backend, n):
    for _ in range(n):
        s = hygiene_compile(backend)
        y = s.run({"x": HYGIENE_DATA})["y"]
        s.close()
    assert y.tolist() == HYGIENE_WANT, y.tolist()

# First use fills page-wide caches (executor modules, the GPU device, WebNN behaviour probes): not leaks.
for _backend in HYGIENE_OPTIONS:
    hygiene_cycles(_backend, 1)
"""

Runner = Callable[[str], Any]  # runs page code in the shared namespace, returns the last expression's value
Heap = Callable[[], int]  # JS heap bytes in use after forced GC


def js_heap(cdp: Callable[..., Any]) -> int:
    """Bytes of JS heap in use after two full collections (``cdp`` sends a DevTools command to the page)."""
    cdp("HeapProfiler.collectGarbage")
    cdp("HeapProfiler.collectGarbage")
    return int(cdp("Runtime.getHeapUsage")["usedSize"])


def measure(run: Runner, heap: Heap, backend: str, runs: int, cycles: int,
            warm_runs: int = 1000, warm_cycles: int = 10) -> dict[str, Any]:
    """Counts and JS heap before/after ``runs`` runs of one session and ``cycles`` compile/run/close cycles.

    Both phases start after a warm-up (first plans, pipelines, JIT tiers and caches are not leaks), so a
    true leak shows as growth proportional to ``runs``/``cycles``, and noise does not.
    """
    idle = run("hygiene_counts()")
    run(f"hygiene_sess = hygiene_compile({backend!r})\nhygiene_runs(hygiene_sess, {warm_runs})")
    before_runs = run("hygiene_counts()")
    heap_before_runs = heap()
    run(f"hygiene_runs(hygiene_sess, {runs})")
    after_runs = run("hygiene_counts()")
    heap_after_runs = heap()
    run(f"hygiene_sess.close()\ndel hygiene_sess\nhygiene_cycles({backend!r}, {warm_cycles})")
    before_cycles = run("hygiene_counts()")
    heap_before_cycles = heap()
    run(f"hygiene_cycles({backend!r}, {cycles})")
    after_cycles = run("hygiene_counts()")
    heap_after_cycles = heap()
    return {
        "backend": backend,
        "runs": runs,
        "cycles": cycles,
        "idle": idle,
        "session_open": before_runs,
        "after_runs": after_runs,
        "after_close": before_cycles,
        "after_cycles": after_cycles,
        "heap_bytes": {"before_runs": heap_before_runs, "after_runs": heap_after_runs,
                       "before_cycles": heap_before_cycles, "after_cycles": heap_after_cycles},
        "heap_growth_runs": heap_after_runs - heap_before_runs,
        "heap_growth_cycles": heap_after_cycles - heap_before_cycles,
    }


def leaks(m: dict[str, Any], heap_noise: int) -> list[str]:
    """What grew in measurement ``m`` (empty when nothing leaked)."""
    problems = []
    for phase, start, end, n in (("runs", "session_open", "after_runs", m["runs"]),
                                 ("cycles", "after_close", "after_cycles", m["cycles"])):
        a, b = m[start], m[end]
        problems += [f"{k} went {a[k]} -> {b[k]} over {n} {phase}" for k in EXACT if a[k] != b[k]]
        if b["py_objects"] - a["py_objects"] > py_objects_slack(n):
            problems.append(f"py_objects went {a['py_objects']} -> {b['py_objects']} over {n} {phase}")
        growth = m[f"heap_growth_{phase}"]
        if growth > heap_noise:
            problems.append(f"JS heap grew {growth} bytes over {n} {phase} (noise allowance {heap_noise})")
    closed, idle = m["after_close"], m["idle"]
    problems += [f"{k}: {idle[k]} before compile, {closed[k]} after close" for k in EXACT if closed[k] != idle[k]]
    return problems


def py_objects_slack(n: int) -> int:
    """Allowed growth in tracked Python objects over ``n`` iterations: far below one object each."""
    return max(10, n // 20)
