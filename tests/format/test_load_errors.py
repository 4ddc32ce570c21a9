"""Every kind of bad graph file gives a webinfer error that says what and where (JSON path, node, tensor
key, file) — and weights integrity (issue 8 item 6): sha256 mismatch refused unless overridden, truncation named."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from fmt_samples import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

import webinfer as wi
from webinfer.errors import GraphError, WeightsError
from webinfer.format import MAX_DOCUMENT_BYTES, from_json, load, load_bytes, to_bytes
from webinfer.format.jsontext import check_structure

W = "m.safetensors"


@pytest.fixture(scope="module")
def mlp() -> tuple[dict[str, Any], dict[str, bytes]]:
    text, files = to_bytes(SAMPLES["mlp"](), weights=W)
    return json.loads(text), files


def _mutated(doc: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = json.loads(json.dumps(doc))
    fn(d)
    return d


def _node(d: dict[str, Any], op: str) -> dict[str, Any]:
    return next(n for n in d["nodes"] if n["op"] == op)


DOC_CASES: list[tuple[str, Callable[[dict[str, Any]], None], type, str]] = [
    ("wrong format", lambda d: d.update(format="onnx"), GraphError, r"format: must be \"webinfer-graph\""),
    ("newer version", lambda d: d.update(version=2), GraphError, r"version: format version 2 is newer"),
    ("missing nodes", lambda d: d.pop("nodes"), GraphError, r"\(document\): missing required key 'nodes'"),
    ("unknown top key", lambda d: d.update(extra=1), GraphError, r"unknown key 'extra'"),
    ("unknown node key", lambda d: d["nodes"][1].update(typo=1), GraphError, r"nodes\[1\]: unknown key 'typo'"),
    ("dtype", lambda d: d["inputs"]["x"].update(dataType="float64"), GraphError, r"inputs.x.dataType: must be one of"),
    ("negative dim", lambda d: d["inputs"]["x"]["shape"].__setitem__(1, -8), GraphError, r"inputs.x.shape\[1\]: -8 is less"),
    ("huge dim", lambda d: d["inputs"]["x"]["shape"].__setitem__(1, 2**41), GraphError, r"inputs.x.shape\[1\]: .* maximum"),
    ("bad dim name", lambda d: d["inputs"]["x"]["shape"].__setitem__(0, "2b"), GraphError, r"inputs.x.shape\[0\]: .*symbolic"),
    ("rank 9", lambda d: d["inputs"]["x"].update(shape=[1] * 9), GraphError, r"inputs.x.shape: has 9 items"),
    ("unknown op", lambda d: _node(d, "gelu").update(op="gelu2"), GraphError, r"nodes\[2\].op: unknown op 'gelu2'"),
    ("unknown attribute", lambda d: _node(d, "gelu").update(attributes={"approximate": "tanh"}), GraphError,
     r"nodes\[2\].attributes: gelu \(node 'gelu_0'\): unknown attribute 'approximate'"),
    ("attribute type", lambda d: _node(d, "gelu").update(op="softmax", attributes={"axis": "last"}), GraphError,
     r"nodes\[2\].attributes: softmax \(node 'gelu_0'\): attribute 'axis' must be an integer"),
    ("attribute NaN string", lambda d: _node(d, "gelu").update(op="clamp", attributes={"min_value": "nan"}), GraphError,
     r"attribute 'min_value' must be a number"),
    ("attribute nested list", lambda d: _node(d, "gelu").update(attributes={"a": [[1]]}), GraphError,
     r"nodes\[2\].attributes.a\[0\]: expected number or string, got an array of 1"),
    ("attribute value out of range", lambda d: _node(d, "gelu").update(op="softmax", attributes={"axis": 5}), GraphError,
     r"nodes\[2\]: softmax \(node 'gelu_0'\): axis 5 is out of range"),
    ("dangling input", lambda d: d["nodes"][1]["inputs"].__setitem__(1, "bias"), GraphError,
     r"nodes\[1\].inputs\[1\]: 'bias' is not defined"),
    ("cycle", lambda d: d["nodes"][0]["inputs"].__setitem__(0, "gelu_0"), GraphError, r"cycle through"),
    ("self loop", lambda d: d["nodes"][2]["inputs"].__setitem__(0, "gelu_0"), GraphError, r"cycle through gelu"),
    ("duplicate output", lambda d: d["nodes"][2]["outputs"].__setitem__(0, "add_0"), GraphError,
     r"nodes\[2\].outputs\[0\]: 'add_0' is already defined by nodes\[1\].outputs\[0\]"),
    ("output shadows input", lambda d: d["nodes"][2]["outputs"].__setitem__(0, "x"), GraphError,
     r"'x' is already defined by inputs.x"),
    ("constant shadows input", lambda d: d["constants"].update(x=d["constants"]["b"]), GraphError,
     r"constants.x: the name 'x' is already used by inputs.x"),
    ("duplicate node name", lambda d: d["nodes"][2].update(name="add_0"), GraphError, r"nodes\[2\].name: node name 'add_0' is also used"),
    ("too many outputs", lambda d: d["nodes"][2]["outputs"].append("extra"), GraphError,
     r"nodes\[2\].outputs: gelu \(node 'gelu_0'\) produces 1 outputs, the node names 2"),
    ("split into 2**40", lambda d: d["nodes"][2].update(op="split", attributes={"splits": 2**40}), GraphError,
     r"nodes\[2\].outputs: split \(node 'gelu_0'\) produces 1099511627776 outputs, the node names 1"),
    ("split into 4097", lambda d: d["nodes"][2].update(op="split", attributes={"splits": 4097},
                                                       outputs=[f"o{i}" for i in range(4097)]), GraphError,
     r"nodes\[2\].outputs: has 4097 items; at most 4096"),
    ("missing required input", lambda d: d["nodes"][1]["inputs"].pop(), GraphError, r"nodes\[1\]: add .*"),
    ("shape mismatch", lambda d: d["inputs"]["x"]["shape"].__setitem__(1, 7), GraphError,
     r"nodes\[0\]: matmul \(node 'matmul_0'\): inner dimensions differ: a is \[batch, 7\], b is \[8, 16\]"),
    ("dtype mismatch", lambda d: d["inputs"]["x"].update(dataType="float16"), GraphError, r"matmul .*float16"),
    ("graph output undefined", lambda d: d["outputs"].update(y="nothing"), GraphError, r"outputs.y: 'nothing' is not"),
    ("no outputs", lambda d: d.update(outputs={}), GraphError, r"outputs: needs at least 1"),
    ("name with control char", lambda d: d["outputs"].update({"a\nb": "gelu_0"}), GraphError, r"outputs\[\"a\\nb\"\]: bad key"),
    ("inline count", lambda d: d["constants"]["b"]["value"].pop(), GraphError, r"constants.b.value: has 15 values, but float32\[16\] needs 16"),
    ("inline range", lambda d: d["constants"]["b"]["value"].__setitem__(3, 1e39), GraphError, r"constants.b.value\[3\]: 1e\+39 is out of range for float32"),
    ("inline int dtype", lambda d: d["constants"]["b"].update(dataType="int8", value=[300] * 16), GraphError, r"constants.b.value\[0\]: 300 is out of range for int8"),
    ("inline fraction", lambda d: d["constants"]["b"].update(dataType="int32", value=[0.5] * 16), GraphError, r"0.5 is not an integer"),
    ("inline and weights", lambda d: d["constants"]["b"].update(weights={"file": W, "key": "b"}), GraphError, r"constants.b: .*exactly one of"),
    ("neither", lambda d: d["constants"]["b"].pop("value"), GraphError, r"constants.b: .*exactly one of"),
    ("symbolic constant", lambda d: d["constants"]["b"].update(shape=["n"]), GraphError, r"constants.b.shape\[0\]: expected integer"),
    ("file not listed", lambda d: d["constants"]["w"]["weights"].update(file="other.safetensors"), GraphError,
     r"constants.w.weights.file: 'other.safetensors' is not listed"),
    ("file listed, unused", lambda d: d["weights"].update({"x.safetensors": d["weights"][W]}), GraphError,
     r"weights\[\"x.safetensors\"\]: is listed but no constant refers to it"),
    ("path traversal", lambda d: d["constants"]["w"]["weights"].update(file="../m.safetensors"), GraphError,
     r"constants.w.weights.file: .* a plain file name"),
    ("absolute path", lambda d: d["constants"]["w"]["weights"].update(file="/etc/passwd"), GraphError, r"plain file name"),
    ("bad sha256", lambda d: d["weights"][W].update(sha256="XYZ"), GraphError, r"sha256: .*shorter than 64"),
    ("missing key", lambda d: d["constants"]["w"]["weights"].update(key="nope"), WeightsError,
     r"constants.w.weights.key: no tensor 'nope' in m.safetensors"),
    ("dtype vs header", lambda d: d["constants"]["w"].update(dataType="int32"), WeightsError,
     r"constants.w: the document says int32\[8, 16\], but tensor 'w' in m.safetensors is float32\[8, 16\]"),
    ("shape vs header", lambda d: d["constants"]["w"].update(shape=[16, 8]), WeightsError, r"float32\[16, 8\], but tensor 'w'"),
    ("size vs file", lambda d: d["weights"][W].update(size=d["weights"][W]["size"] + 8), WeightsError,
     r"m.safetensors: truncated: \d+ of the \d+ bytes the graph records"),
    ("file larger", lambda d: d["weights"][W].update(size=d["weights"][W]["size"] - 8), WeightsError, r"not the file it was saved with"),
    ("hash mismatch", lambda d: d["weights"][W].update(sha256="0" * 64), WeightsError, r"m.safetensors: sha256 .* does not match"),
]


@pytest.mark.parametrize("case,mutate,error,message", DOC_CASES, ids=[c[0] for c in DOC_CASES])
def test_bad_documents(mlp: Any, case: str, mutate: Any, error: type, message: str) -> None:
    doc, files = mlp
    bad = _mutated(doc, mutate)
    with pytest.raises(error, match=message):
        from_json(bad, weights=files)
    with pytest.raises(error, match=message):  # the same through JSON text, named after the file
        load_bytes(json.dumps(bad).encode(), weights=files, name="m.json")


TEXT_CASES = [
    (b'{"format": "webinfer-graph",\n  "version": 1,\n  "inputs": {}\n  "nodes": []}', r"invalid JSON at line 4, column 3"),
    (b"", r"invalid JSON at line 1, column 1"),
    (b"\xff\xfe{}", r"not UTF-8 text \(byte 0"),
    (b"\xef\xbb\xbf{}", r"byte order mark"),
    (b'{"a": 1, "a": 2}', r"duplicate key 'a'"),
    (b'{"a": NaN}', r"NaN is not valid JSON"),
    (b'{"a": -Infinity}', r"-Infinity is not valid JSON"),
    (b'{"a": 1e999}', r"too large for a float"),
    (b'{"a": "\\ud800"}', r"unpaired surrogate"),
    (b'{"a": 1' + b"0" * 5000 + b"}", r"invalid JSON: .*digits"),
    (b"[" * 65 + b"]" * 65, r"nests deeper than 64 levels"),
    (b"[" * 1_000_000, r"nests deeper than 64 levels"),
    (b'{"metadata": ' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"}", r"nests deeper than 64 levels"),
    (b"[]", r"\(document\): expected object, got an array of 0"),
]


@pytest.mark.parametrize("text,message", TEXT_CASES, ids=[t[1] for t in TEXT_CASES])
def test_bad_json_text(text: bytes, message: str) -> None:
    with pytest.raises(GraphError, match="m.json: .*" + message):
        load_bytes(text, name="m.json")


def test_nesting_at_the_limit_is_fine_and_brackets_in_strings_do_not_count(mlp: Any) -> None:
    doc, files = mlp
    deep: Any = 1
    for _ in range(60):
        deep = [deep]
    d = _mutated(doc, lambda d: d.update(metadata={"deep": deep, "text": "[" * 1000}))
    assert load_bytes(json.dumps(d), weights=files).metadata["text"] == "[" * 1000  # type: ignore[attr-defined]


def test_dicts_with_non_json_values_are_refused(mlp: Any) -> None:
    doc, files = mlp
    for bad, message in (({1: 2}, "key 1 is a int"), (float("nan"), "nan is not a JSON number"),
                         (b"x", "a bytes is not a JSON value"), ((1, 2), "a tuple is not a JSON value")):
        with pytest.raises(GraphError, match=message):
            from_json(_mutated(doc, lambda d: d.update(metadata={"v": None})) | {"metadata": {"v": bad}}, weights=files)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(GraphError, match="nests deeper"):
        from_json({**doc, "metadata": {"loop": loop}}, weights=files)


def test_too_large_json_is_refused_before_reading(tmp_path: Any) -> None:
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: nothing to read, and load must not try
    with pytest.raises(GraphError, match=r"big.json: \d+ bytes exceeds the limit of 67108864 bytes"):
        load(path)
    with pytest.raises(GraphError, match="exceeds the limit"):
        load_bytes(b" " * (MAX_DOCUMENT_BYTES + 1))


# -- weights files on disk: integrity (issue 8 item 6) ---------------------------------------------------


@pytest.fixture()
def saved(tmp_path: Any) -> Any:
    wi.save(SAMPLES["mlp"](), str(tmp_path / "m.json"), weights=W)
    return tmp_path


def test_changed_weights_are_refused_unless_overridden(saved: Any) -> None:
    path = saved / W
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF  # same size, different content
    path.write_bytes(blob)
    with pytest.raises(WeightsError,
                       match="m.safetensors: sha256 .* does not match the graph's .* allow_hash_mismatch=True"):
        wi.load(str(saved / "m.json"))
    g = wi.load(str(saved / "m.json"), allow_hash_mismatch=True)
    assert bytes(g.constants["w"].data())[-1:] == bytes(blob[-1:])
    assert wi.load(str(saved / "m.json"), verify_hash=False).constants["w"].desc.shape == (8, 16)


def test_truncated_download_is_named(saved: Any) -> None:
    path = saved / W
    full = path.read_bytes()
    for cut in (0, 5, 8, 100, len(full) - 1):
        path.write_bytes(full[:cut])
        for kw in ({}, {"verify_hash": False}, {"allow_hash_mismatch": True}):
            with pytest.raises(WeightsError, match=rf"m.safetensors: truncated: {cut} of the {len(full)} bytes"):
                wi.load(str(saved / "m.json"), **kw)


def test_truncated_file_with_a_matching_document_is_still_caught(saved: Any) -> None:
    """A consistent but truncated pair (say, both rewritten by a broken tool) fails on the header's sizes."""
    path = saved / W
    cut = path.read_bytes()[:-16]
    path.write_bytes(cut)
    doc = json.loads((saved / "m.json").read_text())
    doc["weights"][W] = {"sha256": hashlib.sha256(cut).hexdigest(), "size": len(cut)}
    with pytest.raises(WeightsError, match=r"m.safetensors: truncated: the header describes \d+ bytes, the file has"):
        from_json(doc, weights_dir=saved)


def test_missing_weights_file(saved: Any, tmp_path: Any) -> None:
    os.remove(saved / W)
    with pytest.raises(WeightsError, match=r"m.safetensors: cannot open .*m.safetensors"):
        wi.load(str(saved / "m.json"))
    doc = json.loads((saved / "m.json").read_text())
    with pytest.raises(WeightsError, match=r"needs the weights file 'm.safetensors'; pass weights="):
        from_json(doc)


def test_weights_from_bytes_file_objects_and_weights_dir(saved: Any, tmp_path: Any) -> None:
    blob = (saved / W).read_bytes()
    doc_bytes = (saved / "m.json").read_bytes()
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / W).write_bytes(blob)
    with open(saved / W, "rb") as f:
        graphs = [
            load_bytes(doc_bytes, weights={W: blob}),
            load_bytes(doc_bytes, weights={W: memoryview(blob)}),
            load_bytes(doc_bytes, weights={W: f}),
            load_bytes(doc_bytes, weights={W: str(other / W)}),
            load_bytes(doc_bytes, weights_dir=other),
            load(saved / "m.json", weights_dir=other),
            load(json.loads(doc_bytes), weights_dir=other),
            load(doc_bytes, weights={W: blob}),
        ]
        for g in graphs:
            assert bytes(g.constants["w"].data()) == bytes(graphs[0].constants["w"].data())


def test_referencing_a_bf16_tensor_names_the_dtype(mlp: Any) -> None:
    doc, _ = mlp
    header = json.dumps({"w": {"dtype": "BF16", "shape": [8, 16], "data_offsets": [0, 256]}}).encode()
    header += b" " * (-len(header) % 8)
    blob = struct.pack("<Q", len(header)) + header + b"\0" * 256
    entry = {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
    d = _mutated(doc, lambda d: d["weights"].update({W: entry}))
    with pytest.raises(WeightsError,
                       match=r"constants.w.weights: m.safetensors: tensor 'w' has dtype BF16 \(bfloat16\)"):
        from_json(d, weights={W: blob})


def test_bad_load_arguments() -> None:
    with pytest.raises(GraphError, match="expected a path, a dict or JSON bytes"):
        load(5)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="cannot read"):
        load("/nonexistent/m.json")
    with pytest.raises(WeightsError, match="weights must map file names"):
        load_bytes(to_bytes(SAMPLES["mlp"]())[0], weights=[b""])  # type: ignore[arg-type]


def _true_depth(v: Any) -> int:
    return 1 + max((_true_depth(x) for x in (v.values() if isinstance(v, dict) else v)), default=0) \
        if isinstance(v, (dict, list)) else 0


_nested = st.recursive(
    st.sampled_from([1, "[{", "\\", '"[', '\\"]', "a\\\\[", "}"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), c, max_size=2),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(_nested, st.integers(1, 12))
def test_depth_check_is_exact(value: Any, limit: int) -> None:
    """The fast pre-parse nesting check refuses exactly the documents deeper than the limit."""
    try:
        check_structure(json.dumps(value).encode(), "doc", max_depth=limit)
        refused = False
    except GraphError:
        refused = True
    assert refused == (_true_depth(value) > limit)


@pytest.mark.parametrize("text", [
    b'"' + b'\\"' * 1_000_000,  # an unterminated string full of escaped quotes (quadratic for a naive regex)
    b'["' + b'[' * 2_000_000 + b'"]',  # brackets inside a string: not nesting
    b"[" * 2_000_000 + b"]" * 2_000_000,
    b'["a\\\\", ' * 200_000 + b"1" + b"]" * 200_000,
], ids=["escaped-quotes", "brackets-in-string", "deep", "escaped-backslashes"])
def test_hostile_text_is_handled_in_linear_time(text: bytes) -> None:
    t0 = time.process_time()  # this process's CPU time: other jobs on the machine do not count
    with pytest.raises(GraphError):
        load_bytes(text)
    assert time.process_time() - t0 < 1.0


@pytest.mark.parametrize("limit,text,message", [
    ("MAX_CONTAINERS", b"[" + b"[]," * 100 + b"[]]", "102 arrays and objects; at most 100"),
    ("MAX_STRINGS", b"[" + b'"a",' * 60 + b'"a"]', "122 quotes; at most 100"),
    ("MAX_ITEMS", b"[" + b"1," * 100 + b"1]", "100 commas; at most 50"),
])
def test_structure_counts_are_capped_before_parsing(monkeypatch: pytest.MonkeyPatch, limit: str, text: bytes,
                                                    message: str) -> None:
    import webinfer.format.jsontext as jt

    monkeypatch.setattr(jt, limit, 50 if limit != "MAX_CONTAINERS" else 100)
    with pytest.raises(GraphError, match=message):
        load_bytes(text)
