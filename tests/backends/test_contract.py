"""The backend descriptions (webinfer.backends): each resolves, everything reads them, ``auto`` is decided once."""

from __future__ import annotations

import json
import sys

import pytest

import webinfer as wi
import webinfer.backends as backends
from webinfer.backends import BACKENDS, BUILTIN, Backend, get_backend, names, page_report, register_backend
from webinfer.backends.session import Session
from webinfer.errors import BackendError


def _graph() -> wi.Graph:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    return g.build({"y": g.relu(x)})


@pytest.mark.parametrize("backend", [b.name for b in BUILTIN])
def test_every_description_names_a_session_and_a_table_that_exist(backend: str) -> None:
    desc = get_backend(backend)
    assert issubclass(desc.session_class(), Session)  # browser sessions import on the host too (js only when run)
    if desc.parts:
        assert desc.ops is None and all(p in BACKENDS and not BACKENDS[p].parts for p in desc.parts)
    else:
        assert desc.op_table(), desc.ops
        path = desc.ops_file.split(" ")[0]
        assert (backends.__file__.rsplit("/py/", 1)[0] + "/" + path).endswith(".py")


def test_names_feed_the_cli() -> None:
    assert names() == ["reference", "webgpu", "webnn", "hybrid"]
    assert names(browser=True) == ["webgpu", "webnn", "hybrid"] and names(browser=False) == ["reference"]
    from webinfer.tools.cli import build_parser

    parser = build_parser()
    for argv in (["conformance", "--backend", "hybrid"], ["demo", "--backend", "webnn"]):
        parser.parse_args(argv)
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--backend", "reference"])  # the demo runs in a page only


def test_host_availability_and_auto() -> None:
    assert wi.available_backends() == ["reference"]
    assert backends.choose("auto") == ("reference", "on the host only the reference backend runs")
    assert backends.choose("webnn") == ("webnn", None)
    assert backends.unavailable_reason("webgpu") == "runs only in the browser (Pyodide)"
    with pytest.raises(BackendError, match="unknown backend 'cuda'; choose one of reference, webgpu, webnn, hybrid"):
        backends.choose("cuda")


def test_page_report_lists_backends_a_page_can_run_with_reasons() -> None:
    report = json.loads(backends.page_report_json())
    assert report == page_report()
    got = {b["name"]: b for b in report["backends"]}
    assert got["reference"]["available"] is True  # available here (numpy), so offered
    assert got["webgpu"] == {"name": "webgpu", "title": "WebGPU", "available": False,
                             "note": "runs only in the browser (Pyodide)"}
    assert report["auto"] == {"backend": "reference", "why": "on the host only the reference backend runs"}


def test_page_report_without_numpy_leaves_the_host_backend_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from webinfer.backends import contract

    monkeypatch.setitem(contract.NEEDS, "numpy", lambda: "needs numpy, which is not installed here")
    assert [b["name"] for b in page_report()["backends"]] == ["webgpu", "webnn", "hybrid"]


def test_third_party_backend_by_session_path_or_description(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "BACKENDS", dict(BACKENDS))
    register_backend("echo", "webinfer.backends.reference:ReferenceSession")
    assert backends.BACKENDS["echo"].needs == () and "echo" in wi.available_backends()
    sess = wi.compile(_graph(), backend="echo")
    assert sess.run({"x": [-1.0, 2.0]})["y"].tolist() == [0.0, 2.0] and sess.info()["chosen_by"] is None
    register_backend("late", Backend("late", "Late", ("numpy",), "webinfer.backends.nowhere:Session"))
    with pytest.raises(BackendError, match="backend 'late' cannot be loaded here.*nowhere"):
        wi.compile(_graph(), backend="late")
    with pytest.raises(BackendError, match="named 'x', not 'y'"):
        register_backend("y", Backend("x", "X", (), "m:C"))


def test_a_missing_op_entry_is_an_unsupported_error_naming_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    from webinfer.backends.reference import kernels

    monkeypatch.delitem(kernels.KERNELS, "relu")
    with pytest.raises(wi.UnsupportedError, match=r"reference: no kernel for relu \(node 'relu_0'\)") as e:
        wi.compile(_graph(), backend="reference")
    assert e.value.node == "relu_0" and "reference has no entry for op 'relu'" in (e.value.reason or "")


def test_the_descriptions_import_without_js() -> None:
    assert "js" not in sys.modules and "pyodide" not in sys.modules
