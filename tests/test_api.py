"""The public API as DESIGN.md shows it, on the reference backend, and the core without numpy."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np

import webinfer as wi


def test_design_example_end_to_end() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(384, 16)).astype(np.float32) / 20
    b = rng.normal(size=16).astype(np.float32)
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 384])
    y = g.gelu(g.add(g.matmul(x, g.constant(w)), g.constant(b)))
    graph = g.build({"y": y})
    sess = wi.compile(graph, backend="reference")
    x_data = rng.normal(size=(3, 384)).astype(np.float32)
    out = sess.run({"x": x_data})
    assert isinstance(out["y"], wi.Tensor) and out["y"].shape == (3, 16)
    h = x_data.astype(np.float64) @ w.astype(np.float64) + b
    erf = np.vectorize(math.erf)
    want = 0.5 * h * (1 + erf(h / math.sqrt(2)))
    np.testing.assert_allclose(out["y"].numpy(), want, rtol=1e-6, atol=1e-6)
    sess.close()


def test_public_names() -> None:
    for name in wi.__all__:
        assert hasattr(wi, name), name
    assert wi.get_op("gelu").decompose is not None
    assert "reference" in wi.available_backends()


def run_without_numpy(code: str) -> subprocess.CompletedProcess:
    prelude = "import sys\nsys.modules['numpy'] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_core_works_without_numpy() -> None:
    r = run_without_numpy(
        """
        import webinfer as wi
        from webinfer.ir import Graph, Node, OperandDesc
        from webinfer.ir.decompose import expand_composites
        from webinfer.ir import opcases
        from webinfer.tools import optable

        g = wi.GraphBuilder()
        x = g.input("x", "float32", ["batch", 4])
        w = g.constant([[0.5] * 3] * 4)
        b = g.constant([0.1, 0.2, 0.3])
        y = g.gelu(g.add(g.matmul(x, w), b))
        graph = g.build({"y": y})
        assert graph.operands[graph.outputs["y"]] == OperandDesc("float32", ("batch", 3))
        assert [n.op for n in expand_composites(graph).nodes][-1] == "mul"
        assert graph.specialize({"batch": 2}).is_static

        hand = Graph({"x": OperandDesc("float32", (2,))}, {}, [Node("relu", ("x",), ("r",), {}, "r")], {"r": "r"})
        assert hand.pruned().nodes[0].op == "relu"

        t = wi.Tensor([[1, 2], [3, 4]], dtype="int64")
        assert t.tolist() == [[1, 2], [3, 4]] and len(t.tobytes()) == 32
        try:
            t.numpy()
        except ImportError as e:
            assert "needs numpy" in str(e)
        else:
            raise AssertionError("numpy() worked without numpy")

        assert "| gelu |" in optable.markdown() and optable.rows(["reference"])[0]["reference"] == "—"
        assert len(opcases.CASES) > 100

        try:
            wi.compile(graph, backend="reference")
        except wi.BackendError as e:
            print("ERROR:", e)
        else:
            raise AssertionError("the reference backend compiled without numpy")
        """
    )
    assert r.returncode == 0, r.stderr
    assert "ERROR: compile: backend 'reference' cannot be loaded here: the reference backend needs numpy" in r.stdout
