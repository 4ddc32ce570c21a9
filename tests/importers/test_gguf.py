"""The pure-Python GGUF reader against the ``gguf`` package (llama.cpp's own Python reader) on the packaged
SmolLM2 file and on tiny files, block repacking against ``gguf.quants.dequantize``, and one clear WeightsError
for each kind of broken file.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webinfer.errors import WebinferError, WeightsError
from webinfer.importers.gguf import GGUFFile, permute_rows, q4_0_to_int4, q4_1_to_uint4, q8_0_to_int8
from webinfer.tensor import unpack_array

gguf = pytest.importorskip("gguf")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from llm_samples import write_tiny_gguf  # noqa: E402


@pytest.fixture(scope="module")
def smollm2() -> Path:
    from webinfer.models.llama import ModelFilesNotFound, smollm2_path

    try:
        return smollm2_path()
    except ModelFilesNotFound as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", seed=2)


def _same_metadata(mine: GGUFFile, ref: Any) -> None:
    for key, field in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        value = mine.metadata[key]
        expected = field.contents()
        assert (list(value) if not isinstance(value, (str, int, float, bool)) else value) == expected, key
    assert set(mine.metadata) == {k for k in ref.fields if not k.startswith("GGUF.")}


def _same_tensors(mine: GGUFFile, ref: Any) -> None:
    assert mine.data_start == ref.data_offset
    assert list(mine.tensors) == [t.name for t in ref.tensors]
    for t in ref.tensors:
        m = mine.tensors[t.name]
        assert (m.type_id, list(m.dims), m.nbytes, m.elements) == (t.tensor_type.value, [int(d) for d in t.shape],
                                                                   t.n_bytes, t.n_elements), t.name
        assert hashlib.sha256(mine.read(t.name)).digest() == hashlib.sha256(t.data.tobytes()).digest(), t.name


def test_reads_smollm2_like_the_gguf_package(smollm2: Path) -> None:
    mine, ref = GGUFFile(smollm2), gguf.GGUFReader(smollm2)
    assert mine.version == 3 and mine.alignment == 32 and len(mine.tensors) == 272
    _same_metadata(mine, ref)
    _same_tensors(mine, ref)
    assert mine.value_types["llama.rope.freq_base"] == "float32"
    assert mine.value_types["tokenizer.ggml.token_type"] == "array[int32]"
    assert mine.get("llama.block_count", "int") == 30 and len(mine.get("tokenizer.ggml.merges", "strings")) == 48900
    kinds = [t.type_name for t in mine.tensors.values()]
    assert (kinds.count("Q4_1"), kinds.count("F32"), kinds.count("Q8_0")) == (210, 61, 1)
    assert mine.tensors["token_embd.weight"].shape == (49152, 576)


def test_reads_tiny_files_and_bytes_like_the_gguf_package(tiny: Path) -> None:
    ref = gguf.GGUFReader(tiny)
    with open(tiny, "rb") as stream:
        for source in (tiny, tiny.read_bytes(), stream):
            mine = GGUFFile(source, "tiny.gguf")
            _same_metadata(mine, ref)
            _same_tensors(mine, ref)


def _dequantized(raw: bytes, kind: str, rows: int, cols: int) -> np.ndarray:
    """Our repacked parts turned back into floats with numpy, to compare with gguf's own dequantizer."""
    def f16(b: bytes) -> np.ndarray:
        return np.frombuffer(b, np.float16).astype(np.float64).reshape(rows, cols // 32, 1)

    if kind == "Q4_1":
        q, d, m = q4_1_to_uint4(raw)
        qa = unpack_array(np.frombuffer(q, np.uint8), "uint4", (rows, cols // 32, 32)).astype(np.float64)
        return (qa * f16(d) + f16(m)).reshape(rows, cols)
    if kind == "Q4_0":
        q, d = q4_0_to_int4(raw)
        qa = unpack_array(np.frombuffer(q, np.uint8), "int4", (rows, cols // 32, 32)).astype(np.float64)
        return (qa * f16(d)).reshape(rows, cols)
    q, d = q8_0_to_int8(raw)
    return (np.frombuffer(q, np.int8).astype(np.float64).reshape(rows, cols // 32, 32) * f16(d)).reshape(rows, cols)


def test_repacked_blocks_dequantize_like_gguf(tiny: Path, smollm2: Path) -> None:
    from gguf.quants import dequantize

    checked = set()
    for path, names in ((tiny, None), (smollm2, ("blk.3.attn_k.weight", "token_embd.weight"))):
        mine, ref = GGUFFile(path), gguf.GGUFReader(path)
        for t in ref.tensors:
            kind = t.tensor_type.name
            if kind not in ("Q4_1", "Q4_0", "Q8_0") or (names and t.name not in names):
                continue
            rows, cols = mine.tensors[t.name].shape
            want = dequantize(t.data, t.tensor_type).astype(np.float64)
            np.testing.assert_array_equal(_dequantized(bytes(mine.read(t.name)), kind, rows, cols), want,
                                          err_msg=t.name)
            checked.add(kind)
    assert checked == {"Q4_1", "Q4_0", "Q8_0"}


def test_nibbles_end_up_in_the_standard_order() -> None:
    """ggml's Q4_1 block: byte j holds element j (low) and j+16 (high); ours: byte i holds 2i (low), 2i+1 (high)."""
    elements = list(range(16)) + list(range(15, -1, -1))  # 32 distinct-ish nibbles
    qs = bytes(elements[j] | (elements[j + 16] << 4) for j in range(16))
    block = struct.pack("<ee", 1.0, 0.0) + qs
    q, d, m = q4_1_to_uint4(block * 3)
    assert q[:16] == bytes(elements[2 * i] | (elements[2 * i + 1] << 4) for i in range(16))
    assert q == q[:16] * 3 and d == struct.pack("<e", 1.0) * 3 and m == struct.pack("<e", 0.0) * 3
    q0, _ = q4_0_to_int4(struct.pack("<e", 1.0) + qs)  # Q4_0: w = d·(q − 8), stored as the int4 q − 8
    assert unpack_array(np.frombuffer(q0, np.uint8), "int4", (32,)).tolist() == [e - 8 for e in elements]
    assert permute_rows(b"aabbcc", 2, [2, 0, 1]) == b"ccaabb"
    with pytest.raises(WeightsError, match="21 bytes are not whole blocks of 20"):
        q4_1_to_uint4(bytes(21))


# -- broken files, one clear error each ----------------------------------------------------------------------------

def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _file(kvs: bytes = b"", n_kv: int = 0, infos: bytes = b"", n_tensors: int = 0, data: bytes = b"",
          version: int = 3, magic: bytes = b"GGUF") -> bytes:
    head = magic + struct.pack("<IQQ", version, n_tensors, n_kv) + kvs + infos
    return head + bytes(-len(head) % 32) + data


def _kv(key: str, type_id: int, payload: bytes) -> bytes:
    return _s(key) + struct.pack("<I", type_id) + payload


def _info(name: str, dims: list[int], type_id: int, offset: int) -> bytes:
    return _s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + \
        struct.pack("<IQ", type_id, offset)


GOOD_TENSOR = _info("w", [32, 2], 0, 0)  # F32 [2, 32]: 256 bytes
BROKEN = [
    ("empty", b"", "not a GGUF file"),
    ("magic", _file(magic=b"GGML"), r"not a GGUF file \(it starts with b'GGML'"),
    ("version 1", _file(version=1), "GGUF version 1 is not supported"),
    ("big-endian", _file(version=3 << 24), "a big-endian file"),
    ("truncated counts", b"GGUF" + struct.pack("<IQ", 3, 0), "truncated: the metadata count needs 8 bytes"),
    ("kv count lies", _file(n_kv=2**40), "claims 1099511627776 metadata entries, more than the"),
    ("tensor count lies", _file(n_tensors=2**63), "claims 9223372036854775808 tensors"),
    ("key length lies", _file(struct.pack("<Q", 2**62) + bytes(16), 1), "metadata key 0 is 4611686018427387904 bytes"),
    ("string runs past the end", _file(_kv("a", 8, struct.pack("<Q", 1000) + b"xy"), 1), "truncated: metadata 'a'"),
    ("unknown value type", _file(_kv("a", 13, b""), 1), "metadata 'a' has unknown value type 13"),
    ("array count lies", _file(_kv("a", 9, struct.pack("<IQ", 4, 2**33)), 1),
     "metadata 'a' claims 8589934592 uint32 items"),
    ("array of unknown type", _file(_kv("a", 9, struct.pack("<IQ", 99, 1)), 1), "array of unknown value type 99"),
    ("nested arrays", _file(_kv("a", 9, struct.pack("<IQ", 9, 1) * 5 + struct.pack("<IQ", 4, 0)), 1),
     "arrays nested deeper than 4"),
    ("bad utf-8", _file(_kv("a", 8, _s(b"\xff\xfe")), 1), "metadata 'a' is not valid UTF-8"),
    ("bool not 0/1", _file(_kv("a", 7, b"\x02"), 1), "metadata 'a' is a bool stored as 2"),
    ("duplicate key", _file(_kv("a", 4, b"\0" * 4) * 2, 2), "metadata key 'a' appears twice"),
    ("alignment 3", _file(_kv("general.alignment", 4, struct.pack("<I", 3)), 1), "general.alignment must be"),
    ("alignment as string", _file(_kv("general.alignment", 8, _s("32")), 1), r"got '32' \(string\)"),
    ("rank 9", _file(infos=_info("w", [1] * 9, 0, 0), n_tensors=1), "tensor 'w' has 9 dims"),
    ("dims overflow", _file(infos=_info("w", [2**40, 2**40], 0, 0), n_tensors=1), "hold more than 2\\*\\*50"),
    ("unknown ggml type", _file(infos=_info("w", [32], 99, 0), n_tensors=1), "tensor 'w' has unknown ggml type 99"),
    ("partial block", _file(infos=_info("w", [30, 2], 3, 0), n_tensors=1), "rows of 30 elements are not whole Q4_1"),
    ("unaligned offset", _file(infos=_info("w", [32, 2], 0, 8), n_tensors=1, data=bytes(512)),
     "data offset 8 is not a multiple of the alignment 32"),
    ("data past the end", _file(infos=GOOD_TENSOR, n_tensors=1, data=bytes(100)),
     r"tensor 'w' \(F32, 256 bytes at data offset 0\) runs past the end of the file"),
    ("offset past the end", _file(infos=_info("w", [32, 2], 0, 2**60), n_tensors=1, data=bytes(256)), "runs past"),
    ("overlap", _file(infos=GOOD_TENSOR + _info("v", [32], 0, 128), n_tensors=2, data=bytes(256)),
     "tensor 'v' .* overlaps tensor 'w'|tensor 'w' .* overlaps tensor 'v'"),
    ("duplicate tensor", _file(infos=GOOD_TENSOR * 2, n_tensors=2, data=bytes(512)), "tensor name 'w' appears twice"),
]


@pytest.mark.parametrize("name,data,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_give_a_weights_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        GGUFFile(data, "x.gguf")


def test_a_valid_hand_made_file() -> None:
    f = GGUFFile(_file(_kv("n", 4, struct.pack("<I", 7)) + _kv("s", 8, _s("hé")), 2, GOOD_TENSOR, 1,
                       struct.pack("<64f", *range(64))), "ok.gguf")
    assert f.metadata == {"n": 7, "s": "hé"} and f.tensors["w"].shape == (2, 32)
    assert struct.unpack("<64f", f.read("w")) == tuple(float(i) for i in range(64))
    with pytest.raises(WeightsError, match="ok.gguf: metadata 's' is string, expected int"):
        f.get("s", "int")
    with pytest.raises(WeightsError, match="ok.gguf: metadata 'missing' is missing"):
        f.get("missing", "int")
    assert f.get("missing", "int", 5) == 5
    with pytest.raises(WeightsError, match="no tensor 'nope'"):
        f.read("nope")


def test_a_gguf_that_is_not_a_llama_model_is_refused_by_name(tiny: Path, tmp_path: Path) -> None:
    from webinfer.models.causal_lm import CausalLM
    from webinfer.models.llama import load_gguf

    data = bytearray(tiny.read_bytes())
    at = data.index(b"llama", 0, 400)  # general.architecture's value
    data[at : at + 5] = b"mamba"
    with pytest.raises(WebinferError, match="architecture 'mamba' is not supported"):
        load_gguf(bytes(data), "m.gguf")
    missing = bytearray(tiny.read_bytes())
    at = missing.index(b"blk.1.ffn_up.weight")
    missing[at : at + 5] = b"blk.9"
    with pytest.raises(WeightsError, match="no tensor 'blk.1.ffn_up.weight'"):
        load_gguf(bytes(missing), "m.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(WeightsError, match="junk.gguf: not a GGUF file"):
        CausalLM.load(tmp_path / "junk.gguf")
