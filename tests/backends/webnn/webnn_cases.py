"""One small graph per op of set v1 (plus a few variants), with inputs: shared by the webnn tests.

Each case is ``name -> () -> (graph, inputs)``; the inputs are numpy arrays chosen inside each op's
domain (log of positives, division away from zero, ...). Host tests lower every case; browser tests
run them in WebNN and compare with the float64 reference at the registry's tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import webinfer as wi
from webinfer.ir.graph import Graph

Case = Callable[[], tuple[Graph, dict[str, np.ndarray]]]


def _rand(
    shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0, seed: int = 0, dtype: str = "float32"
) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def _unary(op: str, lo: float = -2.0, hi: float = 2.0, **attrs: object) -> Case:
    def case() -> tuple[Graph, dict[str, np.ndarray]]:
        g = wi.GraphBuilder()
        x = g.input("x", "float32", [2, 3, 4])
        return g.build({"y": getattr(g, op)(x, **attrs)}), {"x": _rand((2, 3, 4), lo, hi)}

    return case


def _binary(op: str, a_range: tuple[float, float] = (-2, 2), b_range: tuple[float, float] = (-2, 2),
            dtype: str = "float32") -> Case:
    def case() -> tuple[Graph, dict[str, np.ndarray]]:
        g = wi.GraphBuilder()
        a = g.input("a", dtype, [2, 3])
        b = g.input("b", dtype, [3])
        av, bv = _rand((2, 3), *a_range, seed=1), _rand((3,), *b_range, seed=2)
        if dtype != "float32":
            av, bv = np.round(av).astype(dtype), np.round(bv).astype(dtype)
        if op in ("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal"):
            av[0, 1] = bv[1]  # one tie
        return g.build({"y": getattr(g, op)(a, b)}), {"a": av, "b": bv}

    return case


def _div_away_from_zero(op: str) -> Case:
    def case() -> tuple[Graph, dict[str, np.ndarray]]:
        graph, inputs = _binary(op)()
        b = inputs["b"]
        inputs["b"] = np.where(np.abs(b) < 0.5, 0.5 + np.abs(b), b).astype(np.float32)
        return graph, inputs

    return case


def _graph(build: Callable[[wi.GraphBuilder], dict], inputs: dict[str, np.ndarray]) -> Case:
    def case() -> tuple[Graph, dict[str, np.ndarray]]:
        g = wi.GraphBuilder()
        return g.build(build(g)), inputs

    return case


def _x(g: wi.GraphBuilder, shape: list[int], dtype: str = "float32", name: str = "x") -> wi.Operand:
    return g.input(name, dtype, shape)


CASES: dict[str, Case] = {
    **{op: _binary(op) for op in ("add", "sub", "mul", "max", "min")},
    "add_int32": _binary("add", dtype="int32"),
    "div": _div_away_from_zero("div"),
    "pow": _binary("pow", (0.5, 2.0), (-2.0, 2.0)),
    **{op: _binary(op) for op in ("equal", "greater", "greater_or_equal", "lesser", "lesser_or_equal")},
    "logical_not": _graph(lambda g: {"y": g.logical_not(_x(g, [6], "uint8"))},
                          {"x": np.array([0, 1, 2, 0, 255, 0], np.uint8)}),
    "where": _graph(
        lambda g: {"y": g.where(_x(g, [2, 3], "uint8", "c"), _x(g, [2, 3], name="t"), _x(g, [3], name="f"))},
        {"c": np.array([[1, 0, 1], [0, 0, 1]], np.uint8), "t": _rand((2, 3), seed=3), "f": _rand((3,), seed=4)},
    ),
    **{op: _unary(op) for op in ("abs", "neg", "exp", "erf", "tanh", "sigmoid", "relu", "floor", "ceil", "sin",
                                 "cos", "identity", "gelu")},
    "log": _unary("log", 0.1, 3.0),
    "sqrt": _unary("sqrt", 0.0, 4.0),
    "reciprocal": _unary("reciprocal", 0.5, 2.0),
    "clamp": _unary("clamp", min_value=-0.5, max_value=0.7),
    "cast": _graph(lambda g: {"y": g.cast(_x(g, [2, 3]), data_type="int32")},
                   {"x": np.array([[1.7, -1.7, 0.2], [-0.2, 3.0, -2.5]], np.float32)}),
    "cast_to_float": _graph(lambda g: {"y": g.cast(_x(g, [4], "int32"), data_type="float32")},
                            {"x": np.array([1, -2, 300, 0], np.int32)}),
    "matmul": _graph(lambda g: {"y": g.matmul(_x(g, [2, 3, 4], name="a"), _x(g, [4, 5], name="b"))},
                     {"a": _rand((2, 3, 4), seed=5), "b": _rand((4, 5), seed=6)}),
    "gemm": _graph(
        lambda g: {"y": g.gemm(_x(g, [3, 4], name="a"), _x(g, [5, 4], name="b"), _x(g, [5], name="c"),
                               alpha=0.5, beta=2.0, b_transpose=True)},
        {"a": _rand((3, 4), seed=7), "b": _rand((5, 4), seed=8), "c": _rand((5,), seed=9)},
    ),
    "softmax": _graph(lambda g: {"y": g.softmax(_x(g, [2, 5]), axis=1)}, {"x": _rand((2, 5), -4, 4, seed=10)}),
    "layer_normalization": _graph(
        lambda g: {"y": g.layer_normalization(_x(g, [2, 3, 4]), _x(g, [4], name="s"), _x(g, [4], name="b"),
                                              axes=[2], epsilon=1e-5)},
        {"x": _rand((2, 3, 4), seed=11), "s": _rand((4,), 0.5, 1.5, seed=12), "b": _rand((4,), seed=13)},
    ),
    "batch_normalization": _graph(
        lambda g: {"y": g.batch_normalization(_x(g, [2, 3, 2, 2]), _x(g, [3], name="m"), _x(g, [3], name="v"),
                                              _x(g, [3], name="s"), _x(g, [3], name="b"), axis=1)},
        {"x": _rand((2, 3, 2, 2), seed=14), "m": _rand((3,), seed=15), "v": _rand((3,), 0.5, 2, seed=16),
         "s": _rand((3,), seed=17), "b": _rand((3,), seed=18)},
    ),
    **{op: _graph(lambda g, op=op: {"y": getattr(g, op)(_x(g, [2, 3, 4]), axes=[1])}, {"x": _rand((2, 3, 4), seed=19)})
       for op in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")},
    "reduce_mean_keep": _graph(lambda g: {"y": g.reduce_mean(_x(g, [2, 3, 4]), axes=[0, 2], keep_dimensions=True)},
                               {"x": _rand((2, 3, 4), seed=20)}),
    "reshape": _graph(lambda g: {"y": g.reshape(_x(g, [2, 3, 4]), new_shape=[6, -1])},
                      {"x": _rand((2, 3, 4), seed=21)}),
    "transpose": _graph(lambda g: {"y": g.transpose(_x(g, [2, 3, 4]), permutation=[2, 0, 1])},
                        {"x": _rand((2, 3, 4), seed=22)}),
    "concat": _graph(lambda g: {"y": g.concat([_x(g, [2, 3], name="a"), _x(g, [2, 2], name="b")], axis=1)},
                     {"a": _rand((2, 3), seed=23), "b": _rand((2, 2), seed=24)}),
    "slice": _graph(lambda g: {"y": g.slice(_x(g, [4, 5]), starts=[1, 0], sizes=[2, 5], strides=[1, 2])},
                    {"x": _rand((4, 5), seed=25)}),
    "split": _graph(lambda g: dict(zip(("y0", "y1"), g.split(_x(g, [6, 2]), splits=[2, 4], axis=0))),
                    {"x": _rand((6, 2), seed=26)}),
    "expand": _graph(lambda g: {"y": g.expand(_x(g, [3, 1]), new_shape=[2, 3, 4])}, {"x": _rand((3, 1), seed=27)}),
    "gather": _graph(lambda g: {"y": g.gather(_x(g, [5, 3]), _x(g, [4], "int32", "i"), axis=0)},
                     {"x": _rand((5, 3), seed=28), "i": np.array([0, 4, 2, 1], np.int32)}),
    "gather_int64": _graph(lambda g: {"y": g.gather(_x(g, [5, 3]), _x(g, [2, 2], "int64", "i"), axis=0)},
                           {"x": _rand((5, 3), seed=29), "i": np.array([[3, 0], [1, 4]], np.int64)}),
    **{f"pad_{mode}": _graph(lambda g, mode=mode: {"y": g.pad(_x(g, [2, 3]), beginning_padding=[1, 2],
                                                              ending_padding=[1, 1], mode=mode, value=0.5)},
                             {"x": _rand((2, 3), seed=30)})
       for mode in ("constant", "edge", "reflection")},
    "conv2d": _graph(
        lambda g: {"y": g.conv2d(_x(g, [1, 2, 5, 5]), _x(g, [4, 2, 3, 3], name="w"), _x(g, [4], name="b"),
                                 padding=[1, 1, 1, 1])},
        # non-negative data: a ULP tolerance cannot hold where 18 mixed-sign terms cancel to near zero
        {"x": _rand((1, 2, 5, 5), 0, 1, seed=31), "w": _rand((4, 2, 3, 3), 0, 1, seed=32), "b": _rand((4,), seed=33)},
    ),
    "conv2d_depthwise_nhwc": _graph(
        lambda g: {"y": g.conv2d(_x(g, [1, 5, 5, 4]), _x(g, [4, 3, 3, 1], name="w"), strides=[2, 2], groups=4,
                                 padding=[1, 1, 1, 1], input_layout="nhwc", filter_layout="ohwi")},
        {"x": _rand((1, 5, 5, 4), 0, 1, seed=34), "w": _rand((4, 3, 3, 1), 0, 1, seed=35)},
    ),
    "average_pool2d": _graph(
        lambda g: {"y": g.average_pool2d(_x(g, [1, 2, 5, 5]), window_dimensions=[3, 3], strides=[2, 2])},
        {"x": _rand((1, 2, 5, 5), seed=36)},
    ),
    "average_pool2d_padded": _graph(
        lambda g: {"y": g.average_pool2d(_x(g, [1, 5, 5, 2]), window_dimensions=[3, 3], strides=[2, 2],
                                         padding=[1, 1, 1, 1], layout="nhwc")},
        {"x": _rand((1, 5, 5, 2), seed=37)},
    ),
    "average_pool2d_ceil": _graph(
        lambda g: {"y": g.average_pool2d(_x(g, [1, 2, 5, 5]), window_dimensions=[2, 2], strides=[2, 2],
                                         rounding_type="ceil")},
        {"x": _rand((1, 2, 5, 5), seed=39)},
    ),
    "max_pool2d": _graph(
        lambda g: {"y": g.max_pool2d(_x(g, [1, 2, 5, 5]), window_dimensions=[2, 2], strides=[2, 2],
                                     rounding_type="ceil")},
        {"x": _rand((1, 2, 5, 5), seed=38)},
    ),
    # a low-bit weight used transposed (TFLite cannot build dequantizeLinear -> transpose: the lowering separates them)
    "dequantize_linear_transposed": _graph(
        lambda g: {"y": g.matmul(_x(g, [2, 4]), g.transpose(g.dequantize_linear(
            g.constant(np.arange(-6, 6, dtype=np.int8).reshape(3, 4)),
            g.constant(np.array([[0.5], [0.25], [2.0]], np.float32))), permutation=[1, 0]))},
        {"x": _rand((2, 4), seed=40)},
    ),
}


# Registered ops without a WebNN lowering yet, each with the reason (strict: test_webnn_lowering.py fails when one
# gains a lowering). The planner refuses them with an UnsupportedError naming the node.
PENDING: dict[str, str] = {}


def base_op(case: str) -> str:
    """The registry op a case exercises (``pad_edge`` -> ``pad``)."""
    from webinfer.ir import REGISTRY, all_ops

    list(all_ops())
    for cut in range(len(case), 0, -1):
        if case[:cut] in REGISTRY and (cut == len(case) or case[cut] == "_"):
            return case[:cut]
    raise KeyError(case)


# -- running cases in the page and comparing with the float64 reference ---------------------------------

PAGE_RUNNER = '''
import base64, json, time
import webinfer as wi
from webinfer.format import from_json
from webinfer.tensor import Tensor

def run_cases(payload, backend, options):
    results = {}
    for name, case in json.loads(payload).items():
        try:
            graph = from_json(case["graph"])
            inputs = {k: Tensor(base64.b64decode(v["data"]), dtype=v["dtype"], shape=v["shape"])
                      for k, v in case["inputs"].items()}
            sess = wi.compile(graph, backend=backend, **options)
            try:
                out = sess.run(inputs)
                info = sess.info()
            finally:
                sess.close()
            results[name] = {"outputs": {k: {"dtype": t.dtype, "shape": list(t.shape),
                                             "data": base64.b64encode(t.tobytes()).decode()}
                                         for k, t in out.items()},
                             "info": info}
        except Exception as e:
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    return json.dumps(results)
'''


def payload(cases: dict[str, tuple[Graph, dict[str, np.ndarray]]]) -> str:
    """Cases as JSON text for the page: graphs in graph-JSON form, inputs as base64 bytes."""
    import base64
    import json

    from webinfer.format import to_json

    doc = {}
    for name, (graph, inputs) in cases.items():
        doc[name] = {
            "graph": to_json(graph),
            "inputs": {
                k: {"dtype": str(v.dtype), "shape": list(v.shape), "data": base64.b64encode(v.tobytes()).decode()}
                for k, v in inputs.items()
            },
        }
    return json.dumps(doc)


def decode_outputs(result: dict) -> dict[str, np.ndarray]:
    import base64

    return {k: np.frombuffer(base64.b64decode(v["data"]), dtype=v["dtype"]).reshape(v["shape"])
            for k, v in result["outputs"].items()}


def mismatches(graph: Graph, inputs: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> list[str]:
    """Outputs outside the registry tolerance of the graph's last node vs the float64 reference."""
    from webinfer.backends.reference import evaluate
    from webinfer.ir import get_op
    from webinfer.tensor import Tensor

    ref = evaluate(graph, {k: Tensor(v) for k, v in inputs.items()})
    node = graph.nodes[-1]
    spec = get_op(node.op)
    tol = spec.tolerance(spec.call([None if i is None else graph.operands[i] for i in node.inputs],
                                   node.attributes, node.name))
    problems = []
    for name, r in ref.items():
        g = got[name]
        desc = graph.operands[graph.outputs[name]]
        if tuple(g.shape) != tuple(desc.shape) or str(g.dtype) != desc.dtype:
            problems.append(f"{name}: got {g.dtype}{list(g.shape)}, expected {desc}")
            continue
        if desc.info.is_integer:
            bad = g.astype(np.int64) != r.astype(np.int64)
        else:
            with np.errstate(all="ignore"):  # the reference rounded to the output dtype, as WPT's expectations are
                want = r.astype(g.dtype).astype(np.float64)
            err = np.abs(g.astype(np.float64) - want)
            ulp = np.spacing(np.abs(want).astype(g.dtype)).astype(np.float64)
            ok = np.zeros(g.shape, bool)
            if tol.ulp is not None:
                ok |= err <= tol.ulp * ulp
            if tol.abs is not None:
                ok |= err <= tol.abs
            ok |= np.isnan(g) & np.isnan(want)
            bad = ~ok
        if bad.any():
            idx = tuple(np.argwhere(bad)[0])
            problems.append(f"{name}: {int(bad.sum())} of {bad.size} outside {tol}, e.g. at {list(idx)}: "
                            f"got {g[idx]!r}, reference {r[idx]!r}")
    return problems


def node_mismatches(graph: Graph, inputs: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> list[str]:
    """Per node: its output vs the float64 reference applied to *its actual inputs* (as the backend made
    them), at that node's registry tolerance. ``got`` maps every node output operand to its value, so a
    multi-backend graph is checked node by node, as a bisect would."""
    from webinfer.backends.reference.kernels import KERNELS
    from webinfer.ir import get_op

    values = {**inputs, **got, **{k: np.frombuffer(c.data(), c.desc.dtype).reshape(c.desc.shape)
                                  for k, c in graph.constants.items()}}
    problems = []
    for node in graph.nodes:
        args = [None if i is None else values[i].astype(np.float64) if values[i].dtype.kind == "f" else values[i]
                for i in node.inputs]
        outs = [graph.operands[o] for o in node.outputs]
        with np.errstate(all="ignore"):
            refs = KERNELS[node.op].lower(args, dict(node.attributes), outs)
        spec = get_op(node.op)
        tol = spec.tolerance(spec.call([None if i is None else graph.operands[i] for i in node.inputs],
                                       node.attributes, node.name))
        for o, r in zip(node.outputs, refs):
            g = got[o]
            with np.errstate(all="ignore"):
                want = np.asarray(r).astype(g.dtype).astype(np.float64)
            err = np.abs(g.astype(np.float64) - want)
            ok = np.zeros(g.shape, bool) if g.dtype.kind == "f" else err == 0
            if g.dtype.kind == "f":
                ulp = np.spacing(np.abs(want).astype(g.dtype)).astype(np.float64)
                ok |= err <= (tol.ulp or 0) * ulp
                if tol.abs is not None:
                    ok |= err <= tol.abs
            if not ok.all():
                problems.append(f"{node.label}: {int((~ok).sum())} values outside {tol}")
    return problems
