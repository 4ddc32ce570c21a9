"""Graph format round trips: every op's cases, every sample graph (every dtype, symbolic dims, multi-output split,
absent optional inputs, inf attributes, unicode names) through dicts, bytes and files, inline and with weights."""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

import pytest
from fmt_samples import DTYPE_VALUES, SAMPLES

import webinfer as wi
from webinfer.errors import GraphError, WeightsError
from webinfer.format import INLINE_MAX_BYTES, SafetensorsFile, from_json, load, load_bytes, save, to_bytes, to_json
from webinfer.format.graph_json import _json_attr
from webinfer.ir import Constant, Graph, Node, OperandDesc


def _raw_constants(g: Graph) -> dict[str, bytes]:
    return {k: bytes(c.data()) for k, c in g.constants.items()}


def _same_graph(a: Graph, b: Graph) -> None:
    assert to_json(a) == to_json(b)
    assert _raw_constants(a) == _raw_constants(b)
    assert a.operands == b.operands


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_dict_round_trip(sample: str) -> None:
    g = SAMPLES[sample]()
    doc = to_json(g)
    json.dumps(doc, allow_nan=False)  # a plain JSON document
    _same_graph(g, from_json(doc))
    _same_graph(g, from_json(json.loads(json.dumps(doc))))


@pytest.mark.parametrize("sample", list(SAMPLES))
@pytest.mark.parametrize("weights", ["m.safetensors", None])
def test_bytes_round_trip(sample: str, weights: Any) -> None:
    g = SAMPLES[sample]()
    text, files = to_bytes(g, weights=weights)
    big = any(c.desc.byte_length > INLINE_MAX_BYTES for c in g.constants.values())
    assert list(files) == (["m.safetensors"] if big and weights else [])
    g2 = load_bytes(text, weights=files)
    _same_graph(g, g2)
    assert to_bytes(g2, weights=weights) == (text, files)  # stable: loading and saving again changes nothing


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_file_round_trip(sample: str, tmp_path: Any) -> None:
    g = SAMPLES[sample]()
    wi.save(g, str(tmp_path / "m.json"), weights="m.safetensors")
    g2 = wi.load(str(tmp_path / "m.json"))
    _same_graph(g, g2)
    names = sorted(os.listdir(tmp_path))
    assert names in (["m.json"], ["m.json", "m.safetensors"])  # no temp files left behind
    first = (tmp_path / "m.json").read_bytes()
    save(g2, tmp_path / "m.json", weights=tmp_path / "m.safetensors")
    assert (tmp_path / "m.json").read_bytes() == first


@pytest.mark.parametrize("op", [s.name for s in wi.all_ops()])
def test_every_op_case_round_trips(op: str) -> None:
    """Each registered op's valid cases (webinfer.ir.opcases: its attributes away from the defaults too)."""
    from webinfer.ir.opcases import cases_for
    from webinfer.tools.conformance import case_graph

    cases = [c for c in cases_for(op) if c.valid]
    assert cases, f"{op} has no valid case in webinfer/ir/opcases.py"
    for case in cases:
        g = case_graph(op, [None if d is None else [d.dtype, list(d.shape)] for d in case.inputs], dict(case.attrs))
        _same_graph(g, from_json(json.loads(json.dumps(to_json(g), allow_nan=False))))


@pytest.mark.parametrize("spec", list(wi.all_ops()), ids=lambda s: s.name)
def test_attribute_defaults_survive_json(spec: Any) -> None:
    """Every op's default attributes (None, inf, tuples) encode to JSON and normalize back unchanged."""
    given = {a.name: a.default for a in spec.attrs if not _required(a)}
    text = json.dumps({k: _json_attr(v) for k, v in given.items()}, allow_nan=False)
    again = {k: v for k, v in spec.normalize_attrs({**_requireds(spec), **json.loads(text)}).items() if k in given}
    assert again == {k: v for k, v in spec.normalize_attrs({**_requireds(spec), **given}).items() if k in given}


def _required(a: Any) -> bool:
    from webinfer.ir.registry import REQUIRED

    return a.default is REQUIRED


def _requireds(spec: Any) -> dict[str, Any]:
    examples = {"int": 1, "dtype": "float32", "dims": [1], "ints": [0], "int_or_ints": 1}
    return {a.name: examples[a.kind] for a in spec.attrs if _required(a)}


def test_inf_attributes_are_strings_and_multi_output_split_keeps_its_outputs() -> None:
    doc = to_json(SAMPLES["ops"]())
    by_op: dict[str, list[dict[str, Any]]] = {}
    for n in doc["nodes"]:
        by_op.setdefault(n["op"], []).append(n)
    assert {"min_value": "-inf", "max_value": 6.0} in [n["attributes"] for n in by_op["clamp"]]
    assert {"min_value": -1.5, "max_value": "inf"} in [n["attributes"] for n in by_op["clamp"]]
    assert any(n["attributes"]["value"] == "-inf" for n in by_op["pad"])
    assert sorted(len(n["outputs"]) for n in by_op["split"]) == [2, 2]
    assert [2, 4] in [n["attributes"]["splits"] for n in by_op["split"]]
    ln = [n for n in by_op["layer_normalization"] if n["attributes"]["axes"] is None]
    assert ln and ln[0]["inputs"] == [ln[0]["inputs"][0]]  # absent optional inputs are not written
    bn = by_op["batch_normalization"][0]
    assert bn["inputs"][3] is None and bn["inputs"][4] is not None  # ... unless one comes after them
    g = from_json(doc)
    assert any(n.inputs[1:] == (None, None) for n in g.nodes if n.op == "layer_normalization")
    assert doc["inputs"]["x"]["shape"] == ["batch", 4, 6]
    assert any(n["attributes"].get("new_shape") == ["batch", 24] for n in by_op["reshape"])


def test_every_dtype_keeps_its_exact_bits() -> None:
    g = SAMPLES["dtypes"]()
    text, files = to_bytes(g, weights="w.safetensors")
    doc = json.loads(text)
    g2 = load_bytes(text, weights=files)
    for dt, values in DTYPE_VALUES.items():
        assert "value" in doc["constants"][f"small_{dt}"] and "weights" in doc["constants"][f"big_{dt}"]
        if wi.DTYPES[dt].packed:  # 4-bit: the values inline, the packed bytes as U8 in the weights file
            assert doc["constants"][f"small_{dt}"]["value"] == values
            assert bytes(g2.constants[f"small_{dt}"].data()) == wi.Tensor(values, dtype=dt).tobytes()
            big = g2.constants[f"big_{dt}"]
            st = SafetensorsFile(files["w.safetensors"]).tensors[f"big_{dt}"]
            assert (st.dtype, st.shape) == ("U8", (big.desc.byte_length,)) and big.desc.dtype == dt
            assert bytes(big.data()) == bytes(g.constants[f"big_{dt}"].data())
            continue
        code = wi.DTYPES[dt].struct_code
        assert bytes(g2.constants[f"small_{dt}"].data()) == struct.pack(f"<{len(values)}{code}", *values)
    assert doc["constants"]["small_float32"]["value"][3:6] == ["-inf", "inf", "nan"]
    assert math.copysign(1, doc["constants"]["small_float32"]["value"][1]) == -1  # -0.0 survives
    assert doc["constants"]["scalar_nan"] == {"dataType": "float32", "shape": [], "value": ["nan"]}


def test_packed_constant_must_match_its_stored_bytes() -> None:
    g = SAMPLES["dtypes"]()
    text, files = to_bytes(g, weights="w.safetensors")
    doc = json.loads(text)
    doc["constants"]["big_uint4"]["shape"] = [160, 4]  # 640 nibbles = 320 bytes; the file holds 400
    with pytest.raises(WeightsError, match=r"the document says uint4\[160, 4\], stored packed as uint8\[320\], "
                                           r"but tensor 'big_uint4' in w.safetensors is uint8\[400\]"):
        from_json(doc, weights=files)


def test_sharded_weights(tmp_path: Any) -> None:
    """shard_bytes splits the weights in graph order into several files; a bigger tensor gets its own."""
    g = SAMPLES["dtypes"]()
    written = save(g, tmp_path / "m.json", weights="m.safetensors", shard_bytes=2000)
    names = sorted(os.path.basename(p) for p in written)
    n = len(names)
    assert n > 3 and names == [f"m-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    sizes = {name: (tmp_path / name).stat().st_size for name in names}
    doc = json.loads((tmp_path / "m.json").read_text())
    assert set(doc["weights"]) == set(names)
    for name in names:  # over the limit only when one tensor alone is (big_int64 and big_uint64 are 2560 bytes)
        keys = [k for k, c in doc["constants"].items() if c.get("weights", {}).get("file") == name]
        assert keys and (sizes[name] <= 2000 + 1024 or len(keys) == 1)
    _same_graph(g, load(tmp_path / "m.json"))
    assert save(g, tmp_path / "one.json", weights="one.safetensors", shard_bytes=10**9) == [
        str(tmp_path / "one.safetensors")]
    with pytest.raises(GraphError, match="shard_bytes must be a positive integer"):
        to_bytes(g, shard_bytes=0)


def test_inline_threshold_and_weights_none(tmp_path: Any) -> None:
    g = SAMPLES["mlp"]()  # w: 512 bytes, b: 64 bytes
    doc = json.loads(to_bytes(g, weights="m.safetensors")[0])
    assert "weights" in doc["constants"]["w"] and "value" in doc["constants"]["b"]
    doc = json.loads(to_bytes(g, weights="m.safetensors", inline_max_bytes=0)[0])
    assert all("weights" in c for c in doc["constants"].values())
    save(g, tmp_path / "inline.json")  # weights=None: one self-contained file
    assert os.listdir(tmp_path) == ["inline.json"]
    assert "weights" not in json.loads((tmp_path / "inline.json").read_text())
    _same_graph(g, load(tmp_path / "inline.json"))


def test_constants_from_weights_are_lazy(tmp_path: Any) -> None:
    g = SAMPLES["mlp"]()
    wi.save(g, str(tmp_path / "m.json"), weights="m.safetensors")
    g2 = wi.load(str(tmp_path / "m.json"))
    w = g2.constants["w"]
    assert not w.loaded and w.source == {"file": "m.safetensors", "key": "w"}
    assert g2.constants["b"].loaded  # inline
    assert bytes(w.data()) == bytes(g.constants["w"].data()) and w.loaded


def test_metadata_round_trips() -> None:
    g = SAMPLES["mlp"]()
    doc = to_json(g, metadata={"producer": "test", "nested": {"vocab": ["a", "b"]}})
    g2 = from_json(doc)
    assert g2.metadata == {"producer": "test", "nested": {"vocab": ["a", "b"]}}  # type: ignore[attr-defined]
    assert to_json(g2)["metadata"] == doc["metadata"]


def test_unnamed_nodes_get_unique_names() -> None:
    c = Constant(OperandDesc("float32", (2,)), struct.pack("<2f", 1, 2))
    nodes = [Node("relu", ("x",), ("y",)), Node("relu", ("y",), ("z",), name="relu_0")]
    g = Graph({"x": OperandDesc("float32", (2,))}, {"c": c}, nodes, {"z": "z"})
    doc = to_json(g)
    assert [n["name"] for n in doc["nodes"]] == ["relu_1", "relu_0"]
    _same_graph(g, from_json(doc))


def test_nodes_in_any_acyclic_order_load() -> None:
    doc = to_json(SAMPLES["mlp"]())
    doc["nodes"].reverse()
    assert [n.op for n in from_json(doc).nodes] == ["matmul", "add", "gelu"]


def test_save_refuses_weights_in_another_folder(tmp_path: Any) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(GraphError, match="same folder"):
        save(SAMPLES["mlp"](), tmp_path / "m.json", weights=tmp_path / "a" / "m.safetensors")


def test_save_to_a_missing_folder_names_the_file_asked_for(tmp_path: Any) -> None:
    target = tmp_path / "no" / "such" / "m.json"
    with pytest.raises(GraphError, match=r"save: cannot write .*m\.json: No such file") as info:
        save(SAMPLES["mlp"](), target)
    assert ".tmp-" not in str(info.value)  # not our temporary file's name
    assert not list(tmp_path.iterdir())


def test_dim_names_are_ascii_in_the_ir_as_in_the_format() -> None:
    g = wi.GraphBuilder()
    with pytest.raises(GraphError, match="symbolic dimension 'βatch'.*ASCII"):
        g.input("x", "float32", ["βatch", 2])


def test_loaded_graph_computes_the_same(tmp_path: Any) -> None:
    np = pytest.importorskip("numpy")
    g = SAMPLES["mlp"]()
    wi.save(g, str(tmp_path / "m.json"), weights="m.safetensors")
    x = np.linspace(-1, 1, 24, dtype="float32").reshape(3, 8)
    want = wi.compile(g, backend="reference").run({"x": x})["y"].numpy()
    got = wi.compile(wi.load(str(tmp_path / "m.json")), backend="reference").run({"x": x})["y"].numpy()
    assert np.array_equal(want, got)


def _pool_doc(attributes: dict[str, Any]) -> dict[str, Any]:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [1, 1, 6, 6])
    doc = to_json(g.build({"y": g.max_pool2d(x, window_dimensions=[3, 3], strides=[2, 2])}))
    doc["nodes"][0]["attributes"] = {k: v for k, v in doc["nodes"][0]["attributes"].items()
                                     if k not in ("rounding_type", "output_sizes")} | attributes
    return doc


def test_pool_files_written_before_the_rename_keep_their_meaning() -> None:
    """``output_shape_rounding`` (the pools' attribute before WebNN's ``rounding_type``) is read as the new name."""
    old = from_json(_pool_doc({"output_shape_rounding": "ceil"}))
    assert old.nodes[0].attributes["rounding_type"] == "ceil"
    assert str(old.operands["max_pool2d_0"]) == "float32[1, 1, 3, 3]"
    assert to_json(old) == to_json(from_json(_pool_doc({"rounding_type": "ceil"})))  # saved again: the new name
    assert "output_shape_rounding" not in json.dumps(to_json(old))
    with pytest.raises(GraphError, match=r"nodes\[0\].attributes: max_pool2d \(node 'max_pool2d_0'\): attribute "
                                         r"'output_shape_rounding' is the old name of 'rounding_type'"):
        from_json(_pool_doc({"output_shape_rounding": "ceil", "rounding_type": "floor"}))
    with pytest.raises(GraphError, match="unknown argument 'output_shape_rounding' \\(renamed 'rounding_type'"):
        wi.GraphBuilder().max_pool2d(wi.GraphBuilder().input("x", "float32", [1, 1, 4, 4]),
                                     output_shape_rounding="ceil")
