"""webinfer.ffi on CPython: imports, refuses browser-only work clearly, keeps its ledger."""

from __future__ import annotations

import array

import numpy as np
import pytest

import webinfer as wi
from webinfer import ffi


def test_not_in_browser_on_cpython() -> None:
    assert ffi.in_browser() is False
    assert ffi.jspi_available() is False


@pytest.mark.parametrize(
    "call",
    [
        lambda: ffi.run_sync(None),
        lambda: ffi.to_js_dict({"a": 1}),
        lambda: ffi.create_proxy(object()),
        lambda: ffi.upload(None, None, b"1234"),
        lambda: ffi.read_buffer(None, None, 4),
    ],
)
def test_browser_only_calls_say_so(call) -> None:
    with pytest.raises(ffi.FFIError, match="needs the browser") as info:
        call()
    assert isinstance(info.value, wi.WebinferError)  # `except wi.WebinferError` catches it too


def test_ledger_counts_live_objects() -> None:
    ledger = ffi.Ledger()
    ledger.made("buffer")
    ledger.made("buffer")
    ledger.made("proxy")
    ledger.gone("buffer")
    assert ledger.live() == {"buffer": 1, "proxy": 1}
    assert ledger.snapshot()["created"] == {"buffer": 2, "proxy": 1}


@pytest.mark.parametrize(
    "data",
    [
        b"\1\2\3\4",
        bytearray(8),
        memoryview(b"abcd"),
        array.array("f", [1, 2]),
        np.arange(6, dtype=np.float32).reshape(2, 3),
    ],
)
def test_byte_view_accepts_buffers(data: object) -> None:
    view = ffi._byte_view(data)
    assert view.format == "B" and view.ndim == 1
    assert view.nbytes == memoryview(data).nbytes


def test_byte_view_refuses_non_contiguous_and_non_buffers() -> None:
    with pytest.raises(ValueError, match="C-contiguous"):
        ffi._byte_view(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="not list"):
        ffi._byte_view([1, 2, 3])
