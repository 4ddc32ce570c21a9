"""Hostile ONNX files: every one gives a webinfer error naming what is wrong (the node, tensor or file), never a
foreign exception, a hang or a big allocation. Each case runs under a time limit and tracemalloc."""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from webinfer.errors import WebinferError  # noqa: E402
from webinfer.importers.onnx import load  # noqa: E402
from webinfer.importers.onnx.importer import OnnxUnsupportedError  # noqa: E402

TIME_LIMIT_S = 5.0
MEMORY_LIMIT = 64 * 1024 * 1024


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _valid() -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    return _model([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                   helper.make_node("Relu", ["h"], ["y"], name="act")],
                  [_vi("x", ["batch", 4])], [_vi("y", ["batch", 3])], [w])


def _tensor(name: str, dims: list[int], raw: bytes) -> onnx.TensorProto:
    """A float tensor built field by field (onnx.helper refuses the lies these cases need)."""
    t = onnx.TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def _raw(m: onnx.ModelProto) -> bytes:
    return m.SerializeToString()


def _cycle() -> bytes:
    return _raw(_model([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                        helper.make_node("Relu", ["a"], ["b"], name="n2")], [_vi("x", [2])], [_vi("a", [2])]))


def _missing_initializer() -> bytes:
    return _raw(_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [_vi("x", [1, 4])],
                       [_vi("y", [1, 3])]))


def _lying_raw_data() -> bytes:
    t = _tensor("w", [1000, 3], b"\0" * 8)
    return _raw(_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [_vi("x", [1, 1000])],
                       [_vi("y", [1, 3])], [t]))


def _huge_initializer() -> bytes:
    t = _tensor("w", [2**40, 2**40], b"")
    return _raw(_model([helper.make_node("Relu", ["w"], ["y"], name="r")], [], [_vi("y", None)], [t]))


def _huge_input_dim() -> bytes:
    return _raw(_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2**62])], [_vi("y", None)]))


def _lying_output_shape() -> bytes:
    m = _valid()
    m.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 7
    return _raw(m)


def _unknown_domain() -> bytes:
    m = _model([helper.make_node("FusedGelu", ["x"], ["y"], name="fg", domain="com.microsoft"),
                helper.make_node("If", ["x"], ["z"], name="branch")], [_vi("x", [2])], [_vi("y", [2])])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return _raw(m)


def _bad_attribute_type() -> bytes:
    node = helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=1.5)
    return _raw(_model([node], [_vi("x", [2, 3])], [_vi("y", [3, 2])]))


def _wrong_reshape() -> bytes:
    shape = numpy_helper.from_array(np.array([5, 5], np.int64), "s")
    return _raw(_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], [_vi("x", [2, 3])],
                       [_vi("y", [5, 5])], [shape]))


def _huge_constant_of_shape() -> bytes:
    shape = numpy_helper.from_array(np.array([2**30, 2**30], np.int64), "s")
    return _raw(_model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos")], [],
                       [_vi("y", [2**30, 2**30])], [shape]))


def _huge_range() -> bytes:
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("a", 0), ("b", 2**60), ("c", 1))]
    return _raw(_model([helper.make_node("Range", ["a", "b", "c"], ["y"], name="rng")], [], [_vi("y", None)],
                       inits))


def _old_opset() -> bytes:
    return _raw(_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2])], [_vi("y", [2])],
                       opset=9))


def _duplicate_output() -> bytes:
    return _raw(_model([helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Neg", ["x"], ["y"],
                                                                                            name="b")],
                       [_vi("x", [2])], [_vi("y", [2])]))


def _double_input() -> bytes:
    return _raw(_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [2], TensorProto.DOUBLE)],
                       [_vi("y", [2], TensorProto.DOUBLE)]))


def _external(location: str, length: int = 48) -> Callable[[str], bytes]:
    def make(tmp: str) -> bytes:
        t = _tensor("w", [4, 3], b"")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        return _raw(_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [_vi("x", [1, 4])],
                           [_vi("y", [1, 3])], [t]))

    return make


# name -> (model bytes, or a function of a temp dir giving them; fragments the message must contain)
CASES: dict[str, tuple[object, tuple[str, ...]]] = {
    "truncated": (lambda: _raw(_valid())[: len(_raw(_valid())) // 2], ("not a valid ONNX protobuf",)),
    "not_onnx": (lambda: b"\x89PNG\r\n\x1a\n" + b"\xff" * 64, ("ONNX",)),
    "empty": (lambda: b"", ("empty",)),
    "cycle": (_cycle, ("cycle", "node 'n")),
    "missing_initializer": (_missing_initializer, ("'mm'", "'w'", "not a graph input")),
    "lying_raw_data": (_lying_raw_data, ("'w'", "raw_data has 8 bytes")),
    "huge_initializer": (_huge_initializer, ("'w'", "raw_data has 0 bytes")),
    "initializer_dim_out_of_range": (lambda: _raw(_model([helper.make_node("Relu", ["w"], ["y"], name="r")], [],
                                                         [_vi("y", None)], [_tensor("w", [2**41], b"")])),
                                     ("'w'", "out of range")),
    "huge_input_dim": (_huge_input_dim, ("'x'", "out of range")),
    "lying_output_shape": (_lying_output_shape, ("'y'", "declared", "node 'act'")),
    "unknown_domain": (_unknown_domain, ("FusedGelu", "'fg'", "com.microsoft", "If", "'branch'")),
    "bad_attribute_type": (_bad_attribute_type, ("'tr'", "perm")),
    "wrong_reshape": (_wrong_reshape, ("'rs'", "reshape")),
    "huge_range": (_huge_range, ("'rng'", "too large")),
    "old_opset": (_old_opset, ("opset 9",)),
    "duplicate_output": (_duplicate_output, ("'y'", "already defined")),
    "double_dtype": (_double_input, ("DOUBLE",)),
}
EXTERNAL = {
    "ext_traversal": ("../outside.bin", ("outside the model's directory",)),
    "ext_absolute": ("/etc/passwd", ("relative path",)),
    "ext_missing": ("nothere.bin", ("missing",)),
    "ext_short": ("short.bin", ("runs past its end",)),
}


def _guarded(fn: Callable[[], object]) -> tuple[object, float, int]:
    tracemalloc.start()
    t0 = time.process_time()
    try:
        result: object = fn()
    except Exception as e:  # noqa: BLE001 - classified by the caller
        result = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, time.process_time() - t0, peak


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_model_gives_a_webinfer_error(name):
    make, fragments = CASES[name]
    data = make()  # type: ignore[operator]
    result, seconds, peak = _guarded(lambda: load(data))
    assert isinstance(result, WebinferError), f"{name}: {type(result).__name__}: {result}"
    for f in fragments:
        assert f in str(result), f"{name}: {f!r} not in {result}"
    assert seconds < TIME_LIMIT_S and peak < MEMORY_LIMIT, (name, seconds, peak)


def test_unsupported_nodes_are_listed_in_one_error():
    with pytest.raises(OnnxUnsupportedError) as e:
        load(_unknown_domain())
    assert [(u.op_type, u.node) for u in e.value.unsupported] == [("FusedGelu", "fg"), ("If", "branch")]


def test_a_huge_constant_of_shape_is_not_allocated():
    """Not folded (too big): it becomes a broadcast of one value, and nothing of its size is allocated."""
    result, seconds, peak = _guarded(lambda: load(_huge_constant_of_shape()))
    if isinstance(result, Exception):
        assert isinstance(result, WebinferError), result
    assert seconds < TIME_LIMIT_S and peak < MEMORY_LIMIT


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_external_data_stays_next_to_the_model(tmp_path, name):
    location, fragments = EXTERNAL[name]
    d = tmp_path / "model"
    d.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 48)
    (d / "short.bin").write_bytes(b"\0" * 20)
    (d / "m.onnx").write_bytes(_external(location)(str(d)))
    with pytest.raises(WebinferError) as e:
        load(d / "m.onnx")
    for f in fragments + ("'w'",):
        assert f in str(e.value)


def test_external_data_next_to_the_model_loads(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "w.bin").write_bytes(w.tobytes())
    (tmp_path / "m.onnx").write_bytes(_external("w.bin")(str(tmp_path)))
    graph = load(tmp_path / "m.onnx")
    const = next(iter(graph.constants.values()))
    assert not const.loaded  # read on demand
    assert np.array_equal(np.frombuffer(const.data(), np.float32).reshape(4, 3), w)


def test_random_mutations_never_escape(tmp_path):
    """Flipped, dropped and inserted bytes in a valid model: a Graph or a webinfer error, each case quick."""
    base = _raw(_valid())
    rng = random.Random(int(os.environ.get("WEBINFER_FUZZ_SEED", "1")))
    outcomes = {"graph": 0, "error": 0}
    for _ in range(200):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            op = rng.random()
            if op < 0.5:
                data[i] = rng.randrange(256)
            elif op < 0.75:
                del data[i]
            else:
                data.insert(i, rng.randrange(256))
        result, seconds, peak = _guarded(lambda d=bytes(data): load(d))
        assert not isinstance(result, Exception) or isinstance(result, WebinferError), repr(result)
        assert seconds < TIME_LIMIT_S and peak < MEMORY_LIMIT
        outcomes["error" if isinstance(result, Exception) else "graph"] += 1
    assert outcomes["error"] > 0
