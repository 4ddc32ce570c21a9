"""Session: input checking and binding, int64 narrowing, run/run_async, info, close."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import webinfer as wi
from webinfer.errors import BackendError, InputError


def graph() -> wi.Graph:
    g = wi.GraphBuilder()
    ids = g.input("ids", "int32", ["batch", "seq"])
    mask = g.input("mask", "float32", ["batch", "seq"])
    emb = g.constant(np.arange(40, dtype=np.float32).reshape(10, 4) / 10, name="emb")
    h = g.gather(emb, ids, axis=0)  # [batch, seq, 4]
    w = g.reshape(mask, new_shape=["batch", "seq", 1])
    pooled = g.reduce_sum(g.mul(h, w), axes=[1])  # [batch, 4]
    return g.build({"pooled": pooled, "h": h})


def feeds(batch: int = 2, seq: int = 3) -> dict:
    ids = np.arange(batch * seq, dtype=np.int32).reshape(batch, seq) % 10
    return {"ids": ids, "mask": np.ones((batch, seq), np.float32)}


@pytest.fixture
def sess() -> wi.Session:
    return wi.compile(graph(), backend="reference")


def test_run_gives_tensors(sess: wi.Session) -> None:
    out = sess.run(feeds())
    assert set(out) == {"pooled", "h"}
    assert out["pooled"].dtype == "float32" and out["pooled"].shape == (2, 4)
    assert out["h"].shape == (2, 3, 4) and out["h"].backend == "reference"
    emb = np.arange(40, dtype=np.float32).reshape(10, 4) / 10
    np.testing.assert_allclose(out["pooled"].numpy(), emb[np.arange(6).reshape(2, 3)].sum(1), rtol=1e-6)


def test_other_sizes_bind_again(sess: wi.Session) -> None:
    assert sess.run(feeds(1, 5))["h"].shape == (1, 5, 4)
    assert sess.run(feeds(3, 1))["h"].shape == (3, 1, 4)
    assert sess.stats["runs"] == 2


def test_wrong_names(sess: wi.Session) -> None:
    with pytest.raises(InputError, match="run: unknown input 'idz'; the graph takes ids, mask"):
        sess.run({**feeds(), "idz": [1]})
    with pytest.raises(InputError, match=r"run: missing input 'mask' \(float32\[batch, seq\]\)"):
        sess.run({"ids": feeds()["ids"]})
    with pytest.raises(InputError, match="inputs must be a dict of name -> data, got list"):
        sess.run([1, 2])  # type: ignore[arg-type]


def test_wrong_dtype(sess: wi.Session) -> None:
    f = feeds()
    with pytest.raises(InputError, match="input 'ids': expected int32 data, got float32"):
        sess.run({**f, "ids": f["ids"].astype(np.float32)})
    with pytest.raises(InputError, match="input 'mask': expected float32 data, got int64"):
        sess.run({**f, "mask": f["mask"].astype(np.int64)})
    # floats of another precision convert; nested lists take the declared dtype
    assert sess.run({**f, "mask": f["mask"].astype(np.float16)})["h"].shape == (2, 3, 4)
    assert sess.run({"ids": [[1, 2, 3]], "mask": [[1, 1, 0]]})["pooled"].shape == (1, 4)


def test_wrong_rank_and_shape() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2, 3])
    s = wi.compile(g.build({"y": g.relu(x)}), "reference")
    with pytest.raises(InputError, match=r"input 'x': expected rank 2 \[2, 3\], got \[6\]"):
        s.run({"x": np.zeros(6, np.float32)})
    with pytest.raises(InputError, match=r"input 'x': expected shape \[2, 3\], got \[2, 4\] \(axis 1\)"):
        s.run({"x": np.zeros((2, 4), np.float32)})


def test_symbolic_dims_must_bind_consistently(sess: wi.Session) -> None:
    f = feeds()
    with pytest.raises(InputError, match="input 'mask': dim 'seq' is 4 here \\(axis 1\\) but 3 in an earlier input"):
        sess.run({**f, "mask": np.ones((2, 4), np.float32)})
    with pytest.raises(InputError, match="input 'mask': dim 'batch' is 1 here \\(axis 0\\) but 2 in an earlier input"):
        sess.run({**f, "mask": np.ones((1, 3), np.float32)})


def test_bindings_the_graph_rejects_are_input_errors() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["n"])
    y = g.add(x, g.constant(np.ones(3, np.float32)))  # n must be 1 or 3
    s = wi.compile(g.build({"y": y}), "reference")
    assert s.run({"x": np.ones(1, np.float32)})["y"].shape == (3,)
    with pytest.raises(InputError,
                       match=r"run: the inputs give n=2, which the graph cannot take: add .*cannot be broadcast"):
        s.run({"x": np.ones(2, np.float32)})


def test_int64_token_ids_are_narrowed_after_a_range_check(sess: wi.Session) -> None:
    f = feeds()
    ids64 = f["ids"].astype(np.int64)
    out = sess.run({**f, "ids": ids64})
    np.testing.assert_array_equal(out["h"].numpy(), sess.run(f)["h"].numpy())
    too_big = ids64.copy()
    too_big[0, 0] = 2**31
    with pytest.raises(InputError, match=r"input 'ids': values out of range for int32 \[-2147483648, 2147483647\]"):
        sess.run({**f, "ids": too_big})
    with pytest.raises(InputError, match="input 'ids'.*out of range for int32"):
        sess.run({**f, "ids": [[2**40, 0, 0], [0, 0, 0]]})
    t64 = wi.Tensor(ids64)
    assert t64.dtype == "int64"
    assert sess.run({**f, "ids": t64})["h"].shape == (2, 3, 4)


def test_narrowing_without_numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python conversion (used where numpy is missing) checks the range the same way."""
    from webinfer.backends import session

    monkeypatch.setattr(session, "_numpy", lambda: None)
    ok = session._coerce(wi.Tensor([1, -2], dtype="int64"), "int32", "input 'ids'")
    assert ok.dtype == "int32" and ok.tolist() == [1, -2]
    with pytest.raises(InputError, match=r"input 'ids': value 2147483648 is out of range for int32"):
        session._coerce(wi.Tensor([1, 2**31], dtype="int64"), "int32", "input 'ids'")
    assert session._coerce(wi.Tensor([[0.5]], dtype="float32"), "float16", "x").tolist() == [[0.5]]


def test_run_async(sess: wi.Session) -> None:
    out = asyncio.run(sess.run_async(feeds()))
    np.testing.assert_array_equal(out["h"].numpy(), sess.run(feeds())["h"].numpy())
    with pytest.raises(InputError):
        asyncio.run(sess.run_async({}))


def test_info(sess: wi.Session) -> None:
    sess.run(feeds())
    info = sess.info()
    assert info["backend"] == "reference" and info["device"]["type"] == "cpu"
    assert info["inputs"] == {"ids": "int32[batch, seq]", "mask": "float32[batch, seq]"}
    assert info["outputs"] == {"pooled": "float32[batch, 4]", "h": "float32[batch, seq, 4]"}
    assert info["nodes"] == len(sess.graph.nodes) == len(info["placement"])
    assert set(info["placement"].values()) == {"reference"}
    assert info["stats"]["runs"] == 1 and info["stats"]["last_run_ms"] >= 0 and info["stats"]["compile_ms"] >= 0
    assert info["closed"] is False


def test_close_then_run_raises(sess: wi.Session) -> None:
    sess.close()
    sess.close()  # idempotent
    assert sess.info()["closed"] is True and "closed" in repr(sess)
    with pytest.raises(BackendError, match="this reference session is closed; compile the graph again"):
        sess.run(feeds())
    with pytest.raises(BackendError, match="closed"):
        asyncio.run(sess.run_async(feeds()))


def test_context_manager_closes() -> None:
    with wi.compile(graph(), backend="reference") as s:
        s.run(feeds())
    assert s.closed


def test_compile_errors() -> None:
    with pytest.raises(BackendError, match="compile: unknown backend 'cuda'"):
        wi.compile(graph(), backend="cuda")
    with pytest.raises(BackendError, match="compile: expected a webinfer Graph, got dict"):
        wi.compile({}, backend="reference")  # type: ignore[arg-type]
    with pytest.raises(BackendError, match="backend 'reference' takes no option 'threads'"):
        wi.compile(graph(), backend="reference", threads=2)
    s = wi.compile(graph(), backend="auto")
    assert s.backend == "reference" and "host" in s.info()["chosen_by"]  # on the host
    with pytest.raises(BackendError, match="run takes no option 'fast'"):
        wi.compile(graph(), backend="reference").run(feeds(), fast=True)


def test_auto_takes_webinfer_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``webinfer run --backend B`` sets WEBINFER_BACKEND; ``compile(backend="auto")`` must honour it."""
    from webinfer.backends import resolve_backend

    monkeypatch.setenv("WEBINFER_BACKEND", "reference")
    assert wi.compile(graph()).backend == "reference"
    monkeypatch.setenv("WEBINFER_BACKEND", "webnn")
    assert resolve_backend("auto") == "webnn"
    assert resolve_backend("reference") == "reference"  # an explicit name wins
    monkeypatch.setenv("WEBINFER_BACKEND", "cuda")
    with pytest.raises(BackendError, match="WEBINFER_BACKEND='cuda' is not a backend"):
        wi.compile(graph())


@pytest.mark.parametrize("backend", ["webgpu", "webnn", "hybrid"])
def test_browser_backends_on_the_host_say_where_they_run(backend: str) -> None:
    with pytest.raises(BackendError, match=f"backend '{backend}' runs only in the browser.*backend='reference'"):
        wi.compile(graph(), backend=backend)


def test_reference_refuses_a_device_it_would_not_use() -> None:
    assert wi.compile(graph(), backend="reference", device="cpu").info()["device"]["type"] == "cpu"
    with pytest.raises(BackendError, match="reference: runs on the host CPU; device='gpu'"):
        wi.compile(graph(), backend="reference", device="gpu")
